package sqlite

import (
	"context"
	"fmt"
	"github.com/pmsync/pmsync/store"
	"syscall"
	"testing"
	"time"

	"github.com/pmsync/pmsync"
)

// BenchmarkApplyPage measures a sync of 100k items in pages of 100: a first
// (full) sync into an empty source, a resync where nothing changed, and one
// where every item's state changed. One op is the whole 100k; items/s is
// the figure to compare.
func BenchmarkApplyPage(b *testing.B) {
	const total, size = 100_000, 100
	ctx := context.Background()
	pages := func(source string, state pmsync.State) [][]pmsync.Item {
		out := make([][]pmsync.Item, 0, total/size)
		for p := range total / size {
			items := make([]pmsync.Item, size)
			for i := range items {
				items[i] = task(fmt.Sprintf("EHR-%d", p*size+i), func(it *pmsync.Item) {
					it.Source, it.State = source, state
					it.Labels = []string{"ehr", "wave-2"}
					it.Fields = map[string]any{"team": "integration"}
					it.PlannedCost = ptr(1200)
				})
			}
			out = append(out, items)
		}
		return out
	}
	// cpu is the process's CPU time spent in sync, which a machine shared
	// with other work inflates far less than the wall time.
	var cpu time.Duration
	sync := func(b *testing.B, db *DB, source string, ps [][]pmsync.Item) {
		start := processCPU(b)
		defer func() { cpu += processCPU(b) - start }()
		for _, items := range ps {
			if _, err := db.ApplyPage(ctx, store.PageWrite{Source: source, Items: items, Cursor: "c", At: t0}); err != nil {
				b.Fatal(err)
			}
		}
	}
	startCPU := func() { cpu = 0 }
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.N)*total/b.Elapsed().Seconds(), "items/s")
		b.ReportMetric(cpu.Seconds()*1000/float64(b.N), "cpu-ms/op")
	}

	b.Run("new", func(b *testing.B) {
		db := openTest(b)
		n := 0
		startCPU()
		for b.Loop() {
			source := fmt.Sprintf("bench-%d", n) // a fresh source each op: every item is new
			b.StopTimer()
			ps := pages(source, pmsync.StateTodo)
			b.StartTimer()
			sync(b, db, source, ps)
			n++
		}
		report(b)
	})
	b.Run("unchanged", func(b *testing.B) {
		db := openTest(b)
		ps := pages("bench", pmsync.StateTodo)
		sync(b, db, "bench", ps)
		startCPU()
		for b.Loop() {
			sync(b, db, "bench", ps)
		}
		report(b)
	})
	b.Run("all-changed", func(b *testing.B) {
		db := openTest(b)
		states := [2][][]pmsync.Item{pages("bench", pmsync.StateTodo), pages("bench", pmsync.StateInProgress)}
		sync(b, db, "bench", states[0])
		n := 1
		startCPU()
		for b.Loop() {
			sync(b, db, "bench", states[n%2])
			n++
		}
		report(b)
	})
}

// processCPU is the user and system time this process has used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("read cpu time: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
