package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/jirasim"
	"github.com/pmsync/pmsync/store"
	"github.com/pmsync/pmsync/store/sqlite"
)

// pushGate sits in front of the simulator. It counts search pages and the
// push's two calls (the marker check reading the issue's comments, and
// the comment written), and holds each written comment's answer back for a
// while after the simulator has stored it, so that a kill can land between
// the write and its acknowledgement: the case that would deliver a version
// twice if the next push trusted the outbox alone.
type pushGate struct {
	next http.Handler
	hold time.Duration

	mu                           sync.Mutex
	searches, guards, posts, ack int
	guardAt                      time.Time // when the latest marker check arrived
}

func (g *pushGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/search/jql"):
		g.mu.Lock()
		g.searches++
		g.mu.Unlock()
	case strings.HasSuffix(r.URL.Path, "/comment") && r.Method == http.MethodGet:
		g.mu.Lock()
		g.guards++
		g.guardAt = time.Now()
		g.mu.Unlock()
	case strings.HasSuffix(r.URL.Path, "/comment") && r.Method == http.MethodPost:
		rec := httptest.NewRecorder()
		g.next.ServeHTTP(rec, r)
		g.mu.Lock()
		g.posts++
		g.mu.Unlock()
		select {
		case <-time.After(g.hold):
		case <-r.Context().Done():
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		g.mu.Lock()
		g.ack++
		g.mu.Unlock()
		return
	}
	g.next.ServeHTTP(w, r)
}

func (g *pushGate) counts() (searches, guards, posts, ack int, guardAt time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.searches, g.guards, g.posts, g.ack, g.guardAt
}

// crashState is what the database shows between runs.
type crashState struct {
	snapshots, pending int
	runs               map[string]int // by status
}

func readCrashState(t *testing.T, path string) crashState {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.OpenWith(ctx, path, sqlite.Options{CheckpointEvery: -1})
	if err != nil {
		t.Fatalf("open after a kill: %v", err)
	}
	defer db.Close()
	if problems, err := db.IntegrityCheck(ctx); err != nil || len(problems) > 0 {
		t.Fatalf("integrity check after a kill: %v %v", problems, err)
	}
	snaps, err := db.Snapshots(ctx, "ehr", 0)
	if err != nil {
		t.Fatal(err)
	}
	pending, err := db.PendingPushes(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	runs, err := db.Runs(ctx, "ehr-jira", 0)
	if err != nil {
		t.Fatal(err)
	}
	st := crashState{snapshots: len(snaps), pending: len(pending), runs: map[string]int{}}
	for _, r := range runs {
		st.runs[r.Status]++
	}
	return st
}

// TestCrashAtRandomPointsConverges kills pmsync with SIGKILL at random
// points spread over the three stages that write: a sync (pages and their
// cursors), a rollup (the items read, the snapshot saved, the push
// queued) and a push (before the comment is written, after the simulator
// stored it but before pmsync heard back, after the answer). After every
// kill the database passes SQLite's integrity check; at the end one
// uninterrupted sync and push converge: the items equal those of a clean
// sync into a fresh database, nothing is left to send, no run is left
// running, and no rollup version reached the simulator twice.
//
// The points are drawn from a seeded generator; the seed is logged, and
// PMSYNC_CRASH_SEED replays a run.
func TestCrashAtRandomPointsConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("starts many subprocesses")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PMSYNC_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("PMSYNC_CRASH_SEED: %v", err)
		}
		seed = v
	}
	t.Logf("seed %d (PMSYNC_CRASH_SEED=%d replays this run)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x706d73796e63))

	clk := sandbox.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	sim := jirasim.New(jirasim.Options{Flavor: jirasim.Cloud, Email: email, Token: token, TimeZone: "Europe/Berlin", Now: clk.Now, MaxResults: 50})
	status := sim.Add(jirasim.Issue{Project: "PMO", Type: "Task", Summary: "Executive status — EHR", Status: "In Progress", StatusCategory: "indeterminate"})[0]
	sim.Add(jirasim.Generate("EHR", 1200, 3, clk.Now())...)
	// Slow every search page a little, so that a sync spans a while.
	sim.Inject(jirasim.Fault{Path: "/rest/api/3/search/jql", Delay: 4 * time.Millisecond, Times: -1})
	gate := &pushGate{next: sim, hold: 60 * time.Millisecond}
	srv := httptest.NewServer(gate)
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	write := func(name, db string) string {
		body := fmt.Sprintf(`database: %s
timezone: UTC
connections:
  - { name: jira, kind: jira, base_url: %s, flavor: cloud, auth: { email_env: JIRA_EMAIL, token_env: JIRA_TOKEN } }
programs:
  - id: ehr
    name: EHR Upgrade
    start: 2026-01-05
    end: 2026-12-18
    sources:
      - { name: ehr-jira, connection: jira, scope: { project: EHR } }
push:
  - { connection: jira, target: { issue: %s }, programs: all }
`, db, srv.URL, status)
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	crashedDB := filepath.Join(dir, "crashed.db")
	crashed := write("crashed.yaml", crashedDB)
	vars := []string{"PMSYNC_TEST_AS_MAIN=1", "JIRA_EMAIL=" + email, "JIRA_TOKEN=" + token}

	start := func(args ...string) *exec.Cmd {
		cmd := exec.Command(os.Args[0], append(args, "--config", crashed)...)
		cmd.Env = append(os.Environ(), vars...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	complete := func(args ...string) {
		t.Helper()
		cmd := exec.Command(os.Args[0], append(args, "--config", crashed)...)
		cmd.Env = append(os.Environ(), vars...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pmsync %v: %v\n%s", args, err, out)
		}
	}
	// waitFor polls cond until it holds or the process exits; it reports
	// whether cond held.
	waitFor := func(cmd *exec.Cmd, exited <-chan struct{}, cond func() bool) bool {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			if cond() {
				return true
			}
			select {
			case <-exited:
				return cond()
			case <-time.After(500 * time.Microsecond):
			}
		}
		t.Fatalf("gave up waiting on %v", cmd.Args)
		return false
	}
	// change moves the source on, so that the next rollup is a new version.
	change := func() {
		clk.Advance(time.Hour)
		issues := sim.Issues()
		for range 5 {
			is := issues[1+rng.IntN(len(issues)-1)]
			if is.Project != "EHR" {
				continue
			}
			_ = sim.Update(is.Key, func(x *jirasim.Issue) { x.Status, x.StatusCategory = "Done", "done" })
		}
	}

	// The rollup window: from the start of `pmsync push` to its first call
	// to the simulator, measured on the runs of the push stage. A kill in
	// the rollup stage lands in its second half, past the process's start
	// and the reading of its configuration.
	rollupWindow := 150 * time.Millisecond
	where := map[string]int{}
	const want = 24
	// Eight kills in each stage, in a random order.
	var plan []string
	for _, st := range []string{"sync", "rollup", "push"} {
		for range want / 3 {
			plan = append(plan, st)
		}
	}
	rng.Shuffle(len(plan), func(i, j int) { plan[i], plan[j] = plan[j], plan[i] })
	kills, attempts := 0, 0
	for kills < want {
		attempts++
		if attempts > 4*want {
			t.Fatalf("only %d of %d kills landed in %d attempts", kills, want, attempts)
		}
		stage := plan[kills]
		before := readCrashState(t, crashedDB)
		var cmd *exec.Cmd
		exited := make(chan struct{})
		var label string
		switch stage {
		case "sync":
			change()
			s0, _, _, _, _ := gate.counts()
			pages := 1 + rng.IntN(24) // a full sync is 25 pages
			cmd = start("sync", "--full")
			go func() { _ = cmd.Wait(); close(exited) }()
			if !waitFor(cmd, exited, func() bool { s, _, _, _, _ := gate.counts(); return s-s0 >= pages }) {
				continue
			}
			time.Sleep(time.Duration(rng.IntN(4000)) * time.Microsecond)
			label = "sync: while pulling pages"
		case "rollup":
			change()
			complete("sync")
			_, g0, _, _, _ := gate.counts()
			delay := rollupWindow/2 + time.Duration(rng.Int64N(int64(rollupWindow/2)))
			cmd = start("push")
			go func() { _ = cmd.Wait(); close(exited) }()
			select {
			case <-exited:
				continue
			case <-time.After(delay):
			}
			if _, g, _, _, _ := gate.counts(); g > g0 {
				label = "rollup: after it, while pushing"
			}
		case "push":
			change()
			complete("sync")
			_, g0, p0, a0, _ := gate.counts()
			began := time.Now()
			cmd = start("push")
			go func() { _ = cmd.Wait(); close(exited) }()
			switch rng.IntN(3) {
			case 0: // after the marker check, before the comment is written
				if !waitFor(cmd, exited, func() bool { _, g, _, _, _ := gate.counts(); return g > g0 }) {
					continue
				}
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
				label = "push: after the marker check"
			case 1: // the comment is stored, its answer not yet sent
				if !waitFor(cmd, exited, func() bool { _, _, p, _, _ := gate.counts(); return p > p0 }) {
					continue
				}
				time.Sleep(time.Duration(rng.Int64N(int64(gate.hold * 9 / 10))))
				label = "push: comment stored, answer not received"
			default: // the answer sent, the delivery maybe not recorded
				if !waitFor(cmd, exited, func() bool { _, _, _, a, _ := gate.counts(); return a > a0 }) {
					continue
				}
				time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
				label = "push: answer received"
			}
			if _, g, _, _, at := gate.counts(); g > g0 {
				rollupWindow = max(20*time.Millisecond, at.Sub(began))
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		if cmd.ProcessState.Success() {
			continue // it finished before the kill: no crash
		}
		kills++
		after := readCrashState(t, crashedDB)
		if label == "" { // a kill in the rollup stage, placed by what it left behind
			switch {
			case after.snapshots == before.snapshots:
				label = "rollup: before the snapshot was saved"
			case after.pending <= before.pending:
				label = "rollup: snapshot saved, push not queued"
			default:
				label = "rollup: push queued, not sent"
			}
		}
		where[label]++
	}

	// One uninterrupted sync and push, then a clean sync elsewhere.
	change()
	complete("sync")
	complete("push")
	clean := write("clean.yaml", filepath.Join(dir, "clean.db"))
	cmd := exec.Command(os.Args[0], "sync", "--config", clean)
	cmd.Env = append(os.Environ(), vars...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clean sync: %v\n%s", err, out)
	}

	var lines []string
	for k, v := range where {
		lines = append(lines, fmt.Sprintf("%3d  %s", v, k))
	}
	sort.Strings(lines)
	t.Logf("%d kills in %d runs:\n%s", kills, attempts, strings.Join(lines, "\n"))

	final := readCrashState(t, crashedDB)
	if final.runs[store.RunRunning] != 0 {
		t.Errorf("%d runs still marked running", final.runs[store.RunRunning])
	}
	if final.pending != 0 {
		t.Errorf("%d pushes still to send after an uninterrupted push", final.pending)
	}
	ctx := context.Background()
	items := func(path string) any {
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		its, err := db.Items(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return its
	}
	cleanItems, crashedItems := items(filepath.Join(dir, "clean.db")), items(crashedDB)
	if diff := cmp.Diff(cleanItems, crashedItems); diff != "" {
		t.Errorf("the database that survived %d kills differs from a clean sync (-clean +crashed):\n%s", kills, diff)
	} else {
		t.Logf("%d items, equal to a clean sync's: none lost, none doubled", len(crashedItems.([]pmsync.Item)))
	}
	// No version reached the simulator twice, and the last one arrived.
	seen := map[string]int{}
	for _, c := range sim.Comments(status) {
		for _, line := range strings.Split(c, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "pmsync rollup ehr "); ok {
				seen[v]++
			}
		}
	}
	for v, n := range seen {
		if n > 1 {
			t.Errorf("version %s was delivered %d times", v, n)
		}
	}
	db, err := sqlite.Open(ctx, crashedDB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	last, ok, err := db.LatestSnapshot(ctx, "ehr")
	if err != nil || !ok {
		t.Fatalf("latest snapshot: %v %v", ok, err)
	}
	if seen[last.Version] != 1 {
		t.Errorf("the last version %s reached the simulator %d times, want once", last.Version, seen[last.Version])
	}
	t.Logf("%d versions delivered, each once", len(seen))
}
