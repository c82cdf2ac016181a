package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"
)

// The WAL is bounded two ways. SQLite's own checkpoints run after commits
// and are PASSIVE: they copy what no reader still needs and never wait, so
// a dashboard whose readers always hold a snapshot keeps them from ever
// finishing, and the WAL file grows without end (a soak saw 1.7 → 36 MB in
// five minutes). So every CheckpointEvery (sooner once the WAL passes half
// the journal size limit, or after a checkpoint that could not finish) a
// TRUNCATE checkpoint waits, up to the busy timeout, for the readers of the
// moment to finish, copies the whole log back and empties the file. journal_size_limit caps what SQLite
// leaves behind when it restarts the log between those.
const (
	// DefaultCheckpointEvery is how often the writer truncates the WAL.
	DefaultCheckpointEvery = 30 * time.Second
	// DefaultJournalSizeLimit caps, in bytes, the WAL file SQLite keeps
	// after restarting the log.
	DefaultJournalSizeLimit = 16 << 20
)

// Options tune a DB. Zero values take the defaults.
type Options struct {
	// CheckpointEvery is how often the WAL is truncated; a negative value
	// turns the periodic checkpoint off (SQLite's passive ones still run).
	CheckpointEvery time.Duration
	// JournalSizeLimit caps the WAL file SQLite keeps after a restart of
	// the log, in bytes; a negative value sets no cap.
	JournalSizeLimit int64
}

// hookConnector opens connections through a driver whose ConnectHook sets
// what the DSN cannot (mattn/go-sqlite3 has no DSN key for
// journal_size_limit), on every connection the pool opens, not once.
type hookConnector struct {
	dsn string
	drv *sqlite3.SQLiteDriver
}

func (c hookConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c hookConnector) Driver() driver.Driver                        { return c.drv }

func newConnector(dsn string, journalLimit int64) hookConnector {
	drv := &sqlite3.SQLiteDriver{}
	if journalLimit >= 0 {
		drv.ConnectHook = func(conn *sqlite3.SQLiteConn) error {
			if _, err := conn.Exec(fmt.Sprintf("PRAGMA journal_size_limit = %d", journalLimit), nil); err != nil {
				return fmt.Errorf("set journal_size_limit: %w", err)
			}
			return nil
		}
	}
	return hookConnector{dsn: dsn, drv: drv}
}

// Checkpoint is the outcome of one WAL checkpoint.
type Checkpoint struct {
	// Busy is set when the checkpoint could not finish: a reader still
	// held an old snapshot when the busy timeout ran out. The next one
	// tries again.
	Busy bool
	// Before and After are the sizes of the WAL file in bytes.
	Before, After int64
}

// CheckpointWAL copies the whole WAL back into the database file and
// truncates it, waiting for the readers of the moment (never for new ones)
// up to the busy timeout.
func (db *DB) CheckpointWAL(ctx context.Context) (Checkpoint, error) {
	c := Checkpoint{Before: db.WALSize()}
	// The two counts it returns are both zero after a TRUNCATE that
	// finished, so only busy tells anything.
	var busy, frames, copied int
	if err := db.write.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &copied); err != nil {
		return c, fmt.Errorf("checkpoint %s: %w", db.path, err)
	}
	c.Busy = busy != 0
	c.After = db.WALSize()
	db.walMu.Lock()
	db.walStats.Checkpoints++
	if c.Busy {
		db.walStats.Busy++
	}
	db.walMu.Unlock()
	return c, nil
}

// WALSize returns the size of the WAL file in bytes (0 when there is none).
func (db *DB) WALSize() int64 {
	fi, err := os.Stat(db.abs + "-wal")
	if err != nil {
		return 0
	}
	return fi.Size()
}

// WALStats counts the periodic checkpoints so far.
type WALStats struct {
	Checkpoints int // run
	Busy        int // of which could not finish
	Failed      int // returned an error
}

// WALStats returns what the periodic checkpoints have done so far.
func (db *DB) WALStats() WALStats {
	db.walMu.Lock()
	defer db.walMu.Unlock()
	return db.walStats
}

// checkpointer truncates the WAL every interval until stop is closed. It
// looks at the WAL more often than that (every 5 s at most) and checkpoints
// early when the WAL has passed pressure bytes, or when the previous
// checkpoint could not finish (a reader held an old snapshot past the busy
// timeout); it skips a turn when nothing was written since the last one.
func (db *DB) checkpointer(every time.Duration, pressure int64, stop <-chan struct{}, done *sync.WaitGroup) {
	defer done.Done()
	t := time.NewTicker(min(every, 5*time.Second))
	defer t.Stop()
	last, retry := time.Now(), false
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		size := db.WALSize()
		if size == 0 || (!retry && time.Since(last) < every && (pressure <= 0 || size < pressure)) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*busyTimeout*time.Millisecond)
		c, err := db.CheckpointWAL(ctx)
		cancel()
		last, retry = time.Now(), err != nil || c.Busy
		if err != nil {
			db.walMu.Lock()
			db.walStats.Failed++
			db.walMu.Unlock()
		}
	}
}

// IntegrityCheck runs SQLite's integrity_check over the whole database and
// returns the problems it reports; none means the file is sound.
func (db *DB) IntegrityCheck(ctx context.Context) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return nil, fmt.Errorf("integrity check of %s: %w", db.path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, fmt.Errorf("integrity check of %s: %w", db.path, err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("integrity check of %s: %w", db.path, err)
	}
	return problems, nil
}
