package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/pmsync/pmsync"
)

// ErrNoSuchProgram is returned for a program id the configuration lacks.
var ErrNoSuchProgram = errors.New("no such program")

// RollupOptions select what a rollup covers.
type RollupOptions struct {
	Programs []string // program ids; empty means all
	// Save stores a snapshot of each rollup whose content changed (the
	// history behind trends and "what changed").
	Save bool
}

// Rollup computes the report for the selected programs as of today in the
// configured time zone.
func (e *Engine) Rollup(ctx context.Context, opts RollupOptions) (pmsync.Report, error) {
	now := e.now()
	rep := pmsync.Report{Schema: pmsync.Schema, AsOf: pmsync.DateOf(now.In(e.cfg.Location())), GeneratedAt: now.UTC().Truncate(1e9), Programs: []pmsync.Rollup{}}
	programs := e.cfg.ProgramList()
	for _, id := range opts.Programs {
		if !slices.ContainsFunc(programs, func(p pmsync.Program) bool { return p.ID == id }) {
			var known []string
			for _, p := range programs {
				known = append(known, p.ID)
			}
			return rep, fmt.Errorf("%w %q (programs: %v)", ErrNoSuchProgram, id, known)
		}
	}
	for _, p := range programs {
		if len(opts.Programs) > 0 && !slices.Contains(opts.Programs, p.ID) {
			continue
		}
		r, err := e.rollupProgram(ctx, p, rep.AsOf, opts.Save)
		if err != nil {
			return rep, fmt.Errorf("rollup %s: %w", p.ID, err)
		}
		rep.Programs = append(rep.Programs, r)
	}
	return rep, nil
}

func (e *Engine) rollupProgram(ctx context.Context, p pmsync.Program, asOf pmsync.Date, save bool) (pmsync.Rollup, error) {
	rules := e.cfg.RulesFor(p.ID)
	items, err := e.db.Items(ctx, p.Sources...)
	if err != nil {
		return pmsync.Rollup{}, fmt.Errorf("read items: %w", err)
	}
	now := e.now()
	var statuses []pmsync.SourceStatus
	for _, s := range e.cfg.Sources() {
		if s.Program != p.ID {
			continue
		}
		last, lastErr, err := e.db.LastSuccess(ctx, s.Name)
		if err != nil {
			return pmsync.Rollup{}, fmt.Errorf("read sync status of %s: %w", s.Name, err)
		}
		q, err := e.db.Quarantine(ctx, s.Name)
		if err != nil {
			return pmsync.Rollup{}, fmt.Errorf("read quarantine of %s: %w", s.Name, err)
		}
		b := e.breakerOf(ctx, s.Name)
		statuses = append(statuses, pmsync.SourceStatus{
			Source: s.Name, Connection: s.Connection.Name, LastSuccess: last.UTC(), LastError: lastErr,
			Stale: last.IsZero() || now.Sub(last) > rules.StaleAfter, Quarantined: len(q),
			Failures: b.Failures, Breaker: b.state(now), RetryAt: b.RetryAt.UTC(),
		})
	}
	r := pmsync.Compute(p, items, statuses, rules, asOf)
	prev, ok, err := e.db.LatestSnapshot(ctx, p.ID)
	if err != nil {
		return r, fmt.Errorf("read last snapshot: %w", err)
	}
	switch {
	case ok && prev.Version == r.Version:
		r.Changes = prev.Rollup.Changes
	case ok:
		r.Changes = pmsync.Changes(prev.Rollup, r)
	}
	if save {
		if _, err := e.db.SaveSnapshot(ctx, r, now); err != nil {
			return r, fmt.Errorf("save snapshot: %w", err)
		}
	}
	return r, nil
}
