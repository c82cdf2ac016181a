package engine_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/report"
	"github.com/pmsync/pmsync/sandbox/jirasim"
	"github.com/pmsync/pmsync/store/sqlite"
)

// addConfig appends YAML to the environment's configuration and reloads it.
func (e *env) reopen(t *testing.T, extra string, vars map[string]string) {
	t.Helper()
	path := filepath.Join(e.dir, "pmsync.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, []byte(extra)...), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range vars {
		t.Setenv(k, v)
	}
	e.openWith(t, path, vars)
}

// A milestone's due date moves later between two syncs: the rollup shows
// the slip, with its days, its baseline and the move, in the document.
func TestMilestoneSlipAcrossTwoSyncs(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 100)
	now := e.clock.Now() // 2026-06-01 12:00 UTC
	keys := e.sim.Add(
		jirasim.Issue{Project: "EHR", Type: "Milestone", Summary: "Go-live", Status: "To Do", Due: "2026-07-15", Created: now, Updated: now},
		jirasim.Issue{Project: "EHR", Type: "Task", Summary: "Cutover plan", Status: "To Do", Created: now, Updated: now},
	)
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	first, err := e.eng.Rollup(ctx, engine.RollupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := first.Programs[0]; r.Milestones.Slipped != 0 || len(r.Slips) != 0 || r.NextMilestones[0].Baseline != "2026-07-15" {
		t.Fatalf("before the move: slipped %d, slips %+v, next %+v", r.Milestones.Slipped, r.Slips, r.NextMilestones)
	}

	e.clock.Advance(24 * time.Hour)
	if err := e.sim.Update(keys[0], func(is *jirasim.Issue) { is.Due = "2026-08-05" }); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10 * time.Minute)
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, err := e.eng.Rollup(ctx, engine.RollupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Programs[0]
	// 2026-07-15 → 2026-08-05 is 21 days, seen on 2026-06-02.
	if r.Milestones.Slipped != 1 || r.Milestones.SlipDays != 21 || len(r.Slips) != 1 {
		t.Fatalf("slipped %d (%d days), slips %+v; want 1 slip of 21 days", r.Milestones.Slipped, r.Milestones.SlipDays, r.Slips)
	}
	s := r.Slips[0]
	if s.Title != "Go-live" || s.Baseline != "2026-07-15" || s.Due != "2026-08-05" || s.Days != 21 || s.BaselineFrom != "first_seen" ||
		len(s.Moves) != 1 || s.Moves[0] != (pmsync.Move{On: "2026-06-02", From: "2026-07-15", To: "2026-08-05", Days: 21}) {
		t.Errorf("slip = %+v", s)
	}
	if rep.Portfolio.Milestones.Slipped != 1 || rep.Portfolio.Slips[0].Program != "ehr" {
		t.Errorf("portfolio slips: %d, %+v", rep.Portfolio.Milestones.Slipped, rep.Portfolio.Slips)
	}
	var buf bytes.Buffer
	if err := report.JSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Programs []struct {
			Milestones struct {
				Slipped  int `json:"slipped"`
				SlipDays int `json:"slip_days"`
			}
			Slips []struct {
				Title, Baseline, Due string
				Days                 int
				Moves                []struct {
					On, From, To string
					Days         int
				}
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	js := doc.Programs[0]
	if js.Milestones.Slipped != 1 || js.Milestones.SlipDays != 21 || len(js.Slips) != 1 || js.Slips[0].Days != 21 || js.Slips[0].Baseline != "2026-07-15" ||
		js.Slips[0].Moves[0].On != "2026-06-02" || js.Slips[0].Moves[0].Days != 21 {
		t.Errorf("JSON slips: %s", buf.String())
	}
	// The explanation names the milestone behind the figure.
	ex, err := e.eng.Explain(ctx, engine.RollupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ex.Programs[0].Figures {
		if f.Name == "milestones.slipped" && (len(f.Items) != 1 || f.Items[0].Title != "Go-live" || f.Items[0].URL == "") {
			t.Errorf("explain milestones.slipped = %+v", f.Items)
		}
	}
}

// The source is stale exactly when more than stale_after has passed since
// its last success, not when exactly that much has.
func TestStaleExactlyAtStaleAfter(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 100)
	seed(e.sim, 3, e.clock.Now())
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	stale := func() bool {
		rep, err := e.eng.Rollup(ctx, engine.RollupOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return rep.Programs[0].Sources[0].Stale
	}
	e.clock.Advance(2 * time.Hour) // the default stale_after
	if stale() {
		t.Error("stale exactly stale_after after the last success")
	}
	e.clock.Advance(time.Second)
	if !stale() {
		t.Error("not stale a second after stale_after")
	}
}

// The dashboard and the API serve the latest computed report: each sync
// refreshes it, and reading it computes nothing.
func TestSyncRefreshesTheServedReport(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 100)
	if _, _, ok, err := e.db.LatestReport(ctx); ok || err != nil {
		t.Fatalf("a report before any sync: %v %v", ok, err)
	}
	seed(e.sim, 4, e.clock.Now())
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	rep, at, ok, err := e.db.LatestReport(ctx)
	if err != nil || !ok || rep.Programs[0].Progress.Total != 4 || !at.Equal(e.clock.Now()) {
		t.Fatalf("after the first sync: %+v at %v, %v %v", rep.Programs, at, ok, err)
	}
	// The engine keeps the report it read, until another one is saved.
	first, err := e.eng.Latest(ctx)
	if err != nil || first.Programs[0].Progress.Total != 4 {
		t.Fatalf("Latest after the first sync: %+v, %v", first.Programs, err)
	}
	e.clock.Advance(10 * time.Minute)
	seed(e.sim, 2, e.clock.Now())
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	latest, err := e.eng.Latest(ctx)
	if err != nil || latest.Programs[0].Progress.Total != 6 {
		t.Errorf("after the second sync: %+v, %v", latest.Programs, err)
	}
	// A report saved by another process (here, straight into the store),
	// even one saved at the same instant as the last, is the one served next.
	other := latest
	other.Programs = append([]pmsync.Rollup{}, latest.Programs...)
	other.Programs[0].Name = "Saved elsewhere"
	if err := e.db.SaveReport(ctx, other, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	served, err := e.eng.Latest(ctx)
	if err != nil || served.Programs[0].Name != "Saved elsewhere" {
		t.Errorf("after another process saved a report: %+v, %v", served.Programs, err)
	}
}

// Webhook and file targets get each report version once; a dry run shows
// exactly what would be sent, writes nothing, and names the targets that
// already have the report.
func TestReportTargetsAndDryRun(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.DataCenter, 100)
	var mu sync.Mutex
	var bodies [][]byte
	var sigs []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		bodies = append(bodies, b)
		mac := hmac.New(sha256.New, []byte("hook-secret-9a"))
		mac.Write([]byte(r.Header.Get("X-Pmsync-Timestamp") + "." + string(b)))
		sigs = append(sigs, fmt.Sprint(hmac.Equal([]byte("sha256="+hex.EncodeToString(mac.Sum(nil))), []byte(r.Header.Get("X-Pmsync-Signature")))))
		w.WriteHeader(http.StatusOK)
	}))
	defer hook.Close()
	keys := e.sim.Add(jirasim.Issue{Project: "EHR", Type: "Task", Summary: "PMO status", Status: "To Do"})
	seed(e.sim, 5, e.clock.Now())
	out := filepath.Join(e.dir, "rollup.md")
	e.reopen(t, fmt.Sprintf(`push:
  - { connection: jira, target: { issue: %s } }
  - webhook: { url_env: HOOK_URL, format: json, secret_env: HOOK_SECRET }
  - file: { path: %s }
`, keys[0], out), map[string]string{"HOOK_URL": hook.URL + "/in?token=abc", "HOOK_SECRET": "hook-secret-9a"})
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}

	dry, err := e.eng.Push(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	previews := map[string]string{}
	for _, r := range dry {
		if r.Status != "dry-run" || r.Preview == nil {
			t.Fatalf("dry run: %s %s is %s, preview %v", r.Target, r.Program, r.Status, r.Preview)
		}
		previews[r.Target] = r.Preview.Body
	}
	if len(dry) != 3 || len(bodies) != 0 || len(e.sim.Comments(keys[0])) != 0 {
		t.Fatalf("dry run gave %d results and sent %d requests, %d comments", len(dry), len(bodies), len(e.sim.Comments(keys[0])))
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("the dry run wrote the file: %v", err)
	}

	res, err := e.eng.Push(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != "delivered" {
			t.Errorf("push: %s is %s (%v)", r.Target, r.Status, r.Err)
		}
	}
	// What was sent is what the dry run showed.
	if len(bodies) != 1 || string(bodies[0]) != previews["webhook:HOOK_URL"] || sigs[0] != "true" {
		t.Errorf("webhook got %d requests (signature valid: %v); first differs from the preview: %v", len(bodies), sigs, len(bodies) > 0 && string(bodies[0]) != previews["webhook:HOOK_URL"])
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != previews["file:"+out] {
		t.Errorf("file differs from the preview (%v)", err)
	}
	comments := e.sim.Comments(keys[0])
	if len(comments) != 1 || comments[0] != previews["jira:issue="+keys[0]] {
		t.Errorf("the comment differs from the preview:\n%q\n%q", comments, previews["jira:issue="+keys[0]])
	}

	// The same report again: nothing is sent, and a dry run says unchanged.
	res, err = e.eng.Push(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != "unchanged" {
			t.Errorf("second push: %s is %s", r.Target, r.Status)
		}
	}
	dry, err = e.eng.Push(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range dry {
		if r.Status != "unchanged" || r.Preview != nil {
			t.Errorf("dry run after delivery: %s is %s", r.Target, r.Status)
		}
	}
	if len(bodies) != 1 || len(e.sim.Comments(keys[0])) != 1 {
		t.Errorf("sent again: %d webhook requests, %d comments", len(bodies), len(e.sim.Comments(keys[0])))
	}
	// A new day is a new report: delivered once more.
	e.clock.Advance(24 * time.Hour)
	if _, err := e.eng.Push(ctx, false); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 2 {
		t.Errorf("%d webhook requests after a new report, want 2", len(bodies))
	}
	var rep pmsync.Report
	if err := json.Unmarshal(bodies[1], &rep); err != nil || rep.Schema != pmsync.Schema || !strings.HasPrefix(string(rep.AsOf), "2026-06-02") {
		t.Errorf("second report: %v %+v", err, rep.AsOf)
	}
}

// reportReads counts the reads of the whole served report, and holds
// every reader after the revision check until all of them are there, so
// that they find the new report together.
type reportReads struct {
	*sqlite.DB
	readers int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
	reads   int
}

func (d *reportReads) ReportRevision(ctx context.Context) (int64, error) {
	rev, err := d.DB.ReportRevision(ctx)
	d.mu.Lock()
	d.arrived++
	if d.arrived == d.readers {
		close(d.all)
	}
	d.mu.Unlock()
	select {
	case <-d.all:
	case <-time.After(10 * time.Second):
		return 0, errors.New("not every reader came")
	}
	return rev, err
}

// LatestReport takes a while, as decoding a large report does.
func (d *reportReads) LatestReport(ctx context.Context) (pmsync.Report, time.Time, bool, error) {
	d.mu.Lock()
	d.reads++
	d.mu.Unlock()
	time.Sleep(50 * time.Millisecond)
	return d.DB.LatestReport(ctx)
}

// Readers that arrive together after a new report was saved have it read
// and decoded once, not once each.
func TestConcurrentReadersDecodeTheNewReportOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 100)
	seed(e.sim, 4, e.clock.Now())
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	const readers = 20
	db := &reportReads{DB: e.db, readers: readers, all: make(chan struct{})}
	eng, err := engine.New(e.cfg, db, engine.Options{Now: e.clock.Now, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			if rep, err := eng.Latest(ctx); err != nil || rep.Programs[0].Progress.Total != 4 {
				t.Errorf("Latest = %+v, %v", rep.Programs, err)
			}
		})
	}
	wg.Wait()
	if db.reads != 1 {
		t.Errorf("%d readers read the report %d times, want once", readers, db.reads)
	}
}
