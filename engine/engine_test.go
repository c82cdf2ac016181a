package engine_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/pmsync/pmsync/sandbox"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
	_ "github.com/pmsync/pmsync/connectors/jira"
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/sandbox/jirasim"
	"github.com/pmsync/pmsync/store/sqlite"
)

type env struct {
	sim   *jirasim.Server
	clock *sandbox.Clock
	cfg   *config.Config
	db    *sqlite.DB
	eng   *engine.Engine
	dir   string
}

const (
	testEmail = "pmo-bot@example.org"
	testToken = "jira-token-Zx81kQ"
)

func startSim(t *testing.T, flavor jirasim.Flavor, clk *sandbox.Clock, maxResults int) (*jirasim.Server, string) {
	t.Helper()
	sim := jirasim.New(jirasim.Options{Flavor: flavor, Email: testEmail, Token: testToken, TimeZone: "America/New_York", Now: clk.Now, MaxResults: maxResults})
	srv := sim.Start()
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

func writeConfig(t *testing.T, dir, baseURL string, flavor jirasim.Flavor) string {
	t.Helper()
	cfg := fmt.Sprintf(`database: %s
timezone: UTC
connections:
  - name: jira
    kind: jira
    base_url: %s
    flavor: %s
    auth: { email_env: JIRA_EMAIL, token_env: JIRA_TOKEN }
programs:
  - id: ehr
    name: EHR Upgrade
    start: 2026-01-05
    end: 2026-12-18
    budget: { planned: 100000, currency: USD }
    sources:
      - { name: ehr-jira, connection: jira, scope: { project: EHR } }
`, filepath.Join(dir, "pmsync.db"), baseURL, flavor)
	path := filepath.Join(dir, "pmsync.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newEnv(t *testing.T, flavor jirasim.Flavor, maxResults int) *env {
	t.Helper()
	clk := sandbox.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	sim, url := startSim(t, flavor, clk, maxResults)
	dir := t.TempDir()
	path := writeConfig(t, dir, url, flavor)
	e := &env{sim: sim, clock: clk, dir: dir}
	e.open(t, path)
	return e
}

func (e *env) open(t *testing.T, path string) {
	t.Helper()
	e.openWith(t, path, nil)
}

// openWith loads the configuration with more environment variables.
func (e *env) openWith(t *testing.T, path string, extra map[string]string) {
	t.Helper()
	vars := map[string]string{"JIRA_EMAIL": testEmail, "JIRA_TOKEN": testToken}
	for k, v := range extra {
		vars[k] = v
	}
	cfg, err := config.Load(path, connectors.Default, func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	db, err := sqlite.Open(context.Background(), cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	eng, err := engine.New(cfg, db, engine.Options{
		Log: zerolog.Nop(), Now: e.clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() },
	})
	if err != nil {
		t.Fatal(err)
	}
	e.cfg, e.db, e.eng = cfg, db, eng
}

func (e *env) searchCalls() int {
	n := 0
	for _, c := range e.sim.Calls() {
		if strings.Contains(c.Path, "/search") {
			n++
		}
	}
	return n
}

// seed adds n tasks last updated ten minutes apart, the newest ten minutes
// before now.
func seed(sim *jirasim.Server, n int, now time.Time) {
	issues := make([]jirasim.Issue, n)
	for i := range issues {
		at := now.Add(-time.Duration(n-i) * 10 * time.Minute)
		issues[i] = jirasim.Issue{Project: "EHR", Type: "Task", Summary: fmt.Sprintf("Build interface %d", i), Status: "To Do", StatusCategory: "new", Priority: "Medium", Created: at, Updated: at}
	}
	sim.Add(issues...)
}

func TestFullThenIncrementalSync(t *testing.T) {
	for _, flavor := range []jirasim.Flavor{jirasim.Cloud, jirasim.DataCenter} {
		t.Run(string(flavor), func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, flavor, 100)
			seed(e.sim, 1000, e.clock.Now())

			res, err := e.eng.Sync(ctx, engine.SyncOptions{})
			if err != nil {
				t.Fatalf("full sync: %v", err)
			}
			if r := res[0]; r.Seen != 1000 || r.Changed != 1000 || r.Pages < 10 {
				t.Fatalf("full sync saw %d records (%d changed) in %d pages; want 1000 in ≥ 10 pages", r.Seen, r.Changed, r.Pages)
			}
			items, err := e.db.Items(ctx, "ehr-jira")
			if err != nil {
				t.Fatal(err)
			}
			byID := map[string]int{}
			for _, it := range items {
				byID[it.ExternalID]++
			}
			for _, is := range e.sim.Issues() {
				if byID[is.ID] != 1 {
					t.Fatalf("issue %s (%s) stored %d times, want once", is.Key, is.ID, byID[is.ID])
				}
			}
			if len(items) != 1000 {
				t.Fatalf("stored %d items, want 1000", len(items))
			}

			// Five issues change ten minutes later; the next run must fetch
			// only those, plus what the connector's 5-minute overlap before
			// its cursor re-reads: one search page.
			var newest time.Time
			for _, is := range e.sim.Issues() {
				if is.Updated.After(newest) {
					newest = is.Updated
				}
			}
			overlap := 0
			for _, is := range e.sim.Issues() {
				if !is.Updated.Before(newest.Add(-5 * time.Minute)) {
					overlap++
				}
			}
			e.clock.Advance(10 * time.Minute)
			changed := map[string]bool{}
			for _, is := range e.sim.Issues()[100:105] {
				changed[is.ID] = true
				if err := e.sim.Update(is.Key, func(i *jirasim.Issue) { i.Status, i.StatusCategory = "Done", "done" }); err != nil {
					t.Fatal(err)
				}
			}
			e.sim.ResetCalls()
			res, err = e.eng.Sync(ctx, engine.SyncOptions{})
			if err != nil {
				t.Fatalf("incremental sync: %v", err)
			}
			if r := res[0]; r.Seen != 5+overlap || r.Changed != 5 {
				t.Errorf("incremental sync saw %d records, changed %d; want %d (5 + %d in the overlap) and 5", r.Seen, r.Changed, 5+overlap, overlap)
			}
			if n := e.searchCalls(); n != 1 {
				t.Errorf("incremental sync made %d search requests, want 1", n)
			}
			for id := range changed {
				it, ok, err := e.db.Item(ctx, "ehr-jira", id)
				if err != nil || !ok || it.State != pmsync.StateDone {
					t.Errorf("item %s after incremental sync: %+v %v %v, want state done", id, it.State, ok, err)
				}
			}

			// A deleted issue is tombstoned by the deletion check.
			victim := e.sim.Issues()[7]
			if err := e.sim.Delete(victim.Key); err != nil {
				t.Fatal(err)
			}
			res, err = e.eng.Sync(ctx, engine.SyncOptions{Deletions: true})
			if err != nil {
				t.Fatalf("deletion sync: %v", err)
			}
			if res[0].Deleted != 1 {
				t.Errorf("deletion check tombstoned %d items, want 1", res[0].Deleted)
			}
			it, ok, err := e.db.Item(ctx, "ehr-jira", victim.ID)
			if err != nil || !ok || !it.Deleted() {
				t.Errorf("deleted issue %s: found %v, tombstoned %v, err %v", victim.Key, ok, it.Deleted(), err)
			}
			live, deleted, err := e.db.CountItems(ctx, "ehr-jira")
			if err != nil || live != 999 || deleted != 1 {
				t.Errorf("counts live %d deleted %d (%v), want 999 and 1", live, deleted, err)
			}
		})
	}
}

func TestMalformedPageKeepsStoredData(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 100)
	seed(e.sim, 250, e.clock.Now())
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := e.db.Items(ctx)
	cur, _ := e.db.Cursor(ctx, "ehr-jira")

	e.clock.Advance(10 * time.Minute)
	for _, is := range e.sim.Issues()[:3] {
		_ = e.sim.Update(is.Key, func(i *jirasim.Issue) { i.Summary = "changed" })
	}
	e.sim.Inject(jirasim.Fault{Method: "POST", Path: "/rest/api/3/search/jql", Malformed: true, Times: 1})
	res, err := e.eng.Sync(ctx, engine.SyncOptions{})
	if err == nil {
		t.Fatal("sync of a malformed page succeeded")
	}
	if !strings.Contains(err.Error(), "ehr-jira") || !strings.Contains(err.Error(), "search/jql") {
		t.Errorf("error %q should name the source and the request", err)
	}
	if res[0].Status != "failed" {
		t.Errorf("run status %q, want failed", res[0].Status)
	}
	after, _ := e.db.Items(ctx)
	if len(after) != len(before) {
		t.Fatalf("items %d → %d after a failed sync", len(before), len(after))
	}
	for i := range before {
		if before[i].Title != after[i].Title || before[i].State != after[i].State {
			t.Errorf("item %s changed by a failed sync", before[i].ExternalID)
		}
	}
	if cur2, _ := e.db.Cursor(ctx, "ehr-jira"); cur2 != cur {
		t.Errorf("cursor moved on a failed sync: %q → %q", cur, cur2)
	}
	// The next healthy run converges.
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatalf("sync after the fault: %v", err)
	}
	for _, is := range e.sim.Issues()[:3] {
		it, _, _ := e.db.Item(ctx, "ehr-jira", is.ID)
		if it.Title != "changed" {
			t.Errorf("item %s title %q after recovery, want changed", is.ID, it.Title)
		}
	}
}

// TestRollupMatchesFake derives the expected figures straight from the
// fake's issues, following the documented template and rollup semantics,
// without calling pmsync's mapping or rollup code.
func TestRollupMatchesFake(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 100)
	e.sim.Add(jirasim.Generate("EHR", 400, 7, e.clock.Now())...)
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err := e.eng.Rollup(ctx, engine.RollupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := rep.Programs[0]

	asOf := e.clock.Now().UTC().Format("2006-01-02")
	soon := e.clock.Now().UTC().AddDate(0, 0, 14).Format("2006-01-02")
	var want struct{ done, total, mTotal, mDone, late, dueSoon, open, red int }
	var actual float64
	for _, is := range e.sim.Issues() {
		cancelled := is.Resolution == "Won't Do" || is.Resolution == "Cancelled"
		if cancelled {
			continue
		}
		done := is.StatusCategory == "done"
		if is.ActualCost != nil {
			actual += *is.ActualCost
		}
		switch is.Type {
		case "Risk":
			if !done {
				want.open++
				l, _ := strconv.Atoi(is.Likelihood)
				i, _ := strconv.Atoi(is.Impact)
				if l*i >= 15 {
					want.red++
				}
			}
			continue
		case "Milestone":
			want.mTotal++
			if done {
				want.mDone++
			} else if is.Due != "" && is.Due < asOf {
				want.late++
			} else if is.Due != "" && is.Due <= soon {
				want.dueSoon++
			}
		}
		want.total++
		if done {
			want.done++
		}
	}
	if want.mTotal == 0 || want.open == 0 || want.late == 0 {
		t.Fatalf("generated data lacks milestones, risks or late milestones: %+v", want)
	}
	checks := []struct {
		name      string
		got, want int
	}{
		{"progress done", got.Progress.Done, want.done}, {"progress total", got.Progress.Total, want.total},
		{"milestones", got.Milestones.Total, want.mTotal}, {"milestones done", got.Milestones.Done, want.mDone},
		{"late", got.Milestones.Late, want.late}, {"due soon", got.Milestones.DueSoon, want.dueSoon},
		{"open risks", got.Risks.Open, want.open}, {"red flags", got.Risks.RedFlags, want.red},
		{"live items", got.Items.Live, len(e.sim.Issues())},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d (from the fake's issues)", c.name, c.got, c.want)
		}
	}
	if diff := got.Budget.Actual - actual; diff > 0.01 || diff < -0.01 {
		t.Errorf("actual cost = %.2f, want %.2f", got.Budget.Actual, actual)
	}
	if got.Health.Status != pmsync.Red || len(got.Health.Reasons) == 0 {
		t.Errorf("health %s %q: with %d late milestones it must be red", got.Health.Status, got.Health.Reasons, want.late)
	}
}

func TestFailingSourceDoesNotStopOthers(t *testing.T) {
	ctx := context.Background()
	clk := sandbox.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	good, goodURL := startSim(t, jirasim.Cloud, clk, 100)
	seed(good, 120, clk.Now())
	_, badURL := startSim(t, jirasim.Cloud, clk, 100)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`database: %s
timezone: UTC
connections:
  - { name: broken, kind: jira, base_url: %s, flavor: cloud, auth: { email_env: JIRA_EMAIL, token_env: WRONG_TOKEN } }
  - { name: jira, kind: jira, base_url: %s, flavor: cloud, auth: { email_env: JIRA_EMAIL, token_env: JIRA_TOKEN } }
programs:
  - id: ehr
    name: EHR Upgrade
    sources:
      - { name: first, connection: broken, scope: { project: EHR } }
      - { name: second, connection: jira, scope: { project: EHR } }
`, filepath.Join(dir, "db.sqlite"), badURL, goodURL)
	path := filepath.Join(dir, "pmsync.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"JIRA_EMAIL": testEmail, "JIRA_TOKEN": testToken, "WRONG_TOKEN": "not-the-token-123"}
	conf, err := config.Load(path, connectors.Default, func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, conf.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	eng, err := engine.New(conf, db, engine.Options{Log: zerolog.Nop(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Sync(ctx, engine.SyncOptions{})
	if err == nil || !strings.Contains(err.Error(), "connection broken") || !strings.Contains(err.Error(), "401") {
		t.Errorf("sync error %v should name the broken connection and HTTP 401", err)
	}
	if strings.Contains(fmt.Sprint(err), "not-the-token-123") {
		t.Errorf("error text contains the token")
	}
	if len(res) != 2 || res[0].Status != "failed" || res[1].Status != "ok" || res[1].Seen != 120 {
		t.Errorf("results %+v: want first failed, second ok with 120 records", res)
	}
}

func openStore(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMappingChangePullsInFull(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 100)
	seed(e.sim, 300, e.clock.Now())
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	// Same config again: incremental, only the overlap is re-read.
	res, err := e.eng.Sync(ctx, engine.SyncOptions{})
	if err != nil || res[0].Seen >= 300 {
		t.Fatalf("unchanged config re-read %d records (%v); want an incremental pull", res[0].Seen, err)
	}
	// A new mapping for the source: every record must be mapped again.
	path := filepath.Join(e.dir, "pmsync.yaml")
	body, _ := os.ReadFile(path)
	changed := strings.Replace(string(body), "scope: { project: EHR } }", "scope: { project: EHR }, mapping: mine }", 1) +
		"mappings:\n  mine: { extends: jira-default, priority: { value: P1 } }\n"
	if err := os.WriteFile(path, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	e.open(t, path)
	res, err = e.eng.Sync(ctx, engine.SyncOptions{})
	if err != nil || res[0].Seen != 300 || res[0].Changed != 300 {
		t.Fatalf("after a mapping change the sync saw %d, changed %d (%v); want a full pull of 300", res[0].Seen, res[0].Changed, err)
	}
	it, _, _ := e.db.Item(ctx, "ehr-jira", e.sim.Issues()[0].ID)
	if it.Priority != "P1" {
		t.Errorf("priority %q, want P1 from the new mapping", it.Priority)
	}
}

func TestEmptyListingKeepsItems(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 100)
	seed(e.sim, 30, e.clock.Now())
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, is := range e.sim.Issues() {
		_ = e.sim.Delete(is.Key)
	}
	res, err := e.eng.Sync(ctx, engine.SyncOptions{Deletions: true})
	if err != nil || res[0].Deleted != 0 {
		t.Fatalf("deletion check on an empty listing tombstoned %d (%v), want 0", res[0].Deleted, err)
	}
	if live, _, _ := e.db.CountItems(ctx, "ehr-jira"); live != 30 {
		t.Errorf("%d live items, want the 30 kept", live)
	}
}

func TestSourceBusyInAnotherProcess(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 100)
	seed(e.sim, 10, e.clock.Now())
	// Another live process (on another host) holds the lease of the
	// source's connection.
	if _, got, err := e.db.AcquireLease(ctx, "sync:conn:jira", "other-host/4242/beef", e.clock.Now(), time.Hour); err != nil || !got {
		t.Fatal(got, err)
	}
	res, err := e.eng.Sync(ctx, engine.SyncOptions{})
	if !errors.Is(err, engine.ErrBusy) || res[0].Status != "busy" {
		t.Errorf("sync of a busy source: %v, status %q; want ErrBusy and busy", err, res[0].Status)
	}
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{SkipBusy: true}); err != nil {
		t.Errorf("with SkipBusy the busy source is no error: %v", err)
	}
	if live, _, _ := e.db.CountItems(ctx, "ehr-jira"); live != 0 {
		t.Errorf("a busy source was synced anyway: %d items", live)
	}
	if err := e.db.ReleaseLease(ctx, "sync:conn:jira", "other-host/4242/beef"); err != nil {
		t.Fatal(err)
	}
	if res, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil || res[0].Seen != 10 {
		t.Errorf("after the release: %v, %+v", err, res)
	}
}

// TestQuietSyncWritesNoData: a sync that finds nothing new (only the
// connector's overlap, re-read unchanged) writes no item, change, cursor
// or source fingerprint; only the run's own record and lease are kept.
func TestQuietSyncWritesNoData(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 100)
	seed(e.sim, 250, e.clock.Now())
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	// What a write would change: the time each row was written.
	state := func() string {
		t.Helper()
		db, err := sql.Open("sqlite3", "file:"+filepath.Join(e.dir, "pmsync.db")+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var out strings.Builder
		for _, q := range []string{
			"SELECT count(*) || ' ' || max(changed_at) FROM items",
			"SELECT count(*) || '' FROM item_changes",
			"SELECT group_concat(source || '=' || value || '@' || updated) FROM cursors",
			"SELECT group_concat(key || '=' || value) FROM meta",
			"SELECT count(*) || '' FROM quarantine",
		} {
			var s sql.NullString
			if err := db.QueryRowContext(ctx, q).Scan(&s); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			out.WriteString(s.String + "\n")
		}
		return out.String()
	}
	// reportAt is when the served rollup was last computed.
	reportAt := func() time.Time {
		t.Helper()
		_, at, ok, err := e.db.LatestReport(ctx)
		if err != nil || !ok {
			t.Fatalf("LatestReport = %v, %v, %v; want the report the sync computed", at, ok, err)
		}
		return at
	}
	synced := reportAt()
	// Nothing moves at the source; the second sync re-reads the overlap.
	e.clock.Advance(15 * time.Minute)
	before := state()
	res, err := e.eng.Sync(ctx, engine.SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.Seen == 0 || r.Changed != 0 {
		t.Fatalf("quiet sync saw %d records, changed %d; want the overlap re-read and nothing changed", r.Seen, r.Changed)
	}
	if after := state(); after != before {
		t.Errorf("a quiet sync wrote data:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if at := reportAt(); !at.Equal(synced) {
		t.Errorf("a quiet sync computed the rollup again (report of %s, want the one of %s)", at, synced)
	}
	// An hour on (half the default stale_after), a quiet sync refreshes
	// the report, so that the last success it shows stays recent.
	e.clock.Advance(50 * time.Minute)
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if at := reportAt(); !at.After(synced) {
		t.Errorf("a quiet sync 65 minutes after the report kept it (report of %s)", at)
	}
	synced = reportAt()
	// One change is written, with its cursor.
	e.clock.Advance(15 * time.Minute)
	if err := e.sim.Update(e.sim.Issues()[3].Key, func(i *jirasim.Issue) { i.Summary = "Renamed" }); err != nil {
		t.Fatal(err)
	}
	before = state()
	if res, err = e.eng.Sync(ctx, engine.SyncOptions{}); err != nil || res[0].Changed != 1 {
		t.Fatalf("sync after one change: changed %d, err %v; want 1", res[0].Changed, err)
	}
	if after := state(); after == before {
		t.Error("a sync with one change wrote nothing")
	}
	if at := reportAt(); !at.After(synced) {
		t.Errorf("a sync with one change kept the rollup of %s", at)
	}
}
