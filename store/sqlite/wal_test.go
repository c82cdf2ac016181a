package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
)

// writePages stores n pages of 200 items each, every page changing every
// item, so that each one adds to the WAL.
func writePages(t *testing.T, db *DB, n int) {
	t.Helper()
	for p := range n {
		items := make([]pmsync.Item, 200)
		for i := range items {
			items[i] = task(fmt.Sprintf("A-%d", i), func(it *pmsync.Item) { it.Title = fmt.Sprintf("Interface build %d, revision %d", i, p) })
		}
		if _, err := db.ApplyPage(context.Background(), store.PageWrite{Source: "jira", Items: items, At: t0, Cursor: fmt.Sprint(p)}); err != nil {
			t.Fatal(err)
		}
	}
}

// keepReading keeps n readers reading the items until the returned stop is
// called, and reports how many reads they made.
func keepReading(t *testing.T, db *DB, n int) (stop func() int64) {
	t.Helper()
	var wg sync.WaitGroup
	var reads atomic.Int64
	done := make(chan struct{})
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := db.Items(context.Background()); err != nil {
					t.Error(err)
					return
				}
				reads.Add(1)
			}
		})
	}
	return func() int64 {
		close(done)
		wg.Wait()
		return reads.Load()
	}
}

// The writer connection carries journal_size_limit, set by the connect
// hook (the DSN has no key for it).
func TestJournalSizeLimitIsSet(t *testing.T) {
	for _, tt := range []struct {
		opts Options
		want int64
	}{
		{Options{}, DefaultJournalSizeLimit},
		{Options{JournalSizeLimit: 1 << 20}, 1 << 20},
		{Options{JournalSizeLimit: -1}, -1}, // SQLite's own default: no limit
	} {
		db, err := OpenWith(context.Background(), filepath.Join(t.TempDir(), "pmsync.db"), tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		var got int64
		if err := db.write.QueryRow("PRAGMA journal_size_limit").Scan(&got); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if got != tt.want {
			t.Errorf("journal_size_limit with %+v = %d, want %d", tt.opts, got, tt.want)
		}
	}
}

// Readers that never stop keep SQLite's passive checkpoints from finishing,
// which is how the WAL grew without end in the soak. The TRUNCATE
// checkpoint waits for the readers of the moment and empties the file all
// the same.
func TestCheckpointTruncatesTheWALUnderConstantReaders(t *testing.T) {
	db, err := OpenWith(context.Background(), filepath.Join(t.TempDir(), "pmsync.db"), Options{CheckpointEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	writePages(t, db, 1)
	stop := keepReading(t, db, readers) // every reader connection busy all the time
	writePages(t, db, 20)
	grown := db.WALSize()
	// What SQLite does by itself: a passive checkpoint copies what it can
	// and never gives the file back.
	if _, err := db.write.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
		t.Fatal(err)
	}
	passive := db.WALSize()
	c, err := db.CheckpointWAL(context.Background())
	reads := stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("WAL %d bytes, %d after a passive checkpoint; truncating: %+v; %d reads meanwhile", grown, passive, c, reads)
	if grown < 512<<10 || passive < grown {
		t.Fatalf("the WAL grew to %d bytes and a passive checkpoint left %d; the test needs a large WAL that SQLite keeps to mean anything", grown, passive)
	}
	if c.Busy || c.After != 0 || c.Before != passive {
		t.Errorf("checkpoint under readers = %+v, want it complete and the WAL emptied from %d bytes", c, passive)
	}
	if reads == 0 {
		t.Errorf("the readers read nothing")
	}
}

// The periodic checkpoint keeps the WAL bounded while readers and a writer
// work at once.
func TestPeriodicCheckpoint(t *testing.T) {
	db, err := OpenWith(context.Background(), filepath.Join(t.TempDir(), "pmsync.db"), Options{CheckpointEvery: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stop := keepReading(t, db, readers) // every reader connection busy all the time
	writePages(t, db, 20)
	deadline := time.Now().Add(10 * time.Second)
	for db.WALSize() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	st := db.WALStats()
	if db.WALSize() != 0 || st.Checkpoints == 0 || st.Failed != 0 {
		t.Errorf("WAL %d bytes, stats %+v; want it emptied by the periodic checkpoint", db.WALSize(), st)
	}
}

// IntegrityCheck reports a sound file as sound, and a damaged one as not.
func TestIntegrityCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pmsync.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	writePages(t, db, 3)
	if p, err := db.IntegrityCheck(context.Background()); err != nil || len(p) != 0 {
		t.Fatalf("sound database: %v, %v", p, err)
	}
	db.Close()
	// Overwrite part of an index page: the table still reads, the index
	// no longer matches it.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	junk := make([]byte, 4096)
	for i := range junk {
		junk[i] = 0x5a
	}
	if _, err := f.WriteAt(junk, fi.Size()-8192); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db, err = Open(context.Background(), path)
	if err != nil {
		t.Fatalf("the damaged file does not open, so the check is never reached: %v", err)
	}
	defer db.Close()
	p, err := db.IntegrityCheck(context.Background())
	if err == nil && len(p) == 0 {
		t.Errorf("a damaged database passed the integrity check")
	}
	t.Logf("damaged: %v, %v", p, err)
}
