package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "pmsync.db")

	// A database that does not exist is an error, and is not created.
	if _, err := OpenReadOnly(ctx, path); !errors.Is(err, ErrNoDatabase) {
		t.Fatalf("OpenReadOnly of a missing file: %v, want ErrNoDatabase", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenReadOnly created %s", path)
	}

	w, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetMeta(ctx, "k", "v1"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil { // the WAL is folded back and removed
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)

	r, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	if v, ok, err := r.Meta(ctx, "k"); err != nil || !ok || v != "v1" {
		t.Errorf("Meta = %q, %v, %v; want v1", v, ok, err)
	}
	if err := r.SetMeta(ctx, "k", "v2"); err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Errorf("a write through a read-only store: %v, want SQLite's readonly error", err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("the database file changed under a read-only store")
	}
}

// A writer in the middle of a transaction does not hold a reader up.
func TestReadOnlyIsNotBlockedByAWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pmsync.db")
	w, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.SetMeta(ctx, "k", "committed"); err != nil {
		t.Fatal(err)
	}
	tx, err := w.write.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE meta SET value = 'uncommitted' WHERE key = 'k'"); err != nil {
		t.Fatal(err)
	}

	r, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Well under the 10 s busy timeout a blocked reader would wait.
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if v, _, err := r.Meta(rctx, "k"); err != nil || v != "committed" {
		t.Errorf("Meta while a writer holds its lock = %q, %v; want the committed value at once", v, err)
	}
}

// A database a newer build has not migrated is not read.
func TestReadOnlyWantsACurrentSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pmsync.db")
	w, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.write.ExecContext(ctx, "DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := OpenReadOnly(ctx, path); err == nil || !strings.Contains(err.Error(), "schema migrations") {
		t.Errorf("OpenReadOnly of a database one migration behind: %v", err)
	}
}
