package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/pmsync/pmsync/store"
)

// pruneLease is held by the replica pruning history, so that on a shared
// database one replica prunes at a time.
const pruneLease = "prune"

// Pruned counts what one prune removed: the store's history, and the
// push audit's entries.
type Pruned struct {
	store.Pruned
	Audit int
}

// Prune removes the history the configured retention no longer keeps (see
// store.Retention for what every prune keeps regardless), and the push
// audit's entries older than retention.audit, and reports how much it
// removed. It runs under the prune lease; when another replica holds it,
// Prune does nothing and reports false.
func (e *Engine) Prune(ctx context.Context) (Pruned, bool, error) {
	taken := e.now()
	fence, got, err := e.acquire(ctx, pruneLease, taken)
	if err != nil {
		return Pruned{}, false, fmt.Errorf("take the prune lease: %w", err)
	}
	if !got {
		e.log.Info().Msg("history is being pruned by another replica")
		return Pruned{}, false, nil
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = e.db.ReleaseLease(rctx, pruneLease, e.holder)
	}()
	ctx, lost := context.WithCancelCause(ctx)
	defer lost(nil)
	go e.heartbeat(ctx, fence, taken, lost)

	r := e.cfg.Retention
	start := e.now()
	var p Pruned
	p.Pruned, err = e.db.Prune(ctx, store.Retention{
		SyncRuns: r.SyncRuns, ItemChanges: r.ItemChanges, Snapshots: r.Snapshots,
		Outbox: r.Outbox, DeletedItems: r.DeletedItems,
	}, start)
	if err == nil && r.Audit > 0 {
		if p.Audit, err = e.db.PruneDeliveries(ctx, start.Add(-r.Audit)); err != nil {
			err = fmt.Errorf("prune the push audit: %w", err)
		}
	}
	e.metrics.observePrune(p)
	if err != nil {
		return p, true, fmt.Errorf("prune history: %w", err)
	}
	e.log.Info().Int("sync_runs", p.SyncRuns).Int("item_changes", p.ItemChanges).Int("snapshots", p.Snapshots).
		Int("outbox", p.Outbox).Int("deleted_items", p.DeletedItems).Int("audit", p.Audit).
		Dur("duration", e.now().Sub(start)).Msg("history pruned")
	return p, true, nil
}
