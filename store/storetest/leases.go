package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
)

var leases = []test{
	{"AcquireRenewExpire", testLeases},
	{"ReleaseKeepsTheToken", testReleaseKeepsToken},
	{"TakeOver", testTakeOver},
	{"FencedWrites", testFencedWrites},
}

func testLeases(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	const ttl = 5 * time.Minute
	steps := []struct {
		holder string
		at     time.Duration
		want   bool
		token  int64 // the token handed out, when taken
	}{
		{"daemon", 0, true, 1},               // free: a new lease starts at token 1
		{"cli", time.Minute, false, 0},       // held by the daemon
		{"daemon", 4 * time.Minute, true, 1}, // renewed by its holder, now until 9m: same token
		{"cli", 8 * time.Minute, false, 0},   // still held
		{"cli", 9 * time.Minute, false, 0},   // at the very end of the lease: still held
		{"cli", 10 * time.Minute, true, 2},   // the daemon's lease ran out: a new holder, a new token
		{"cli", 11 * time.Minute, true, 2},   // renewed, until 16m
		{"daemon", 17 * time.Minute, true, 3},
	}
	for i, s := range steps {
		f, got, err := db.AcquireLease(ctx, "sync:ehr", s.holder, t0.Add(s.at), ttl)
		if err != nil || got != s.want {
			t.Fatalf("step %d: %s at +%s = %v, %v; want %v", i, s.holder, s.at, got, err, s.want)
		}
		want := store.Fence{}
		if s.want {
			want = store.Fence{Lease: "sync:ehr", Holder: s.holder, Token: s.token}
		}
		if f != want {
			t.Errorf("step %d: fence %+v, want %+v", i, f, want)
		}
	}
	if h, ok, err := db.LeaseHolder(ctx, "sync:ehr"); err != nil || !ok || h != "daemon" {
		t.Errorf("LeaseHolder = %q, %v, %v; want daemon", h, ok, err)
	}
	if h, ok, err := db.LeaseHolder(ctx, "sync:none"); err != nil || ok || h != "" {
		t.Errorf("LeaseHolder of an unknown lease = %q, %v, %v; want none", h, ok, err)
	}
	// Leases are independent of each other.
	if f, got, err := db.AcquireLease(ctx, "rollup", "cli", t0.Add(17*time.Minute), time.Hour); err != nil || !got || f.Token != 1 {
		t.Errorf("another lease = %+v, %v, %v; want token 1", f, got, err)
	}
	ls, err := db.Leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Lease{
		{Name: "rollup", Holder: "cli", Token: 1, Expires: t0.Add(77 * time.Minute)},
		{Name: "sync:ehr", Holder: "daemon", Token: 3, Expires: t0.Add(22 * time.Minute)},
	}
	if diff := cmp.Diff(want, ls); diff != "" {
		t.Errorf("Leases (-want +got):\n%s", diff)
	}
}

func testReleaseKeepsToken(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	const ttl = 5 * time.Minute
	acquire := func(holder string, at time.Duration) (store.Fence, bool) {
		t.Helper()
		f, got, err := db.AcquireLease(ctx, "sync:ehr", holder, t0.Add(at), ttl)
		if err != nil {
			t.Fatal(err)
		}
		return f, got
	}
	if f, got := acquire("a", 0); !got || f.Token != 1 {
		t.Fatalf("first acquire = %+v, %v", f, got)
	}
	if err := db.ReleaseLease(ctx, "sync:ehr", "b"); err != nil { // not the holder: no effect
		t.Fatal(err)
	}
	if _, got := acquire("b", time.Minute); got {
		t.Error("a release by a non-holder freed the lease")
	}
	if err := db.ReleaseLease(ctx, "sync:ehr", "a"); err != nil {
		t.Fatal(err)
	}
	// Released: it ran out at once, but keeps its holder and token.
	ls, err := db.Leases(ctx)
	if err != nil || len(ls) != 1 {
		t.Fatalf("Leases = %+v, %v; want the one lease", ls, err)
	}
	if l := ls[0]; l.Holder != "a" || l.Token != 1 || l.Expires.After(t0) {
		t.Errorf("released lease = %+v; want holder a, token 1, expired", l)
	}
	if h, ok, _ := db.LeaseHolder(ctx, "sync:ehr"); !ok || h != "a" {
		t.Errorf("LeaseHolder after release = %q, %v; want a (run out)", h, ok)
	}
	// The releaser takes it back: it never passed to anyone, same token.
	if f, got := acquire("a", 2*time.Minute); !got || f.Token != 1 {
		t.Errorf("re-acquire by the releaser = %+v, %v; want token 1", f, got)
	}
	if err := db.ReleaseLease(ctx, "sync:ehr", "a"); err != nil {
		t.Fatal(err)
	}
	// Someone else takes it well within the old TTL: the token grows, never back to 1.
	if f, got := acquire("b", 3*time.Minute); !got || f.Token != 2 {
		t.Errorf("acquire after release = %+v, %v; want token 2", f, got)
	}
	if err := db.ReleaseLease(ctx, "sync:ehr", "b"); err != nil {
		t.Fatal(err)
	}
	if f, got := acquire("a", 4*time.Minute); !got || f.Token != 3 {
		t.Errorf("acquire by the first holder again = %+v, %v; want token 3", f, got)
	}
}

func testTakeOver(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	if _, got, _ := db.AcquireLease(ctx, "sync:a", "dead", t0, time.Hour); !got {
		t.Fatal("could not take a free lease")
	}
	if h, ok, err := db.LeaseHolder(ctx, "sync:a"); err != nil || !ok || h != "dead" {
		t.Fatalf("holder %q %v %v", h, ok, err)
	}
	if f, got, err := db.TakeOverLease(ctx, "sync:a", "someone-else", "me", t0, time.Hour); err != nil || got || f != (store.Fence{}) {
		t.Errorf("took over from a holder who does not hold it: %+v, %v, %v", f, got, err)
	}
	if f, got, err := db.TakeOverLease(ctx, "sync:none", "dead", "me", t0, time.Hour); err != nil || got || f != (store.Fence{}) {
		t.Errorf("took over a lease that does not exist: %+v, %v, %v", f, got, err)
	}
	// Well before the dead holder's lease would run out.
	f, got, err := db.TakeOverLease(ctx, "sync:a", "dead", "me", t0.Add(time.Minute), 10*time.Minute)
	if err != nil || !got || f != (store.Fence{Lease: "sync:a", Holder: "me", Token: 2}) {
		t.Errorf("take over from the dead holder = %+v, %v, %v; want token 2", f, got, err)
	}
	if h, _, _ := db.LeaseHolder(ctx, "sync:a"); h != "me" {
		t.Errorf("holder %q, want me", h)
	}
	ls, err := db.Leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Lease{{Name: "sync:a", Holder: "me", Token: 2, Expires: t0.Add(11 * time.Minute)}}, ls); diff != "" {
		t.Errorf("Leases (-want +got):\n%s", diff)
	}
	if _, got, _ := db.AcquireLease(ctx, "sync:a", "dead", t0.Add(2*time.Minute), time.Hour); got {
		t.Error("the dead holder got its lease back while the new holder's is live")
	}
}

// testFencedWrites: a write under a lease that has since passed to another
// holder is refused with ErrFenced and leaves nothing behind; the holder's
// own writes, renewed or released, pass; the zero fence checks nothing.
func testFencedWrites(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	const lease, src = "sync:conn:jira", "ehr/jira"
	item := func(id string) pmsync.Item { return task(id, func(it *pmsync.Item) { it.Source = src }) }
	old, _, err := db.AcquireLease(ctx, lease, "replica-a", t0, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ApplyPage(ctx, store.PageWrite{Fence: old, Source: src, Items: []pmsync.Item{item("A-1")}, Cursor: "c0", At: t0}); err != nil {
		t.Fatalf("ApplyPage under the holder's fence: %v", err)
	}
	// Renewing keeps the token, so the fence still holds.
	if f, _, _ := db.AcquireLease(ctx, lease, "replica-a", t0.Add(30*time.Second), time.Minute); f != old {
		t.Fatalf("renewal gave fence %+v, want %+v", f, old)
	}
	if err := db.ResetCursor(ctx, old, src); err != nil {
		t.Fatalf("ResetCursor under the holder's fence: %v", err)
	}
	apply(t, db, store.PageWrite{Source: src, Cursor: "c0", At: t0})

	// replica-a stalls past its lease; replica-b takes it.
	cur, got, err := db.AcquireLease(ctx, lease, "replica-b", t0.Add(2*time.Minute), time.Minute)
	if err != nil || !got || cur != (store.Fence{Lease: lease, Holder: "replica-b", Token: 2}) {
		t.Fatalf("takeover = %+v, %v, %v", cur, got, err)
	}
	w := store.PageWrite{Fence: old, Source: src, Items: []pmsync.Item{item("A-2")}, Deleted: []string{"A-1"},
		Quarantine: []store.Quarantined{{ExternalID: "Q-1", Reason: "r"}}, Cursor: "c1", At: t0.Add(3 * time.Minute)}
	if _, err := db.ApplyPage(ctx, w); !errors.Is(err, store.ErrFenced) {
		t.Errorf("stale ApplyPage = %v, want ErrFenced", err)
	}
	if _, err := db.Tombstone(ctx, old, src, nil, t0.Add(3*time.Minute)); !errors.Is(err, store.ErrFenced) {
		t.Errorf("stale Tombstone = %v, want ErrFenced", err)
	}
	if err := db.ResetCursor(ctx, old, src); !errors.Is(err, store.ErrFenced) {
		t.Errorf("stale ResetCursor = %v, want ErrFenced", err)
	}
	// A fence of a lease that was never taken, and one naming the right
	// token but another holder, hold nothing either.
	for _, f := range []store.Fence{{Lease: "sync:conn:none", Holder: "replica-a", Token: 1}, {Lease: lease, Holder: "replica-a", Token: 2}} {
		if _, err := db.ApplyPage(ctx, store.PageWrite{Fence: f, Source: src, Cursor: "c1", At: t0}); !errors.Is(err, store.ErrFenced) {
			t.Errorf("ApplyPage under %+v = %v, want ErrFenced", f, err)
		}
	}
	// Nothing of the refused writes is stored.
	items, err := db.Items(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]pmsync.Item{item("A-1")}, items); diff != "" {
		t.Errorf("items after refused writes (-want +got):\n%s", diff)
	}
	if c, _ := db.Cursor(ctx, src); c != "c0" {
		t.Errorf("cursor %q after refused writes, want c0", c)
	}
	if q, _ := db.Quarantine(ctx, src); len(q) != 0 {
		t.Errorf("quarantine after a refused page: %+v", q)
	}

	// The current holder writes; releasing keeps its fence good until the
	// lease passes on.
	w.Fence = cur
	if res, err := db.ApplyPage(ctx, w); err != nil || res != (store.PageResult{Changed: 1, Quarantined: 1, Deleted: 1}) {
		t.Errorf("ApplyPage under the current fence = %+v, %v", res, err)
	}
	if err := db.ReleaseLease(ctx, lease, "replica-b"); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Tombstone(ctx, cur, src, []string{"A-2"}, t0.Add(4*time.Minute)); err != nil || n != 0 {
		t.Errorf("Tombstone under a released, untaken lease = %d, %v; want 0, nil", n, err)
	}
	if c, _ := db.Cursor(ctx, src); c != "c1" {
		t.Errorf("cursor %q after the current holder's page, want c1", c)
	}
	// The zero fence is not checked.
	if _, err := db.ApplyPage(ctx, store.PageWrite{Source: src, Cursor: "c2", At: t0}); err != nil {
		t.Errorf("ApplyPage without a fence: %v", err)
	}
	if err := db.ResetCursor(ctx, store.Fence{}, src); err != nil {
		t.Errorf("ResetCursor without a fence: %v", err)
	}
}
