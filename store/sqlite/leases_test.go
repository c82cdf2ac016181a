package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pmsync/pmsync/store"
)

func TestLeases(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	t0 := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	steps := []struct {
		holder string
		at     time.Duration
		want   bool
		token  int64 // the lease's token after the step, when taken
	}{
		{"daemon", 0, true, 1},               // free
		{"cli", time.Minute, false, 0},       // held by the daemon
		{"daemon", 4 * time.Minute, true, 1}, // renewed by its holder, now until 9m: same token
		{"cli", 8 * time.Minute, false, 0},   // still held
		{"cli", 10 * time.Minute, true, 2},   // the daemon's lease ran out: a new holder, a new token
	}
	for i, s := range steps {
		f, got, err := db.AcquireLease(ctx, "sync:ehr", s.holder, t0.Add(s.at), 5*time.Minute)
		if err != nil || got != s.want || f.Token != s.token {
			t.Fatalf("step %d: %s at +%s = %+v, %v, %v; want %v with token %d", i, s.holder, s.at, f, got, err, s.want, s.token)
		}
	}
	if err := db.ReleaseLease(ctx, "sync:ehr", "daemon"); err != nil { // not the holder: no effect
		t.Fatal(err)
	}
	if _, got, _ := db.AcquireLease(ctx, "sync:ehr", "daemon", t0.Add(11*time.Minute), 5*time.Minute); got {
		t.Errorf("a release by a non-holder freed the lease")
	}
	if err := db.ReleaseLease(ctx, "sync:ehr", "cli"); err != nil {
		t.Fatal(err)
	}
	f, got, _ := db.AcquireLease(ctx, "sync:ehr", "daemon", t0.Add(11*time.Minute), 5*time.Minute)
	if !got || f.Token != 3 {
		t.Errorf("the released lease: taken %v with token %d, want taken with token 3 (a release keeps the token)", got, f.Token)
	}
	ls, err := db.Leases(ctx)
	if err != nil || len(ls) != 1 || ls[0] != (store.Lease{Name: "sync:ehr", Holder: "daemon", Token: 3, Expires: t0.Add(16 * time.Minute)}) {
		t.Errorf("Leases = %+v, %v", ls, err)
	}
}

func TestTakeOverLease(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	t0 := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	if _, got, _ := db.AcquireLease(ctx, "sync:a", "dead", t0, time.Hour); !got {
		t.Fatal("could not take a free lease")
	}
	if h, ok, err := db.LeaseHolder(ctx, "sync:a"); err != nil || !ok || h != "dead" {
		t.Fatalf("holder %q %v %v", h, ok, err)
	}
	if _, got, _ := db.TakeOverLease(ctx, "sync:a", "someone-else", "me", t0, time.Hour); got {
		t.Errorf("took over from a holder who does not hold it")
	}
	if f, got, _ := db.TakeOverLease(ctx, "sync:a", "dead", "me", t0, time.Hour); !got || f != (store.Fence{Lease: "sync:a", Holder: "me", Token: 2}) {
		t.Errorf("take over from the dead holder = %+v, %v; want token 2", f, got)
	}
	if h, _, _ := db.LeaseHolder(ctx, "sync:a"); h != "me" {
		t.Errorf("holder %q, want me", h)
	}
}

// A write under a lease that has since passed to another holder is refused,
// and leaves nothing behind.
func TestFencedWrites(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	t0 := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	old, _, err := db.AcquireLease(ctx, "sync:conn:jira", "replica-a", t0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// replica-a stalls past its lease; replica-b takes it.
	cur, got, err := db.AcquireLease(ctx, "sync:conn:jira", "replica-b", t0.Add(2*time.Minute), time.Minute)
	if err != nil || !got || cur.Token != old.Token+1 {
		t.Fatalf("takeover = %+v, %v, %v", cur, got, err)
	}
	w := store.PageWrite{Fence: old, Source: "ehr/jira", Cursor: "c1", At: t0}
	if _, err := db.ApplyPage(ctx, w); !errors.Is(err, store.ErrFenced) {
		t.Errorf("stale ApplyPage = %v, want ErrFenced", err)
	}
	if c, _ := db.Cursor(ctx, "ehr/jira"); c != "" {
		t.Errorf("a refused page saved cursor %q", c)
	}
	if _, err := db.Tombstone(ctx, old, "ehr/jira", nil, t0); !errors.Is(err, store.ErrFenced) {
		t.Errorf("stale Tombstone = %v, want ErrFenced", err)
	}
	if err := db.ResetCursor(ctx, old, "ehr/jira"); !errors.Is(err, store.ErrFenced) {
		t.Errorf("stale ResetCursor = %v, want ErrFenced", err)
	}
	w.Fence = cur
	if _, err := db.ApplyPage(ctx, w); err != nil {
		t.Errorf("ApplyPage under the current fence: %v", err)
	}
	if c, _ := db.Cursor(ctx, "ehr/jira"); c != "c1" {
		t.Errorf("cursor %q after the current holder's page, want c1", c)
	}
}
