package storetest

import (
	"context"
	"testing"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
)

// FactVersions checks that a store keeps a source's rollup facts at the
// item version they were made at: a page that changes nothing leaves the
// version alone; a changed item, a tombstone and a lifted one each move it;
// another source's writes do not. versions reads the backend's own
// bookkeeping: the source's item version, and the version its kept facts
// were made at (-1 when none are kept).
func FactVersions(t *testing.T, db store.Store, versions func(t *testing.T, source string) (items, kept int64)) {
	ctx := context.Background()
	apply := func(w store.PageWrite) {
		t.Helper()
		if w.Source == "" {
			w.Source = "jira"
		}
		if _, err := db.ApplyPage(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	facts := func() {
		t.Helper()
		if _, err := db.RollupFacts(ctx, "jira"); err != nil {
			t.Fatal(err)
		}
	}
	apply(store.PageWrite{Items: []pmsync.Item{task("A-1"), task("A-2")}, Cursor: "c1", At: t0})
	v1, kept := versions(t, "jira")
	if v1 == 0 || kept != -1 {
		t.Fatalf("after a first page: item version %d, kept %d; want a version and nothing kept", v1, kept)
	}
	facts()
	if _, kept := versions(t, "jira"); kept != v1 {
		t.Fatalf("kept facts at version %d, want %d", kept, v1)
	}
	apply(store.PageWrite{Items: []pmsync.Item{task("A-1"), task("A-2")}, Cursor: "c2", At: t0})
	if v, kept := versions(t, "jira"); v != v1 || kept != v1 {
		t.Errorf("after a page that changed nothing: version %d, kept %d; want both %d", v, kept, v1)
	}
	steps := []struct {
		name  string
		write func()
	}{
		{"a changed item", func() {
			apply(store.PageWrite{Items: []pmsync.Item{task("A-1", func(it *pmsync.Item) { it.State = pmsync.StateDone })}, At: t0})
		}},
		{"a tombstone", func() {
			if _, err := db.Tombstone(ctx, store.Fence{}, "jira", []string{"A-1"}, t0); err != nil {
				t.Fatal(err)
			}
		}},
		{"a tombstone lifted", func() { apply(store.PageWrite{Items: []pmsync.Item{task("A-2")}, At: t0}) }},
	}
	prev := v1
	for _, s := range steps {
		s.write()
		v, kept := versions(t, "jira")
		if v <= prev || kept != prev {
			t.Errorf("after %s: version %d (was %d), kept %d; want the version moved on and the old facts kept", s.name, v, prev, kept)
		}
		facts()
		if _, kept := versions(t, "jira"); kept != v {
			t.Errorf("after %s: facts kept at %d, want %d", s.name, kept, v)
		}
		prev = v
	}
	apply(store.PageWrite{Source: "asana", Items: []pmsync.Item{task("B-1", func(it *pmsync.Item) { it.Source = "asana" })}, At: t0})
	if v, _ := versions(t, "jira"); v != prev {
		t.Errorf("another source's page moved this one's version from %d to %d", prev, v)
	}
}
