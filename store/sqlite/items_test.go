package sqlite

import (
	"context"
	"github.com/pmsync/pmsync/store"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
)

func ptr(f float64) *float64 { return &f }

func TestApplyPageCounts(t *testing.T) {
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTest(t)
			if tt.stored != nil {
				mustApply(t, db, store.PageWrite{Items: tt.stored, At: t0})
			}
			res := mustApply(t, db, store.PageWrite{Items: tt.page, At: t0.Add(time.Hour)})
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

func TestItemRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	cet := time.FixedZone("CET", 3600)
	full := pmsync.Item{
		Source: "jira", ExternalID: "EHR-12", Kind: pmsync.KindRisk, Title: "Interface engine vendor slips",
		URL: "https://acme.example/browse/EHR-12", Owner: "Dana Ruiz", Priority: "High", Status: "In Review",
		State: pmsync.StateBlocked, Start: "2026-01-05", Due: "2026-06-30",
		DoneAt:          time.Date(2026, 2, 3, 4, 5, 6, 789, cet),
		UpdatedAt:       time.Date(2026, 2, 4, 0, 0, 0, 1, time.UTC),
		PercentComplete: ptr(33.5), PlannedCost: ptr(125000.25), ActualCost: ptr(-10),
		Likelihood: 4, Impact: 5, Milestone: "EHR-1", Parent: "EHR-2",
		Labels: []string{"hl7", "vendor", "ünïcode"},
		Fields: map[string]any{"team": "integration", "score": 20.0, "tags": []any{"a", "b"}, "nested": map[string]any{"ok": true}, "none": nil},
	}
	other := pmsync.Item{Source: "asana", ExternalID: "1200", Kind: pmsync.KindMilestone, Title: "Go-live", State: pmsync.StateDone}
	mustApply(t, db, store.PageWrite{Items: []pmsync.Item{full}, At: t0})
	mustApply(t, db, store.PageWrite{Source: "asana", Items: []pmsync.Item{other}, At: t0})

	got, ok, err := db.Item(ctx, "jira", "EHR-12")
	if err != nil || !ok {
		t.Fatalf("Item = ok %v, err %v", ok, err)
	}
	if diff := cmp.Diff(full, got); diff != "" {
		t.Errorf("Item round trip (-stored +read):\n%s", diff)
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

func TestChangesRecorded(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
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
		{run2, task("A-1", func(it *pmsync.Item) { it.State, it.Due, it.Title = pmsync.StateInProgress, "2026-04-15", "Renamed" })},
		{run2, task("A-1", func(it *pmsync.Item) {
			it.State, it.Due, it.Title, it.Kind, it.Milestone = pmsync.StateInProgress, "", "Renamed", pmsync.KindMilestone, "M-1"
		})},
		{0, task("A-1", func(it *pmsync.Item) {
			it.State, it.Due, it.Title, it.Kind, it.Milestone = pmsync.StateDone, "", "Renamed", pmsync.KindMilestone, "M-1"
		})},
	}
	for i, p := range pages {
		mustApply(t, db, store.PageWrite{RunID: p.run, Items: []pmsync.Item{p.item}, At: t0.Add(time.Duration(i) * time.Hour)})
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

func TestTombstones(t *testing.T) {
	ctx := context.Background()
	t1 := t0.Add(time.Hour)
	const t0Text, t1Text = "2026-03-02T09:00:00.000000000Z", "2026-03-02T10:00:00.000000000Z"
	// Every case starts from live and A-3 tombstoned at t0.
	setup := func(t *testing.T) *DB {
		db := openTest(t)
		mustApply(t, db, store.PageWrite{Items: []pmsync.Item{task("A-1"), task("A-2"), task("A-3")}, At: t0.Add(-time.Hour)})
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
			page:        store.PageWrite{Deleted: []string{"A-2", "A-3", "X-9", "A-2"}},
			wantRes:     store.PageResult{Deleted: 1},
			wantDeleted: map[string]time.Time{"A-2": t1, "A-3": t0},
			wantChanges: map[string][]store.Change{"A-3": {deleted("A-3", t0Text)}},
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
				if res := mustApply(t, db, tt.page); res != tt.wantRes {
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
			if err != nil || live != 3-len(tt.wantDeleted) || dead != len(tt.wantDeleted) {
				t.Errorf("CountItems = %d, %d, %v; want %d, %d", live, dead, err, 3-len(tt.wantDeleted), len(tt.wantDeleted))
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

func TestQuarantine(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	a := task("A-1", func(it *pmsync.Item) { it.State = pmsync.StateInProgress })
	mustApply(t, db, store.PageWrite{Items: []pmsync.Item{a}, At: t0})

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
			name:  "mapping again clears the quarantine, even when nothing changed",
			page:  store.PageWrite{Items: []pmsync.Item{a}},
			want:  store.PageResult{},
			quar:  []store.Quarantined{{Source: "jira", ExternalID: "B-7", Reason: "kind: no rule matched", At: t0.Add(2 * time.Hour), FirstSeen: t0.Add(2 * time.Hour)}},
			items: []pmsync.Item{a},
		},
		{
			name:  "a new item leaves quarantine too",
			page:  store.PageWrite{Items: []pmsync.Item{task("B-7")}},
			want:  store.PageResult{Changed: 1},
			items: []pmsync.Item{a, task("B-7")},
		},
	}
	for i, s := range steps {
		s.page.At = t0.Add(time.Duration(i+1) * time.Hour)
		if res := mustApply(t, db, s.page); res != s.want {
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
}

func TestApplyPageWritesNothingOnError(t *testing.T) {
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
		{"cost not a number", store.PageWrite{Items: bad(func(it *pmsync.Item) { it.ActualCost = ptr(math.NaN()) })}, []string{`"A-3"`, "actual cost"}},
		{"cost infinite", store.PageWrite{Items: bad(func(it *pmsync.Item) { it.PlannedCost = ptr(math.Inf(1)) })}, []string{`"A-3"`, "planned cost"}},
		{"field not encodable", store.PageWrite{Items: bad(func(it *pmsync.Item) { it.Fields = map[string]any{"f": func() {}} })}, []string{`"A-3"`, "fields"}},
		{"quarantine of another source", store.PageWrite{Items: bad(nil), Quarantine: []store.Quarantined{{Source: "asana", ExternalID: "Q-1"}}}, []string{`"Q-1"`, `"asana"`}},
		{"quarantine without id", store.PageWrite{Items: bad(nil), Quarantine: []store.Quarantined{{Reason: "x"}}}, []string{"no external id"}},
		// Passes validation and fails inside the transaction, after items were written.
		{"unknown run", store.PageWrite{RunID: 4242, Items: []pmsync.Item{task("A-2"), task("A-1", func(it *pmsync.Item) { it.State = pmsync.StateDone })}}, []string{`"jira"`, "FOREIGN KEY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTest(t)
			orig := task("A-1")
			mustApply(t, db, store.PageWrite{Items: []pmsync.Item{orig}, Cursor: "c1", At: t0})
			w := tt.page
			w.Source, w.Cursor, w.At = "jira", "c2", t0.Add(time.Hour)
			w.Quarantine = append(w.Quarantine, store.Quarantined{ExternalID: "Q-2", Reason: "valid"})
			w.Deleted = []string{"A-1"}
			_, err := db.ApplyPage(ctx, w)
			if err == nil {
				t.Fatal("ApplyPage succeeded, want an error")
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
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
}

func TestCursorSavedWithPage(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	mustApply(t, db, store.PageWrite{Source: "asana", Cursor: "asana-1", At: t0})
	steps := []struct {
		do   func() error
		want string
	}{
		{func() error { return nil }, ""},
		{func() error {
			_, err := db.ApplyPage(ctx, store.PageWrite{Source: "jira", Items: []pmsync.Item{task("A-1")}, Cursor: "tok-1", At: t0})
			return err
		}, "tok-1"},
		{func() error {
			_, err := db.ApplyPage(ctx, store.PageWrite{Source: "jira", Cursor: "tok-2", At: t0})
			return err
		}, "tok-2"},
		{func() error { return db.ResetCursor(ctx, store.Fence{}, "jira") }, ""},
		{func() error {
			_, err := db.ApplyPage(ctx, store.PageWrite{Source: "jira", Cursor: "tok-3", At: t0})
			return err
		}, "tok-3"},
		{func() error {
			_, err := db.ApplyPage(ctx, store.PageWrite{Source: "jira", Cursor: "", At: t0})
			return err
		}, ""},
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

func TestApplyPageCancelled(t *testing.T) {
	db := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.ApplyPage(ctx, store.PageWrite{Source: "jira", Items: []pmsync.Item{task("A-1")}, Cursor: "c", At: t0}); err == nil {
		t.Fatal("ApplyPage with a cancelled context succeeded")
	}
	if live, _, err := db.CountItems(context.Background(), ""); err != nil || live != 0 {
		t.Errorf("CountItems = %d, %v; want 0", live, err)
	}
}

func TestQuarantineLeavesWithItsRecord(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
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
