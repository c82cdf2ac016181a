package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
)

func milestone(id string, due pmsync.Date) pmsync.Item {
	return task(id, func(it *pmsync.Item) { it.Kind, it.Due = pmsync.KindMilestone, due })
}

// history lists the tests of what the rollup reads of the past: the change
// log, first sights and first successes, snapshots since a date, the latest
// report, and pushes looked up for dry runs.
var history = []test{
	{"ChangeLog", testChangeLog},
	{"FirstSeenAndFirstSuccess", testFirstSeenAndFirstSuccess},
	{"SnapshotsSince", testSnapshotsSince},
	{"LatestReport", testLatestReport},
	{"LookupPush", testLookupPush},
}

// The change log selects by source, field, the item's kind and time, in
// the order the changes were recorded.
func testChangeLog(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	t1, t2, t3 := t0, t0.Add(24*time.Hour), t0.Add(48*time.Hour)
	apply(t, db, store.PageWrite{At: t1, Items: []pmsync.Item{milestone("M1", "2026-05-01"), task("T1")}})
	apply(t, db, store.PageWrite{Source: "asana", At: t1, Items: []pmsync.Item{{Source: "asana", ExternalID: "A1", Kind: pmsync.KindMilestone, State: pmsync.StateTodo, Title: "A1", Due: "2026-06-01"}}})
	// Day 2: M1 moves to 05-15, T1 moves and finishes; A1 moves.
	apply(t, db, store.PageWrite{At: t2, Items: []pmsync.Item{milestone("M1", "2026-05-15"),
		task("T1", func(it *pmsync.Item) { it.Due, it.State = "2026-04-10", pmsync.StateDone })}})
	apply(t, db, store.PageWrite{Source: "asana", At: t2, Items: []pmsync.Item{{Source: "asana", ExternalID: "A1", Kind: pmsync.KindMilestone, State: pmsync.StateTodo, Title: "A1", Due: "2026-06-20"}}})
	// Day 3: M1 moves again.
	apply(t, db, store.PageWrite{At: t3, Items: []pmsync.Item{milestone("M1", "2026-05-30"),
		task("T1", func(it *pmsync.Item) { it.Due, it.State = "2026-04-10", pmsync.StateDone })}})

	change := func(source, id string, at time.Time, field, old, cur string) store.Change {
		return store.Change{Source: source, ExternalID: id, At: at, Field: field, Old: old, New: cur}
	}
	tests := []struct {
		name string
		q    store.ChangeQuery
		want []store.Change
	}{
		{"due of milestones of jira", store.ChangeQuery{Sources: []string{"jira"}, Fields: []string{store.FieldDue}, Kinds: []pmsync.Kind{pmsync.KindMilestone}},
			[]store.Change{change("jira", "M1", t2, "due", "2026-05-01", "2026-05-15"), change("jira", "M1", t3, "due", "2026-05-15", "2026-05-30")}},
		{"due of any kind, every source", store.ChangeQuery{Fields: []string{store.FieldDue}},
			[]store.Change{change("jira", "M1", t2, "due", "2026-05-01", "2026-05-15"), change("jira", "T1", t2, "due", "2026-04-01", "2026-04-10"),
				change("asana", "A1", t2, "due", "2026-06-01", "2026-06-20"), change("jira", "M1", t3, "due", "2026-05-15", "2026-05-30")}},
		{"state since day 2", store.ChangeQuery{Sources: []string{"jira"}, Fields: []string{store.FieldState}, Since: t2},
			[]store.Change{change("jira", "T1", t2, "state", "todo", "done")}},
		{"since day 3", store.ChangeQuery{Since: t3}, []store.Change{change("jira", "M1", t3, "due", "2026-05-15", "2026-05-30")}},
		{"moves into done", store.ChangeQuery{Fields: []string{store.FieldState}, New: []string{"done"}},
			[]store.Change{change("jira", "T1", t2, "state", "todo", "done")}},
		{"moves to either date", store.ChangeQuery{Fields: []string{store.FieldDue}, New: []string{"2026-05-30", "2026-06-20"}},
			[]store.Change{change("asana", "A1", t2, "due", "2026-06-01", "2026-06-20"), change("jira", "M1", t3, "due", "2026-05-15", "2026-05-30")}},
		{"moves to nothing asked", store.ChangeQuery{Fields: []string{store.FieldState}, New: []string{"cancelled"}}, nil},
		{"nothing of risks", store.ChangeQuery{Kinds: []pmsync.Kind{pmsync.KindRisk}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.ChangeLog(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ChangeLog (-want +got):\n%s", diff)
			}
		})
	}
}

func testFirstSeenAndFirstSuccess(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	if got, err := db.FirstSuccess(ctx, "jira"); err != nil || !got.IsZero() {
		t.Fatalf("FirstSuccess of a source never synced = %v, %v", got, err)
	}
	// A failed run, then two ok runs: the first ok one counts.
	for i, status := range []string{store.RunFailed, store.RunOK, store.RunOK} {
		id, err := db.StartRun(ctx, "jira", false, t0.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.FinishRun(ctx, id, store.RunResult{Status: status}, t0.Add(time.Duration(i)*time.Hour+time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := db.FirstSuccess(ctx, "jira"); err != nil || !got.Equal(t0.Add(time.Hour+time.Minute)) {
		t.Errorf("FirstSuccess = %v, %v; want %v", got, err, t0.Add(time.Hour+time.Minute))
	}

	apply(t, db, store.PageWrite{At: t0, Items: []pmsync.Item{task("T1"), task("T2")}})
	later := t0.Add(72 * time.Hour)
	apply(t, db, store.PageWrite{At: later, Items: []pmsync.Item{task("T3"), task("T1", func(it *pmsync.Item) { it.Title = "renamed" })}})
	apply(t, db, store.PageWrite{Source: "asana", At: later, Items: []pmsync.Item{{Source: "asana", ExternalID: "A1", Kind: pmsync.KindTask, State: pmsync.StateTodo, Title: "A1"}}})
	got, err := db.FirstSeen(ctx, later, "jira")
	// T1 was updated later but first seen at t0.
	if want := []pmsync.Seen{{Source: "jira", ExternalID: "T3", At: later}}; err != nil || !cmp.Equal(want, got) {
		t.Errorf("FirstSeen(jira) = %v, %v; want %v", got, err, want)
	}
	got, err = db.FirstSeen(ctx, t0)
	if err != nil || len(got) != 4 || got[0].ExternalID != "A1" || got[1].ExternalID != "T1" || !got[1].At.Equal(t0) {
		t.Errorf("FirstSeen(all) = %v, %v", got, err)
	}
}

func testSnapshotsSince(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	for i, asOf := range []pmsync.Date{"2026-03-01", "2026-03-05", "2026-03-10", "2026-03-10", "2026-03-20"} {
		r := pmsync.Rollup{ID: "ehr", AsOf: asOf, Version: string(asOf) + "-" + string(rune('a'+i))}
		if _, err := db.SaveSnapshot(ctx, r, t0.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.SaveSnapshot(ctx, pmsync.Rollup{ID: "pacs", AsOf: "2026-03-10", Version: "x"}, t0); err != nil {
		t.Fatal(err)
	}
	versions := func(from pmsync.Date) []string {
		s, err := db.SnapshotsSince(ctx, "ehr", from)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range s {
			out = append(out, x.Version)
		}
		return out
	}
	// From 03-08: the newest before it (03-05), then 03-10 twice and 03-20.
	if diff := cmp.Diff([]string{"2026-03-05-b", "2026-03-10-c", "2026-03-10-d", "2026-03-20-e"}, versions("2026-03-08")); diff != "" {
		t.Errorf("since 03-08 (-want +got):\n%s", diff)
	}
	// From a day with a snapshot: the one before it opens the window.
	if diff := cmp.Diff([]string{"2026-03-05-b", "2026-03-10-c", "2026-03-10-d", "2026-03-20-e"}, versions("2026-03-10")); diff != "" {
		t.Errorf("since 03-10 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"2026-03-01-a", "2026-03-05-b", "2026-03-10-c", "2026-03-10-d", "2026-03-20-e"}, versions("2026-02-01")); diff != "" {
		t.Errorf("since 02-01 (-want +got):\n%s", diff)
	}
	// After the last one: only the state the window opens with.
	if diff := cmp.Diff([]string{"2026-03-20-e"}, versions("2026-04-01")); diff != "" {
		t.Errorf("since 04-01 (-want +got):\n%s", diff)
	}

	// The history holds a snapshot's figures, not its listings; the
	// snapshot itself (Snapshots) is kept whole.
	full := pmsync.Rollup{ID: "tele", AsOf: "2026-03-20", Version: "v1", Name: "Telehealth",
		Health:     pmsync.Health{Status: pmsync.Red, Reasons: []string{"1 milestone late"}, Rules: []pmsync.FiredRule{}},
		Progress:   pmsync.Progress{Done: 3, Total: 4, Percent: 75},
		Milestones: pmsync.MilestoneCounts{Total: 2, Late: 1},
		Budget:     pmsync.Budget{Planned: 100, Actual: 40.5, BurnPercent: ptr(40.5)},
		Sources:    []pmsync.SourceStatus{{Source: "asana-tele", Connection: "asana"}},
		Late:       []pmsync.ItemRef{{Source: "asana-tele", ExternalID: "1", Title: "Pilot", Due: "2026-03-01"}},
		RedFlags:   []pmsync.ItemRef{{Source: "asana-tele", ExternalID: "2", Title: "Vendor", Score: 20}},
		Slips:      []pmsync.Slip{{ItemRef: pmsync.ItemRef{Source: "asana-tele", ExternalID: "1"}, Baseline: "2026-02-20", Days: 9}},
		Changes:    []string{"health amber → red"},
	}
	if _, err := db.SaveSnapshot(ctx, full, t0); err != nil {
		t.Fatal(err)
	}
	hist, err := db.SnapshotsSince(ctx, "tele", "2026-03-01")
	if err != nil || len(hist) != 1 {
		t.Fatalf("SnapshotsSince(tele) = %d snapshots, %v", len(hist), err)
	}
	want := full
	want.Sources, want.Late, want.RedFlags, want.Slips = nil, nil, nil, nil
	if diff := cmp.Diff(want, hist[0].Rollup); diff != "" {
		t.Errorf("history of tele (-want +got):\n%s", diff)
	}
	kept, err := db.Snapshots(ctx, "tele", 1)
	if err != nil || len(kept) != 1 {
		t.Fatalf("Snapshots(tele) = %d, %v", len(kept), err)
	}
	if diff := cmp.Diff(full, kept[0].Rollup); diff != "" {
		t.Errorf("snapshot of tele (-saved +read):\n%s", diff)
	}
}

func testLatestReport(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	if _, _, ok, err := db.LatestReport(ctx); ok || err != nil {
		t.Fatalf("LatestReport on a new database = %v, %v", ok, err)
	}
	if rev, err := db.ReportRevision(ctx); rev != 0 || err != nil {
		t.Fatalf("ReportRevision on a new database = %d, %v; want 0", rev, err)
	}
	var revs []int64
	// The same report saved twice at the same time still makes a new
	// revision: a reader cannot tell the saves apart otherwise.
	for i, asOf := range []pmsync.Date{"2026-03-01", "2026-03-01", "2026-03-02"} {
		rep := pmsync.NewReport(asOf, t0, []pmsync.Rollup{{ID: "ehr", Name: "EHR", AsOf: asOf, Version: "v"}})
		if err := db.SaveReport(ctx, rep, t0.Add(time.Duration(i/2)*time.Hour)); err != nil {
			t.Fatal(err)
		}
		rev, err := db.ReportRevision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, rev)
	}
	if revs[0] < 1 || revs[1] <= revs[0] || revs[2] <= revs[1] {
		t.Errorf("revisions after three saves: %v; want them growing from 1 on", revs)
	}
	rep, at, ok, err := db.LatestReport(ctx)
	if err != nil || !ok || rep.AsOf != "2026-03-02" || !at.Equal(t0.Add(time.Hour)) || rep.Programs[0].ID != "ehr" || rep.Portfolio.Programs[0] != "ehr" {
		t.Errorf("LatestReport = %+v at %v, %v, %v", rep, at, ok, err)
	}
}

func testLookupPush(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	if _, err := db.Enqueue(ctx, "file:/tmp/r.json", "*", "v1", []byte("{}"), t0); err != nil {
		t.Fatal(err)
	}
	p, ok, err := db.LookupPush(ctx, "file:/tmp/r.json", "*", "v1")
	if err != nil || !ok || p.Status != store.PushPending || p.Version != "v1" || string(p.Payload) != "{}" {
		t.Errorf("LookupPush = %+v, %v, %v", p, ok, err)
	}
	if _, ok, err := db.LookupPush(ctx, "file:/tmp/r.json", "*", "v2"); ok || err != nil {
		t.Errorf("LookupPush of an unknown version = %v, %v", ok, err)
	}
}
