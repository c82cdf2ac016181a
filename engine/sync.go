package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/mapping"
	"github.com/pmsync/pmsync/store"
)

// SyncOptions select what a sync does.
type SyncOptions struct {
	// Sources limits the run to these source or connection names; empty
	// means every source.
	Sources []string
	// Full ignores saved cursors and re-reads every record; items the source
	// no longer has are tombstoned afterwards.
	Full bool
	// Deletions lists the live ids of sources that can list them and
	// tombstones the rest (the periodic deletion check).
	Deletions bool
	// Stop, when closed, ends the run after the page being processed is
	// committed: the graceful half of SIGTERM.
	Stop <-chan struct{}
	// Progress, if set, is called after each committed page.
	Progress func(SourceResult)
	// SourceTimeout bounds the sync of each source; 0 means no bound.
	SourceTimeout time.Duration
	// SkipBusy leaves out of the returned error the sources another
	// process is syncing (the daemon's schedule simply tries again later).
	SkipBusy bool
	// SkipRefresh leaves the served rollup as it was after the sync, for
	// a caller that refreshes it itself (RefreshAfter), once after several
	// syncs or timed apart from them.
	SkipRefresh bool
	// Backoff skips, and leaves out of the returned error, the sources
	// whose circuit breaker is open (the daemon's schedule). Without it a
	// source is tried whatever its breaker says (a sync asked for by hand);
	// either way the outcome counts toward the breaker.
	Backoff bool
}

// SourceResult is the outcome of syncing one source.
type SourceResult struct {
	Source      string
	Connection  string
	RunID       int64
	Status      string // ok | failed | stopped | busy | backoff
	Pages       int
	Seen        int
	Changed     int
	Quarantined int
	Deleted     int
	Requests    int64
	Duration    time.Duration
	Err         error
}

// ErrStopped is returned when a run ends early because Stop was closed.
var ErrStopped = errors.New("sync stopped before it finished")

// ErrBusy is returned for a source another pmsync process is syncing.
var ErrBusy = errors.New("another pmsync process is syncing this source")

// DefaultLeaseTTL is how long a sync lease lasts without renewal; a
// heartbeat renews it every third of that while the sync runs. A replica
// killed mid-sync is replaced by another within this time.
const DefaultLeaseTTL = 5 * time.Minute

// ErrNoSuchSource is returned when a requested source or connection name is
// not in the configuration.
var ErrNoSuchSource = errors.New("no such source or connection")

// Sync pulls every selected source. Connections sync concurrently, up to
// the configured number of workers, and the sources of one connection one
// after the other, so that a slow or rate-limited tool delays only its own
// sources. A failing source never stops the others: its error is in its
// result, and Sync returns the errors of all failed sources joined. Results
// come in the order of the configuration.
func (e *Engine) Sync(ctx context.Context, opts SyncOptions) ([]SourceResult, error) {
	if e.readOnly {
		return nil, ErrReadOnly
	}
	srcs, err := e.selectSources(opts.Sources)
	if err != nil {
		return nil, err
	}
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	if opts.Progress != nil {
		var mu sync.Mutex
		progress := opts.Progress
		opts.Progress = func(r SourceResult) {
			mu.Lock()
			defer mu.Unlock()
			progress(r)
		}
	}

	var groups [][]int // indexes into srcs, by connection, in order of first appearance
	byConn := map[string]int{}
	for i, src := range srcs {
		g, ok := byConn[src.Connection.Name]
		if !ok {
			g = len(groups)
			byConn[src.Connection.Name] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	results := make([]SourceResult, len(srcs))
	ran := make([]bool, len(srcs))
	work := make(chan []int)
	var wg sync.WaitGroup
	for range min(e.workers, len(groups)) {
		wg.Go(func() {
			for g := range work {
				for _, i := range g {
					if stopped(opts.Stop) || ctx.Err() != nil {
						break
					}
					results[i], ran[i] = e.syncSource(ctx, srcs[i], opts), true
				}
			}
		})
	}
feed:
	for _, g := range feedOrder(groups, e.holder) {
		select {
		case work <- g:
		case <-ctx.Done():
			break feed
		case <-opts.Stop:
			break feed
		}
	}
	close(work)
	wg.Wait()

	var out []SourceResult
	var errs []error
	for i, r := range results {
		if !ran[i] {
			continue
		}
		out = append(out, r)
		if r.Err != nil && !errors.Is(r.Err, ErrStopped) && !(errors.Is(r.Err, ErrBusy) && opts.SkipBusy) && !(errors.Is(r.Err, ErrBackedOff) && opts.Backoff) {
			errs = append(errs, fmt.Errorf("sync %s (connection %s): %w", r.Source, r.Connection, r.Err))
		}
	}
	if ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	} else if len(out) > 0 && !opts.SkipRefresh {
		// The dashboard and the API serve the latest computed rollup:
		// bring it up to date with what the sync brought. A failure here
		// leaves the previous report served and the sync's outcome stands.
		if _, err := e.RefreshAfter(ctx, out); err != nil {
			e.log.Error().Str("err", err.Error()).Msg("rollup refresh after sync failed")
		}
	}
	return out, errors.Join(errs...)
}

// feedOrder is the order in which this process offers the connections to
// its workers: the configuration's, rotated to start at a place of its own
// (from its holder name). Replicas that start together then reach for
// different connections first and share the work, where in one order two
// replicas' workers took every lease before the third asked (4, 4 and 0 of
// eight connections).
func feedOrder(groups [][]int, holder string) [][]int {
	if len(groups) < 2 {
		return groups
	}
	h := fnv.New32a()
	h.Write([]byte(holder))
	k := int(h.Sum32() % uint32(len(groups)))
	return append(slices.Clone(groups[k:]), groups[:k]...)
}

// RefreshAfter brings the served rollup up to date after a sync with these
// results, as Sync does unless told to skip it, and reports whether it
// computed the rollup again (see needsRefresh for when it does not).
func (e *Engine) RefreshAfter(ctx context.Context, results []SourceResult) (bool, error) {
	refresh, err := e.needsRefresh(ctx, results)
	if err != nil || !refresh {
		return false, err
	}
	if _, err := e.Refresh(ctx); err != nil {
		return false, err
	}
	fp, err := e.rollupFingerprint()
	if err != nil {
		return true, err
	}
	if old, ok, err := e.db.Meta(ctx, rollupConfigKey); err != nil {
		return true, fmt.Errorf("read the rollup's configuration: %w", err)
	} else if !ok || old != fp {
		if err := e.db.SetMeta(ctx, rollupConfigKey, fp); err != nil {
			return true, fmt.Errorf("note the rollup's configuration: %w", err)
		}
	}
	return true, nil
}

// rollupConfigKey holds the fingerprint of the configuration the latest
// refresh after a sync computed the rollup with.
const rollupConfigKey = "rollup-config"

// rollupFingerprint identifies what of the configuration a rollup depends
// on besides the items: the programs (names, dates, budgets, sources,
// portfolios), their rules and the time zone.
func (e *Engine) rollupFingerprint() (string, error) {
	programs := e.cfg.ProgramList()
	rules := make([]pmsync.Rules, len(programs))
	for i, p := range programs {
		rules[i] = e.cfg.RulesFor(p.ID)
	}
	b, err := json.Marshal(struct {
		Programs []pmsync.Program
		Rules    []pmsync.Rules
		Zone     string
	}{programs, rules, e.cfg.Location().String()})
	if err != nil {
		return "", fmt.Errorf("fingerprint the rollup configuration: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12]), nil
}

// needsRefresh reports whether the served rollup must be computed again
// after a sync with these results. A sync that changed, quarantined and
// deleted nothing, and whose sources all synced, leaves every figure as it
// was: the report is kept, and such a sync writes nothing, unless the
// report was computed with another configuration, is from another day
// (late and due-soon milestones move with the date) or is older than half
// the shortest stale_after of the programs (so that the sources' last
// success it shows stays recent).
func (e *Engine) needsRefresh(ctx context.Context, results []SourceResult) (bool, error) {
	for _, r := range results {
		if r.Err != nil || r.Changed > 0 || r.Quarantined > 0 || r.Deleted > 0 {
			return true, nil
		}
	}
	// The kept report (decoded once per revision, see LatestRevision)
	// says when it was computed.
	rev, err := e.db.ReportRevision(ctx)
	if err != nil || rev == 0 {
		return true, err
	}
	kept, _, err := e.LatestRevision(ctx)
	if err != nil {
		return true, err
	}
	at := kept.GeneratedAt
	// A configuration changed since (a program renamed, a rule edited)
	// changes the figures without changing an item.
	fp, err := e.rollupFingerprint()
	if err != nil {
		return true, err
	}
	if old, ok, err := e.db.Meta(ctx, rollupConfigKey); err != nil || !ok || old != fp {
		return true, err
	}
	now := e.now()
	loc := e.cfg.Location()
	if pmsync.DateOf(at.In(loc)) != pmsync.DateOf(now.In(loc)) {
		return true, nil
	}
	for _, p := range e.cfg.ProgramList() {
		if now.Sub(at) > e.cfg.RulesFor(p.ID).StaleAfter/2 {
			return true, nil
		}
	}
	return false, nil
}

func (e *Engine) selectSources(names []string) ([]config.SourceRef, error) {
	all := e.cfg.Sources()
	if len(names) == 0 {
		return all, nil
	}
	var out []config.SourceRef
	for _, n := range names {
		found := false
		for _, s := range all {
			if s.Name == n || s.Connection.Name == n {
				found = true
				if !slices.ContainsFunc(out, func(o config.SourceRef) bool { return o.Name == s.Name }) {
					out = append(out, s)
				}
			}
		}
		if !found {
			var known []string
			for _, s := range all {
				known = append(known, s.Name)
			}
			return nil, fmt.Errorf("%w %q (sources: %v)", ErrNoSuchSource, n, known)
		}
	}
	return out, nil
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

func (e *Engine) syncSource(ctx context.Context, src config.SourceRef, opts SyncOptions) (res SourceResult) {
	parent := ctx
	if opts.SourceTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.SourceTimeout)
		defer cancel()
	}
	start := e.now()
	res = SourceResult{Source: src.Name, Connection: src.Connection.Name}
	// Every attempt is counted, whatever stage it ended at: a run that
	// could not even be recorded (the lease write hit a full disk) must
	// still show in /metrics.
	defer func() {
		if res.Duration == 0 {
			res.Duration = e.now().Sub(start)
		}
		e.metrics.observeRun(res)
		e.bmu.Lock()
		e.attempts[src.Name] = attempt{at: start, res: res}
		e.bmu.Unlock()
		// A shutdown, or the lease passing to another process, cuts a run
		// short through no fault of the source.
		shutdown := parent.Err() != nil || errors.Is(res.Err, ErrBusy)
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		e.observeBreaker(bctx, res, shutdown)
	}()
	log := e.log.With().Str("source", src.Name).Str("connection", src.Connection.Name).Logger()
	if opts.Backoff {
		if err := e.backedOff(ctx, src.Name); err != nil {
			log.Info().Str("err", err.Error()).Msg("source backed off, skipped")
			res.Status, res.Err = "backoff", err
			return res
		}
	}
	conn := e.conns[src.Connection.Name]
	if conn == nil {
		// An engine built for some connections only (Options.Connections).
		res.Status, res.Err = "failed", fmt.Errorf("connection %s was not set up for this run", src.Connection.Name)
		return res
	}
	counter, _ := conn.(connectors.RequestCounter)
	var reqBefore int64
	if counter != nil {
		reqBefore = counter.Requests()
	}

	// One lease per connection (credential), not per source: two sources
	// of one connection never sync at once anywhere in the cluster, so the
	// vendor's rate limit for that credential holds across replicas.
	lease := syncLeaseName(src.Connection.Name)
	fence, got, err := e.acquire(ctx, lease, start)
	if err != nil {
		res.Status, res.Err = "failed", fmt.Errorf("take the sync lease %s: %w", lease, err)
		return res
	}
	if !got {
		log.Info().Msg("source busy in another process, skipped")
		res.Status, res.Err = "busy", ErrBusy
		return res
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = e.db.ReleaseLease(rctx, lease, e.holder)
	}()
	// Keep the lease while working, however long one request takes; should
	// another process take it over all the same, stop before writing more.
	ctx, lost := context.WithCancelCause(ctx)
	defer lost(nil)
	go e.heartbeat(ctx, fence, start, lost)

	// Holding the lease, any run of this source still marked running
	// belongs to a process that died.
	if n, err := e.db.AbandonRuns(ctx, src.Name, start); err != nil {
		res.Status, res.Err = "failed", err
		return res
	} else if n > 0 {
		log.Warn().Int("runs", n).Msg("closed runs left unfinished by a process that died")
	}

	runID, err := e.db.StartRun(ctx, src.Name, opts.Full, start)
	if err != nil {
		res.Status, res.Err = "failed", fmt.Errorf("record run start: %w", err)
		return res
	}
	res.RunID = runID
	defer func() {
		if counter != nil {
			res.Requests = counter.Requests() - reqBefore
		}
		res.Duration = e.now().Sub(start)
		rr := store.RunResult{Status: res.Status, Requests: res.Requests, Seen: res.Seen, Changed: res.Changed, Quarantined: res.Quarantined, Deleted: res.Deleted}
		if res.Err != nil {
			rr.Error = res.Err.Error()
		}
		// The run row must be closed even when ctx is done.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := e.db.FinishRun(fctx, runID, rr, e.now()); err != nil && res.Err == nil {
			res.Status, res.Err = "failed", fmt.Errorf("record run end: %w", err)
		}
		if e.metrics != nil {
			if q, err := e.db.Quarantine(fctx, src.Name); err == nil {
				e.metrics.setQuarantined(src.Name, len(q))
			}
		}
		// One line per run at info, failed or not: the error is also
		// returned, and the daemon logs failed jobs at error level once.
		ev := log.Info()
		if res.Err != nil {
			ev = ev.Str("err", res.Err.Error())
		}
		ev.Int64("run_id", runID).Str("status", res.Status).Int("pages", res.Pages).Int("records", res.Seen).
			Int("changed", res.Changed).Int("quarantined", res.Quarantined).Int("deleted", res.Deleted).
			Int64("requests", res.Requests).Int64("duration_ms", res.Duration.Milliseconds()).Msg("sync run")
	}()

	cur := ""
	if !opts.Full {
		if cur, err = e.db.Cursor(ctx, src.Name); err != nil {
			res.Status, res.Err = "failed", fmt.Errorf("read cursor: %w", err)
			return res
		}
	}
	// A cursor only means something for the scope and mapping it was made
	// with: after either changes, records the old ones skipped (or mapped
	// differently) must be read again, so the source is pulled in full.
	fp, err := e.fingerprint(src)
	if err != nil {
		res.Status, res.Err = "failed", err
		return res
	}
	oldFP, hasFP, err := e.db.Meta(ctx, fingerprintKey(src.Name))
	if err != nil {
		res.Status, res.Err = "failed", fmt.Errorf("read source fingerprint: %w", err)
		return res
	}
	if cur != "" && hasFP && oldFP != fp {
		log.Info().Msg("scope or mapping changed, pulling in full")
		cur = ""
	}
	seen, err := e.pull(ctx, fence, src, conn, cur, opts, runID, &res)
	if errors.Is(err, connectors.ErrCursorInvalid) && cur != "" {
		log.Warn().Str("err", err.Error()).Msg("saved cursor unusable, pulling in full")
		seen, err = e.pull(ctx, fence, src, conn, "", opts, runID, &res)
	}
	if err == nil && !stopped(opts.Stop) {
		err = e.deletions(ctx, fence, src, conn, seen, opts.Deletions, &res)
	}
	// The fingerprint is written only when it changed: a sync with nothing
	// new writes no data.
	if err == nil && !stopped(opts.Stop) && (!hasFP || oldFP != fp) {
		if serr := e.db.SetMeta(ctx, fingerprintKey(src.Name), fp); serr != nil {
			err = fmt.Errorf("save source fingerprint: %w", serr)
		}
	}
	if cause := context.Cause(ctx); err != nil && errors.Is(cause, ErrBusy) {
		err = cause
	}
	switch {
	case errors.Is(err, ErrStopped):
		res.Status, res.Err = "stopped", err
	case err != nil:
		res.Status, res.Err = "failed", err
	default:
		res.Status = "ok"
	}
	return res
}

// pull runs one Pull and writes each page with its cursor in one
// transaction. The next page is fetched and decoded while the previous one
// is mapped and committed (one page in flight), so a sync takes about the
// longer of fetching and storing rather than their sum; pages still commit in order,
// so a failed or cancelled run has committed a whole prefix of pages and
// nothing past it. When cur is empty it returns every id it saw, so that a
// complete full pull can tombstone what the source no longer has.
func (e *Engine) pull(ctx context.Context, fence store.Fence, src config.SourceRef, conn connectors.Connector, cur string, opts SyncOptions, runID int64, res *SourceResult) (map[string]struct{}, error) {
	set := e.cfg.Mapping(src.Mapping)
	if set == nil {
		return nil, fmt.Errorf("mapping %q is not defined", src.Mapping)
	}
	var seen map[string]struct{}
	if cur == "" {
		seen = map[string]struct{}{}
	}
	scope, err := ScopeFor(e.cfg, src)
	if err != nil {
		return nil, err
	}

	// A page goes from the pull to the committer with its records as
	// pulled: mapping them happens on the committer's side, so that the
	// pull goroutine only fetches and decodes, and mapping page N overlaps
	// fetching page N+1 as storing does.
	type pending struct {
		w       store.PageWrite
		records []pmsync.Record
	}
	pctx, stopPull := context.WithCancel(ctx)
	defer stopPull()
	commits := make(chan pending) // unbuffered: one page commits while the next is fetched
	var commitErr error           // written by the committer before it closes done
	var failed atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for pg := range commits {
			if failed.Load() {
				continue
			}
			w := pg.w
			w.Items, w.Quarantine = e.mapPage(set, src, pg.records, w.At)
			pr, err := e.db.ApplyPage(ctx, w)
			if err != nil {
				commitErr = fmt.Errorf("store page: %w", err)
				failed.Store(true)
				stopPull()
				continue
			}
			res.Pages++
			res.Seen += len(pg.records)
			res.Changed += pr.Changed
			res.Quarantined += pr.Quarantined
			res.Deleted += pr.Deleted
			e.log.Debug().Str("source", src.Name).Int("records", len(pg.records)).Int("changed", pr.Changed).Msg("page stored")
			if opts.Progress != nil {
				opts.Progress(*res)
			}
		}
	}()

	err = conn.Pull(pctx, scope, connectors.Cursor(cur), func(p connectors.Page) error {
		if failed.Load() {
			return errCommitFailed
		}
		w := store.PageWrite{Fence: fence, Source: src.Name, RunID: runID, Cursor: string(p.Next), At: e.now(),
			Deleted: slices.Clone(p.Deleted), Live: slices.Clone(p.Live), HasLive: p.HasLive}
		if w.HasLive && len(w.Live) == 0 {
			if keep, err := e.keepOnEmptyListing(ctx, src.Name); err != nil {
				return err
			} else if keep {
				w.HasLive = false
			}
		}
		if seen != nil {
			for _, rec := range p.Records {
				seen[rec.ExternalID] = struct{}{}
			}
		}
		select {
		case commits <- pending{w: w, records: slices.Clone(p.Records)}:
		case <-pctx.Done():
			return pctx.Err()
		}
		if stopped(opts.Stop) {
			return ErrStopped
		}
		return nil
	})
	close(commits)
	<-done
	if commitErr != nil {
		return nil, commitErr
	}
	if err != nil {
		return nil, err
	}
	return seen, nil
}

// mapPage maps the records of one page: the items to store, and the
// records that failed to map with the reason. Of two records with one id
// (a record moved between pages of the walk) the later is kept.
func (e *Engine) mapPage(set *mapping.Set, src config.SourceRef, recs []pmsync.Record, now time.Time) ([]pmsync.Item, []store.Quarantined) {
	var quarantine []store.Quarantined
	index := make(map[string]int, len(recs))
	items := make([]pmsync.Item, 0, len(recs))
	for _, rec := range recs {
		rec.Source = src.Name
		it, err := set.Map(rec)
		if err != nil {
			quarantine = append(quarantine, store.Quarantined{Source: src.Name, ExternalID: rec.ExternalID, Reason: fmt.Sprintf("mapping %s: %v", src.Mapping, err), At: now})
			continue
		}
		if i, dup := index[it.ExternalID]; dup {
			items[i] = it
			continue
		}
		index[it.ExternalID] = len(items)
		items = append(items, it)
	}
	return items, quarantine
}

// errCommitFailed stops a pull whose previous page could not be stored;
// the store's error is what the run reports.
var errCommitFailed = errors.New("a previous page could not be stored")

// deletions tombstones what the source no longer has: after a complete full
// pull, everything not seen; on a deletion check, everything the connector's
// id listing lacks.
func (e *Engine) deletions(ctx context.Context, fence store.Fence, src config.SourceRef, conn connectors.Connector, seen map[string]struct{}, check bool, res *SourceResult) error {
	var live []string
	switch {
	case seen != nil:
		live = make([]string, 0, len(seen))
		for id := range seen {
			live = append(live, id)
		}
	case check:
		l, ok := conn.(connectors.Lister)
		if !ok {
			return nil
		}
		if r, ok := conn.(connectors.DeletionReporter); ok && r.ReportsDeletions() {
			return nil // its pages already carried the deletions
		}
		ids, err := l.ListIDs(ctx, src.Scope)
		if err != nil {
			return fmt.Errorf("list ids for deletion check: %w", err)
		}
		live = ids
	default:
		return nil
	}
	if len(live) == 0 {
		if keep, err := e.keepOnEmptyListing(ctx, src.Name); err != nil || keep {
			return err
		}
	}
	n, err := e.db.Tombstone(ctx, fence, src.Name, live, e.now())
	if err != nil {
		return fmt.Errorf("tombstone deleted items: %w", err)
	}
	res.Deleted += n
	return nil
}

// ScopeFor returns the scope a source's connector pulls: the source's
// scope with the vendor fields its mapping reads (under the record keys
// the connector kind names, Spec.FieldKeys), so that the connector fetches
// those and can say when one of them no longer exists, and the paths it
// reads there, so that the connector may decode nothing else.
func ScopeFor(cfg *config.Config, src config.SourceRef) (connectors.Scope, error) {
	scope := src.Scope
	set := cfg.Mapping(src.Mapping)
	if set == nil {
		return scope, fmt.Errorf("mapping %q is not defined", src.Mapping)
	}
	spec, err := cfg.Registry().Lookup(src.Connection.Kind)
	if err != nil {
		return scope, err
	}
	scope.Fields = set.References(spec.FieldKeys...)
	paths, all := set.Reads(spec.FieldKeys...)
	scope.Prune, scope.Paths = !all, paths
	return scope, nil
}

// keepOnEmptyListing reports whether an empty live listing of a source that
// holds items should be ignored. A scope that suddenly matches nothing is
// far more often a broken filter or a revoked permission than a project
// emptied overnight: the items are kept and a warning says so.
func (e *Engine) keepOnEmptyListing(ctx context.Context, source string) (bool, error) {
	stored, _, err := e.db.CountItems(ctx, source)
	if err != nil {
		return false, fmt.Errorf("count stored items: %w", err)
	}
	if stored > 0 {
		e.log.Warn().Str("source", source).Int("records", stored).Msg("source lists no items; not tombstoning the stored ones")
		return true, nil
	}
	return false, nil
}

func fingerprintKey(source string) string { return "source-fingerprint:" + source }

// fingerprint identifies what a source's cursor was made for: its
// connection, scope and mapping.
func (e *Engine) fingerprint(src config.SourceRef) (string, error) {
	set := e.cfg.Mapping(src.Mapping)
	if set == nil {
		return "", fmt.Errorf("mapping %q is not defined", src.Mapping)
	}
	b, err := json.Marshal(struct {
		Kind, BaseURL string
		Scope         connectors.Scope
		Mapping       string
	}{src.Connection.Kind, src.Connection.BaseURL, src.Scope, set.Fingerprint()})
	if err != nil {
		return "", fmt.Errorf("fingerprint source %s: %w", src.Name, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12]), nil
}

// syncLeaseName is the lease a connection's syncs run under.
func syncLeaseName(connection string) string { return "sync:conn:" + connection }

// acquire takes the lease of a connection, or takes it over from a process
// of this host that died holding it.
func (e *Engine) acquire(ctx context.Context, lease string, at time.Time) (store.Fence, bool, error) {
	f, got, err := e.db.AcquireLease(ctx, lease, e.holder, at, e.leaseTTL)
	if err != nil || got {
		return f, got, err
	}
	holder, ok, err := e.db.LeaseHolder(ctx, lease)
	if err != nil || !ok {
		return store.Fence{}, false, err
	}
	if !deadHolder(holder, e.holder) {
		return store.Fence{}, false, nil
	}
	e.log.Warn().Str("lease", lease).Str("holder", holder).Msg("taking over the lease of a process that is gone")
	return e.db.TakeOverLease(ctx, lease, holder, e.holder, at, e.leaseTTL)
}

// heartbeat renews a lease every third of its term until ctx ends, and
// cancels the work (through lost) if the lease went to someone else: its
// writes would be refused by the fence anyway. It also stops the work a
// fifth of the term before the lease could pass to another process when
// renewals have not come through (a stalled machine, a database out of
// reach), so that two processes never talk to one connection at once: the
// fence keeps the data safe, this keeps the vendor's view of a credential
// to one client at a time. at is when the lease's current term began (the
// time it was taken with); each renewal's term begins when it is asked
// for, not when the database answers.
func (e *Engine) heartbeat(ctx context.Context, fence store.Fence, at time.Time, lost context.CancelCauseFunc) {
	valid := e.leaseTTL - e.leaseTTL/5
	// Never longer than valid: a clock set back must not stretch the term.
	left := func(at time.Time) time.Duration { return min(max(valid-e.now().Sub(at), 0), valid) }
	expire := time.NewTimer(left(at))
	defer expire.Stop()
	t := time.NewTicker(e.leaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-expire.C:
			lost(fmt.Errorf("%w: its lease could not be renewed in time", ErrBusy))
			return
		case <-t.C:
			at := e.now()
			f, got, err := e.db.AcquireLease(ctx, fence.Lease, e.holder, at, e.leaseTTL)
			if ctx.Err() != nil {
				return
			}
			switch {
			case err != nil:
				e.log.Warn().Str("lease", fence.Lease).Str("err", err.Error()).Msg("lease renewal failed")
			case !got || f.Token != fence.Token:
				lost(fmt.Errorf("%w: its lease was taken over", ErrBusy))
				return
			default:
				expire.Reset(left(at))
			}
		}
	}
}
