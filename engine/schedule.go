package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync/connectors"
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
	var next func(time.Time) time.Time // the sync schedule's next run
	if e.cfg.Schedule.Sync != "" {
		sched, err := cron.ParseStandard(e.cfg.Schedule.Sync)
		if err != nil {
			return fmt.Errorf("schedule sync %q: %w", e.cfg.Schedule.Sync, err)
		}
		next = sched.Next
	}
	retryCtx, stopRetries := context.WithCancel(jobCtx)
	defer stopRetries()
	early := &earlyRetries{e: e, ctx: retryCtx, stop: stop, next: next, timeout: runTimeout, count: map[string]int{}, waiting: map[string]bool{}}
	syncJob := job("sync", func(ctx context.Context) error {
		res, err := e.Sync(ctx, SyncOptions{Stop: stop, SourceTimeout: runTimeout, SkipBusy: true, Backoff: true})
		early.after(res)
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
		res, err := e.Sync(ctx, SyncOptions{Stop: stop, SourceTimeout: runTimeout, SkipBusy: true, Backoff: true})
		early.after(res)
		return err
	})()
	c.Start()
	select {
	case <-ctx.Done():
	case <-stop:
	}
	stopRetries()
	early.wg.Wait()
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

// maxEarlyRetries bounds how many times in a row a source is synced again
// ahead of its schedule.
const maxEarlyRetries = 3

// earlyRetries syncs again, ahead of the schedule, a source whose sync
// failed with a wait the vendor asked for (a Retry-After longer than the
// HTTP client sits out): once that wait has passed, when it ends before the
// schedule's next run. A connector that resumes where it stopped (an
// unfinished walk in its cursor) then goes on while its position is fresh.
type earlyRetries struct {
	e       *Engine
	ctx     context.Context
	stop    <-chan struct{}
	next    func(time.Time) time.Time // nil: no sync schedule
	timeout time.Duration

	mu      sync.Mutex
	count   map[string]int  // source → early retries in a row
	waiting map[string]bool // source → an early retry is due
	wg      sync.WaitGroup
}

// RetryAfter is the wait a failed sync's error asks for before the source
// is tried again: the Retry-After of a vendor's "not now" answer (429 or
// 5xx) in its chain.
func RetryAfter(err error) (time.Duration, bool) {
	var ae *connectors.APIError
	if errors.As(err, &ae) && ae.Temporary() && ae.RetryAfter > 0 {
		return ae.RetryAfter, true
	}
	return 0, false
}

// after schedules an early retry for each source of results that asked for
// one, and forgets the count of those that did not.
func (r *earlyRetries) after(results []SourceResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, res := range results {
		wait, ok := RetryAfter(res.Err)
		if !ok || res.Status != "failed" {
			delete(r.count, res.Source)
			continue
		}
		if r.waiting[res.Source] || r.count[res.Source] >= maxEarlyRetries {
			continue
		}
		if r.next != nil {
			if now := r.e.now(); !now.Add(wait).Before(r.next(now)) {
				continue // the schedule comes first
			}
		}
		r.waiting[res.Source] = true
		r.count[res.Source]++
		r.e.log.Info().Str("source", res.Source).Dur("duration", wait).Msg("source asked to wait; syncing it again after the wait")
		r.wg.Add(1)
		go r.retry(res.Source, wait)
	}
}

func (r *earlyRetries) retry(source string, wait time.Duration) {
	defer r.wg.Done()
	err := r.e.sleep(r.ctx, wait)
	r.mu.Lock()
	r.waiting[source] = false
	r.mu.Unlock()
	if err != nil || stopped(r.stop) {
		return
	}
	// Not Backoff: the retry is timed by the vendor's own wait, which the
	// breaker holds the schedule to as well, and it is bounded
	// (maxEarlyRetries); its outcome still counts toward the breaker.
	res, err := r.e.Sync(r.ctx, SyncOptions{Sources: []string{source}, Stop: r.stop, SourceTimeout: r.timeout, SkipBusy: true})
	if err != nil {
		r.e.log.Error().Str("job", "retry").Str("source", source).Str("err", err.Error()).Msg("scheduled job failed")
	}
	r.after(res)
}

// rollupLease is held by the replica running the rollup schedule, so that
// on a shared database the rollup runs on one replica at a time.
const rollupLease = "rollup"

// ScheduledPush is the rollup schedule's job: it rolls up and pushes under
// the rollup lease, and reports whether it ran. Another replica holding the
// lease means this one has nothing to do this time.
func (e *Engine) ScheduledPush(ctx context.Context) (bool, error) {
	taken := e.now()
	fence, got, err := e.acquire(ctx, rollupLease, taken)
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
	go e.heartbeat(ctx, fence, taken, lost)
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
