package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
)

func ptr(f float64) *float64 { return &f }

// TestNanosecondTimes: the contract keeps times to the microsecond; SQLite
// stores them as text with nine fraction digits and gives back every
// nanosecond.
func TestNanosecondTimes(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	cet := time.FixedZone("CET", 3600)
	it := task("EHR-12", func(it *pmsync.Item) {
		it.DoneAt = time.Date(2026, 2, 3, 4, 5, 6, 789, cet)
		it.UpdatedAt = time.Date(2026, 2, 4, 0, 0, 0, 1, time.UTC)
	})
	mustApply(t, db, store.PageWrite{Items: []pmsync.Item{it}, At: t0.Add(time.Nanosecond)})
	got, ok, err := db.Item(ctx, "jira", "EHR-12")
	if err != nil || !ok {
		t.Fatalf("Item = ok %v, err %v", ok, err)
	}
	if diff := cmp.Diff(it, got); diff != "" {
		t.Errorf("Item round trip (-stored +read):\n%s", diff)
	}
	if got.DoneAt.Nanosecond() != 789 || got.UpdatedAt.Nanosecond() != 1 {
		t.Errorf("nanoseconds read back: done %d, updated %d; want 789, 1", got.DoneAt.Nanosecond(), got.UpdatedAt.Nanosecond())
	}
}
