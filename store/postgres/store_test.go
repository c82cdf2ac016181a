package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
	"github.com/pmsync/pmsync/store/postgres/pgtest"
	"github.com/pmsync/pmsync/store/storetest"
)

// server is the one PostgreSQL server of this package's tests; nil when
// PostgreSQL is not installed (each test then skips).
var server *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &server)) }

var _ store.Store = (*DB)(nil)

// openTest opens a fresh database for t and closes it when t ends.
func openTest(t testing.TB) *DB {
	t.Helper()
	url := server.Database(t)
	db, err := Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func TestOpenErrorsHideThePassword(t *testing.T) {
	const pw = "s3cr3t-Pa55"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tests := []struct {
		name string
		url  string
		want string // substring of the error
	}{
		{"empty", "", "database url is empty"},
		{"not a url", "postgres://u:" + pw + "@host:notaport/db", "does not parse"},
		{"unknown option", "postgres://u:" + pw + "@127.0.0.1:1/db?sslmode=sometimes", "does not parse"},
		{"keyword form", "host=127.0.0.1 port=x user=u password=" + pw, "does not parse"},
		{"quoted keyword form", "host=127.0.0.1 port=x user=u password='" + pw + " x'", "does not parse"},
		{"nobody listening", "postgres://u:" + pw + "@127.0.0.1:1/db?connect_timeout=5", "postgres://u@127.0.0.1:1/db"},
	}
	if server != nil {
		// A real server that refuses the database: the error names the
		// database, never the password.
		tests = append(tests, struct{ name, url, want string }{"no such database",
			strings.Replace(server.URL("nope"), "postgres@", "postgres:"+pw+"@", 1), `"nope" does not exist`})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(ctx, tt.url)
			if err == nil {
				db.Close()
				t.Fatalf("Open succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestScrub(t *testing.T) {
	tests := []struct {
		conn, text, want string
	}{
		{"postgres://u:pw%21x@h/db", "cannot parse `postgres://u:pw%21x@h/db`: bad", "cannot parse `xxxxx`: bad"},
		{"postgres://u:pw%21x@h/db", "failed for pw!x and pw%21x", "failed for xxxxx and xxxxx"},
		{"host=h password='a b'", "cannot parse `host=h password='a b'`", "cannot parse `xxxxx`"},
		{"host=h password=abc", "saw abc", "saw xxxxx"},
		{"postgres://u@h/db", "no password here", "no password here"},
	}
	for _, tt := range tests {
		if got := scrub(tt.text, tt.conn); got != tt.want {
			t.Errorf("scrub(%q, %q) = %q, want %q", tt.text, tt.conn, got, tt.want)
		}
	}
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	url := server.Database(t)
	// Replicas starting together on a new database: each migration is
	// applied once, and every one of them opens.
	const n = 4
	dbs := make([]*DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dbs[i], errs[i] = Open(ctx, url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var count, distinct int
	if err := dbs[0].pool.QueryRow(ctx, "SELECT count(*), count(DISTINCT version) FROM schema_migrations").Scan(&count, &distinct); err != nil {
		t.Fatal(err)
	}
	if count != len(ms) || distinct != len(ms) {
		t.Errorf("schema_migrations has %d rows (%d versions), want %d: one per file", count, distinct, len(ms))
	}
	if err := dbs[0].Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}

	// A database written by a newer pmsync is refused, and left alone.
	if _, err := dbs[0].pool.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', now())"); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(ctx, url); err == nil {
		db.Close()
		t.Fatal("Open accepted a database with a schema version this build does not know")
	} else if !strings.Contains(err.Error(), "schema version 9999") {
		t.Errorf("error = %q, want it to name schema version 9999", err)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	url := server.Database(t)
	db, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	it := pmsync.Item{Source: "jira", ExternalID: "A-1", Kind: pmsync.KindTask, Title: "T", State: pmsync.StateTodo, Labels: []string{"ehr"}}
	if _, err := db.ApplyPage(ctx, store.PageWrite{Source: "jira", Items: []pmsync.Item{it}, Cursor: "c1", At: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SaveSnapshot(ctx, pmsync.Rollup{ID: "ehr", Version: "v1", AsOf: "2026-03-02"}, t0); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(ctx, url)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	if cur, _ := db.Cursor(ctx, "jira"); cur != "c1" {
		t.Errorf("cursor after reopen = %q, want c1", cur)
	}
	if got, ok, err := db.Item(ctx, "jira", "A-1"); err != nil || !ok || got.Title != "T" || len(got.Labels) != 1 {
		t.Errorf("item after reopen = %+v, %v, %v", got, ok, err)
	}
	if s, ok, _ := db.LatestSnapshot(ctx, "ehr"); !ok || s.Version != "v1" {
		t.Errorf("snapshot after reopen = %+v, %v", s, ok)
	}
}

// TestFenceHoldsUntilCommit: a write's fence check locks the lease row, so
// another holder's takeover waits for the write to commit and then gets the
// next token; it never slips in between the check and the commit.
func TestFenceHoldsUntilCommit(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	fence, _, err := db.AcquireLease(ctx, "sync:conn:jira", "a", t0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := checkFence(ctx, tx, fence); err != nil {
		t.Fatalf("checkFence: %v", err)
	}
	type result struct {
		f   store.Fence
		ok  bool
		err error
	}
	done := make(chan result, 1)
	go func() {
		// a's lease has run out by b's clock.
		f, ok, err := db.AcquireLease(ctx, "sync:conn:jira", "b", t0.Add(2*time.Minute), time.Minute)
		done <- result{f, ok, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("the takeover did not wait for the fenced write: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := tx.Exec(ctx, "INSERT INTO cursors (source, value, updated) VALUES ('s', 'written under a', now())"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || !r.ok || r.f.Token != 2 {
			t.Errorf("takeover after the commit = %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the takeover never finished")
	}
	if _, err := db.ApplyPage(ctx, store.PageWrite{Fence: fence, Source: "s", Cursor: "late", At: t0}); !errors.Is(err, store.ErrFenced) {
		t.Errorf("a's next page = %v, want ErrFenced", err)
	}
	if c, _ := db.Cursor(ctx, "s"); c != "written under a" {
		t.Errorf("cursor %q", c)
	}
}

// TestClaimSkipsALockedPush: a push another replica is claiming right now
// (its row locked) is passed over at once, not waited for.
func TestClaimSkipsALockedPush(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	if _, err := db.Enqueue(ctx, "asana", "ehr", "v1", nil, t0); err != nil {
		t.Fatal(err)
	}
	p, _ := db.PendingPushes(ctx, "")
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT id FROM outbox WHERE id = $1 FOR UPDATE", p[0].ID); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	ok, err := db.ClaimPush(cctx, p[0].ID, t0, time.Minute)
	if err != nil || ok {
		t.Errorf("ClaimPush of a locked push = %v, %v; want false, nil", ok, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("ClaimPush waited %s for the lock", d)
	}
	tx.Rollback(ctx)
	if ok, err := db.ClaimPush(ctx, p[0].ID, t0, time.Minute); err != nil || !ok {
		t.Errorf("ClaimPush once the lock is gone = %v, %v; want true", ok, err)
	}
}

func TestLargePage(t *testing.T) {
	// One page far larger than any vendor's: the batch statements take
	// arrays, with no per-statement parameter limit to hit.
	ctx := context.Background()
	db := openTest(t)
	const n = 20000
	items := make([]pmsync.Item, n)
	ids := make([]string, n)
	for i := range items {
		ids[i] = fmt.Sprintf("X-%05d", i)
		items[i] = pmsync.Item{Source: "big", ExternalID: ids[i], Kind: pmsync.KindTask, Title: "t", State: pmsync.StateTodo}
	}
	res, err := db.ApplyPage(ctx, store.PageWrite{Source: "big", Items: items, Deleted: ids[:10], HasLive: true, Live: ids[:n-5], At: t0})
	if err != nil || res != (store.PageResult{Changed: n, Deleted: 15}) {
		t.Fatalf("ApplyPage = %+v, %v; want %d changed, 15 deleted", res, err, n)
	}
	if live, deleted, err := db.CountItems(ctx, "big"); err != nil || live != n-15 || deleted != 15 {
		t.Errorf("CountItems = %d, %d, %v", live, deleted, err)
	}
}
