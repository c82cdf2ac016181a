package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors/httpapi"
	"github.com/pmsync/pmsync/store"
)

// This file is what the dashboard reads of the engine beyond the rollup:
// the configured programs, the state of every source, the items of a
// program and the pushes made for it, all in the configuration's time zone.

// Location returns the configuration's time zone: every date and time the
// dashboard shows is in it.
func (e *Engine) Location() *time.Location { return e.cfg.Location() }

// Programs returns the configured programs, in file order.
func (e *Engine) Programs() []pmsync.Program { return e.cfg.ProgramList() }

// Waits sums the time a connection's requests spent waiting before they
// were sent: for the vendor's rate limit (the shared token bucket, or a
// Retry-After) and for retry backoffs.
type Waits struct {
	Count int
	Total time.Duration
	// Last is when the latest wait began; zero when there was none.
	Last time.Time
}

// waitLog counts the waits of every connection since the engine was built.
// Connectors wait through Params.Sleep, so wrapping it sees every wait
// without a connector knowing.
type waitLog struct {
	mu    sync.Mutex
	by    map[string]Waits
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

func newWaitLog(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) *waitLog {
	if sleep == nil {
		sleep = httpapi.Sleep
	}
	return &waitLog{by: map[string]Waits{}, now: now, sleep: sleep}
}

// sleeper returns the Sleep a connection's connector gets.
func (l *waitLog) sleeper(connection string) func(ctx context.Context, d time.Duration) error {
	return func(ctx context.Context, d time.Duration) error {
		if d > 0 {
			l.mu.Lock()
			w := l.by[connection]
			w.Count++
			w.Total += d
			w.Last = l.now()
			l.by[connection] = w
			l.mu.Unlock()
		}
		return l.sleep(ctx, d)
	}
}

func (l *waitLog) of(connection string) Waits {
	if l == nil {
		return Waits{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.by[connection]
}

// SourceReport is what an operator needs to know of one source: its latest
// runs, the records it quarantined and why, when it syncs next and how
// much its connection waited on the vendor.
type SourceReport struct {
	Source     string
	Program    string
	Connection string
	Kind       string // the connection's connector kind
	// Runs are the latest runs, newest first.
	Runs []store.Run
	// LastSuccess is when the source last synced successfully; zero when
	// it never did.
	LastSuccess time.Time
	// Quarantine holds the records that failed to map, newest failure
	// first, at most the number asked for; Quarantined counts all of them.
	Quarantine  []store.Quarantined
	Quarantined int
	// NextSync and NextDeletions are the next scheduled sync and deletion
	// check, in the configuration's time zone; zero when not scheduled.
	NextSync      time.Time
	NextDeletions time.Time
	// Waits are the connection's waits since this process started (every
	// source of the connection shares them).
	Waits Waits
	// Lease is the connection's sync lease as stored (who syncs it, or last
	// synced it, and until when), or nil when it never had one. On a
	// shared database it tells which replica is pulling the connection.
	Lease *store.Lease
}

// Schedule is when the recurring jobs run next, in the configuration's
// time zone; a zero time is a job without a schedule.
type Schedule struct {
	Sync, Rollup, Deletions time.Time
}

// NextRuns returns when each scheduled job runs next after now.
func (e *Engine) NextRuns() Schedule {
	now := e.now().In(e.cfg.Location())
	next := func(spec string) time.Time {
		if spec == "" {
			return time.Time{}
		}
		// config validated every spec with this same parser.
		s, err := cron.ParseStandard(spec)
		if err != nil {
			return time.Time{}
		}
		return s.Next(now)
	}
	return Schedule{Sync: next(e.cfg.Schedule.Sync), Rollup: next(e.cfg.Schedule.Rollup), Deletions: next(e.cfg.Schedule.Deletions)}
}

// SourceReports describes every configured source, in file order, with at
// most runs runs and quarantined quarantine entries each.
func (e *Engine) SourceReports(ctx context.Context, runs, quarantined int) ([]SourceReport, error) {
	next := e.NextRuns()
	leases, err := e.db.Leases(ctx)
	if err != nil {
		return nil, fmt.Errorf("read leases: %w", err)
	}
	byName := map[string]store.Lease{}
	for _, l := range leases {
		byName[l.Name] = l
	}
	var out []SourceReport
	for _, s := range e.cfg.Sources() {
		r := SourceReport{Source: s.Name, Program: s.Program, Connection: s.Connection.Name, Kind: s.Connection.Kind,
			NextSync: next.Sync, NextDeletions: next.Deletions, Waits: e.waits.of(s.Connection.Name)}
		if l, ok := byName[syncLeaseName(s.Connection.Name)]; ok {
			r.Lease = &l
		}
		var err error
		if r.Runs, err = e.db.Runs(ctx, s.Name, runs); err != nil {
			return nil, fmt.Errorf("read runs of source %s: %w", s.Name, err)
		}
		if r.LastSuccess, _, err = e.db.LastSuccess(ctx, s.Name); err != nil {
			return nil, fmt.Errorf("read last success of source %s: %w", s.Name, err)
		}
		q, err := e.db.Quarantine(ctx, s.Name)
		if err != nil {
			return nil, fmt.Errorf("read quarantine of source %s: %w", s.Name, err)
		}
		r.Quarantined = len(q)
		r.Quarantine = q[:min(len(q), max(quarantined, 0))]
		out = append(out, r)
	}
	return out, nil
}

// ItemFilter selects items by kind and state; an empty list selects all.
type ItemFilter struct {
	Kinds  []pmsync.Kind
	States []pmsync.State
}

// ProgramItems returns the live items of a program's sources that pass f,
// by source and external id.
func (e *Engine) ProgramItems(ctx context.Context, program string, f ItemFilter) ([]pmsync.Item, error) {
	p, err := e.program(program)
	if err != nil {
		return nil, err
	}
	if len(p.Sources) == 0 {
		return []pmsync.Item{}, nil
	}
	items, err := e.db.Items(ctx, p.Sources...)
	if err != nil {
		return nil, fmt.Errorf("read items of program %s: %w", program, err)
	}
	out := items[:0]
	for _, it := range items {
		if (len(f.Kinds) == 0 || slices.Contains(f.Kinds, it.Kind)) && (len(f.States) == 0 || slices.Contains(f.States, it.State)) {
			out = append(out, it)
		}
	}
	return out, nil
}

func (e *Engine) program(id string) (pmsync.Program, error) {
	programs := e.cfg.ProgramList()
	known := make([]string, 0, len(programs))
	for _, p := range programs {
		if p.ID == id {
			return p, nil
		}
		known = append(known, p.ID)
	}
	return pmsync.Program{}, fmt.Errorf("%w %q (programs: %v)", ErrNoSuchProgram, id, known)
}

// RulesFor returns the rollup rules of a program (thresholds the dashboard
// draws, such as the red-flag score).
func (e *Engine) RulesFor(program string) pmsync.Rules { return e.cfg.RulesFor(program) }
