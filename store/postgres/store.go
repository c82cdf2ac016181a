// Package postgres keeps pmsync's state in PostgreSQL, for organisations
// that run several pmsync replicas on one shared database. It implements
// the storage contract of package store with the same semantics as the
// SQLite backend: items and their field history, cursors saved with their
// page, sync runs, quarantined records, rollup snapshots, the push outbox
// and leases with fencing tokens.
//
// Replicas share the work safely because the database arbitrates it: a
// write made under a lease locks the lease row (FOR SHARE) and checks its
// token in the same transaction, so a takeover waits for it and a stale
// holder is refused; pushes are claimed with FOR UPDATE SKIP LOCKED;
// migrations run under an advisory lock, so replicas starting together
// apply each one once.
//
// Times are kept to the microsecond, PostgreSQL's resolution: a backend
// writes them truncated, so an item read back compares equal to the same
// item written again.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the advisory lock key that serialises migrations
// between processes opening one database at once ("pmsync" in ASCII).
const migrationLock int64 = 0x706d73796e63

// DB is a pmsync database on PostgreSQL. It is safe for concurrent use.
type DB struct {
	pool *pgxpool.Pool
	name string // host, port and database, for messages: never the password
	// readOnly is set by OpenReadOnly: what a read would keep for the next
	// one (rollup facts) is not kept.
	readOnly bool
}

// Open connects to the database at url (postgres://user:password@host:port/
// database?options, or any form pgx accepts; pool_max_conns sets the pool
// size) and applies any migration it has not seen yet. No error it returns
// contains the password.
func Open(ctx context.Context, url string) (*DB, error) {
	if url == "" {
		return nil, errors.New("open store: database url is empty")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open store: the database url does not parse: %s", scrub(err.Error(), url))
	}
	db := &DB{name: describe(cfg.ConnConfig)}
	db.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %s", db.name, scrub(err.Error(), url))
	}
	if err := db.pool.Ping(ctx); err != nil {
		db.pool.Close()
		return nil, fmt.Errorf("open store %s: %w", db.name, scrubbed(err, url))
	}
	if err := migrate(ctx, db.pool, time.Now()); err != nil {
		db.pool.Close()
		return nil, fmt.Errorf("open store %s: %w", db.name, err)
	}
	return db, nil
}

// OpenReadOnly connects for a command that only reads (rollup, quarantine,
// audit): every transaction is read-only, no migration runs, and a
// database whose schema is missing or older than this build is an error
// rather than something to create.
func OpenReadOnly(ctx context.Context, url string) (*DB, error) {
	if url == "" {
		return nil, errors.New("open store: database url is empty")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open store: the database url does not parse: %s", scrub(err.Error(), url))
	}
	cfg.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	db := &DB{name: describe(cfg.ConnConfig), readOnly: true}
	db.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %s", db.name, scrub(err.Error(), url))
	}
	if err := db.pool.Ping(ctx); err != nil {
		db.pool.Close()
		return nil, fmt.Errorf("open store %s: %w", db.name, scrubbed(err, url))
	}
	if err := checkMigrated(ctx, db.pool); err != nil {
		db.pool.Close()
		return nil, fmt.Errorf("open store %s: %w", db.name, err)
	}
	return db, nil
}

// checkMigrated reports whether the database holds exactly the schema this
// build writes.
func checkMigrated(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return fmt.Errorf("read applied migrations: %w", err)
	}
	if !exists {
		return errors.New("the database holds no pmsync data yet: run pmsync sync or pmsync run first")
	}
	rows, err := pool.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("read applied migrations: %w", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return fmt.Errorf("read applied migrations: %w", err)
	}
	done := map[int]bool{}
	for _, v := range applied {
		done[v] = true
	}
	for _, m := range ms {
		if !done[m.version] {
			return fmt.Errorf("the database's schema is older than this build (migration %d not applied): run pmsync sync or pmsync run once to upgrade it", m.version)
		}
		delete(done, m.version)
	}
	for v := range done {
		return fmt.Errorf("database has schema version %d, which this build does not know: it was written by a newer pmsync", v)
	}
	return nil
}

// describe names a database by user, host, port and name, for messages.
func describe(c *pgx.ConnConfig) string {
	return fmt.Sprintf("postgres://%s@%s/%s", c.User, netAddr(c.Host, c.Port), c.Database)
}

func netAddr(host string, port uint16) string {
	if strings.HasPrefix(host, "/") { // a Unix socket directory
		return host
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(int(port))
}

// passwordPatterns find a password in the forms a connection string takes,
// for when the string is too malformed for net/url.
var passwordPatterns = []*regexp.Regexp{
	regexp.MustCompile(`://[^:/@\s]*:([^@\s]+)@`),
	regexp.MustCompile(`(?i)password\s*=\s*'((?:[^'\\]|\\.)*)'`),
	regexp.MustCompile(`(?i)password\s*=\s*([^\s']+)`),
}

// scrub removes the connection string and any password in it from text.
// pgx masks passwords in its own messages only on a best-effort basis.
func scrub(text, conn string) string {
	secrets := []string{conn}
	if u, err := url.Parse(conn); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			secrets = append(secrets, pw, url.QueryEscape(pw), url.PathEscape(pw))
		}
	}
	for _, re := range passwordPatterns {
		for _, m := range re.FindAllStringSubmatch(conn, -1) {
			if m[1] != "" {
				secrets = append(secrets, m[1])
			}
		}
	}
	// Longest first, so that a password inside the URL does not break up
	// the URL's own replacement.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, s := range secrets {
		if s != "" {
			text = strings.ReplaceAll(text, s, "xxxxx")
		}
	}
	return text
}

// scrubbed is err with its text scrubbed, still wrapping err so that
// callers can test for context errors and the like.
func scrubbed(err error, conn string) error {
	text := scrub(err.Error(), conn)
	if text == err.Error() {
		return err
	}
	return &scrubbedError{text: text, err: err}
}

type scrubbedError struct {
	text string
	err  error
}

func (e *scrubbedError) Error() string { return e.text }
func (e *scrubbedError) Unwrap() error { return e.err }

// Close closes every connection of the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping checks that the database answers a read of pmsync's schema, for
// readiness probes.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.pool.QueryRow(ctx, "SELECT 1 FROM schema_migrations LIMIT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping store %s: %w", db.name, err)
	}
	return nil
}

// tx runs fn in one transaction and commits when fn succeeds.
func (db *DB) tx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx) // fn's error says what went wrong; the rollback only discards
		return err
	}
	if err := tx.Commit(ctx); err != nil {
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

// migrate applies the migrations the database has not recorded, all in one
// transaction (PostgreSQL's DDL is transactional: a database is either fully
// upgraded or untouched). The transaction first takes an advisory lock, so
// that replicas opening a new database at once wait for each other and
// apply each migration once.
func migrate(ctx context.Context, pool *pgxpool.Pool, now time.Time) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	// Rollback after Commit is a no-op; before it, it undoes a partial upgrade.
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("lock for migration: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	rows, err := tx.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("read applied migrations: %w", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return fmt.Errorf("read applied migrations: %w", err)
	}
	known := map[int]bool{}
	for _, m := range ms {
		known[m.version] = true
	}
	done := map[int]bool{}
	for _, v := range applied {
		if !known[v] {
			return fmt.Errorf("database has schema version %d, which this build does not know: it was written by a newer pmsync", v)
		}
		done[v] = true
	}
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("apply migration %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
			m.version, m.name, now); err != nil {
			return fmt.Errorf("record migration %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit migrations: %w", err)
	}
	return nil
}

// ts is a time as stored: UTC, truncated to PostgreSQL's microsecond.
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nullTS is ts for a nullable column: nil (NULL) when t is zero.
func nullTS(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	v := ts(t)
	return &v
}

// fromNull reads a nullable time column; NULL is the zero time.
func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
