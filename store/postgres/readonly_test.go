package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
)

// A read-only open creates nothing: an empty database is an error, and on a
// migrated one every write is refused by the server.
func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	url := server.Database(t)
	if _, err := OpenReadOnly(ctx, url); err == nil || !strings.Contains(err.Error(), "holds no pmsync data yet") {
		t.Fatalf("OpenReadOnly of an empty database = %v, want an error saying it holds no data", err)
	}
	rw, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	it := pmsync.Item{Source: "ehr", ExternalID: "1", Kind: pmsync.KindTask, Title: "Build", State: pmsync.StateTodo}
	if _, err := rw.ApplyPage(ctx, store.PageWrite{Source: "ehr", Items: []pmsync.Item{it}, Cursor: "c1", At: at}); err != nil {
		t.Fatal(err)
	}
	rw.Close()

	ro, err := OpenReadOnly(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	items, err := ro.Items(ctx, "ehr")
	if err != nil || len(items) != 1 || items[0].Title != "Build" {
		t.Fatalf("Items through the read-only store = %+v, %v", items, err)
	}
	if _, err := ro.ApplyPage(ctx, store.PageWrite{Source: "ehr", Cursor: "c2", At: at}); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("a write through the read-only store = %v, want refused as read-only", err)
	}
	var tables int
	if err := ro.pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&tables); err != nil || tables == 0 {
		t.Errorf("schema_migrations: %d rows, %v", tables, err)
	}
}
