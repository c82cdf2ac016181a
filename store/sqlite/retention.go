package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/pmsync/pmsync/store"
)

// pruneBatch bounds the rows one prune transaction deletes, so that the
// writer is never held long and the WAL stays small while a large backlog
// is worked off.
const pruneBatch = 2000

// Prune removes the history r no longer keeps, as store.Retention
// describes, and checkpoints the WAL afterwards so that the space the
// deletions wrote to the log is returned at once.
func (db *DB) Prune(ctx context.Context, r store.Retention, now time.Time) (store.Pruned, error) {
	var p store.Pruned
	kinds := []struct {
		name string
		keep time.Duration
		n    *int
		// query deletes at most pruneBatch rows older than the cutoff (?1),
		// limit ?2.
		query string
	}{
		{"sync runs", r.SyncRuns, &p.SyncRuns, `DELETE FROM sync_runs WHERE id IN (
			SELECT id FROM sync_runs r WHERE started < ?1 AND status <> 'running'
			AND id <> (SELECT MAX(id) FROM sync_runs WHERE source = r.source)
			AND id <> COALESCE((SELECT MAX(id) FROM sync_runs WHERE source = r.source AND status <> 'running'), 0)
			AND id <> COALESCE((SELECT MAX(id) FROM sync_runs WHERE source = r.source AND status = 'ok'), 0)
			AND id <> COALESCE((SELECT MIN(id) FROM sync_runs WHERE source = r.source AND status = 'ok'), 0)
			LIMIT ?2)`},
		{"item changes", r.ItemChanges, &p.ItemChanges, `DELETE FROM item_changes WHERE id IN (
			SELECT id FROM item_changes c WHERE at < ?1
			AND id <> (SELECT MIN(id) FROM item_changes f WHERE f.source = c.source AND f.external_id = c.external_id AND f.field = c.field)
			LIMIT ?2)`},
		{"snapshots", r.Snapshots, &p.Snapshots, `DELETE FROM snapshots WHERE id IN (
			SELECT id FROM snapshots s WHERE at < ?1
			AND id <> (SELECT MAX(id) FROM snapshots WHERE program = s.program)
			LIMIT ?2)`},
		{"outbox", r.Outbox, &p.Outbox, `DELETE FROM outbox WHERE id IN (
			SELECT id FROM outbox WHERE status = 'delivered' AND updated < ?1 LIMIT ?2)`},
		// Deleting an item deletes its changes (ON DELETE CASCADE).
		{"deleted items", r.DeletedItems, &p.DeletedItems, `DELETE FROM items WHERE rowid IN (
			SELECT rowid FROM items WHERE deleted_at IS NOT NULL AND deleted_at < ?1 LIMIT ?2)`},
	}
	for _, k := range kinds {
		if k.keep <= 0 {
			continue
		}
		cutoff := formatTime(now.Add(-k.keep))
		for {
			if err := ctx.Err(); err != nil {
				return p, fmt.Errorf("prune %s: %w", k.name, err)
			}
			var n int64
			err := db.writeTx(ctx, func(tx *sql.Tx) error {
				res, err := tx.ExecContext(ctx, k.query, cutoff, pruneBatch)
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return p, fmt.Errorf("prune %s older than %s: %w", k.name, cutoff, err)
			}
			*k.n += int(n)
			if n < pruneBatch {
				break
			}
		}
	}
	if _, err := db.CheckpointWAL(ctx); err != nil {
		return p, fmt.Errorf("prune: %w", err)
	}
	return p, nil
}
