package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"
)

// Run is the daemon loop: it syncs once at start, then syncs, checks for
// deletions and rolls up + pushes on the configured cron schedules until ctx
// is cancelled (hard stop) or stop is closed (graceful: the running sync
// finishes its current page). It returns when every running job has ended.
func (e *Engine) Run(ctx context.Context, stop <-chan struct{}) error {
	runTimeout := e.cfg.Sync.RunTimeout
	if runTimeout <= 0 {
		runTimeout = 30 * time.Minute
	}
	jobCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	logger := cronLogger{e.log}
	c := cron.New(
		cron.WithLocation(e.cfg.Location()),
		// The default chain is empty: without Recover a panicking job kills
		// the daemon, and without SkipIfStillRunning a slow sync piles up.
		cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)),
	)
	// Syncs are bounded per source (SourceTimeout), so that a job waiting
	// for another to release the sync lock does not eat its own budget;
	// other jobs are bounded as a whole.
	job := func(name string, fn func(ctx context.Context) error) cron.FuncJob {
		return func() {
			if stopped(stop) {
				return
			}
			ctx, cancel := jobCtx, context.CancelFunc(func() {})
			if name == "rollup" || name == "prune" {
				ctx, cancel = context.WithTimeout(jobCtx, runTimeout)
			}
			defer cancel()
			if err := fn(ctx); err != nil {
				e.log.Error().Str("job", name).Str("err", err.Error()).Msg("scheduled job failed")
			}
		}
	}
	syncJob := job("sync", func(ctx context.Context) error {
		_, err := e.Sync(ctx, SyncOptions{Stop: stop, SourceTimeout: runTimeout, SkipBusy: true, Backoff: true})
		return err
	})
	deletionJob := job("deletions", func(ctx context.Context) error {
		_, err := e.Sync(ctx, SyncOptions{Stop: stop, Deletions: true, SourceTimeout: runTimeout, SkipBusy: true, Backoff: true})
		return err
	})
	rollupJob := job("rollup", func(ctx context.Context) error {
		_, err := e.ScheduledPush(ctx)
		return err
	})
	pruneJob := job("prune", func(ctx context.Context) error {
		_, _, err := e.Prune(ctx)
		return err
	})
	for _, j := range []struct {
		name, spec string
		job        cron.Job
	}{
		{"sync", e.cfg.Schedule.Sync, syncJob},
		{"deletions", e.cfg.Schedule.Deletions, deletionJob},
		{"rollup", e.cfg.Schedule.Rollup, rollupJob},
		{"prune", e.cfg.Schedule.Prune, pruneJob},
	} {
		if j.spec == "" {
			continue
		}
		if _, err := c.AddJob(j.spec, j.job); err != nil {
			return fmt.Errorf("schedule %s %q: %w", j.name, j.spec, err)
		}
	}

	e.log.Info().Str("sync", e.cfg.Schedule.Sync).Str("rollup", e.cfg.Schedule.Rollup).Str("deletions", e.cfg.Schedule.Deletions).
		Str("prune", e.cfg.Schedule.Prune).Msg("scheduler started")
	// Sync at once so the dashboard is current. No snapshot is saved here:
	// snapshots come only from the rollup schedule, so that "what changed"
	// in a pushed update means since the previous scheduled update, not
	// since the daemon last restarted.
	job("startup", func(ctx context.Context) error {
		_, err := e.Sync(ctx, SyncOptions{Stop: stop, SourceTimeout: runTimeout, SkipBusy: true, Backoff: true})
		return err
	})()
	c.Start()
	select {
	case <-ctx.Done():
	case <-stop:
	}
	done := c.Stop()
	select {
	case <-done.Done():
	case <-ctx.Done():
		cancel()
		<-done.Done()
	}
	e.log.Info().Msg("scheduler stopped")
	return nil
}

// rollupLease is held by the replica running the rollup schedule, so that
// on a shared database the rollup runs on one replica at a time.
const rollupLease = "rollup"

// ScheduledPush is the rollup schedule's job: it rolls up and pushes under
// the rollup lease, and reports whether it ran. Another replica holding the
// lease means this one has nothing to do this time.
func (e *Engine) ScheduledPush(ctx context.Context) (bool, error) {
	fence, got, err := e.acquire(ctx, rollupLease, e.now())
	if err != nil {
		return false, fmt.Errorf("take the rollup lease: %w", err)
	}
	if !got {
		e.log.Info().Msg("rollup runs on another replica this time")
		return false, nil
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = e.db.ReleaseLease(rctx, rollupLease, e.holder)
	}()
	ctx, lost := context.WithCancelCause(ctx)
	defer lost(nil)
	go e.heartbeat(ctx, fence, lost)
	_, err = e.Push(ctx, false)
	return true, err
}

// cronLogger adapts zerolog to cron's logger.
type cronLogger struct{ log zerolog.Logger }

func (l cronLogger) Info(msg string, kv ...any) {
	l.log.Debug().Fields(kv).Msg("cron " + msg)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error().Fields(kv).Str("err", err.Error()).Msg("cron " + msg)
}
