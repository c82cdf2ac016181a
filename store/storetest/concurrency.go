package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
)

var concurrency = []test{
	{"OneClaimWins", testOneClaimWins},
	{"OneAcquireWins", testOneAcquireWins},
	{"OneSnapshotPerVersion", testOneSnapshot},
	{"PagesOfManySources", testConcurrentPages},
}

// rounds is how many races each concurrency test runs: enough for the
// goroutines to meet inside the database many times.
const rounds = 20

// race runs fn in n goroutines released at once and returns their results.
func race[T any](n int, fn func(i int) (T, error)) ([]T, []error) {
	out := make([]T, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i], errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return out, errs
}

func testOneClaimWins(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	for r := range rounds {
		version := fmt.Sprintf("v%d", r)
		if _, err := db.Enqueue(ctx, "asana", "ehr", version, []byte("{}"), t0); err != nil {
			t.Fatal(err)
		}
	}
	pending, err := db.PendingPushes(ctx, "asana")
	if err != nil || len(pending) != rounds {
		t.Fatalf("PendingPushes = %d, %v; want %d", len(pending), err, rounds)
	}
	for _, p := range pending {
		got, errs := race(2, func(int) (bool, error) { return db.ClaimPush(ctx, p.ID, t0.Add(time.Minute), time.Hour) })
		for _, err := range errs {
			if err != nil {
				t.Fatalf("ClaimPush of %s: %v", p.Version, err)
			}
		}
		if got[0] == got[1] {
			t.Errorf("push %s: claims = %v, want exactly one granted", p.Version, got)
		}
	}
	pending, _ = db.PendingPushes(ctx, "asana")
	for _, p := range pending {
		if p.Status != store.PushSending || p.Attempts != 1 {
			t.Errorf("push %s after the race: %s with %d attempts, want sending with 1", p.Version, p.Status, p.Attempts)
		}
	}
}

func testOneAcquireWins(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	for r := range rounds {
		name := fmt.Sprintf("sync:conn-%d", r)
		// Half the rounds race for a lease that exists and has run out,
		// half for one that does not exist yet.
		if r%2 == 1 {
			if _, got, err := db.AcquireLease(ctx, name, "old", t0.Add(-time.Hour), time.Minute); err != nil || !got {
				t.Fatalf("setup: %v %v", got, err)
			}
		}
		fences, errs := race(2, func(i int) (store.Fence, error) {
			f, _, err := db.AcquireLease(ctx, name, fmt.Sprintf("replica-%d", i), t0, time.Minute)
			return f, err
		})
		for _, err := range errs {
			if err != nil {
				t.Fatalf("AcquireLease %s: %v", name, err)
			}
		}
		var won []store.Fence
		for _, f := range fences {
			if f != (store.Fence{}) {
				won = append(won, f)
			}
		}
		wantToken := int64(1 + r%2)
		if len(won) != 1 || won[0].Token != wantToken {
			t.Errorf("%s: fences %+v, want exactly one, with token %d", name, fences, wantToken)
			continue
		}
		if h, _, _ := db.LeaseHolder(ctx, name); h != won[0].Holder {
			t.Errorf("%s: holder %q, but %q was told it won", name, h, won[0].Holder)
		}
	}
}

func testOneSnapshot(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	for r := range rounds {
		rollup := pmsync.Rollup{ID: "ehr", Version: fmt.Sprintf("v%d", r), AsOf: "2026-03-02"}
		saved, errs := race(2, func(int) (bool, error) { return db.SaveSnapshot(ctx, rollup, t0) })
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if saved[0] == saved[1] {
			t.Errorf("version %s: saved = %v, want exactly one", rollup.Version, saved)
		}
	}
	snaps, err := db.Snapshots(ctx, "ehr", 0)
	if err != nil || len(snaps) != rounds {
		t.Errorf("Snapshots = %d, %v; want %d, one per version", len(snaps), err, rounds)
	}
}

// testConcurrentPages: sources written at once (the engine's workers, or
// replicas) each end with all their items, cursor and history.
func testConcurrentPages(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	const sources, pages, size = 4, 10, 25
	_, errs := race(sources, func(s int) (struct{}, error) {
		source := fmt.Sprintf("src-%d", s)
		for p := range pages {
			items := make([]pmsync.Item, size)
			for i := range items {
				items[i] = task(fmt.Sprintf("%s-%03d", source, p*size+i), func(it *pmsync.Item) { it.Source = source })
			}
			// Every page also changes the state of the previous page's first item.
			if p > 0 {
				items = append(items, task(fmt.Sprintf("%s-%03d", source, (p-1)*size), func(it *pmsync.Item) {
					it.Source, it.State = source, pmsync.StateDone
				}))
			}
			if _, err := db.ApplyPage(ctx, store.PageWrite{Source: source, Items: items, Cursor: fmt.Sprint(p), At: t0}); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for s := range sources {
		source := fmt.Sprintf("src-%d", s)
		if live, deleted, err := db.CountItems(ctx, source); err != nil || live != pages*size || deleted != 0 {
			t.Errorf("%s: CountItems = %d, %d, %v; want %d, 0", source, live, deleted, err, pages*size)
		}
		if c, err := db.Cursor(ctx, source); err != nil || c != fmt.Sprint(pages-1) {
			t.Errorf("%s: cursor %q, %v; want %d", source, c, err, pages-1)
		}
		ch, err := db.Changes(ctx, source, source+"-025")
		if err != nil || len(ch) != 1 || ch[0].Field != store.FieldState {
			t.Errorf("%s: changes of its item 25 = %+v, %v; want the one state change", source, ch, err)
		}
	}
}
