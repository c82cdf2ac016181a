package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pmsync/pmsync/store"
)

// pruneBatch bounds the rows one prune transaction deletes, so that no
// transaction holds its locks long while a large backlog is worked off.
const pruneBatch = 2000

// Prune removes the history r no longer keeps, as store.Retention
// describes. Replicas may prune at once: each batch deletes rows by id
// (SKIP LOCKED leaves a row another replica is deleting to it), and a row
// kept for being the newest of its kind is judged in the same statement.
func (db *DB) Prune(ctx context.Context, r store.Retention, now time.Time) (store.Pruned, error) {
	var p store.Pruned
	kinds := []struct {
		name  string
		keep  time.Duration
		n     *int
		query string // deletes at most $2 rows older than $1
	}{
		{"sync runs", r.SyncRuns, &p.SyncRuns, `DELETE FROM sync_runs WHERE id IN (
			SELECT id FROM sync_runs r WHERE started < $1 AND status <> 'running'
			AND id <> (SELECT max(id) FROM sync_runs WHERE source = r.source)
			AND id <> coalesce((SELECT max(id) FROM sync_runs WHERE source = r.source AND status <> 'running'), 0)
			AND id <> coalesce((SELECT max(id) FROM sync_runs WHERE source = r.source AND status = 'ok'), 0)
			AND id <> coalesce((SELECT min(id) FROM sync_runs WHERE source = r.source AND status = 'ok'), 0)
			LIMIT $2 FOR UPDATE SKIP LOCKED)`},
		{"item changes", r.ItemChanges, &p.ItemChanges, `DELETE FROM item_changes WHERE id IN (
			SELECT id FROM item_changes c WHERE at < $1
			AND id <> (SELECT min(id) FROM item_changes f WHERE f.source = c.source AND f.external_id = c.external_id AND f.field = c.field)
			LIMIT $2 FOR UPDATE SKIP LOCKED)`},
		{"snapshots", r.Snapshots, &p.Snapshots, `DELETE FROM snapshots WHERE id IN (
			SELECT id FROM snapshots s WHERE at < $1
			AND id <> (SELECT max(id) FROM snapshots WHERE program = s.program)
			LIMIT $2 FOR UPDATE SKIP LOCKED)`},
		{"outbox", r.Outbox, &p.Outbox, `DELETE FROM outbox WHERE id IN (
			SELECT id FROM outbox WHERE status = 'delivered' AND updated < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`},
		// Deleting an item deletes its changes (ON DELETE CASCADE).
		{"deleted items", r.DeletedItems, &p.DeletedItems, `DELETE FROM items WHERE (source, external_id) IN (
			SELECT source, external_id FROM items WHERE deleted_at IS NOT NULL AND deleted_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`},
	}
	for _, k := range kinds {
		if k.keep <= 0 {
			continue
		}
		cutoff := now.Add(-k.keep).UTC()
		for {
			if err := ctx.Err(); err != nil {
				return p, fmt.Errorf("prune %s: %w", k.name, err)
			}
			var n int64
			err := db.tx(ctx, func(tx pgx.Tx) error {
				tag, err := tx.Exec(ctx, k.query, cutoff, pruneBatch)
				n = tag.RowsAffected()
				return err
			})
			if err != nil {
				return p, fmt.Errorf("prune %s older than %s: %w", k.name, cutoff.Format(time.RFC3339), err)
			}
			*k.n += int(n)
			if n < pruneBatch {
				break
			}
		}
	}
	return p, nil
}
