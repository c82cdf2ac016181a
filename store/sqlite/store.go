// Package sqlite keeps pmsync's state in SQLite: items and their field
// history, cursors, sync runs, quarantined records, rollup snapshots and the
// push outbox. It implements the storage contract of package store, in the
// contract's own types.
//
// The database runs in WAL mode with one writer connection (every write
// transaction begins IMMEDIATE, so writers queue on the busy timeout instead
// of failing on a lock upgrade) and a pool of read-only connections that see
// committed data without waiting for the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	// The driver registers itself as "sqlite3".
	_ "github.com/mattn/go-sqlite3"
)

// readers is the size of the read-only connection pool. A handful covers the
// dashboard, the API and the rollup reading at once; WAL readers never block
// each other.
const readers = 4

// busyTimeout is how long, in milliseconds, a connection waits for another
// process's lock (a CLI sync beside the daemon) before failing.
const busyTimeout = 10000

// timeLayout is RFC 3339 with a fixed nine-digit fraction: it parses as
// time.RFC3339Nano, and unlike that layout (which trims trailing zeros) its
// text sorts in time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DB is a pmsync database. It is safe for concurrent use.
type DB struct {
	path  string
	abs   string
	write *sql.DB // one connection: SQLite allows one writer at a time
	read  *sql.DB // read-only connections
	// pages are the page write statements, prepared on write; nil in a
	// read-only store.
	pages *pageStmts
	// readOnly is set by OpenReadOnly: what a read would keep for the next
	// one (rollup facts) is not kept.
	readOnly bool

	walMu    sync.Mutex
	walStats WALStats
	stop     chan struct{} // closed by Close to end the checkpointer
	bg       sync.WaitGroup
}

// Open opens the database at path, creating the file if needed, and applies
// any migration it has not seen yet. The directory must exist.
func Open(ctx context.Context, path string) (*DB, error) {
	return OpenWith(ctx, path, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, path string, o Options) (*DB, error) {
	if o.CheckpointEvery == 0 {
		o.CheckpointEvery = DefaultCheckpointEvery
	}
	if o.JournalSizeLimit == 0 {
		o.JournalSizeLimit = DefaultJournalSizeLimit
	}
	if path == "" {
		return nil, errors.New("open store: database path is empty")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store %s: resolve path: %w", path, err)
	}
	dir := filepath.Dir(abs)
	switch fi, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("open store %s: directory %s does not exist", path, dir)
	case err != nil:
		return nil, fmt.Errorf("open store %s: %w", path, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("open store %s: %s is not a directory", path, dir)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("open store %s: it is a directory", path)
	}
	// Creating the file ourselves keeps it private (the items are work data
	// of the organisation) and turns a permission problem into an error that
	// names the file; SQLite gives its -wal and -shm files the same mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}

	db := &DB{path: path, abs: abs, stop: make(chan struct{})}
	db.write = sql.OpenDB(newConnector(dsn(abs, url.Values{
		"mode":          {"rw"},
		"_journal_mode": {"WAL"},
		"_synchronous":  {"NORMAL"},
		"_busy_timeout": {strconv.Itoa(busyTimeout)},
		"_foreign_keys": {"on"},
		"_txlock":       {"immediate"},
	}), o.JournalSizeLimit))
	db.write.SetMaxOpenConns(1)
	db.write.SetMaxIdleConns(1)
	if err := db.checkWAL(ctx); err != nil {
		db.write.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if err := migrate(ctx, db.write, time.Now()); err != nil {
		db.write.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}

	db.pages = &pageStmts{}
	if err := db.pages.prepare(ctx, db.write); err != nil {
		db.write.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}

	db.read, err = sql.Open("sqlite3", dsn(abs, url.Values{
		"mode":          {"ro"},
		"_busy_timeout": {strconv.Itoa(busyTimeout)},
		"_foreign_keys": {"on"},
	}))
	if err != nil {
		db.write.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	db.read.SetMaxOpenConns(readers)
	db.read.SetMaxIdleConns(readers)
	if err := db.read.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: open reader: %w", path, err)
	}
	if o.CheckpointEvery > 0 {
		db.bg.Add(1)
		go db.checkpointer(o.CheckpointEvery, o.JournalSizeLimit/2, db.stop, &db.bg)
	}
	return db, nil
}

// ErrNoDatabase is returned by OpenReadOnly for a database file that does
// not exist: nothing has been synced into it yet.
var ErrNoDatabase = errors.New("database does not exist")

// OpenReadOnly opens an existing database for reading only, for commands
// that report (rollup, quarantine, a dry-run push): no file is created, no
// migration runs and every connection is read-only, so that such a command
// never changes the database, works where it may not write, and is not
// held up by a writer (WAL readers never wait for one). A database whose
// schema is older than this build's is an error: reading it would need the
// migration a writer applies.
func OpenReadOnly(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("open store: database path is empty")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store %s: resolve path: %w", path, err)
	}
	switch fi, err := os.Stat(abs); {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("open store %s: %w (sync first: pmsync sync)", path, ErrNoDatabase)
	case err != nil:
		return nil, fmt.Errorf("open store %s: %w", path, err)
	case fi.IsDir():
		return nil, fmt.Errorf("open store %s: it is a directory", path)
	}
	read, err := sql.Open("sqlite3", dsn(abs, url.Values{
		"mode":          {"ro"},
		"_busy_timeout": {strconv.Itoa(busyTimeout)},
		"_foreign_keys": {"on"},
	}))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	read.SetMaxOpenConns(readers)
	read.SetMaxIdleConns(readers)
	// The writer pool is the reader pool too: a write through a read-only
	// store fails with SQLite's own "readonly database" error.
	db := &DB{path: path, write: read, read: read, readOnly: true}
	if err := db.checkSchema(ctx); err != nil {
		read.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return db, nil
}

// checkSchema confirms that every migration this build knows has been
// applied.
func (db *DB) checkSchema(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	var applied int
	if err := db.read.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&applied); err != nil {
		return fmt.Errorf("read applied migrations (is it a pmsync database?): %w", err)
	}
	if applied < len(ms) {
		return fmt.Errorf("the database has %d of %d schema migrations; a command that writes (pmsync sync) applies them", applied, len(ms))
	}
	return nil
}

// dsn builds a SQLite URI for the file at abs. The path is escaped so that
// characters such as '?' or '#' in a directory name stay part of the name.
func dsn(abs string, params url.Values) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: params.Encode()}
	return u.String()
}

// checkWAL confirms the journal mode took: SQLite silently keeps the old
// mode where WAL is impossible (some network file systems), and the reader
// pool relies on it.
func (db *DB) checkWAL(ctx context.Context) error {
	var mode string
	if err := db.write.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal mode is %q, want wal (is the file on a local disk?)", mode)
	}
	return nil
}

// Close closes the database. The writer closes last so that its checkpoint
// folds the WAL back into the file.
func (db *DB) Close() error {
	if db.stop != nil {
		select {
		case <-db.stop:
		default:
			close(db.stop)
		}
		db.bg.Wait()
	}
	var errs []error
	if db.read != nil {
		if err := db.read.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store %s readers: %w", db.path, err))
		}
	}
	if db.pages != nil {
		if err := db.pages.close(); err != nil {
			errs = append(errs, fmt.Errorf("close store %s statements: %w", db.path, err))
		}
	}
	if db.write != db.read {
		if err := db.write.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close store %s writer: %w", db.path, err))
		}
	}
	return errors.Join(errs...)
}

// writeTx runs fn in one IMMEDIATE transaction on the writer connection and
// commits when fn succeeds.
func (db *DB) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin write: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // fn's error says what went wrong; the rollback only discards
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order. A file is
// named NNNN_description.sql.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name does not start with a positive version and '_'", base)
		}
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	return ms, nil
}

// migrate applies the migrations db has not recorded, all in one
// transaction: a database is either fully upgraded or untouched. Because the
// transaction is IMMEDIATE, two processes opening a new file at once apply
// each migration once.
func migrate(ctx context.Context, db *sql.DB, now time.Time) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	// Rollback after Commit is a no-op; before it, it undoes a partial upgrade.
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("read applied migrations: %w", err)
	}
	applied := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("read applied migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read applied migrations: %w", err)
	}
	rows.Close()
	known := map[int]bool{}
	for _, m := range ms {
		known[m.version] = true
	}
	for v := range applied {
		if !known[v] {
			return fmt.Errorf("database has schema version %d, which this build does not know: it was written by a newer pmsync", v)
		}
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.version, m.name, formatTime(now)); err != nil {
			return fmt.Errorf("record migration %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migrations: %w", err)
	}
	return nil
}

// formatTime renders t in UTC for storage.
func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// nullTime renders t for a nullable column: NULL when t is zero.
func nullTime(t time.Time) sql.NullString {
	if t.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: formatTime(t), Valid: true}
}

// parseTime reads a stored time; NULL and "" are the zero time.
func parseTime(s sql.NullString) (time.Time, error) {
	if !s.Valid || s.String == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s.String)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s.String, err)
	}
	return t.UTC(), nil
}

// placeholders returns "?, ?, …" with n marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// Ping checks that the database answers a read, for readiness probes.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.read.QueryRowContext(ctx, "SELECT 1 FROM schema_migrations LIMIT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping store %s: %w", db.path, err)
	}
	return nil
}
