package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
)

func ptr(f float64) *float64 { return &f }

// TestNanosecondTimes: the contract keeps times to the microsecond; SQLite
// stores them as text with nine fraction digits and gives back every
// nanosecond.
func TestNanosecondTimes(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	cet := time.FixedZone("CET", 3600)
	it := task("EHR-12", func(it *pmsync.Item) {
		it.DoneAt = time.Date(2026, 2, 3, 4, 5, 6, 789, cet)
		it.UpdatedAt = time.Date(2026, 2, 4, 0, 0, 0, 1, time.UTC)
	})
	mustApply(t, db, store.PageWrite{Items: []pmsync.Item{it}, At: t0.Add(time.Nanosecond)})
	got, ok, err := db.Item(ctx, "jira", "EHR-12")
	if err != nil || !ok {
		t.Fatalf("Item = ok %v, err %v", ok, err)
	}
	if diff := cmp.Diff(it, got); diff != "" {
		t.Errorf("Item round trip (-stored +read):\n%s", diff)
	}
	if got.DoneAt.Nanosecond() != 789 || got.UpdatedAt.Nanosecond() != 1 {
		t.Errorf("nanoseconds read back: done %d, updated %d; want 789, 1", got.DoneAt.Nanosecond(), got.UpdatedAt.Nanosecond())
	}
}

// TestQuietPageWritesNothing: a page that changes no item, quarantines and
// deletes nothing and carries the cursor already saved commits nothing, so
// that a sync with nothing new leaves the database file and its WAL as
// they were. Any difference in the page is written.
func TestQuietPageWritesNothing(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	// data_version, read on one connection, changes when another
	// connection commits a change to the database.
	conn, err := db.read.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	version := func() int64 {
		t.Helper()
		var v int64
		if err := conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	page := store.PageWrite{Items: []pmsync.Item{task("A-1"), task("A-2")}, Cursor: "c1", At: t0}
	mustApply(t, db, page)

	steps := []struct {
		name  string
		page  func(store.PageWrite) store.PageWrite
		wrote bool
	}{
		{"the same page again", func(w store.PageWrite) store.PageWrite { return w }, false},
		{"the same page an hour later", func(w store.PageWrite) store.PageWrite { w.At = t0.Add(time.Hour); return w }, false},
		{"no items, same cursor", func(w store.PageWrite) store.PageWrite { w.Items = nil; return w }, false},
		{"a deletion of an unknown id", func(w store.PageWrite) store.PageWrite { w.Deleted = []string{"Z-9"}; return w }, false},
		{"a new cursor", func(w store.PageWrite) store.PageWrite { w.Cursor = "c2"; return w }, true},
		{"a changed item", func(w store.PageWrite) store.PageWrite {
			w.Cursor = "c2"
			w.Items = []pmsync.Item{task("A-1", func(it *pmsync.Item) { it.Title = "Renamed" })}
			return w
		}, true},
		{"a quarantined record", func(w store.PageWrite) store.PageWrite {
			w.Cursor, w.Items = "c2", nil
			w.Quarantine = []store.Quarantined{{ExternalID: "A-3", Reason: "no title"}}
			return w
		}, true},
		{"the quarantined record mapped", func(w store.PageWrite) store.PageWrite {
			w.Cursor = "c2"
			w.Items = []pmsync.Item{task("A-1", func(it *pmsync.Item) { it.Title = "Renamed" }), task("A-3")}
			return w
		}, true},
		{"a deletion", func(w store.PageWrite) store.PageWrite {
			w.Cursor, w.Items, w.Deleted = "c2", nil, []string{"A-2"}
			return w
		}, true},
		{"nothing new after all that", func(w store.PageWrite) store.PageWrite { w.Cursor, w.Items = "c2", nil; return w }, false},
	}
	for _, s := range steps {
		before := version()
		mustApply(t, db, s.page(page))
		if wrote := version() != before; wrote != s.wrote {
			t.Errorf("%s: wrote %v, want %v", s.name, wrote, s.wrote)
		}
	}
	if cur, err := db.Cursor(ctx, "jira"); err != nil || cur != "c2" {
		t.Errorf("Cursor = %q, %v; want c2", cur, err)
	}
}
