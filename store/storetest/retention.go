package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
)

// retention is the suite's tests of Pruner.
var retention = []test{
	{"KeepsWhatIsStillRead", testPruneKeepsWhatIsStillRead},
	{"WorksOffABacklog", testPruneWorksOffABacklog},
}

// day returns midnight UTC of a day of 2026.
func day(month time.Month, d int) time.Time { return time.Date(2026, month, d, 0, 0, 0, 0, time.UTC) }

// A prune removes history past the policy and keeps, whatever their age,
// the rows the system still reads. The fixture is built by hand with the
// expected survivors worked out beside each row.
func testPruneKeepsWhatIsStillRead(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	now := day(6, 1)
	keep := 30 * 24 * time.Hour // cutoff 2026-05-02

	// Sync runs.
	run := func(source string, started time.Time, status string) int64 {
		t.Helper()
		id, err := db.StartRun(ctx, source, false, started)
		if err != nil {
			t.Fatal(err)
		}
		if status != store.RunRunning {
			if err := db.FinishRun(ctx, id, store.RunResult{Status: status, Error: "e" + fmt.Sprint(id)}, started.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	a1 := run("a", day(3, 1), store.RunOK)      // old, but a's first ok run: kept
	a2 := run("a", day(3, 2), store.RunFailed)  // old: pruned
	a3 := run("a", day(3, 3), store.RunOK)      // old, but a's newest ok run: kept
	a4 := run("a", day(5, 30), store.RunFailed) // recent: kept
	b5 := run("b", day(2, 1), store.RunFailed)  // old: pruned
	b6 := run("b", day(3, 1), store.RunOK)      // b's first and newest ok run: kept
	b7 := run("b", day(3, 5), store.RunFailed)  // b's newest finished run: kept
	b8 := run("b", day(3, 6), store.RunRunning) // running (b's newest): kept
	_ = a2

	// Item history: a milestone whose due date moves and whose state
	// changes; two tombstoned tasks.
	page := func(at time.Time, items []pmsync.Item, deleted ...string) {
		t.Helper()
		if _, err := db.ApplyPage(ctx, store.PageWrite{Source: "jira", Items: items, Deleted: deleted, At: at, Cursor: at.String()}); err != nil {
			t.Fatal(err)
		}
	}
	m := func(due pmsync.Date, state pmsync.State) pmsync.Item {
		return pmsync.Item{Source: "jira", ExternalID: "M-1", Kind: pmsync.KindMilestone, Title: "Go-live", State: state, Due: due, UpdatedAt: t0}
	}
	page(day(3, 1), []pmsync.Item{m("2026-07-01", pmsync.StateTodo), task("T-9"), task("T-10")}) // created: no change recorded
	page(day(3, 5), nil, "T-9")                                                                  // T-9 tombstoned long ago: pruned with its history
	page(day(3, 10), []pmsync.Item{m("2026-07-15", pmsync.StateTodo)})                           // due 07-01 → 07-15: the first due change, kept (baseline)
	page(day(3, 20), []pmsync.Item{m("2026-08-01", pmsync.StateTodo)})                           // due 07-15 → 08-01: old, pruned
	page(day(3, 25), []pmsync.Item{m("2026-08-01", pmsync.StateInProgress)})                     // state todo → in_progress: the first state change, kept
	page(day(5, 20), []pmsync.Item{m("2026-08-15", pmsync.StateInProgress)})                     // due 08-01 → 08-15: recent, kept
	page(day(5, 21), []pmsync.Item{m("2026-08-15", pmsync.StateDone)})                           // state → done: recent, kept
	page(day(5, 25), nil, "T-10")                                                                // T-10 tombstoned recently: kept

	// Snapshots.
	snap := func(program, version string, at time.Time) {
		t.Helper()
		r := pmsync.Rollup{ID: program, Name: program, Version: version, AsOf: pmsync.DateOf(at)}
		if _, err := db.SaveSnapshot(ctx, r, at); err != nil {
			t.Fatal(err)
		}
	}
	snap("ehr", "v1", day(3, 1))  // pruned
	snap("ehr", "v2", day(4, 1))  // pruned
	snap("ehr", "v3", day(5, 20)) // recent: kept
	snap("old", "v1", day(1, 1))  // the program's newest: kept

	// Outbox.
	push := func(version string, at time.Time, status string) {
		t.Helper()
		if _, err := db.Enqueue(ctx, "tracker", "ehr", version, []byte(`{"big":"rollup"}`), at); err != nil {
			t.Fatal(err)
		}
		pending, err := db.PendingPushes(ctx, "tracker")
		if err != nil {
			t.Fatal(err)
		}
		id := pending[len(pending)-1].ID
		switch status {
		case store.PushDelivered:
			if ok, err := db.ClaimPush(ctx, id, at, time.Minute); err != nil || !ok {
				t.Fatal(ok, err)
			}
			if err := db.MarkDelivered(ctx, id, store.PushOutcome{At: at, Receipt: "comment 1"}); err != nil {
				t.Fatal(err)
			}
		case store.PushFailed:
			if ok, err := db.ClaimPush(ctx, id, at, time.Minute); err != nil || !ok {
				t.Fatal(ok, err)
			}
			if err := db.MarkFailed(ctx, id, store.PushOutcome{At: at, Error: "HTTP 503"}); err != nil {
				t.Fatal(err)
			}
		case "superseded":
			if ok, err := db.SupersedePush(ctx, id, store.PushOutcome{At: at, Receipt: "superseded by a newer rollup"}, time.Minute); err != nil || !ok {
				t.Fatal(ok, err)
			}
		}
	}
	push("v1", day(3, 1), store.PushDelivered)  // old delivery: pruned
	push("v2", day(3, 2), store.PushFailed)     // still to retry: kept
	push("v3", day(3, 3), store.PushPending)    // still to send: kept
	push("v4", day(5, 30), store.PushDelivered) // recent: kept
	push("v5", day(3, 4), "superseded")         // old, closed unsent: pruned

	// Nothing is removed by a policy that keeps everything.
	if got, err := db.Prune(ctx, store.Retention{}, now); err != nil || got != (store.Pruned{}) {
		t.Fatalf("Prune with no retention = %+v, %v; want nothing removed", got, err)
	}

	policy := store.Retention{SyncRuns: keep, ItemChanges: keep, Snapshots: keep, Outbox: keep, DeletedItems: keep}
	got, err := db.Prune(ctx, policy, now)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Pruned{SyncRuns: 2, ItemChanges: 1, Snapshots: 2, Outbox: 2, DeletedItems: 1}
	if got != want {
		t.Errorf("Prune = %+v, want %+v", got, want)
	}

	// Sync runs: what is left, and what LastSuccess still says.
	for source, wantIDs := range map[string][]int64{"a": {a4, a3, a1}, "b": {b8, b7, b6}} {
		runs, err := db.Runs(ctx, source, 0)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, r := range runs {
			ids = append(ids, r.ID)
		}
		if !slices.Equal(ids, wantIDs) {
			t.Errorf("runs of %s after prune: %v, want %v", source, ids, wantIDs)
		}
	}
	if last, lastErr, err := db.LastSuccess(ctx, "a"); err != nil || !last.Equal(day(3, 3).Add(time.Minute)) || lastErr != fmt.Sprintf("e%d", a4) {
		t.Errorf("LastSuccess(a) = %v, %q, %v; want run %d's finish and run %d's error", last, lastErr, err, a3, a4)
	}
	if last, lastErr, err := db.LastSuccess(ctx, "b"); err != nil || !last.Equal(day(3, 1).Add(time.Minute)) || lastErr != fmt.Sprintf("e%d", b7) {
		t.Errorf("LastSuccess(b) = %v, %q, %v; want run %d's finish and run %d's error", last, lastErr, err, b6, b7)
	}
	_ = b5
	if first, err := db.FirstSuccess(ctx, "a"); err != nil || !first.Equal(day(3, 1).Add(time.Minute)) {
		t.Errorf("FirstSuccess(a) = %v, %v; want run %d's finish", first, err, a1)
	}

	// Item history: the baseline of each field and the recent changes.
	changes, err := db.Changes(ctx, "jira", "M-1")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range changes {
		lines = append(lines, fmt.Sprintf("%s %s %s→%s", c.At.Format("01-02"), c.Field, c.Old, c.New))
	}
	wantLines := []string{
		"03-10 due 2026-07-01→2026-07-15",
		"03-25 state todo→in_progress",
		"05-20 due 2026-08-01→2026-08-15",
		"05-21 state in_progress→done",
	}
	if diff := cmp.Diff(wantLines, lines); diff != "" {
		t.Errorf("changes of M-1 after prune (-want +got):\n%s", diff)
	}
	if _, ok, err := db.Item(ctx, "jira", "T-9"); err != nil || ok {
		t.Errorf("T-9 (tombstoned 03-05) still stored: %v, %v", ok, err)
	}
	if it, ok, err := db.Item(ctx, "jira", "T-10"); err != nil || !ok || !it.Deleted() {
		t.Errorf("T-10 (tombstoned 05-25) = %+v, %v, %v; want it kept as a tombstone", it, ok, err)
	}
	if c, err := db.Changes(ctx, "jira", "T-9"); err != nil || len(c) != 0 {
		t.Errorf("history of the purged T-9: %v, %v; want none", c, err)
	}

	// Snapshots.
	for program, wantVersions := range map[string][]string{"ehr": {"v3"}, "old": {"v1"}} {
		snaps, err := db.Snapshots(ctx, program, 0)
		if err != nil {
			t.Fatal(err)
		}
		var vs []string
		for _, s := range snaps {
			vs = append(vs, s.Version)
		}
		if !slices.Equal(vs, wantVersions) {
			t.Errorf("snapshots of %s after prune: %v, want %v", program, vs, wantVersions)
		}
	}

	// Outbox: the pending and failed pushes are still there to send, and
	// the recent delivery still guards its version.
	pending, err := db.PendingPushes(ctx, "tracker")
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, p := range pending {
		vs = append(vs, p.Version+" "+p.Status)
	}
	if diff := cmp.Diff([]string{"v2 failed", "v3 pending"}, vs); diff != "" {
		t.Errorf("pending pushes after prune (-want +got):\n%s", diff)
	}
	if queued, err := db.Enqueue(ctx, "tracker", "ehr", "v4", []byte("{}"), now); err != nil || queued {
		t.Errorf("Enqueue of the recently delivered v4 = %v, %v; want it refused as already queued", queued, err)
	}

	// A second prune finds nothing more.
	if got, err := db.Prune(ctx, policy, now); err != nil || got != (store.Pruned{}) {
		t.Errorf("second Prune = %+v, %v; want nothing", got, err)
	}
}

// A backlog larger than a backend's batches (a few thousand rows) is
// worked off whole.
func testPruneWorksOffABacklog(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	const n = 4500
	for i := range n {
		id, err := db.StartRun(ctx, "bulk", false, day(1, 1).Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.FinishRun(ctx, id, store.RunResult{Status: store.RunOK}, day(1, 1).Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Prune(ctx, store.Retention{SyncRuns: 24 * time.Hour}, day(6, 1))
	if err != nil {
		t.Fatal(err)
	}
	if got.SyncRuns != n-2 {
		t.Errorf("pruned %d runs, want %d (all but the first and the newest)", got.SyncRuns, n-2)
	}
	runs, err := db.Runs(ctx, "bulk", 0)
	if err != nil || len(runs) != 2 {
		t.Errorf("%d runs left (%v), want 2", len(runs), err)
	}
}
