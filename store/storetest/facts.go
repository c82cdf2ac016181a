package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
)

var facts = []test{
	{"FactsOfStoredItems", testFactsOfStoredItems},
	{"FactsFollowEveryWrite", testFactsFollowWrites},
	{"FactsOfUnknownSource", testFactsOfUnknownSource},
}

// factsItems are items of every kind the facts treat apart: open and done
// milestones (one with a baseline field), tasks counting toward one, toward
// none and toward a missing one, done with and without a done time, costs,
// risks open and closed, a tombstone; and one item of another source
// naming the same milestone.
func factsItems() (jira []pmsync.Item, other pmsync.Item) {
	m1 := task("M1", func(it *pmsync.Item) {
		it.Kind, it.State, it.Title, it.URL, it.Owner = pmsync.KindMilestone, pmsync.StateInProgress, "Go-live", "https://x/M1", "Dana"
		it.Start, it.Due, it.PercentComplete = "2026-03-01", "2026-04-20", ptr(40)
		it.Fields = map[string]any{pmsync.BaselineField: "2026-04-10"}
	})
	m2 := task("M2", func(it *pmsync.Item) {
		it.Kind, it.State, it.Title = pmsync.KindMilestone, pmsync.StateDone, "Kickoff"
		it.DoneAt = t0.Add(-48 * time.Hour)
	})
	t1 := task("T1", func(it *pmsync.Item) {
		it.State, it.Milestone, it.DoneAt = pmsync.StateDone, "M1", t0.Add(-3*time.Hour)
		it.PlannedCost, it.ActualCost = ptr(250.5), ptr(0)
		it.Labels = []string{"ehr"}
	})
	t2 := task("T2", func(it *pmsync.Item) { it.State, it.Milestone = pmsync.StateDone, "M1" })
	t3 := task("T3", func(it *pmsync.Item) { it.Milestone = "M404" })
	r1 := task("R1", func(it *pmsync.Item) {
		it.Kind, it.Title, it.Likelihood, it.Impact, it.Owner = pmsync.KindRisk, "Vendor delay", 4, 4, "Sam"
	})
	r2 := task("R2", func(it *pmsync.Item) {
		it.Kind, it.State, it.Likelihood, it.Impact = pmsync.KindRisk, pmsync.StateDone, 5, 5
	})
	m3 := task("M3", func(it *pmsync.Item) { it.Kind, it.Title = pmsync.KindMilestone, "Pilot" })
	other = task("O1", func(it *pmsync.Item) { it.Source, it.Milestone = "asana", "M1" })
	return []pmsync.Item{m1, m2, t1, t2, t3, r1, r2, m3}, other
}

// testFactsOfStoredItems: the facts of a source are FactsOf its stored
// items, and say by hand what they should.
func testFactsOfStoredItems(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	jira, other := factsItems()
	apply(t, db, store.PageWrite{Items: jira, At: t0})
	apply(t, db, store.PageWrite{Source: "asana", Items: []pmsync.Item{other}, At: t0})
	if _, err := db.Tombstone(ctx, store.Fence{}, "jira", []string{"M1", "M2", "T1", "T2", "T3", "R1", "R2"}, t0); err != nil {
		t.Fatal(err)
	}
	// Twice: the first call makes the facts, the second reads what the
	// first kept.
	for pass := range 2 {
		got, err := db.RollupFacts(ctx, "jira")
		if err != nil {
			t.Fatalf("pass %d: RollupFacts: %v", pass, err)
		}
		items, err := db.Items(ctx, "jira")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(pmsync.FactsOf(items), got); diff != "" {
			t.Errorf("pass %d: facts are not FactsOf the stored items (-want +got):\n%s", pass, diff)
		}
		// In external id order: M1 M2 M3 R1 R2 T1 T2 T3.
		var ids []string
		for _, r := range got.Rows {
			ids = append(ids, r.ExternalID)
		}
		if diff := cmp.Diff([]string{"M1", "M2", "M3", "R1", "R2", "T1", "T2", "T3"}, ids); diff != "" {
			t.Fatalf("pass %d: rows (-want +got):\n%s", pass, diff)
		}
		r := got.Rows
		wantDone := t0.Add(-3 * time.Hour).Unix()
		switch {
		case r[5].Milestone != 0 || r[6].Milestone != 0 || r[7].Milestone != -1:
			t.Errorf("pass %d: T1, T2, T3 count toward rows %d, %d, %d; want 0, 0, -1", pass, r[5].Milestone, r[6].Milestone, r[7].Milestone)
		case r[5].Flags != pmsync.FactPlanned|pmsync.FactActual|pmsync.FactDoneAt || r[5].Planned != 250.5 || r[5].Actual != 0 || r[5].DoneAt != wantDone:
			t.Errorf("pass %d: T1 = %+v", pass, r[5])
		case r[6].Flags != 0:
			t.Errorf("pass %d: T2 (done, no done time) has flags %b", pass, r[6].Flags)
		case r[2].Flags != pmsync.FactDeleted || r[2].Detail != -1:
			t.Errorf("pass %d: M3 (tombstoned) = %+v", pass, r[2])
		case r[1].Detail != -1 || r[4].Detail != -1 || r[3].Likelihood != 4 || r[3].Impact != 4:
			t.Errorf("pass %d: M2, R2 (closed) or R1 = %+v, %+v, %+v", pass, r[1], r[4], r[3])
		}
		want := []pmsync.Detail{
			{Title: "Go-live", URL: "https://x/M1", Owner: "Dana", Start: "2026-03-01", Due: "2026-04-20", Baseline: "2026-04-10", Percent: 40, HasPercent: true},
			{Title: "Vendor delay", Owner: "Sam", Due: "2026-04-01"},
		}
		if diff := cmp.Diff(want, got.Details); diff != "" {
			t.Errorf("pass %d: details (-want +got):\n%s", pass, diff)
		}
	}
}

// testFactsFollowWrites: after every kind of write (a changed page, a page
// with nothing new, a tombstone, a tombstone lifted, another source's
// page), the facts are FactsOf the items as they are now.
func testFactsFollowWrites(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	jira, other := factsItems()
	check := func(step string) pmsync.Facts {
		t.Helper()
		got, err := db.RollupFacts(ctx, "jira")
		if err != nil {
			t.Fatalf("%s: RollupFacts: %v", step, err)
		}
		items, err := db.Items(ctx, "jira")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(pmsync.FactsOf(items), got); diff != "" {
			t.Errorf("%s: facts (-items +kept):\n%s", step, diff)
		}
		return got
	}
	if got := check("empty source"); len(got.Rows) != 0 {
		t.Errorf("facts of an empty source: %+v", got)
	}
	apply(t, db, store.PageWrite{Items: jira, At: t0})
	check("first page")
	t2 := jira[3]
	t2.State, t2.ActualCost = pmsync.StateInProgress, ptr(99)
	apply(t, db, store.PageWrite{Items: []pmsync.Item{t2}, At: t0.Add(time.Minute)})
	if got := check("T2 changed"); got.Rows[6].State != pmsync.StateInProgress || got.Rows[6].Actual != 99 {
		t.Errorf("T2 changed: facts kept %+v", got.Rows[6])
	}
	apply(t, db, store.PageWrite{Items: jira, Cursor: "c2", At: t0.Add(2 * time.Minute)})
	check("the first page again")
	m1 := jira[0]
	m1.Title = "Go-live, renamed"
	apply(t, db, store.PageWrite{Items: []pmsync.Item{m1}, At: t0.Add(3 * time.Minute)})
	if got := check("M1 renamed"); got.Details[0].Title != "Go-live, renamed" {
		t.Errorf("M1 renamed: detail %+v", got.Details[0])
	}
	if _, err := db.Tombstone(ctx, store.Fence{}, "jira", []string{"M2", "T1"}, t0.Add(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := check("tombstones"); got.Rows[0].Flags&pmsync.FactDeleted == 0 {
		t.Errorf("tombstones: M1 not deleted in %+v", got.Rows[0])
	}
	apply(t, db, store.PageWrite{Source: "asana", Items: []pmsync.Item{other}, At: t0.Add(5 * time.Minute)})
	check("another source")
	apply(t, db, store.PageWrite{Items: []pmsync.Item{m1}, Deleted: []string{"R1"}, At: t0.Add(6 * time.Minute)})
	if got := check("M1 back, R1 deleted"); got.Rows[0].Flags&pmsync.FactDeleted != 0 || got.Rows[3].Flags&pmsync.FactDeleted == 0 {
		t.Errorf("M1 back, R1 deleted: %+v, %+v", got.Rows[0], got.Rows[3])
	}
	// Pruning tombstones deletes items: the facts follow.
	if pr, ok := db.(store.Pruner); ok {
		if _, err := pr.Prune(ctx, store.Retention{DeletedItems: time.Hour}, t0.Add(48*time.Hour)); err != nil {
			t.Fatal(err)
		}
		for _, r := range check("tombstones pruned").Rows {
			if r.Flags&pmsync.FactDeleted != 0 {
				t.Errorf("tombstones pruned: %s is still there", r.ExternalID)
			}
		}
	}
	got, err := db.RollupFacts(ctx, "asana")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Rows) != 1 || got.Rows[0].ExternalID != "O1" || got.Rows[0].Milestone != -1 {
		t.Errorf("asana facts = %+v; want O1 counting toward nothing (its milestone is another source's)", got.Rows)
	}
}

func testFactsOfUnknownSource(t *testing.T, open Opener) {
	db := open(t)
	got, err := db.RollupFacts(context.Background(), "nowhere")
	if err != nil || len(got.Rows) != 0 || len(got.Details) != 0 {
		t.Errorf("RollupFacts of an unknown source = %+v, %v; want no facts", got, err)
	}
}
