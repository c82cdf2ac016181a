package postgres

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
	"github.com/pmsync/pmsync/store/storetest"
)

// versions reads the source's item version and the version its kept facts
// were made at (-1 when none are kept).
func versions(t *testing.T, db *DB, source string) (items, kept int64) {
	t.Helper()
	ctx := context.Background()
	if err := db.pool.QueryRow(ctx, "SELECT coalesce((SELECT version FROM item_versions WHERE source = $1), 0)", source).Scan(&items); err != nil {
		t.Fatal(err)
	}
	if err := db.pool.QueryRow(ctx, "SELECT coalesce((SELECT version FROM rollup_facts WHERE source = $1), -1)", source).Scan(&kept); err != nil {
		t.Fatal(err)
	}
	return items, kept
}

func task(id string, mods ...func(*pmsync.Item)) pmsync.Item {
	it := pmsync.Item{Source: "jira", ExternalID: id, Kind: pmsync.KindTask, Title: "Task " + id, State: pmsync.StateTodo, Due: "2026-04-01", UpdatedAt: t0}
	for _, m := range mods {
		m(&it)
	}
	return it
}

// TestFactsKeptUntilItemsChange runs storetest.FactVersions on this backend.
func TestFactsKeptUntilItemsChange(t *testing.T) {
	db := openTest(t)
	storetest.FactVersions(t, db, func(t *testing.T, source string) (int64, int64) { return versions(t, db, source) })
}

// TestFactsInAnotherForm: kept facts that do not decode are made anew from
// the items and kept in this build's form.
func TestFactsInAnotherForm(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	if _, err := db.ApplyPage(ctx, store.PageWrite{Source: "jira", Items: []pmsync.Item{task("A-1"), task("A-2")}, At: t0}); err != nil {
		t.Fatal(err)
	}
	v, _ := versions(t, db, "jira")
	if _, err := db.pool.Exec(ctx, "INSERT INTO rollup_facts (source, version, facts) VALUES ('jira', $1, '\\x504d4600ff')", v); err != nil {
		t.Fatal(err)
	}
	got, err := db.RollupFacts(ctx, "jira")
	if err != nil {
		t.Fatal(err)
	}
	items, err := db.Items(ctx, "jira")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pmsync.FactsOf(items), got); diff != "" {
		t.Errorf("facts (-items +got):\n%s", diff)
	}
	var blob []byte
	if err := db.pool.QueryRow(ctx, "SELECT facts FROM rollup_facts WHERE source = 'jira'").Scan(&blob); err != nil {
		t.Fatal(err)
	}
	var kept pmsync.Facts
	if err := kept.UnmarshalBinary(blob); err != nil {
		t.Errorf("the facts kept in place of the damaged ones: %v", err)
	}
}

// TestFactsReadOnly: a read-only store makes the facts and keeps nothing.
func TestFactsReadOnly(t *testing.T) {
	ctx := context.Background()
	url := server.Database(t)
	rw, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	if _, err := rw.ApplyPage(ctx, store.PageWrite{Source: "jira", Items: []pmsync.Item{task("A-1")}, At: t0}); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	got, err := ro.RollupFacts(ctx, "jira")
	if err != nil || len(got.Rows) != 1 || got.Rows[0].ExternalID != "A-1" {
		t.Fatalf("RollupFacts through a read-only store = %+v, %v", got, err)
	}
	if _, kept := versions(t, rw, "jira"); kept != -1 {
		t.Errorf("a read-only store kept facts (version %d)", kept)
	}
}

// TestHistoryOfSnapshotsWithoutFigures: a snapshot saved before figures
// were kept apart is read whole for the history and cut down to its
// figures.
func TestHistoryOfSnapshotsWithoutFigures(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	doc := `{"id":"ehr","as_of":"2026-03-20","version":"v0","progress":{"done":1,"total":2,"percent":50},` +
		`"late_milestones":[{"source":"jira","external_id":"M1","title":"Go-live"}],"changes":["health amber → red"]}`
	if _, err := db.pool.Exec(ctx, "INSERT INTO snapshots (program, as_of, version, at, rollup) VALUES ('ehr', '2026-03-20', 'v0', $1, $2)", t0, doc); err != nil {
		t.Fatal(err)
	}
	hist, err := db.SnapshotsSince(ctx, "ehr", "2026-03-01")
	if err != nil || len(hist) != 1 {
		t.Fatalf("SnapshotsSince = %d, %v", len(hist), err)
	}
	r := hist[0].Rollup
	if r.Version != "v0" || r.Progress.Done != 1 || r.Progress.Total != 2 || r.Late != nil || len(r.Changes) != 1 {
		t.Errorf("history of an old snapshot: %+v", r)
	}
}
