package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/jirasim"
	"github.com/pmsync/pmsync/store"
	"github.com/pmsync/pmsync/store/sqlite"
	"github.com/pmsync/pmsync/web"
)

// counted serves next and counts the requests that reach it.
type counted struct {
	next http.Handler
	n    atomic.Int64
}

func (c *counted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.next.ServeHTTP(w, r)
}

// metricValue reads one sample of a gathered metric ("" labels: the first).
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

// A source that keeps failing is backed off by the schedule: after two
// failed syncs its breaker opens for the cooldown, during which no request
// reaches its vendor; a failed probe doubles the wait; a successful one
// closes it. Meanwhile the other source syncs on every tick, and the state
// shows in /metrics, /readyz?verbose and the rollup's sources, also to a
// second process reading the same database.
func TestFailingSourceIsBackedOff(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clk := sandbox.NewClock(t0)
	newSim := func() (*jirasim.Server, *counted, string) {
		sim := jirasim.New(jirasim.Options{Flavor: jirasim.Cloud, Email: testEmail, Token: testToken, Now: clk.Now, MaxResults: 50})
		c := &counted{next: sim}
		srv := httptest.NewServer(c)
		t.Cleanup(srv.Close)
		return sim, c, srv.URL
	}
	good, _, goodURL := newSim()
	bad, badHits, badURL := newSim()
	seed(good, 30, clk.Now())
	seed(bad, 30, clk.Now())
	bad.Inject(jirasim.Fault{Status: http.StatusServiceUnavailable, Times: -1})

	dir := t.TempDir()
	body := fmt.Sprintf(`database: %s
timezone: UTC
sync: { breaker: { failures: 2, cooldown: 10m, max_cooldown: 40m } }
connections:
  - { name: flaky, kind: jira, base_url: %s, flavor: cloud, auth: { email_env: JIRA_EMAIL, token_env: JIRA_TOKEN } }
  - { name: steady, kind: jira, base_url: %s, flavor: cloud, auth: { email_env: JIRA_EMAIL, token_env: JIRA_TOKEN } }
programs:
  - id: ehr
    name: EHR Upgrade
    sources:
      - { name: bad, connection: flaky, scope: { project: EHR } }
      - { name: good, connection: steady, scope: { project: EHR } }
`, filepath.Join(dir, "pmsync.db"), badURL, goodURL)
	path := filepath.Join(dir, "pmsync.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"JIRA_EMAIL": testEmail, "JIRA_TOKEN": testToken}
	env := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	cfg, err := config.Load(path, connectors.Default, env)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	reg := prometheus.NewRegistry()
	eng, err := engine.New(cfg, db, engine.Options{Log: zerolog.Nop(), Now: clk.Now, Metrics: engine.NewMetrics(reg),
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(eng, db, web.Options{Sources: eng.Health, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	readyz := func() string {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz?verbose", nil))
		if rec.Code != http.StatusOK {
			t.Errorf("/readyz?verbose = %d: a failing source must not make the replica unready", rec.Code)
		}
		return rec.Body.String()
	}

	// tick runs one scheduled sync and returns the status of each source
	// and how many requests reached the failing vendor.
	tick := func(step string, wantBad string) {
		t.Helper()
		before := badHits.n.Load()
		res, err := eng.Sync(ctx, engine.SyncOptions{Backoff: true, SkipBusy: true})
		got := map[string]string{}
		for _, r := range res {
			got[r.Source] = r.Status
		}
		if got["good"] != "ok" || got["bad"] != wantBad {
			t.Fatalf("%s: statuses %v, want good ok and bad %s", step, got, wantBad)
		}
		if wantBad == "backoff" {
			if err != nil {
				t.Errorf("%s: a backed-off source made the scheduled sync fail: %v", step, err)
			}
			if n := badHits.n.Load() - before; n != 0 {
				t.Errorf("%s: %d requests reached the backed-off vendor", step, n)
			}
		} else if badHits.n.Load() == before {
			t.Errorf("%s: no request reached the failing vendor", step)
		}
	}

	tick("first failure", "failed")
	if v, _ := metricValue(t, reg, "pmsync_source_backed_off", map[string]string{"source": "bad"}); v != 0 {
		t.Errorf("backed off after one failure (threshold is 2)")
	}
	clk.Advance(time.Minute) // 12:01
	tick("second failure opens the breaker", "failed")
	retry := t0.Add(time.Minute + 10*time.Minute) // 12:11
	clk.Advance(time.Minute)                      // 12:02
	tick("inside the cooldown", "backoff")

	// Reported in /metrics ...
	for _, m := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"pmsync_source_backed_off", map[string]string{"source": "bad"}, 1},
		{"pmsync_source_consecutive_failures", map[string]string{"source": "bad"}, 2},
		{"pmsync_source_retry_timestamp_seconds", map[string]string{"source": "bad"}, float64(retry.Unix())},
		{"pmsync_source_backed_off", map[string]string{"source": "good"}, 0},
		{"pmsync_sync_runs_total", map[string]string{"source": "bad", "status": "backoff"}, 1},
		{"pmsync_sync_runs_total", map[string]string{"source": "bad", "status": "failed"}, 2},
		{"pmsync_sync_runs_total", map[string]string{"source": "good", "status": "ok"}, 3},
	} {
		if got, ok := metricValue(t, reg, m.name, m.labels); !ok || got != m.want {
			t.Errorf("%s%v = %v (found %v), want %v", m.name, m.labels, got, ok, m.want)
		}
	}
	// ... in /readyz detail ...
	detail := readyz()
	for _, want := range []string{
		"[+]database ok\n",
		"[-]source bad: backed off after 2 failed syncs in a row; next attempt at 2026-06-01T12:11:00Z (last error: ",
		"503",
		"[+]source good ok",
		"ready\n",
	} {
		if !strings.Contains(detail, want) {
			t.Errorf("/readyz?verbose lacks %q:\n%s", want, detail)
		}
	}
	// ... and in the rollup's freshness, here and in another process.
	other, err := engine.New(cfg, db, engine.Options{Log: zerolog.Nop(), Now: clk.Now, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for name, en := range map[string]*engine.Engine{"daemon": eng, "another process": other} {
		rep, err := en.Rollup(ctx, engine.RollupOptions{})
		if err != nil {
			t.Fatal(err)
		}
		byName := map[string]pmsync.SourceStatus{}
		for _, s := range rep.Programs[0].Sources {
			byName[s.Source] = s
		}
		if s := byName["bad"]; s.Breaker != pmsync.BreakerOpen || s.Failures != 2 || !s.RetryAt.Equal(retry) || s.LastError == "" {
			t.Errorf("%s: rollup source bad = %+v, want breaker open, 2 failures, retry at %s", name, s, retry)
		}
		if s := byName["good"]; s.Breaker != "" || s.Failures != 0 || !s.RetryAt.IsZero() {
			t.Errorf("%s: rollup source good = %+v, want a closed breaker", name, s)
		}
	}

	// The cooldown over, one sync probes the source; it fails, and the
	// wait doubles.
	clk.Set(retry) // 12:11
	tick("failed probe", "failed")
	retry = retry.Add(20 * time.Minute) // 12:31
	clk.Set(retry.Add(-time.Minute))
	tick("inside the doubled cooldown", "backoff")
	if got, _ := metricValue(t, reg, "pmsync_source_retry_timestamp_seconds", map[string]string{"source": "bad"}); got != float64(retry.Unix()) {
		t.Errorf("retry at %v after a failed probe, want %v (the cooldown doubled)", time.Unix(int64(got), 0).UTC(), retry)
	}
	if !strings.Contains(readyz(), "backed off after 3 failed syncs in a row; next attempt at 2026-06-01T12:31:00Z") {
		t.Errorf("/readyz?verbose after a failed probe:\n%s", readyz())
	}

	// The vendor mends; the next probe closes the breaker.
	bad.ClearFaults()
	clk.Set(retry)
	tick("successful probe", "ok")
	clk.Advance(time.Minute)
	tick("closed again", "ok")
	if v, _ := metricValue(t, reg, "pmsync_source_consecutive_failures", map[string]string{"source": "bad"}); v != 0 {
		t.Errorf("consecutive failures = %v after a success", v)
	}
	if v, _ := metricValue(t, reg, "pmsync_source_backed_off", map[string]string{"source": "bad"}); v != 0 {
		t.Errorf("still backed off after a success")
	}
	if d := readyz(); !strings.Contains(d, "[+]source bad ok") {
		t.Errorf("/readyz?verbose after recovery:\n%s", d)
	}

	t.Logf("%d requests reached the failing vendor (every one answered 503 until it mended, then the probe and the next sync)", badHits.n.Load())

	// The other source kept its schedule: one ok run per tick.
	runs, err := db.Runs(ctx, "good", 0)
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for _, r := range runs {
		if r.Status == store.RunOK {
			ok++
		}
	}
	if ok != 7 || len(runs) != 7 {
		t.Errorf("source good has %d runs (%d ok), want 7 ok: one per tick", len(runs), ok)
	}
	// The failing one has a recorded run for every attempt and none for
	// the ticks that skipped it.
	runs, err = db.Runs(ctx, "bad", 0)
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for i := len(runs) - 1; i >= 0; i-- {
		statuses = append(statuses, runs[i].Status)
	}
	if got, want := strings.Join(statuses, ","), "failed,failed,failed,ok,ok"; got != want {
		t.Errorf("runs of source bad: %s, want %s", got, want)
	}
}

// A sync asked for by hand goes ahead whatever the breaker says, and its
// success closes the breaker.
func TestManualSyncIgnoresTheBreaker(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 100)
	seed(e.sim, 20, e.clock.Now())
	e.sim.Inject(jirasim.Fault{Status: http.StatusBadGateway, Times: -1})
	for range 3 { // the default threshold
		if _, err := e.eng.Sync(ctx, engine.SyncOptions{Backoff: true}); err == nil {
			t.Fatal("sync against a failing vendor succeeded")
		}
	}
	res, _ := e.eng.Sync(ctx, engine.SyncOptions{Backoff: true})
	if len(res) != 1 || res[0].Status != "backoff" {
		t.Fatalf("scheduled sync after 3 failures: %+v, want backoff", res)
	}
	e.sim.ClearFaults()
	res, err := e.eng.Sync(ctx, engine.SyncOptions{})
	if err != nil || len(res) != 1 || res[0].Status != "ok" || res[0].Seen != 20 {
		t.Fatalf("manual sync: %+v, %v; want ok with 20 records", res, err)
	}
	res, err = e.eng.Sync(ctx, engine.SyncOptions{Backoff: true})
	if err != nil || len(res) != 1 || res[0].Status != "ok" {
		t.Fatalf("scheduled sync after the manual one: %+v, %v; want ok (breaker closed)", res, err)
	}
}
