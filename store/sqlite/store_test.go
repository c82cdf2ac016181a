package sqlite

import (
	"context"
	"errors"
	"github.com/pmsync/pmsync/store"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "pmsync.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// task returns a valid item of source "jira" with the given id; mods adjust it.
func task(id string, mods ...func(*pmsync.Item)) pmsync.Item {
	it := pmsync.Item{
		Source: "jira", ExternalID: id, Kind: pmsync.KindTask, Title: "Task " + id,
		State: pmsync.StateTodo, Due: "2026-04-01", UpdatedAt: t0,
	}
	for _, m := range mods {
		m(&it)
	}
	return it
}

func mustApply(t *testing.T, db *DB, w store.PageWrite) store.PageResult {
	t.Helper()
	if w.Source == "" {
		w.Source = "jira"
	}
	res, err := db.ApplyPage(context.Background(), w)
	if err != nil {
		t.Fatalf("ApplyPage: %v", err)
	}
	return res
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("this is not a database file ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	plainFile := filepath.Join(dir, "plain")
	if err := os.WriteFile(plainFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want string // substring of the error
	}{
		{"empty path", "", "database path is empty"},
		{"missing directory", filepath.Join(dir, "nope", "pmsync.db"), "directory " + filepath.Join(dir, "nope") + " does not exist"},
		{"parent is a file", filepath.Join(plainFile, "pmsync.db"), plainFile + " is not a directory"},
		{"path is a directory", dir, "it is a directory"},
		{"not a database", notDB, notDB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(context.Background(), tt.path)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded, want an error containing %q", tt.path, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open(%q) error = %q, want it to contain %q", tt.path, err, tt.want)
			}
		})
	}
}

func TestOpenSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dir with ? and #", "pmsync.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("the database is not at the path it was given: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("file mode = %o, want 600", perm)
	}
	tests := []struct {
		pragma string
		write  string
		read   string
	}{
		{"journal_mode", "wal", "wal"},
		{"foreign_keys", "1", "1"},
		{"busy_timeout", "10000", "10000"},
		{"synchronous", "1", ""}, // NORMAL on the writer; readers never write, so theirs does not matter
	}
	for _, tt := range tests {
		var w, r string
		if err := db.write.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&w); err != nil {
			t.Fatalf("writer PRAGMA %s: %v", tt.pragma, err)
		}
		if err := db.read.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&r); err != nil {
			t.Fatalf("reader PRAGMA %s: %v", tt.pragma, err)
		}
		if w != tt.write || (tt.pragma != "synchronous" && r != tt.read) {
			t.Errorf("PRAGMA %s: writer %q reader %q, want writer %q reader %q", tt.pragma, w, r, tt.write, tt.read)
		}
	}
	if got := db.write.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer max open connections = %d, want 1", got)
	}
	if _, err := db.read.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES ('x', 'y')"); err == nil {
		t.Error("a write through the reader pool succeeded; readers must be read-only")
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pmsync.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	run, err := db.StartRun(ctx, "jira", true, t0)
	if err != nil {
		t.Fatal(err)
	}
	a := task("A-1", func(it *pmsync.Item) { it.Labels = []string{"ehr"}; it.Fields = map[string]any{"team": "infra"} })
	mustApply(t, db, store.PageWrite{RunID: run, Items: []pmsync.Item{a}, Cursor: "c1", At: t0,
		Quarantine: []store.Quarantined{{ExternalID: "A-9", Reason: "no kind", At: t0}}})
	mustApply(t, db, store.PageWrite{RunID: run, Items: []pmsync.Item{task("A-1", func(it *pmsync.Item) {
		it.Labels, it.Fields, it.State = a.Labels, a.Fields, pmsync.StateDone
	})}, Cursor: "c2", At: t0.Add(time.Minute)})
	if err := db.FinishRun(ctx, run, store.RunResult{Status: store.RunOK, Seen: 2, Changed: 2}, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SaveSnapshot(ctx, pmsync.Rollup{ID: "ehr", Version: "v1", AsOf: "2026-03-02"}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Enqueue(ctx, "asana", "ehr", "v1", []byte(`{"x":1}`), t0); err != nil {
		t.Fatal(err)
	}
	if err := db.SetMeta(ctx, "deletions.jira", "2026-03-02"); err != nil {
		t.Fatal(err)
	}
	before := dump(t, db)
	migBefore := appliedMigrations(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	if diff := cmp.Diff(before, dump(t, db), cmp.AllowUnexported(state{})); diff != "" {
		t.Errorf("state after reopen differs (-before +after):\n%s", diff)
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	migAfter := appliedMigrations(t, db)
	if len(migAfter) != len(ms) {
		t.Errorf("%d migrations recorded, want %d (one per file)", len(migAfter), len(ms))
	}
	if diff := cmp.Diff(migBefore, migAfter); diff != "" {
		t.Errorf("migrations re-applied on reopen (-before +after):\n%s", diff)
	}
	if got := dump(t, db).cursor; got != "c2" {
		t.Errorf("cursor = %q, want c2", got)
	}
}

type state struct {
	items      []pmsync.Item
	changes    []store.Change
	quarantine []store.Quarantined
	cursor     string
	runs       []store.Run
	snapshots  []store.Snapshot
	pushes     []store.Push
	meta       string
}

func dump(t *testing.T, db *DB) state {
	t.Helper()
	ctx := context.Background()
	var s state
	var err error
	if s.items, err = db.Items(ctx); err != nil {
		t.Fatal(err)
	}
	if s.changes, err = db.Changes(ctx, "jira", "A-1"); err != nil {
		t.Fatal(err)
	}
	if s.quarantine, err = db.Quarantine(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if s.cursor, err = db.Cursor(ctx, "jira"); err != nil {
		t.Fatal(err)
	}
	if s.runs, err = db.Runs(ctx, "", 0); err != nil {
		t.Fatal(err)
	}
	if s.snapshots, err = db.Snapshots(ctx, "", 0); err != nil {
		t.Fatal(err)
	}
	if s.pushes, err = db.PendingPushes(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if s.meta, _, err = db.Meta(ctx, "deletions.jira"); err != nil {
		t.Fatal(err)
	}
	if len(s.items) == 0 || len(s.changes) == 0 || len(s.quarantine) == 0 || len(s.runs) == 0 ||
		len(s.snapshots) == 0 || len(s.pushes) == 0 || s.meta == "" {
		t.Fatalf("dump found an empty table, the comparison would prove nothing: %+v", s)
	}
	return s
}

func appliedMigrations(t *testing.T, db *DB) []string {
	t.Helper()
	rows, err := db.read.Query("SELECT version || ' ' || name || ' ' || applied_at FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pmsync.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.write.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 'x')"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err := Open(ctx, path); err == nil {
		db.Close()
		t.Fatal("Open accepted a database with a schema version this build does not know")
	} else if !strings.Contains(err.Error(), "schema version 9999") {
		t.Errorf("error = %q, want it to name schema version 9999", err)
	}
}

// TestReadsDuringWrite checks what WAL with a separate reader pool promises:
// readers neither wait for nor see an open write transaction, a writer can
// commit while a read transaction is open, and readers see whole pages only.
func TestReadsDuringWrite(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	mustApply(t, db, store.PageWrite{Items: []pmsync.Item{task("A-1")}, Cursor: "c1", At: t0})

	t.Run("read while a write transaction is open", func(t *testing.T) {
		tx, err := db.write.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.Exec("UPDATE items SET title = 'uncommitted' WHERE external_id = 'A-1'"); err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second) // the busy timeout is 10 s: waiting would fail this
		defer cancel()
		it, ok, err := db.Item(rctx, "jira", "A-1")
		if err != nil || !ok {
			t.Fatalf("Item during an open write: ok=%v err=%v", ok, err)
		}
		if it.Title != "Task A-1" {
			t.Errorf("reader saw title %q of an uncommitted write, want %q", it.Title, "Task A-1")
		}
	})

	t.Run("commit while a read transaction is open", func(t *testing.T) {
		rtx, err := db.read.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer rtx.Rollback()
		var n int
		if err := rtx.QueryRow("SELECT count(*) FROM items").Scan(&n); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := db.ApplyPage(wctx, store.PageWrite{Source: "jira", Items: []pmsync.Item{task("A-2")}, Cursor: "c2", At: t0}); err != nil {
			t.Fatalf("ApplyPage while a reader is open: %v", err)
		}
		var again int
		if err := rtx.QueryRow("SELECT count(*) FROM items").Scan(&again); err != nil {
			t.Fatal(err)
		}
		if n != 1 || again != 1 {
			t.Errorf("read transaction saw %d then %d items, want a stable snapshot of 1", n, again)
		}
		rtx.Rollback()
		live, _, err := db.CountItems(ctx, "jira")
		if err != nil || live != 2 {
			t.Errorf("after the commit CountItems = %d, %v; want 2", live, err)
		}
	})

	t.Run("readers see whole pages", func(t *testing.T) {
		const pages, size = 30, 20
		var wg sync.WaitGroup
		done := make(chan struct{})
		errs := make(chan error, 8)
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					live, _, err := db.CountItems(ctx, "bulk")
					if err != nil {
						errs <- err
						return
					}
					if live%size != 0 {
						errs <- errors.New("a reader saw part of a page")
						return
					}
				}
			})
		}
		for p := range pages {
			items := make([]pmsync.Item, size)
			for i := range items {
				items[i] = task(string(rune('a'+p))+"-"+string(rune('a'+i)), func(it *pmsync.Item) { it.Source = "bulk" })
			}
			if _, err := db.ApplyPage(ctx, store.PageWrite{Source: "bulk", Items: items, At: t0}); err != nil {
				t.Fatalf("page %d: %v", p, err)
			}
		}
		close(done)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if live, _, _ := db.CountItems(ctx, "bulk"); live != pages*size {
			t.Errorf("live = %d, want %d", live, pages*size)
		}
	})
}

// TestTwoHandlesWrite stands for a CLI sync beside the daemon: two handles on
// one file write at once. Each page reads before it writes; only IMMEDIATE
// transactions make the second writer wait instead of failing on the lock
// upgrade.
func TestTwoHandlesWrite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pmsync.db")
	var dbs [2]*DB
	for i := range dbs {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs[i] = db
	}
	const pages = 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*pages)
	for i, db := range dbs {
		source := []string{"jira", "asana"}[i]
		wg.Go(func() {
			for p := range pages {
				it := task(source+"-"+string(rune('a'+p)), func(it *pmsync.Item) { it.Source = source })
				if _, err := db.ApplyPage(ctx, store.PageWrite{Source: source, Items: []pmsync.Item{it}, Cursor: "c", At: t0}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if live, _, err := dbs[0].CountItems(ctx, ""); err != nil || live != 2*pages {
		t.Errorf("CountItems = %d, %v; want %d", live, err, 2*pages)
	}
}
