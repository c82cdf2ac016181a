package engine_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/jirasim"
	"github.com/pmsync/pmsync/store"
	"github.com/pmsync/pmsync/web"
)

// gate wraps a simulator and counts its search requests in flight.
type gate struct {
	next     http.Handler
	mu       sync.Mutex
	inFlight int
	maxIn    int
	searched chan struct{} // closed at the first search
	once     sync.Once
	before   func() // runs before each search is served
}

func newGate(next http.Handler) *gate {
	return &gate{next: next, searched: make(chan struct{})}
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.Contains(r.URL.Path, "/search") {
		g.next.ServeHTTP(w, r)
		return
	}
	g.mu.Lock()
	g.inFlight++
	g.maxIn = max(g.maxIn, g.inFlight)
	g.mu.Unlock()
	g.once.Do(func() { close(g.searched) })
	if g.before != nil {
		g.before()
	}
	g.next.ServeHTTP(w, r)
	g.mu.Lock()
	g.inFlight--
	g.mu.Unlock()
}

func (g *gate) max() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.maxIn
}

// Two connections sync at once, and the two sources of one connection one
// after the other: connection a's searches wait until connection b has
// searched, which can only happen if b runs while a is busy.
func TestConnectionsSyncConcurrently(t *testing.T) {
	ctx := context.Background()
	clk := sandbox.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	newSim := func() (*jirasim.Server, *gate, string) {
		sim := jirasim.New(jirasim.Options{Flavor: jirasim.Cloud, Email: testEmail, Token: testToken, Now: clk.Now, MaxResults: 20})
		g := newGate(sim)
		srv := httptest.NewServer(g)
		t.Cleanup(srv.Close)
		return sim, g, srv.URL
	}
	simA, gateA, urlA := newSim()
	simB, gateB, urlB := newSim()
	seed(simA, 60, clk.Now())
	seed(simB, 60, clk.Now())
	var waitedOut atomic.Bool
	gateA.before = func() {
		select {
		case <-gateB.searched:
		case <-time.After(10 * time.Second):
			waitedOut.Store(true)
		}
	}

	dir := t.TempDir()
	cfg := fmt.Sprintf(`database: %s
timezone: UTC
sync: { workers: 2 }
connections:
  - { name: a, kind: jira, base_url: %s, flavor: cloud, auth: { email_env: JIRA_EMAIL, token_env: JIRA_TOKEN } }
  - { name: b, kind: jira, base_url: %s, flavor: cloud, auth: { email_env: JIRA_EMAIL, token_env: JIRA_TOKEN } }
programs:
  - id: ehr
    sources:
      - { name: a-one, connection: a, scope: { jql: "project = EHR AND type = Task" } }
      - { name: a-two, connection: a, scope: { project: EHR } }
      - { name: b-one, connection: b, scope: { project: EHR } }
`, filepath.Join(dir, "pmsync.db"), urlA, urlB)
	path := filepath.Join(dir, "pmsync.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{sim: simA, clock: clk, dir: dir}
	e.open(t, path)

	res, err := e.eng.Sync(ctx, engine.SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res {
		got = append(got, fmt.Sprintf("%s %s %d", r.Source, r.Status, r.Seen))
	}
	if want := "a-one ok 60,a-two ok 60,b-one ok 60"; strings.Join(got, ",") != want {
		t.Errorf("results %v, want %s (in configuration order)", got, want)
	}
	if waitedOut.Load() {
		t.Error("connection a waited 10 s for connection b: the connections did not sync at once")
	}
	if n := gateA.max(); n != 1 {
		t.Errorf("connection a had %d searches in flight at once; its sources must sync one after the other", n)
	}
}

// A sync whose connection lease passes to another process mid-run writes
// nothing more: the page it was about to commit is refused by the fence.
func TestSyncIsFencedWhenItsLeaseIsTakenOver(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 100)
	seed(e.sim, 250, e.clock.Now())
	g := newGate(e.sim)
	var stolen store.Fence
	g.before = func() {
		if stolen != (store.Fence{}) {
			return
		}
		// Another replica finds the lease run out (its clock is an hour on)
		// and takes it, while this sync is waiting for its first page.
		f, got, err := e.db.AcquireLease(ctx, "sync:conn:jira", "other-host/1/beef", e.clock.Now().Add(time.Hour), time.Hour)
		if err != nil || !got {
			t.Errorf("the other replica could not take the lease: %v %v", got, err)
		}
		stolen = f
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	path := writeConfig(t, e.dir, srv.URL, jirasim.Cloud)
	e.open(t, path)

	res, err := e.eng.Sync(ctx, engine.SyncOptions{})
	if !errors.Is(err, store.ErrFenced) || len(res) != 1 || res[0].Status != "failed" {
		t.Fatalf("sync after losing the lease: %v, %+v; want a failed run with ErrFenced", err, res)
	}
	if stolen.Token != 2 {
		t.Errorf("the other replica got token %d, want 2", stolen.Token)
	}
	if live, _, _ := e.db.CountItems(ctx, "ehr-jira"); live != 0 {
		t.Errorf("%d items written under a lost lease, want 0", live)
	}
	if c, _ := e.db.Cursor(ctx, "ehr-jira"); c != "" {
		t.Errorf("cursor %q saved under a lost lease", c)
	}
}

// The rollup schedule runs on one replica at a time.
func TestScheduledPushTakesTheRollupLease(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 100)
	if _, got, err := e.db.AcquireLease(ctx, "rollup", "other-host/1/beef", e.clock.Now(), time.Hour); err != nil || !got {
		t.Fatal(got, err)
	}
	if ran, err := e.eng.ScheduledPush(ctx); err != nil || ran {
		t.Errorf("with another replica holding the rollup lease: ran %v, %v; want skipped", ran, err)
	}
	if snaps, _ := e.db.Snapshots(ctx, "ehr", 10); len(snaps) != 0 {
		t.Errorf("%d snapshots saved by the skipped rollup", len(snaps))
	}
	if err := e.db.ReleaseLease(ctx, "rollup", "other-host/1/beef"); err != nil {
		t.Fatal(err)
	}
	if ran, err := e.eng.ScheduledPush(ctx); err != nil || !ran {
		t.Errorf("with the lease free: ran %v, %v; want ran", ran, err)
	}
	if snaps, _ := e.db.Snapshots(ctx, "ehr", 10); len(snaps) != 1 {
		t.Errorf("%d snapshots after the rollup, want 1", len(snaps))
	}
	if h, _, _ := e.db.LeaseHolder(ctx, "rollup"); h == "other-host/1/beef" {
		t.Errorf("the rollup lease is still the other replica's")
	}
}

// failingLeases is a store whose lease writes fail, as on a full disk.
type failingLeases struct{ engine.Store }

func (failingLeases) AcquireLease(context.Context, string, string, time.Time, time.Duration) (store.Fence, bool, error) {
	return store.Fence{}, false, errors.New("database or disk is full")
}

// A run that fails before it is recorded is counted all the same, in
// /metrics and in /readyz detail.
func TestEveryFailedAttemptIsCounted(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 100)
	reg := prometheus.NewRegistry()
	eng, err := engine.New(e.cfg, failingLeases{e.db}, engine.Options{Log: zerolog.Nop(), Now: e.clock.Now, Metrics: engine.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Sync(ctx, engine.SyncOptions{})
	if err == nil || len(res) != 1 || res[0].Status != "failed" || res[0].RunID != 0 {
		t.Fatalf("sync with a failing lease write: %v, %+v", err, res)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range families {
		if f.GetName() != "pmsync_sync_runs_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			got = append(got, fmt.Sprintf("%s %g", strings.Join(labels, ","), m.GetCounter().GetValue()))
		}
	}
	if want := []string{"source=ehr-jira,status=failed 1"}; strings.Join(got, ";") != strings.Join(want, ";") {
		t.Errorf("pmsync_sync_runs_total = %v, want %v", got, want)
	}
	srv, err := web.New(eng, e.db, web.Options{Sources: eng.Health, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz?verbose", nil))
	if want := "[-]source ehr-jira: 1 failed sync in a row (last error: take the sync lease sync:conn:jira: database or disk is full)\n"; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("/readyz?verbose lacks %q:\n%s", want, rec.Body)
	}
}

// pageStore lets a test act on each page write.
type pageStore struct {
	engine.Store
	mu    sync.Mutex
	pages int
	hook  func(n int) error // called before the n-th page (1-based) is stored
}

func (s *pageStore) ApplyPage(ctx context.Context, w store.PageWrite) (store.PageResult, error) {
	s.mu.Lock()
	s.pages++
	n := s.pages
	s.mu.Unlock()
	if err := s.hook(n); err != nil {
		return store.PageResult{}, err
	}
	return s.Store.ApplyPage(ctx, w)
}

// The next page is fetched while the previous one is stored: the first
// page's commit waits until the simulator has been asked for the second.
func TestNextPageIsFetchedWhileAPageCommits(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 50)
	seed(e.sim, 200, e.clock.Now())
	var searches atomic.Int32
	second := make(chan struct{})
	g := newGate(e.sim)
	g.before = func() {
		if searches.Add(1) == 2 {
			close(second)
		}
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	e.open(t, writeConfig(t, e.dir, srv.URL, jirasim.Cloud))
	var waitedOut atomic.Bool
	st := &pageStore{Store: e.db, hook: func(n int) error {
		if n == 1 {
			select {
			case <-second:
			case <-time.After(10 * time.Second):
				waitedOut.Store(true)
			}
		}
		return nil
	}}
	eng, err := engine.New(e.cfg, st, engine.Options{Log: zerolog.Nop(), Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Sync(ctx, engine.SyncOptions{})
	if err != nil || res[0].Seen != 200 || res[0].Pages != 4 {
		t.Fatalf("sync: %v, %+v; want 200 records in 4 pages", err, res)
	}
	if waitedOut.Load() {
		t.Error("the second page was not fetched while the first was being stored")
	}
}

// A page that cannot be stored ends the run: the pages before it stay
// committed with their cursor, nothing after it is, and the pull stops.
func TestAFailedCommitLeavesAPrefix(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 50)
	seed(e.sim, 300, e.clock.Now())
	boom := errors.New("disk I/O error")
	st := &pageStore{Store: e.db, hook: func(n int) error {
		if n == 3 {
			return boom
		}
		return nil
	}}
	eng, err := engine.New(e.cfg, st, engine.Options{Log: zerolog.Nop(), Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Sync(ctx, engine.SyncOptions{})
	if !errors.Is(err, boom) || res[0].Status != "failed" || res[0].Pages != 2 {
		t.Fatalf("sync: %v, %+v; want a failed run after 2 stored pages", err, res)
	}
	if live, _, _ := e.db.CountItems(ctx, "ehr-jira"); live != 100 {
		t.Errorf("%d items stored, want the 100 of the first two pages", live)
	}
	cur, _ := e.db.Cursor(ctx, "ehr-jira")
	if cur == "" {
		t.Error("no cursor saved with the stored pages")
	}
	// Pages 1-3 were fetched, and at most one more while page 3 failed.
	if n := e.searchCalls(); n > 4 {
		t.Errorf("%d searches: the pull went on after a page failed to store", n)
	}
}

// renewalsFail is a store whose lease renewals fail after the first
// acquisition, as when the database is out of reach.
type renewalsFail struct {
	engine.Store
	calls atomic.Int32
}

func (s *renewalsFail) AcquireLease(ctx context.Context, name, holder string, at time.Time, ttl time.Duration) (store.Fence, bool, error) {
	if s.calls.Add(1) == 1 {
		return s.Store.AcquireLease(ctx, name, holder, at, ttl)
	}
	return store.Fence{}, false, errors.New("connection refused")
}

// stalledSearch is an environment with a 5 s sync lease whose Jira search
// answers only after a minute: a sync runs until its lease stops it.
func stalledSearch(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, jirasim.Cloud, 100)
	seed(e.sim, 10, e.clock.Now())
	e.sim.Inject(jirasim.Fault{Path: "/rest/api/3/search/jql", Delay: time.Minute, Times: -1})
	path := filepath.Join(e.dir, "pmsync.yaml")
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(text, []byte("sync: { lease_ttl: 5s }\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	e.open(t, path)
	return e
}

// A sync whose lease cannot be renewed stops before the lease could pass to
// another process, even in the middle of a request.
func TestSyncStopsBeforeAnUnrenewedLeaseRunsOut(t *testing.T) {
	ctx := context.Background()
	e := stalledSearch(t)
	eng, err := engine.New(e.cfg, &renewalsFail{Store: e.db}, engine.Options{Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = eng.Sync(ctx, engine.SyncOptions{})
	took := time.Since(start)
	if !errors.Is(err, engine.ErrBusy) {
		t.Fatalf("sync with failing renewals: %v, want ErrBusy", err)
	}
	// The lease, taken at the start for 5 s, could pass on at 5 s; the sync
	// lets go a fifth of the term early (4 s).
	if took >= 5*time.Second {
		t.Errorf("the sync held on for %v; it must stop before the 5 s lease can pass on", took)
	}
}

// slowRenewal is a store whose first lease renewal is granted but answered
// late, and whose later renewals fail: a database that stalls, then is out
// of reach.
type slowRenewal struct {
	engine.Store
	delay   time.Duration
	calls   atomic.Int32
	renewed atomic.Int64 // the time the granted renewal was asked for, in ns
}

func (s *slowRenewal) AcquireLease(ctx context.Context, name, holder string, at time.Time, ttl time.Duration) (store.Fence, bool, error) {
	switch s.calls.Add(1) {
	case 1:
		return s.Store.AcquireLease(ctx, name, holder, at, ttl)
	case 2:
		s.renewed.Store(time.Now().UnixNano())
		f, got, err := s.Store.AcquireLease(ctx, name, holder, at, ttl)
		time.Sleep(s.delay)
		return f, got, err
	}
	return store.Fence{}, false, errors.New("connection refused")
}

// A renewal's term begins when it is asked for: a renewal answered late
// does not move the sync's own deadline past the lease's expiry.
func TestSlowRenewalDoesNotStretchTheLease(t *testing.T) {
	ctx := context.Background()
	e := stalledSearch(t)
	db := &slowRenewal{Store: e.db, delay: 1500 * time.Millisecond}
	eng, err := engine.New(e.cfg, db, engine.Options{Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = eng.Sync(ctx, engine.SyncOptions{})
	stopped := time.Now()
	if !errors.Is(err, engine.ErrBusy) {
		t.Fatalf("sync with a stalled database: %v, want ErrBusy", err)
	}
	if db.calls.Load() < 2 {
		t.Fatalf("%d lease calls: the sync stopped before its first renewal", db.calls.Load())
	}
	// The renewal granted the lease until 5 s after it was asked for; an
	// answer 1.5 s late must not let the sync run past that.
	if held := stopped.Sub(time.Unix(0, db.renewed.Load())); held >= 5*time.Second {
		t.Errorf("the sync ran %v after its last granted renewal was asked for; the lease could pass on at 5 s", held)
	}
}

// The sources report shows which process holds each connection's lease.
func TestSourceReportsShowTheLease(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 100)
	if _, got, err := e.db.AcquireLease(ctx, "sync:conn:jira", "replica-b/1/41/9c2e", e.clock.Now(), time.Minute); err != nil || !got {
		t.Fatal(got, err)
	}
	reps, err := e.eng.SourceReports(ctx, 5, 5)
	if err != nil || len(reps) != 1 {
		t.Fatalf("SourceReports = %+v, %v", reps, err)
	}
	want := &store.Lease{Name: "sync:conn:jira", Holder: "replica-b/1/41/9c2e", Token: 1, Expires: e.clock.Now().Add(time.Minute)}
	if got := reps[0].Lease; got == nil || *got != *want {
		t.Errorf("lease = %+v, want %+v", got, want)
	}
}
