package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
)

// pushingLease is held by the process delivering pushes, so that pushes
// are sent by one process at a time (the daemon, a replica, or pmsync push
// by hand). Holding it, a push still marked sending was left so by a
// process that died mid-delivery, and is taken over at once; the pusher's
// guard (its marker check at the target) makes sending it again safe.
const pushingLease = "push"

// PushResult reports what happened to one rollup for one target.
type PushResult struct {
	Target   string
	Program  string
	Version  string
	Status   string // delivered | existing | unchanged | in-progress | failed | dry-run | superseded
	Receipt  string
	Err      error
	Rollup   pmsync.Rollup
	Existing bool
}

// TargetKey names a push target stably: the connection and the key its
// connector gave the target ("tracker:issue=PMO-1").
func TargetKey(p config.Push) string {
	return p.Connection + ":" + p.Target.Key
}

// Push computes the rollups, saves their snapshots, queues one delivery per
// target, program and rollup version in the outbox, and delivers what is
// pending. A version is delivered at most once per target; a newer version
// supersedes an older one still pending. With dryRun nothing is written
// anywhere and the results say what would be pushed.
func (e *Engine) Push(ctx context.Context, dryRun bool) ([]PushResult, error) {
	if e.readOnly && !dryRun {
		return nil, ErrReadOnly
	}
	e.pushMu.Lock()
	defer e.pushMu.Unlock()
	if !dryRun {
		fence, got, err := e.acquire(ctx, pushingLease, e.now())
		if err != nil {
			return nil, fmt.Errorf("take the push lease: %w", err)
		}
		if !got {
			return nil, fmt.Errorf("%w: another pmsync process is pushing", ErrBusy)
		}
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = e.db.ReleaseLease(rctx, pushingLease, e.holder)
		}()
		var lost context.CancelCauseFunc
		ctx, lost = context.WithCancelCause(ctx)
		defer lost(nil)
		go e.heartbeat(ctx, fence, lost)
	}
	rep, err := e.Rollup(ctx, RollupOptions{Save: !dryRun})
	if err != nil {
		return nil, err
	}
	byID := map[string]pmsync.Rollup{}
	for _, r := range rep.Programs {
		byID[r.ID] = r
	}
	var results []PushResult
	var errs []error
	for _, p := range e.cfg.Push {
		key := TargetKey(p)
		if dryRun {
			for _, id := range p.Programs {
				r := byID[id]
				results = append(results, PushResult{Target: key, Program: id, Version: r.Version, Status: "dry-run", Rollup: r})
			}
			continue
		}
		for _, id := range p.Programs {
			r := byID[id]
			payload, err := json.Marshal(r)
			if err != nil {
				return results, fmt.Errorf("encode rollup %s: %w", id, err)
			}
			if _, err := e.db.Enqueue(ctx, key, id, r.Version, payload, e.now()); err != nil {
				return results, fmt.Errorf("queue push of %s to %s: %w", id, key, err)
			}
		}
		res, err := e.deliver(ctx, p, key)
		results = append(results, res...)
		if err != nil {
			errs = append(errs, err)
		}
		for _, id := range p.Programs {
			if !slices.ContainsFunc(res, func(r PushResult) bool { return r.Program == id && r.Version == byID[id].Version }) {
				results = append(results, PushResult{Target: key, Program: id, Version: byID[id].Version, Status: "unchanged", Rollup: byID[id]})
			}
		}
	}
	return results, errors.Join(errs...)
}

// deliver sends what the outbox holds for one target.
func (e *Engine) deliver(ctx context.Context, p config.Push, key string) ([]PushResult, error) {
	pusher, ok := e.conns[p.Connection].(connectors.Pusher)
	if !ok {
		return nil, fmt.Errorf("push to %s: connection %s cannot receive rollups", key, p.Connection)
	}
	pending, err := e.db.PendingPushes(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read outbox of %s: %w", key, err)
	}
	// Only the newest pending version of each program is worth sending.
	newest := map[string]int{}
	for i, pp := range pending {
		newest[pp.Program] = i
	}
	var results []PushResult
	var batch []pmsync.Rollup
	var ids []int64
	// Outcomes are recorded even when ctx ends (SIGTERM, a timeout), or
	// the rows would sit claimed until their lease ran out.
	rec := context.WithoutCancel(ctx)
	var errs []error
	waiting := map[string]bool{} // programs whose older version another process is sending
	for i, pp := range pending {
		if newest[pp.Program] != i {
			ok, err := e.db.SupersedePush(rec, pp.ID, "superseded by a newer rollup", e.now(), 0)
			if err != nil {
				return results, err
			}
			if !ok {
				waiting[pp.Program] = true
				continue
			}
			results = append(results, PushResult{Target: key, Program: pp.Program, Version: pp.Version, Status: "superseded"})
			continue
		}
		var r pmsync.Rollup
		if err := json.Unmarshal(pp.Payload, &r); err != nil {
			_ = e.db.MarkFailed(rec, pp.ID, "stored rollup is unreadable: "+err.Error(), e.now())
			results = append(results, PushResult{Target: key, Program: pp.Program, Version: pp.Version, Status: "failed", Err: err})
			continue
		}
		if !slices.Contains(p.Programs, pp.Program) {
			continue // the config no longer sends this program here
		}
		claimed := false
		if !waiting[pp.Program] {
			var err error
			if claimed, err = e.db.ClaimPush(ctx, pp.ID, e.now(), 0); err != nil {
				return results, err
			}
		}
		if !claimed {
			// Sending it now could land before the older one in flight.
			results = append(results, PushResult{Target: key, Program: pp.Program, Version: pp.Version, Status: "in-progress", Rollup: r})
			continue
		}
		batch = append(batch, r)
		ids = append(ids, pp.ID)
	}
	if len(batch) == 0 {
		return results, nil
	}
	receipts, pushErr := pusher.Push(ctx, p.Target, batch)
	got := map[string]connectors.Receipt{}
	for _, rc := range receipts {
		got[rc.Program] = rc
	}
	for i, r := range batch {
		res := PushResult{Target: key, Program: r.ID, Version: r.Version, Rollup: r}
		rc, ok := got[r.ID]
		switch {
		case ok:
			res.Status, res.Receipt, res.Existing = "delivered", rc.ID, rc.Existing
			if rc.Existing {
				res.Status = "existing"
			}
			if rc.URL != "" {
				res.Receipt = rc.URL
			}
			if err := e.db.MarkDelivered(rec, ids[i], res.Receipt, e.now()); err != nil {
				errs = append(errs, fmt.Errorf("mark push %d delivered: %w", ids[i], err))
			}
		default:
			res.Status = "failed"
			res.Err = pushErr
			if res.Err == nil {
				res.Err = errors.New("the connector returned no receipt")
			}
			if err := e.db.MarkFailed(rec, ids[i], res.Err.Error(), e.now()); err != nil {
				errs = append(errs, fmt.Errorf("mark push %d failed: %w", ids[i], err))
			}
		}
		e.metrics.observePush(res)
		e.logPush(res)
		results = append(results, res)
	}
	if pushErr != nil {
		errs = append(errs, fmt.Errorf("push to %s: %w", key, pushErr))
	}
	return results, errors.Join(errs...)
}

// logPush writes one line per delivery attempt at info: pushes are rare
// (once per rollup version and target) and each one changes a tool people
// read.
func (e *Engine) logPush(r PushResult) {
	ev := e.log.Info()
	if r.Err != nil {
		ev = e.log.Warn().Str("err", r.Err.Error())
	}
	ev.Str("target", r.Target).Str("program", r.Program).Str("version", r.Version).Str("outcome", r.Status).
		Str("receipt", r.Receipt).Msg("push")
}
