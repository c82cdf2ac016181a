package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
)

// ErrNoSuchProgram is returned for a program id the configuration lacks.
var ErrNoSuchProgram = errors.New("no such program")

// RollupOptions select what a rollup covers.
type RollupOptions struct {
	Programs []string // program ids; empty means all
	// Save stores a snapshot of each rollup whose content changed (the
	// history behind trends and "what changed"), and, for a rollup of
	// every program, keeps the report as the latest one served.
	Save bool
	// TrendDays is the trend window in days back from the as-of date; 0
	// means pmsync.DefaultTrendDays.
	TrendDays int
	// ChangesSince, when set, adds what changed since that date.
	ChangesSince pmsync.Date
	// Explain collects, for every figure, the items behind it.
	Explain bool
}

// Rollup computes the report for the selected programs as of today in the
// configured time zone.
func (e *Engine) Rollup(ctx context.Context, opts RollupOptions) (pmsync.Report, error) {
	rep, _, err := e.rollup(ctx, opts)
	return rep, err
}

// Explain computes the selected programs' rollups with the items behind
// every figure.
func (e *Engine) Explain(ctx context.Context, opts RollupOptions) (pmsync.ExplainReport, error) {
	opts.Explain, opts.Save = true, false
	rep, ex, err := e.rollup(ctx, opts)
	return pmsync.ExplainReport{Schema: pmsync.ExplainSchema, AsOf: rep.AsOf, Programs: ex}, err
}

// Refresh recomputes the rollup of every program and keeps it as the
// latest report, which the dashboard and the API serve. It saves no
// snapshot: those come from the rollup schedule, so that "what changed"
// means since the previous scheduled rollup.
func (e *Engine) Refresh(ctx context.Context) (pmsync.Report, error) {
	rep, _, err := e.rollup(ctx, RollupOptions{})
	if err != nil {
		return rep, err
	}
	if err := e.db.SaveReport(ctx, rep, e.now()); err != nil {
		return rep, fmt.Errorf("keep the latest rollup: %w", err)
	}
	return rep, nil
}

// Latest returns the latest computed report, computing (and keeping) one
// when there is none yet. The report is shared with other callers: it must
// not be modified.
func (e *Engine) Latest(ctx context.Context) (pmsync.Report, error) {
	rep, _, err := e.LatestRevision(ctx)
	return rep, err
}

// LatestRevision is Latest with the store's revision of the report (0 for
// one computed because none was kept): what a reader renders of the report
// stays right until the revision moves.
func (e *Engine) LatestRevision(ctx context.Context) (pmsync.Report, int64, error) {
	// Asking for the latest report's revision is cheap; decoding it is not
	// (it names the items behind every count): a report still the latest
	// is served as it was read last. A revision rather than the save time:
	// two saves in one instant (a clock that stands still, two replicas)
	// are two revisions.
	rev, err := e.db.ReportRevision(ctx)
	if err != nil {
		return pmsync.Report{}, 0, err
	}
	if rev > 0 {
		if rep, hit := e.served.get(rev); hit {
			return rep, rev, nil
		}
	}
	// One reader decodes a new report; the others, arriving together right
	// after a sync, wait for it rather than decode it too.
	e.served.loading.Lock()
	defer e.served.loading.Unlock()
	if rev > 0 {
		if rep, hit := e.served.get(rev); hit {
			return rep, rev, nil
		}
	}
	rep, _, ok, err := e.db.LatestReport(ctx)
	if err != nil {
		return rep, 0, err
	}
	if ok {
		// Read after the revision, the report is that one or a newer
		// one: never older than the revision says.
		e.served.put(rev, rep)
		return rep, rev, nil
	}
	rep, err = e.Refresh(ctx)
	return rep, 0, err
}

// servedReport is the latest report as last read, with the store's
// revision it was read at.
type servedReport struct {
	mu  sync.Mutex
	rev int64
	rep pmsync.Report
	ok  bool
	// loading is held by the reader that reads and decodes a new report.
	loading sync.Mutex
}

func (s *servedReport) get(rev int64) (pmsync.Report, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rep, s.ok && s.rev == rev
}

func (s *servedReport) put(rev int64, rep pmsync.Report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rev, s.rep, s.ok = rev, rep, true
}

func (e *Engine) rollup(ctx context.Context, opts RollupOptions) (pmsync.Report, []pmsync.Explanation, error) {
	now := e.now()
	asOf := pmsync.DateOf(now.In(e.cfg.Location()))
	programs := e.cfg.ProgramList()
	for _, id := range opts.Programs {
		if !slices.ContainsFunc(programs, func(p pmsync.Program) bool { return p.ID == id }) {
			var known []string
			for _, p := range programs {
				known = append(known, p.ID)
			}
			return pmsync.NewReport(asOf, now.UTC().Truncate(time.Second), nil), nil, fmt.Errorf("%w %q (programs: %v)", ErrNoSuchProgram, id, known)
		}
	}
	rollups := []pmsync.Rollup{}
	explanations := []pmsync.Explanation{}
	for _, p := range programs {
		if len(opts.Programs) > 0 && !slices.Contains(opts.Programs, p.ID) {
			continue
		}
		r, ex, err := e.rollupProgram(ctx, p, asOf, opts)
		if err != nil {
			return pmsync.NewReport(asOf, now.UTC().Truncate(time.Second), rollups), nil, fmt.Errorf("rollup %s: %w", p.ID, err)
		}
		rollups = append(rollups, r)
		if ex != nil {
			explanations = append(explanations, *ex)
		}
	}
	rep := pmsync.NewReport(asOf, now.UTC().Truncate(time.Second), rollups)
	if opts.Save && len(opts.Programs) == 0 {
		if err := e.db.SaveReport(ctx, rep, now); err != nil {
			return rep, explanations, fmt.Errorf("keep the latest rollup: %w", err)
		}
	}
	return rep, explanations, nil
}

// historyWeeks is how far back the rollup reads moves into done: the
// forecast's eight weeks of throughput.
const historyWeeks = 8

func (e *Engine) rollupProgram(ctx context.Context, p pmsync.Program, asOf pmsync.Date, opts RollupOptions) (pmsync.Rollup, *pmsync.Explanation, error) {
	rules := e.cfg.RulesFor(p.ID)
	loc := e.cfg.Location()
	now := e.now()
	in := pmsync.Input{Program: p, Rules: rules, AsOf: asOf, Location: loc, ChangesSince: opts.ChangesSince, Explain: opts.Explain}
	if opts.Explain {
		// The evidence names items: only they have what it lists.
		items, err := e.db.Items(ctx, p.Sources...)
		if err != nil {
			return pmsync.Rollup{}, nil, fmt.Errorf("read items: %w", err)
		}
		in.Items = items
	} else {
		// The store keeps each source's facts and remakes only those of
		// sources whose items changed since: a rollup does not read every
		// item of every program. Sources in byte order, as Items lists
		// them, so that the sums add up in the same order either way.
		var facts pmsync.Facts
		sources := slices.Clone(p.Sources)
		slices.Sort(sources)
		for _, src := range slices.Compact(sources) {
			f, err := e.db.RollupFacts(ctx, src)
			if err != nil {
				return pmsync.Rollup{}, nil, fmt.Errorf("read items: %w", err)
			}
			facts.Append(f)
		}
		in.Facts = &facts
	}
	firstSync := map[string]time.Time{}
	watched := true
	for _, s := range e.cfg.Sources() {
		if s.Program != p.ID {
			continue
		}
		last, lastErr, err := e.db.LastSuccess(ctx, s.Name)
		if err != nil {
			return pmsync.Rollup{}, nil, fmt.Errorf("read sync status of %s: %w", s.Name, err)
		}
		q, err := e.db.Quarantine(ctx, s.Name)
		if err != nil {
			return pmsync.Rollup{}, nil, fmt.Errorf("read quarantine of %s: %w", s.Name, err)
		}
		b := e.breakerOf(ctx, s.Name)
		in.Sources = append(in.Sources, pmsync.SourceStatus{
			Source: s.Name, Connection: s.Connection.Name, LastSuccess: last.UTC(), LastError: lastErr,
			Stale: last.IsZero() || now.Sub(last) > rules.StaleAfter, Quarantined: len(q),
			Failures: b.Failures, Breaker: b.state(now), RetryAt: b.RetryAt.UTC(),
		})
		first, err := e.db.FirstSuccess(ctx, s.Name)
		if err != nil {
			return pmsync.Rollup{}, nil, fmt.Errorf("read first sync of %s: %w", s.Name, err)
		}
		firstSync[s.Name] = first
		if first.IsZero() {
			watched = false
		} else if first.After(in.ObservedSince) {
			in.ObservedSince = first
		}
	}
	if !watched || len(p.Sources) == 0 {
		in.ObservedSince = time.Time{}
	}

	if len(p.Sources) > 0 {
		// Baselines and slips: every recorded due-date change of the
		// program's milestones (item_changes keeps the first value seen as
		// the old value of the first change, so no baseline is stored).
		dues, err := e.db.ChangeLog(ctx, store.ChangeQuery{Sources: p.Sources, Fields: []string{store.FieldDue}, Kinds: []pmsync.Kind{pmsync.KindMilestone}})
		if err != nil {
			return pmsync.Rollup{}, nil, fmt.Errorf("read due-date history: %w", err)
		}
		for _, c := range dues {
			in.DueMoves = append(in.DueMoves, pmsync.DueMove{Source: c.Source, ExternalID: c.ExternalID, At: c.At, From: pmsync.Date(c.Old), To: pmsync.Date(c.New)})
		}
		// Done times for items whose mapping gives none: when pmsync saw
		// them move into done, over the forecast's weeks.
		since := dayStart(asOf.AddDays(-7*historyWeeks), loc)
		states, err := e.db.ChangeLog(ctx, store.ChangeQuery{Sources: p.Sources, Fields: []string{store.FieldState}, Since: since, New: []string{string(pmsync.StateDone)}})
		if err != nil {
			return pmsync.Rollup{}, nil, fmt.Errorf("read state history: %w", err)
		}
		for _, c := range states {
			if c.New == string(pmsync.StateDone) {
				in.Finished = append(in.Finished, pmsync.Seen{Source: c.Source, ExternalID: c.ExternalID, At: c.At})
			}
		}
		// New work: first seen in the last 28 days, after its source's
		// first complete sync (the initial load is not new work).
		seen, err := e.db.FirstSeen(ctx, dayStart(asOf.AddDays(-28), loc), p.Sources...)
		if err != nil {
			return pmsync.Rollup{}, nil, fmt.Errorf("read new items: %w", err)
		}
		for _, s := range seen {
			if first := firstSync[s.Source]; !first.IsZero() && s.At.After(first) {
				in.Arrived = append(in.Arrived, s)
			}
		}
	}

	days := opts.TrendDays
	if days <= 0 {
		days = pmsync.DefaultTrendDays
	}
	in.TrendFrom = asOf.AddDays(-days)
	from := min(in.TrendFrom, asOf.AddDays(-27)) // the burn rate reads the newest snapshot 28 days old or older
	if opts.ChangesSince != "" {
		from = min(from, opts.ChangesSince.AddDays(1))
	}
	snaps, err := e.db.SnapshotsSince(ctx, p.ID, from)
	if err != nil {
		return pmsync.Rollup{}, nil, fmt.Errorf("read snapshots: %w", err)
	}
	for _, s := range snaps {
		in.Past = append(in.Past, s.Rollup)
	}

	r, ex := pmsync.Build(in)
	if opts.Save {
		// A snapshot holds what the rollup said, not its history.
		snap := r
		snap.Trend, snap.ChangesSince = pmsync.Trend{}, nil
		if _, err := e.db.SaveSnapshot(ctx, snap, now); err != nil {
			return r, ex, fmt.Errorf("save snapshot: %w", err)
		}
	}
	return r, ex, nil
}

// dayStart is midnight of a date in loc.
func dayStart(d pmsync.Date, loc *time.Location) time.Time {
	t := d.Time()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}
