package storetest

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
)

var items = []test{
	{"ApplyPageCounts", testApplyPageCounts},
	{"ReapplyIsIdempotent", testReapply},
	{"ItemRoundTrip", testItemRoundTrip},
	{"SubMicrosecondTimes", testSubMicrosecond},
	{"ChangesRecorded", testChangesRecorded},
	{"Tombstones", testTombstones},
	{"Quarantine", testQuarantine},
	{"QuarantineLeavesWithItsRecord", testQuarantineLeaves},
	{"FailedPageWritesNothing", testFailedPage},
	{"CursorSavedWithPage", testCursorSavedWithPage},
	{"Cancelled", testApplyPageCancelled},
	{"CountItems", testCountItems},
}

func testApplyPageCounts(t *testing.T, open Opener) {
	est := time.FixedZone("EST", -5*3600)
	tests := []struct {
		name      string
		stored    []pmsync.Item
		page      []pmsync.Item
		want      int // store.PageResult.Changed
		wantItems []pmsync.Item
	}{
		{
			name:      "all new",
			page:      []pmsync.Item{task("A-1"), task("A-2"), task("A-3")},
			want:      3,
			wantItems: []pmsync.Item{task("A-1"), task("A-2"), task("A-3")},
		},
		{
			name:      "identical",
			stored:    []pmsync.Item{task("A-1"), task("A-2")},
			page:      []pmsync.Item{task("A-1"), task("A-2")},
			want:      0,
			wantItems: []pmsync.Item{task("A-1"), task("A-2")},
		},
		{
			name:   "same instant in another zone, empty instead of nil lists",
			stored: []pmsync.Item{task("A-1")},
			page: []pmsync.Item{task("A-1", func(it *pmsync.Item) {
				it.UpdatedAt = t0.In(est)
				it.Labels = []string{}
				it.Fields = map[string]any{}
			})},
			want:      0,
			wantItems: []pmsync.Item{task("A-1")},
		},
		{
			name:      "one of three changed",
			stored:    []pmsync.Item{task("A-1"), task("A-2"), task("A-3")},
			page:      []pmsync.Item{task("A-1"), task("A-2", func(it *pmsync.Item) { it.Title = "Renamed" }), task("A-3")},
			want:      1,
			wantItems: []pmsync.Item{task("A-1"), task("A-2", func(it *pmsync.Item) { it.Title = "Renamed" }), task("A-3")},
		},
		{
			name:      "new and changed",
			stored:    []pmsync.Item{task("A-1")},
			page:      []pmsync.Item{task("A-1", func(it *pmsync.Item) { it.PercentComplete = ptr(50) }), task("A-2")},
			want:      2,
			wantItems: []pmsync.Item{task("A-1", func(it *pmsync.Item) { it.PercentComplete = ptr(50) }), task("A-2")},
		},
		{
			name:      "a zero cost differs from no cost",
			stored:    []pmsync.Item{task("A-1")},
			page:      []pmsync.Item{task("A-1", func(it *pmsync.Item) { it.PlannedCost = ptr(0) })},
			want:      1,
			wantItems: []pmsync.Item{task("A-1", func(it *pmsync.Item) { it.PlannedCost = ptr(0) })},
		},
		{
			name:      "a field value change is a change",
			stored:    []pmsync.Item{task("A-1", func(it *pmsync.Item) { it.Fields = map[string]any{"team": "infra"} })},
			page:      []pmsync.Item{task("A-1", func(it *pmsync.Item) { it.Fields = map[string]any{"team": "apps"} })},
			want:      1,
			wantItems: []pmsync.Item{task("A-1", func(it *pmsync.Item) { it.Fields = map[string]any{"team": "apps"} })},
		},
		{
			name:      "a label order change is a change",
			stored:    []pmsync.Item{task("A-1", func(it *pmsync.Item) { it.Labels = []string{"a", "b"} })},
			page:      []pmsync.Item{task("A-1", func(it *pmsync.Item) { it.Labels = []string{"b", "a"} })},
			want:      1,
			wantItems: []pmsync.Item{task("A-1", func(it *pmsync.Item) { it.Labels = []string{"b", "a"} })},
		},
		{
			name:      "a duplicate in the page is written once per difference",
			page:      []pmsync.Item{task("A-1"), task("A-1"), task("A-1", func(it *pmsync.Item) { it.Owner = "kim" })},
			want:      2,
			wantItems: []pmsync.Item{task("A-1", func(it *pmsync.Item) { it.Owner = "kim" })},
		},
		{
			name:      "a tombstone in the input is not stored",
			page:      []pmsync.Item{task("A-1", func(it *pmsync.Item) { it.DeletedAt = t0 })},
			want:      1,
			wantItems: []pmsync.Item{task("A-1")},
		},
		{
			name:      "ids sort by bytes, not by locale",
			page:      []pmsync.Item{task("a-1"), task("B-2"), task("A-10"), task("A-9"), task("_x")},
			want:      5,
			wantItems: []pmsync.Item{task("A-10"), task("A-9"), task("B-2"), task("_x"), task("a-1")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := open(t)
			if tt.stored != nil {
				apply(t, db, store.PageWrite{Items: tt.stored, At: t0})
			}
			res := apply(t, db, store.PageWrite{Items: tt.page, At: t0.Add(time.Hour)})
			if res != (store.PageResult{Changed: tt.want}) {
				t.Errorf("ApplyPage = %+v, want Changed %d only", res, tt.want)
			}
			got, err := db.Items(context.Background(), "jira")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantItems, got); diff != "" {
				t.Errorf("stored items (-want +got):\n%s", diff)
			}
		})
	}
}

// testReapply applies the same page twice, as an incremental sync's overlap
// or a retry after a crash does: the second time changes nothing.
func testReapply(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	apply(t, db, store.PageWrite{Items: []pmsync.Item{task("A-1"), task("A-2"), task("A-3")}, At: t0})
	page := store.PageWrite{
		Items: []pmsync.Item{
			task("A-1", func(it *pmsync.Item) { it.State = pmsync.StateDone }),
			task("A-2"),
			task("A-4", func(it *pmsync.Item) { it.Labels = []string{"ehr"}; it.Fields = map[string]any{"team": "infra"} }),
		},
		Quarantine: []store.Quarantined{{ExternalID: "A-9", Reason: "kind: no rule matched"}},
		Deleted:    []string{"A-3"},
		Cursor:     "c2",
	}
	wants := []store.PageResult{{Changed: 2, Quarantined: 1, Deleted: 1}, {Quarantined: 1}}
	var before []pmsync.Item
	for i, want := range wants {
		page.At = t0.Add(time.Duration(i+1) * time.Hour)
		if got := apply(t, db, page); got != want {
			t.Errorf("apply %d = %+v, want %+v", i+1, got, want)
		}
		items, err := db.Items(ctx, "jira")
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			before = items
			continue
		}
		if diff := cmp.Diff(before, items); diff != "" {
			t.Errorf("items changed on re-apply (-first +second):\n%s", diff)
		}
	}
	// One state change and one deletion, each recorded once.
	want := map[string][]store.Change{
		"A-1": {{Source: "jira", ExternalID: "A-1", At: t0.Add(time.Hour), Field: store.FieldState, Old: "todo", New: "done"}},
		"A-2": nil,
		"A-3": {{Source: "jira", ExternalID: "A-3", At: t0.Add(time.Hour), Field: store.FieldDeleted, New: "2026-03-02T10:00:00.000000000Z"}},
		"A-4": nil,
	}
	for id, w := range want {
		got, err := db.Changes(ctx, "jira", id)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("Changes(%s) (-want +got):\n%s", id, diff)
		}
	}
	if cur, err := db.Cursor(ctx, "jira"); err != nil || cur != "c2" {
		t.Errorf("Cursor = %q, %v; want c2", cur, err)
	}
	// Quarantined again: first seen at the first apply, last at the second.
	q, err := db.Quarantine(ctx, "jira")
	if err != nil {
		t.Fatal(err)
	}
	wantQ := []store.Quarantined{{Source: "jira", ExternalID: "A-9", Reason: "kind: no rule matched", At: t0.Add(2 * time.Hour), FirstSeen: t0.Add(time.Hour)}}
	if diff := cmp.Diff(wantQ, q); diff != "" {
		t.Errorf("Quarantine (-want +got):\n%s", diff)
	}
}

func testItemRoundTrip(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	cet := time.FixedZone("CET", 3600)
	full := pmsync.Item{
		Source: "jira", ExternalID: "EHR-12", Kind: pmsync.KindRisk, Title: "Interface engine vendor slips",
		URL: "https://acme.example/browse/EHR-12", Owner: "Dana Ruiz", Priority: "High", Status: "In Review",
		State: pmsync.StateBlocked, Start: "2026-01-05", Due: "2026-06-30",
		DoneAt:          time.Date(2026, 2, 3, 4, 5, 6, 789000, cet),
		UpdatedAt:       time.Date(2026, 2, 4, 0, 0, 0, 1000, time.UTC),
		PercentComplete: ptr(33.5), PlannedCost: ptr(125000.25), ActualCost: ptr(-10),
		Likelihood: 4, Impact: 5, Milestone: "EHR-1", Parent: "EHR-2",
		Labels: []string{"hl7", "vendor", "ünïcode", `quote " and \ backslash`},
		Fields: map[string]any{"team": "integration", "score": 20.0, "ratio": 0.1, "big": 1e21, "tags": []any{"a", "b"},
			"nested": map[string]any{"ok": true}, "none": nil, "text": "line\nbreak\ttab"},
	}
	other := pmsync.Item{Source: "asana", ExternalID: "1200", Kind: pmsync.KindMilestone, Title: "Go-live", State: pmsync.StateDone}
	apply(t, db, store.PageWrite{Items: []pmsync.Item{full}, At: t0})
	apply(t, db, store.PageWrite{Source: "asana", Items: []pmsync.Item{other}, At: t0})

	got, ok, err := db.Item(ctx, "jira", "EHR-12")
	if err != nil || !ok {
		t.Fatalf("Item = ok %v, err %v", ok, err)
	}
	if diff := cmp.Diff(full, got); diff != "" {
		t.Errorf("Item round trip (-stored +read):\n%s", diff)
	}
	if got.UpdatedAt.Location() != time.UTC || got.DoneAt.Location() != time.UTC {
		t.Errorf("times read back in %v and %v, want UTC", got.UpdatedAt.Location(), got.DoneAt.Location())
	}
	if _, ok, err := db.Item(ctx, "jira", "EHR-404"); ok || err != nil {
		t.Errorf("Item of a missing id = ok %v, err %v; want false, nil", ok, err)
	}
	tests := []struct {
		sources []string
		want    []pmsync.Item
	}{
		{nil, []pmsync.Item{other, full}},
		{[]string{"jira"}, []pmsync.Item{full}},
		{[]string{"jira", "asana"}, []pmsync.Item{other, full}},
		{[]string{"trello"}, nil},
	}
	for _, tt := range tests {
		items, err := db.Items(ctx, tt.sources...)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, items); diff != "" {
			t.Errorf("Items(%q) (-want +got):\n%s", tt.sources, diff)
		}
	}
}

// testSubMicrosecond: a time finer than a microsecond comes back within a
// microsecond, and writing the same item again is no change.
func testSubMicrosecond(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	fine := t0.Add(123456789 * time.Nanosecond)
	it := task("A-1", func(it *pmsync.Item) { it.UpdatedAt, it.DoneAt = fine, fine })
	if res := apply(t, db, store.PageWrite{Items: []pmsync.Item{it}, At: fine}); res.Changed != 1 {
		t.Fatalf("first write changed %d, want 1", res.Changed)
	}
	if res := apply(t, db, store.PageWrite{Items: []pmsync.Item{it}, At: fine.Add(time.Hour)}); res.Changed != 0 {
		t.Errorf("the same item written again changed %d, want 0", res.Changed)
	}
	got, _, err := db.Item(ctx, "jira", "A-1")
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]time.Time{"updated": got.UpdatedAt, "done": got.DoneAt} {
		if d := v.Sub(fine); d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("%s time read back as %v, want within a microsecond of %v", name, v, fine)
		}
	}
}

func testChangesRecorded(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	run1, err := db.StartRun(ctx, "jira", false, t0)
	if err != nil {
		t.Fatal(err)
	}
	run2, err := db.StartRun(ctx, "jira", false, t0)
	if err != nil {
		t.Fatal(err)
	}
	pages := []struct {
		run  int64
		item pmsync.Item
	}{
		{run1, task("A-1")},
		{run1, task("A-1", func(it *pmsync.Item) { it.State, it.Due = pmsync.StateInProgress, "2026-04-15" })},
		// Only the title moves: an item write, no history.
		{run2, task("A-1", func(it *pmsync.Item) { it.State, it.Due, it.Title = pmsync.StateInProgress, "2026-04-15", "Renamed" })},
		{run2, task("A-1", func(it *pmsync.Item) {
			it.State, it.Due, it.Title, it.Kind, it.Milestone = pmsync.StateInProgress, "", "Renamed", pmsync.KindMilestone, "M-1"
		})},
		{0, task("A-1", func(it *pmsync.Item) {
			it.State, it.Due, it.Title, it.Kind, it.Milestone = pmsync.StateDone, "", "Renamed", pmsync.KindMilestone, "M-1"
		})},
	}
	for i, p := range pages {
		apply(t, db, store.PageWrite{RunID: p.run, Items: []pmsync.Item{p.item}, At: t0.Add(time.Duration(i) * time.Hour)})
	}
	c := func(run int64, hours int, field, old, new string) store.Change {
		return store.Change{Source: "jira", ExternalID: "A-1", RunID: run, At: t0.Add(time.Duration(hours) * time.Hour), Field: field, Old: old, New: new}
	}
	want := []store.Change{
		c(run1, 1, "state", "todo", "in_progress"),
		c(run1, 1, "due", "2026-04-01", "2026-04-15"),
		c(run2, 3, "kind", "task", "milestone"),
		c(run2, 3, "due", "2026-04-15", ""),
		c(run2, 3, "milestone", "", "M-1"),
		c(0, 4, "state", "in_progress", "done"),
	}
	got, err := db.Changes(ctx, "jira", "A-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Changes (-want +got):\n%s", diff)
	}
	if got, err := db.Changes(ctx, "jira", "A-2"); err != nil || len(got) != 0 {
		t.Errorf("Changes of an unknown item = %v, %v; want none", got, err)
	}
}

func testTombstones(t *testing.T, open Opener) {
	ctx := context.Background()
	t1 := t0.Add(time.Hour)
	const t0Text, t1Text = "2026-03-02T09:00:00.000000000Z", "2026-03-02T10:00:00.000000000Z"
	// Every case starts from live and A-3 tombstoned at t0.
	setup := func(t *testing.T) store.Store {
		db := open(t)
		apply(t, db, store.PageWrite{Items: []pmsync.Item{task("A-1"), task("A-2"), task("A-3")}, At: t0.Add(-time.Hour)})
		if n, err := db.Tombstone(ctx, store.Fence{}, "jira", []string{"A-1", "A-2"}, t0); err != nil || n != 1 {
			t.Fatalf("setup Tombstone = %d, %v; want 1", n, err)
		}
		return db
	}
	deleted := func(id, at string) store.Change {
		return store.Change{Source: "jira", ExternalID: id, At: t0, Field: "deleted", New: at}
	}
	tests := []struct {
		name        string
		tombstone   []string // when set, call Tombstone with this live list instead of ApplyPage
		page        store.PageWrite
		wantN       int                  // Tombstone's count
		wantRes     store.PageResult     // ApplyPage's result
		wantDeleted map[string]time.Time // id → tombstone time; absent = live
		wantChanges map[string][]store.Change
	}{
		{
			name:        "Tombstone marks what the live list lacks",
			tombstone:   []string{"A-1"},
			wantN:       1,
			wantDeleted: map[string]time.Time{"A-2": t1, "A-3": t0},
			wantChanges: map[string][]store.Change{
				"A-2": {{Source: "jira", ExternalID: "A-2", At: t1, Field: "deleted", New: t1Text}},
				"A-3": {deleted("A-3", t0Text)},
			},
		},
		{
			name:        "Tombstone with everything live",
			tombstone:   []string{"A-1", "A-2", "A-9"},
			wantN:       0,
			wantDeleted: map[string]time.Time{"A-3": t0},
		},
		{
			name:        "page deletions skip tombstones and unknown ids",
			page:        store.PageWrite{RunID: 0, Deleted: []string{"A-2", "A-3", "X-9", "A-2"}},
			wantRes:     store.PageResult{Deleted: 1},
			wantDeleted: map[string]time.Time{"A-2": t1, "A-3": t0},
			wantChanges: map[string][]store.Change{
				"A-2": {{Source: "jira", ExternalID: "A-2", At: t1, Field: "deleted", New: t1Text}},
				"A-3": {deleted("A-3", t0Text)},
			},
		},
		{
			name:        "page live list",
			page:        store.PageWrite{HasLive: true, Live: []string{"A-2"}},
			wantRes:     store.PageResult{Deleted: 1},
			wantDeleted: map[string]time.Time{"A-1": t1, "A-3": t0},
		},
		{
			name:        "empty live list tombstones everything",
			page:        store.PageWrite{HasLive: true},
			wantRes:     store.PageResult{Deleted: 2},
			wantDeleted: map[string]time.Time{"A-1": t1, "A-2": t1, "A-3": t0},
		},
		{
			name:        "live list ignored without HasLive",
			page:        store.PageWrite{Live: []string{"A-2"}},
			wantDeleted: map[string]time.Time{"A-3": t0},
		},
		{
			name:        "an item in a page is no longer deleted",
			page:        store.PageWrite{Items: []pmsync.Item{task("A-3")}},
			wantRes:     store.PageResult{Changed: 1},
			wantDeleted: map[string]time.Time{},
			wantChanges: map[string][]store.Change{"A-3": {
				deleted("A-3", t0Text),
				{Source: "jira", ExternalID: "A-3", At: t1, Field: "deleted", Old: t0Text},
			}},
		},
		{
			name:        "revived item and live list in one page",
			page:        store.PageWrite{Items: []pmsync.Item{task("A-3")}, HasLive: true, Live: []string{"A-1", "A-3"}},
			wantRes:     store.PageResult{Changed: 1, Deleted: 1},
			wantDeleted: map[string]time.Time{"A-2": t1},
		},
		{
			name:        "an item in the page and in its deletions ends deleted",
			page:        store.PageWrite{Items: []pmsync.Item{task("A-4")}, Deleted: []string{"A-4"}},
			wantRes:     store.PageResult{Changed: 1, Deleted: 1},
			wantDeleted: map[string]time.Time{"A-3": t0, "A-4": t1},
			wantChanges: map[string][]store.Change{"A-4": {{Source: "jira", ExternalID: "A-4", At: t1, Field: "deleted", New: t1Text}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := setup(t)
			if tt.tombstone != nil {
				n, err := db.Tombstone(ctx, store.Fence{}, "jira", tt.tombstone, t1)
				if err != nil || n != tt.wantN {
					t.Errorf("Tombstone = %d, %v; want %d", n, err, tt.wantN)
				}
			} else {
				tt.page.At = t1
				if res := apply(t, db, tt.page); res != tt.wantRes {
					t.Errorf("ApplyPage = %+v, want %+v", res, tt.wantRes)
				}
			}
			items, err := db.Items(ctx, "jira")
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]time.Time{}
			for _, it := range items {
				if it.Deleted() {
					got[it.ExternalID] = it.DeletedAt
				}
			}
			if diff := cmp.Diff(tt.wantDeleted, got); diff != "" {
				t.Errorf("tombstones (-want +got):\n%s", diff)
			}
			live, dead, err := db.CountItems(ctx, "jira")
			if err != nil || live != len(items)-len(tt.wantDeleted) || dead != len(tt.wantDeleted) {
				t.Errorf("CountItems = %d, %d, %v; want %d, %d", live, dead, err, len(items)-len(tt.wantDeleted), len(tt.wantDeleted))
			}
			for id, want := range tt.wantChanges {
				got, err := db.Changes(ctx, "jira", id)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Changes(%s) (-want +got):\n%s", id, diff)
				}
			}
		})
	}
}

func testQuarantine(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	a := task("A-1", func(it *pmsync.Item) { it.State = pmsync.StateInProgress })
	apply(t, db, store.PageWrite{Items: []pmsync.Item{a}, At: t0})

	steps := []struct {
		name  string
		page  store.PageWrite
		want  store.PageResult
		quar  []store.Quarantined
		items []pmsync.Item
	}{
		{
			name:  "a record that fails to map leaves the stored item intact",
			page:  store.PageWrite{Quarantine: []store.Quarantined{{ExternalID: "A-1", Reason: "state: unknown status \"Parked\"", At: t0.Add(time.Hour)}}},
			want:  store.PageResult{Quarantined: 1},
			quar:  []store.Quarantined{{Source: "jira", ExternalID: "A-1", Reason: "state: unknown status \"Parked\"", At: t0.Add(time.Hour), FirstSeen: t0.Add(time.Hour)}},
			items: []pmsync.Item{a},
		},
		{
			name: "failing again keeps the first time and the newest reason",
			page: store.PageWrite{Quarantine: []store.Quarantined{
				{Source: "jira", ExternalID: "A-1", Reason: "state: unknown status \"Held\"", At: t0.Add(2 * time.Hour)},
				{ExternalID: "B-7", Reason: "kind: no rule matched"}, // At defaults to the page's time, t0+2h
			}},
			want: store.PageResult{Quarantined: 2},
			quar: []store.Quarantined{
				{Source: "jira", ExternalID: "A-1", Reason: "state: unknown status \"Held\"", At: t0.Add(2 * time.Hour), FirstSeen: t0.Add(time.Hour)},
				{Source: "jira", ExternalID: "B-7", Reason: "kind: no rule matched", At: t0.Add(2 * time.Hour), FirstSeen: t0.Add(2 * time.Hour)},
			},
			items: []pmsync.Item{a},
		},
		{
			name: "a record twice in one page: its first time, its last reason",
			page: store.PageWrite{Quarantine: []store.Quarantined{
				{ExternalID: "C-3", Reason: "first", At: t0.Add(150 * time.Minute)},
				{ExternalID: "C-3", Reason: "second", At: t0.Add(170 * time.Minute)},
			}},
			want: store.PageResult{Quarantined: 2},
			quar: []store.Quarantined{
				{Source: "jira", ExternalID: "A-1", Reason: "state: unknown status \"Held\"", At: t0.Add(2 * time.Hour), FirstSeen: t0.Add(time.Hour)},
				{Source: "jira", ExternalID: "B-7", Reason: "kind: no rule matched", At: t0.Add(2 * time.Hour), FirstSeen: t0.Add(2 * time.Hour)},
				{Source: "jira", ExternalID: "C-3", Reason: "second", At: t0.Add(170 * time.Minute), FirstSeen: t0.Add(150 * time.Minute)},
			},
			items: []pmsync.Item{a},
		},
		{
			name: "mapping again clears the quarantine, even when nothing changed",
			page: store.PageWrite{Items: []pmsync.Item{a}},
			want: store.PageResult{},
			quar: []store.Quarantined{
				{Source: "jira", ExternalID: "B-7", Reason: "kind: no rule matched", At: t0.Add(2 * time.Hour), FirstSeen: t0.Add(2 * time.Hour)},
				{Source: "jira", ExternalID: "C-3", Reason: "second", At: t0.Add(170 * time.Minute), FirstSeen: t0.Add(150 * time.Minute)},
			},
			items: []pmsync.Item{a},
		},
		{
			name:  "a new item leaves quarantine too",
			page:  store.PageWrite{Items: []pmsync.Item{task("B-7"), task("C-3")}},
			want:  store.PageResult{Changed: 2},
			items: []pmsync.Item{a, task("B-7"), task("C-3")},
		},
	}
	for i, s := range steps {
		s.page.At = t0.Add(time.Duration(i+1) * time.Hour)
		if res := apply(t, db, s.page); res != s.want {
			t.Errorf("%s: ApplyPage = %+v, want %+v", s.name, res, s.want)
		}
		q, err := db.Quarantine(ctx, "jira")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s.quar, q); diff != "" {
			t.Errorf("%s: quarantine (-want +got):\n%s", s.name, diff)
		}
		items, err := db.Items(ctx, "jira")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s.items, items); diff != "" {
			t.Errorf("%s: items (-want +got):\n%s", s.name, diff)
		}
	}
	if q, err := db.Quarantine(ctx, "asana"); err != nil || len(q) != 0 {
		t.Errorf("Quarantine(asana) = %v, %v; want none", q, err)
	}
	// Every source, by source then id.
	apply(t, db, store.PageWrite{Source: "asana", Quarantine: []store.Quarantined{{ExternalID: "9", Reason: "r"}}, At: t0})
	all, err := db.Quarantine(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, q := range all {
		got = append(got, q.Source+"/"+q.ExternalID)
	}
	if diff := cmp.Diff([]string{"asana/9"}, got); diff != "" {
		t.Errorf("Quarantine(\"\") (-want +got):\n%s", diff)
	}
}

func testQuarantineLeaves(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	at := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	q := func(ids ...string) []store.Quarantined {
		var out []store.Quarantined
		for _, id := range ids {
			out = append(out, store.Quarantined{Source: "s", ExternalID: id, Reason: `due: "soon" is not a date`})
		}
		return out
	}
	if _, err := db.ApplyPage(ctx, store.PageWrite{Source: "s", Quarantine: q("a", "b", "c"), At: at}); err != nil {
		t.Fatal(err)
	}
	// a is reported deleted; b is missing from the complete live list.
	if _, err := db.ApplyPage(ctx, store.PageWrite{Source: "s", Deleted: []string{"a"}, Live: []string{"c"}, HasLive: true, At: at}); err != nil {
		t.Fatal(err)
	}
	left, err := db.Quarantine(ctx, "s")
	if err != nil || len(left) != 1 || left[0].ExternalID != "c" {
		t.Fatalf("quarantine after deletions: %+v (%v), want only c", left, err)
	}
	// A deletion check that no longer lists c clears it too.
	if _, err := db.Tombstone(ctx, store.Fence{}, "s", []string{"zzz"}, at); err != nil {
		t.Fatal(err)
	}
	if left, _ := db.Quarantine(ctx, "s"); len(left) != 0 {
		t.Errorf("quarantine after the deletion check: %+v, want none", left)
	}
}

func testFailedPage(t *testing.T, open Opener) {
	ctx := context.Background()
	// bad returns a valid item and one that mod spoils; bad(nil) two valid ones.
	bad := func(mod func(*pmsync.Item)) []pmsync.Item {
		spoilt := task("A-3")
		if mod != nil {
			mod(&spoilt)
		}
		return []pmsync.Item{task("A-2"), spoilt}
	}
	tests := []struct {
		name    string
		page    store.PageWrite
		wantErr []string // substrings of the error
	}{
		{"invalid kind", store.PageWrite{Items: bad(func(it *pmsync.Item) { it.Kind = "epic" })}, []string{`"jira"`, `"A-3"`, "epic"}},
		{"invalid state", store.PageWrite{Items: bad(func(it *pmsync.Item) { it.State = "" })}, []string{`"A-3"`, "state"}},
		{"likelihood out of range", store.PageWrite{Items: bad(func(it *pmsync.Item) { it.Likelihood = 7 })}, []string{`"A-3"`, "likelihood"}},
		{"other source", store.PageWrite{Items: bad(func(it *pmsync.Item) { it.Source = "asana" })}, []string{`"A-3"`, `"asana"`}},
		{"no external id", store.PageWrite{Items: bad(func(it *pmsync.Item) { it.ExternalID = "" })}, []string{"external id"}},
		{"date not ISO", store.PageWrite{Items: bad(func(it *pmsync.Item) { it.Due = "04/01/2026" })}, []string{`"A-3"`, "due", "04/01/2026"}},
		{"date with time", store.PageWrite{Items: bad(func(it *pmsync.Item) { it.Start = "2026-04-01T10:00:00Z" })}, []string{`"A-3"`, "start"}},
		{"date that does not exist", store.PageWrite{Items: bad(func(it *pmsync.Item) { it.Due = "2026-02-30" })}, []string{`"A-3"`, "due", "2026-02-30"}},
		{"cost not a number", store.PageWrite{Items: bad(func(it *pmsync.Item) { it.ActualCost = ptr(math.NaN()) })}, []string{`"A-3"`, "actual cost"}},
		{"cost infinite", store.PageWrite{Items: bad(func(it *pmsync.Item) { it.PlannedCost = ptr(math.Inf(1)) })}, []string{`"A-3"`, "planned cost"}},
		{"field not encodable", store.PageWrite{Items: bad(func(it *pmsync.Item) { it.Fields = map[string]any{"f": func() {}} })}, []string{`"A-3"`, "fields"}},
		{"quarantine of another source", store.PageWrite{Items: bad(nil), Quarantine: []store.Quarantined{{Source: "asana", ExternalID: "Q-1"}}}, []string{`"Q-1"`, `"asana"`}},
		{"quarantine without id", store.PageWrite{Items: bad(nil), Quarantine: []store.Quarantined{{Reason: "x"}}}, []string{"no external id"}},
		// Passes validation and fails inside the transaction, after items
		// were written: the change of A-1 names a run that does not exist.
		{"unknown run", store.PageWrite{RunID: 4242, Items: []pmsync.Item{task("A-2"), task("A-1", func(it *pmsync.Item) { it.State = pmsync.StateDone })}}, []string{`"jira"`, "foreign key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := open(t)
			orig := task("A-1")
			apply(t, db, store.PageWrite{Items: []pmsync.Item{orig}, Cursor: "c1", At: t0})
			w := tt.page
			w.Source, w.Cursor, w.At = "jira", "c2", t0.Add(time.Hour)
			w.Quarantine = append(w.Quarantine, store.Quarantined{ExternalID: "Q-2", Reason: "valid"})
			w.Deleted = []string{"A-1"}
			_, err := db.ApplyPage(ctx, w)
			if err == nil {
				t.Fatal("ApplyPage succeeded, want an error")
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(s)) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if errors.Is(err, store.ErrFenced) {
				t.Errorf("error %v is ErrFenced; the page had no fence", err)
			}
			items, err := db.Items(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]pmsync.Item{orig}, items); diff != "" {
				t.Errorf("items after a failed page (-want +got):\n%s", diff)
			}
			if cur, err := db.Cursor(ctx, "jira"); err != nil || cur != "c1" {
				t.Errorf("cursor after a failed page = %q, %v; want c1", cur, err)
			}
			if q, err := db.Quarantine(ctx, ""); err != nil || len(q) != 0 {
				t.Errorf("quarantine after a failed page = %v, %v; want none", q, err)
			}
			if c, err := db.Changes(ctx, "jira", "A-1"); err != nil || len(c) != 0 {
				t.Errorf("changes after a failed page = %v, %v; want none", c, err)
			}
		})
	}
	t.Run("no source", func(t *testing.T) {
		db := open(t)
		if _, err := db.ApplyPage(ctx, store.PageWrite{Cursor: "c", At: t0}); err == nil || !strings.Contains(err.Error(), "source") {
			t.Errorf("ApplyPage without a source: error %v, want one naming the source", err)
		}
		if _, err := db.Tombstone(ctx, store.Fence{}, "", nil, t0); err == nil {
			t.Error("Tombstone without a source succeeded")
		}
	})
}

func testCursorSavedWithPage(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	apply(t, db, store.PageWrite{Source: "asana", Cursor: "asana-1", At: t0})
	page := func(cursor string, items ...pmsync.Item) func() error {
		return func() error {
			_, err := db.ApplyPage(ctx, store.PageWrite{Source: "jira", Items: items, Cursor: cursor, At: t0})
			return err
		}
	}
	steps := []struct {
		do   func() error
		want string
	}{
		{func() error { return nil }, ""},
		{page("tok-1", task("A-1")), "tok-1"},
		{page("tok-2"), "tok-2"},
		{func() error { return db.ResetCursor(ctx, store.Fence{}, "jira") }, ""},
		{func() error { return db.ResetCursor(ctx, store.Fence{}, "jira") }, ""}, // nothing to forget: no error
		{page("tok-3"), "tok-3"},
		{page(""), ""},
	}
	for i, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got, err := db.Cursor(ctx, "jira"); err != nil || got != s.want {
			t.Errorf("step %d: Cursor = %q, %v; want %q", i, got, err, s.want)
		}
	}
	if got, err := db.Cursor(ctx, "asana"); err != nil || got != "asana-1" {
		t.Errorf("another source's cursor = %q, %v; want asana-1", got, err)
	}
}

func testApplyPageCancelled(t *testing.T, open Opener) {
	db := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.ApplyPage(ctx, store.PageWrite{Source: "jira", Items: []pmsync.Item{task("A-1")}, Cursor: "c", At: t0}); err == nil {
		t.Fatal("ApplyPage with a cancelled context succeeded")
	}
	if live, _, err := db.CountItems(context.Background(), ""); err != nil || live != 0 {
		t.Errorf("CountItems = %d, %v; want 0", live, err)
	}
	if cur, err := db.Cursor(context.Background(), "jira"); err != nil || cur != "" {
		t.Errorf("Cursor = %q, %v; want none", cur, err)
	}
}

func testCountItems(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	apply(t, db, store.PageWrite{Items: []pmsync.Item{task("A-1"), task("A-2"), task("A-3")}, Deleted: []string{"A-2"}, At: t0})
	asana := func(id string) pmsync.Item { return task(id, func(it *pmsync.Item) { it.Source = "asana" }) }
	apply(t, db, store.PageWrite{Source: "asana", Items: []pmsync.Item{asana("1"), asana("2")}, HasLive: true, Live: []string{"1"}, At: t0})
	tests := []struct {
		source        string
		live, deleted int
	}{
		{"jira", 2, 1},
		{"asana", 1, 1},
		{"", 3, 2},
		{"trello", 0, 0},
	}
	for _, tt := range tests {
		live, deleted, err := db.CountItems(ctx, tt.source)
		if err != nil || live != tt.live || deleted != tt.deleted {
			t.Errorf("CountItems(%q) = %d, %d, %v; want %d, %d", tt.source, live, deleted, err, tt.live, tt.deleted)
		}
	}
}
