package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/store"
	"github.com/pmsync/pmsync/web"
)

// The portfolio scenario's timeline: weekly syncs of every program's
// source, the first (full) one portfolioWeeks weeks before t0 and the last
// one an hour before it. Work done, milestones moved and items created in
// between are recorded by the store as they would be by real syncs, so the
// rollup has the history its slips, throughput, forecasts and "new work"
// read. Snapshots are saved after the last few syncs, for the trends and
// the burn rate.
const (
	portfolioWeeks     = 10
	portfolioSnapshots = 6
)

// portfolioSyncTime is when sync s (0 is the first, full one) of the
// portfolio scenario runs.
func portfolioSyncTime(t0 time.Time, s int) time.Time {
	return t0.Add(-time.Duration(portfolioWeeks-s)*7*24*time.Hour - time.Hour)
}

// genItem is one generated item as it is at t0, with what happened to it
// over the weeks before: the sync that first carried it, the sync that saw
// it move into done, and the sync that saw its due date move later.
type genItem struct {
	item     pmsync.Item
	arrive   int // the first sync that carries it
	doneSync int // the sync that saw it done; 0: done before the first sync, or never
	slipSync int // the sync that saw its due date move; 0: it never moved
	slipDays int
}

// at is the item as sync s saw it.
func (g *genItem) at(s int) pmsync.Item {
	it := g.item
	if g.doneSync > s {
		it.State, it.Status, it.DoneAt = pmsync.StateInProgress, "In Progress", time.Time{}
	}
	if g.slipSync > s {
		it.Due = it.Due.AddDays(-g.slipDays)
	}
	return it
}

// changedAt reports whether sync s carries the item: it arrived, was done
// or moved its due date then.
func (g *genItem) changedAt(s int) bool {
	return g.arrive == s || (s > 0 && (g.doneSync == s || g.slipSync == s))
}

// portfolioSource names the source of program p (0-based).
func portfolioSource(p int) string { return fmt.Sprintf("p%02d", p+1) }

// genProgram generates program p's n items as a hospital PMO's tool holds
// them at t0: about 8 % milestones (due from 60 days ago to 180 days
// ahead, some late, some moved later in the last weeks), 10 % risks (a
// quarter of them scored 15 or more), the rest tasks over to do, in
// progress, blocked and done, 60 % of them counting toward a milestone,
// 45 % with planned and actual costs. Half the done work carries its done
// time, as a Jira resolution date does; for the other half only the store's
// history says when it moved into done. The last 3 % arrived in the last
// four weeks. The same seed gives the same items.
func genProgram(p, n int, seed int64, t0 time.Time) []genItem {
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(p)+1))
	today := pmsync.DateOf(t0)
	source := portfolioSource(p)
	key := fmt.Sprintf("P%02d", p+1)
	chance := func(f float64) bool { return rng.Float64() < f }
	between := func(lo, hi int) int { return lo + rng.IntN(hi-lo+1) }
	pick := func(list []string) string { return list[rng.IntN(len(list))] }
	owners := []string{"Priya Raman", "Marcus Lee", "Elena Petrova", "David Okafor", "Sofia Alvarez", "Tom Becker", "Aisha Khan", "Liam O'Connor", ""}
	areas := []string{"Cardiology", "Emergency Department", "Oncology", "Radiology", "Pharmacy", "Laboratory", "Ambulatory clinics",
		"Inpatient nursing", "Perioperative services", "Revenue cycle", "Pediatrics", "Behavioral health"}
	first := portfolioSyncTime(t0, 0)
	// syncAfter is the first sync at or after t (the one that sees a change
	// made at t); 0 when t is before the first.
	syncAfter := func(t time.Time) int {
		for s := 0; s <= portfolioWeeks; s++ {
			if !portfolioSyncTime(t0, s).Before(t) {
				return s
			}
		}
		return portfolioWeeks
	}

	kinds := make([]pmsync.Kind, n)
	milestones, risks := max(1, n*8/100), n*10/100
	for i := range kinds {
		switch {
		case i < milestones:
			kinds[i] = pmsync.KindMilestone
		case i < milestones+risks:
			kinds[i] = pmsync.KindRisk
		default:
			kinds[i] = pmsync.KindTask
		}
	}
	rng.Shuffle(n, func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	var milestoneIDs []string
	for i, k := range kinds {
		if k == pmsync.KindMilestone {
			milestoneIDs = append(milestoneIDs, key+"-"+strconv.Itoa(i+1))
		}
	}

	out := make([]genItem, n)
	arrivals := n * 3 / 100
	for i := range out {
		g := &out[i]
		id := key + "-" + strconv.Itoa(i+1)
		it := pmsync.Item{
			Source: source, ExternalID: id, Kind: kinds[i],
			URL:      "https://hospital.example/browse/" + id,
			Owner:    pick(owners),
			Priority: pick([]string{"Highest", "High", "Medium", "Medium", "Low"}),
			State:    pmsync.StateTodo, Status: "To Do",
			UpdatedAt: first.Add(-time.Duration(rng.IntN(30*24)) * time.Hour),
		}
		if chance(0.5) {
			it.Labels = []string{pick([]string{"ehr-upgrade", "hl7", "pacs", "telehealth", "training", "go-live"})}
		}
		area := pick(areas)
		done := func(when time.Time, withTime bool) {
			it.State, it.Status = pmsync.StateDone, "Done"
			if withTime {
				it.DoneAt = when
			}
			if when.After(first) {
				g.doneSync = syncAfter(when)
			}
		}
		switch kinds[i] {
		case pmsync.KindMilestone:
			off := between(-60, 180)
			it.Due = today.AddDays(off)
			if chance(0.5) {
				it.Start = it.Due.AddDays(-between(30, 90))
			}
			if chance(0.3) {
				pct := float64(between(0, 20) * 5)
				it.PercentComplete = &pct
			}
			it.Title = pick([]string{"Go-live: ", "Integrated testing complete: ", "Training complete: ", "Cutover rehearsal: ", "Build freeze: "}) + area
			switch {
			case off < 0 && chance(0.75):
				done(t0.Add(-time.Duration(between(-off, -off+20))*24*time.Hour), chance(0.5))
			case off < 0:
				it.State, it.Status = pmsync.StateInProgress, "In Progress"
			case chance(0.45):
				it.State, it.Status = pmsync.StateInProgress, "In Progress"
			}
			if !it.State.Closed() && chance(0.3) {
				g.slipDays, g.slipSync = between(3, 30), between(1, portfolioWeeks)
			}
		case pmsync.KindRisk:
			it.Title = pick([]string{"Interface vendor resourcing may delay HL7 testing for ", "Clinician training attendance below target in ",
				"Legacy archive migration may exceed the downtime window for ", "Workstation hardware delivery late for "}) + area
			if chance(0.25) {
				hi := [][2]int{{3, 5}, {4, 4}, {4, 5}, {5, 3}, {5, 4}, {5, 5}}[rng.IntN(6)]
				it.Likelihood, it.Impact = hi[0], hi[1]
			} else {
				it.Likelihood, it.Impact = between(1, 4), between(1, 3)
			}
			switch x := rng.Float64(); {
			case x < 0.25:
				it.State, it.Status = pmsync.StateInProgress, "In Progress"
			case x < 0.40:
				it.State, it.Status = pmsync.StateDone, "Done"
			case x < 0.45:
				it.State, it.Status = pmsync.StateCancelled, "Cancelled"
			}
		default:
			it.Title = pick([]string{"Build order sets for ", "Validate HL7 ADT feed for ", "Test PACS worklist integration for ",
				"Deliver end-user training for ", "Review security roles for ", "Run integrated testing scenarios for "}) + area
			if chance(0.6) {
				it.Milestone = milestoneIDs[rng.IntN(len(milestoneIDs))]
			}
			switch x := rng.Float64(); {
			case x < 0.28:
			case x < 0.58:
				it.State, it.Status = pmsync.StateInProgress, "In Progress"
			case x < 0.66:
				it.State, it.Status = pmsync.StateBlocked, "Blocked"
			case x < 0.69:
				it.State, it.Status = pmsync.StateCancelled, "Cancelled"
			default:
				done(t0.Add(-time.Duration(rng.IntN(120*24))*time.Hour-time.Duration(rng.IntN(3600))*time.Second), chance(0.5))
			}
			if chance(0.85) {
				it.Due = today.AddDays(between(-30, 200))
				if chance(0.65) {
					it.Start = it.Due.AddDays(-between(3, 40))
				}
			}
			if chance(0.45) {
				planned := math.Round(math.Exp(rng.Float64()*math.Log(120))*500/50) * 50
				it.PlannedCost = &planned
				if it.State != pmsync.StateTodo {
					actual := math.Round(planned*(0.1+0.9*rng.Float64())*100) / 100
					it.ActualCost = &actual
				}
			}
		}
		if i >= n-arrivals {
			// New work, first carried by one of the last four syncs.
			g.arrive = portfolioWeeks - rng.IntN(4)
			g.doneSync = max(g.doneSync, g.arrive)
			g.slipSync = 0
		}
		if g.doneSync > 0 && g.doneSync < g.arrive {
			g.doneSync = g.arrive
		}
		g.item = it
	}
	return out
}

// portfolioConfig is the pmsync configuration of the portfolio scenario:
// programs programs of one source each, all on one Jira connection that is
// never contacted (the scenario writes the items straight into the store).
// Every other program has a budget; the rest sum their items' planned
// costs.
func portfolioConfig(database string, programs int, t0 time.Time) string {
	var b strings.Builder
	b.WriteString(`database: ` + database + `
timezone: UTC
log: { level: warn }
connections:
  - name: jira
    kind: jira
    base_url: "http://127.0.0.1:9"
    flavor: cloud
    auth: { email_env: BENCH_JIRA_EMAIL, token_env: BENCH_JIRA_TOKEN }
programs:
`)
	for p := range programs {
		src := portfolioSource(p)
		fmt.Fprintf(&b, "  - id: %s\n    name: Program %d\n    portfolio: %s\n    start: %q\n    end: %q\n",
			src, p+1, []string{"Clinical", "Infrastructure", "Revenue"}[p%3], t0.AddDate(0, 0, -150-p).Format(time.DateOnly), t0.AddDate(0, 0, 210+p).Format(time.DateOnly))
		if p%2 == 0 {
			fmt.Fprintf(&b, "    budget: { planned: %d, currency: USD }\n", 2_000_000+10_000*p)
		}
		fmt.Fprintf(&b, "    sources:\n      - { name: %s, connection: jira, scope: { project: P%02d } }\n", src, p+1)
	}
	return b.String()
}

// portfolioEnv is the environment the portfolio scenario's configuration
// reads its (unused) credentials from.
func portfolioEnv() map[string]string {
	return map[string]string{"BENCH_JIRA_EMAIL": jiraEmail, "BENCH_JIRA_TOKEN": jiraToken}
}

// seedPortfolio writes the portfolio scenario into db: for every sync of
// the timeline and every program, a run and the pages of the items that
// sync carries (all of them the first time, then what arrived, was done or
// moved), then snapshots by rolling up after each of the last syncs with
// the clock set to that sync.
func seedPortfolio(ctx context.Context, db store.Store, eng *engine.Engine, clock *simClock, items, programs int, seed int64, t0 time.Time) error {
	const pageSize = 1000
	gen := make([][]genItem, programs)
	for p := range programs {
		gen[p] = genProgram(p, programItems(portfolioSize{Items: items, Programs: programs}, p), seed, t0)
	}
	page := make([]pmsync.Item, 0, pageSize)
	for s := 0; s <= portfolioWeeks; s++ {
		at := portfolioSyncTime(t0, s)
		for p, g := range gen {
			source := portfolioSource(p)
			run, err := db.StartRun(ctx, source, s == 0, at)
			if err != nil {
				return fmt.Errorf("seed %s: %w", source, err)
			}
			seen := 0
			flush := func() error {
				if len(page) == 0 {
					return nil
				}
				_, err := db.ApplyPage(ctx, store.PageWrite{Source: source, RunID: run, Items: page, Cursor: strconv.Itoa(s), At: at})
				seen += len(page)
				page = page[:0]
				return err
			}
			for i := range g {
				if !g[i].changedAt(s) {
					continue
				}
				page = append(page, g[i].at(s))
				if len(page) == pageSize {
					if err := flush(); err != nil {
						return fmt.Errorf("seed %s, sync %d: %w", source, s, err)
					}
				}
			}
			if err := flush(); err != nil {
				return fmt.Errorf("seed %s, sync %d: %w", source, s, err)
			}
			if err := db.FinishRun(ctx, run, store.RunResult{Status: store.RunOK, Seen: seen, Changed: seen}, at.Add(time.Minute)); err != nil {
				return fmt.Errorf("seed %s: %w", source, err)
			}
		}
		if s > portfolioWeeks-portfolioSnapshots {
			clock.Set(at.Add(2 * time.Minute))
			if _, err := eng.Rollup(ctx, engine.RollupOptions{Save: true}); err != nil {
				return fmt.Errorf("seed snapshots after sync %d: %w", s, err)
			}
		}
	}
	return nil
}

// portfolioSize is one portfolio of the scenario: items spread over
// programs of one source each.
type portfolioSize struct {
	Items    int `json:"items"`
	Programs int `json:"programs"`
}

// String writes the size as the -portfolios flag takes it: items/programs.
func (s portfolioSize) String() string { return fmt.Sprintf("%d/%d", s.Items, s.Programs) }

// parsePortfolios reads the -portfolios flag: a comma-separated list of
// items/programs, or "" for none.
func parsePortfolios(v string) ([]portfolioSize, error) {
	var out []portfolioSize
	for part := range strings.SplitSeq(v, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		items, programs, ok := strings.Cut(part, "/")
		n, err1 := strconv.Atoi(items)
		p, err2 := strconv.Atoi(programs)
		if !ok || err1 != nil || err2 != nil || p < 1 || n < p {
			return nil, fmt.Errorf("-portfolios: %q is not items/programs with at least one item per program", part)
		}
		out = append(out, portfolioSize{Items: n, Programs: p})
	}
	return out, nil
}

// The steps of the portfolio scenario, each measured in a child of its
// own so that its peak RSS is its own.
const (
	// stepKept is a rollup of the portfolio as the syncs and the last
	// scheduled rollup left it.
	stepKept = "kept"
	// stepOneSource is a rollup after a sync changed 1 % of the first
	// program's items.
	stepOneSource = "one-source"
	// stepAllSources is a rollup after a sync changed one item of every
	// program.
	stepAllSources = "all-sources"
	// stepRead is the served report under concurrent readers of the API
	// and of the dashboard, after the refresh that follows a sync.
	stepRead = "read"
)

func portfolioSteps() []string { return []string{stepKept, stepOneSource, stepAllSources, stepRead} }

// readers is how many clients read the served report at once in the read
// step; each sends -reads requests per page.
const readers = 20

// readStats are the latencies of one page under concurrent readers.
type readStats struct {
	Requests int           `json:"requests"`
	Bytes    int           `json:"bytes"` // of one answer
	P50      time.Duration `json:"p50"`
	P95      time.Duration `json:"p95"`
	Max      time.Duration `json:"max"`
}

// portfolioResult is one step over one portfolio size.
type portfolioResult struct {
	Size    portfolioSize `json:"size"`
	Step    string        `json:"step"`
	Run     measured      `json:"run"`
	WallMin time.Duration `json:"wall_min,omitempty"`
	WallMax time.Duration `json:"wall_max,omitempty"`
}

// benchPortfolios seeds a store per portfolio size (in a child) and
// measures every step of it o.runs times.
func benchPortfolios(ctx context.Context, sp *spawner, o options, progress io.Writer) ([]portfolioResult, error) {
	var out []portfolioResult
	for _, size := range o.portfolios {
		var database string
		env := portfolioEnv()
		if sp.pg != nil {
			url, err := sp.pg.CreateDatabase(ctx)
			if err != nil {
				return nil, err
			}
			if !o.keep {
				defer sp.pg.DropDatabase(context.WithoutCancel(ctx), url)
			}
			database = "{ url_env: " + databaseEnv + " }"
			env[databaseEnv] = url
		} else {
			db := filepath.Join(sp.work, fmt.Sprintf("portfolio-%d-%d.db", size.Items, size.Programs))
			if !o.keep {
				defer removeDB(db)
			}
			database = strconv.Quote(db)
		}
		cfg := portfolioConfig(database, size.Programs, o.t0)
		start := time.Now()
		if _, err := sp.run(ctx, job{Kind: jobSeed, Now: o.t0, Config: cfg, Size: size, Seed: o.seed}, env); err != nil {
			return nil, fmt.Errorf("portfolio %s: seed: %w", size, err)
		}
		fmt.Fprintf(progress, "portfolio %s: seeded in %s\n", size, duration(time.Since(start)))
		var runs [][]portfolioResult
		for n := 1; n <= o.runs; n++ {
			var rr []portfolioResult
			for _, step := range portfolioSteps() {
				j := job{Kind: jobPortfolio, Now: o.t0, Config: cfg, Size: size, Step: step, Reads: o.reads,
					CPUProfile: profilePath(o, fmt.Sprintf("portfolio-%d-%d", size.Items, size.Programs), step, n)}
				m, err := sp.run(ctx, j, env)
				if err != nil {
					return nil, fmt.Errorf("portfolio %s, %s, run %d: %w", size, step, n, err)
				}
				fmt.Fprintf(progress, "run %d: portfolio %s: %s in %s\n", n, size, step, duration(m.Wall))
				rr = append(rr, portfolioResult{Size: size, Step: step, Run: m})
			}
			runs = append(runs, rr)
		}
		for i := range runs[0] {
			all := make([]portfolioResult, 0, len(runs))
			for _, r := range runs {
				all = append(all, r[i])
			}
			slices.SortFunc(all, func(a, b portfolioResult) int { return cmp.Compare(a.Run.Wall, b.Run.Wall) })
			med := all[len(all)/2]
			if len(all) > 1 {
				med.WallMin, med.WallMax = all[0].Run.Wall, all[len(all)-1].Run.Wall
			}
			out = append(out, med)
		}
	}
	return out, nil
}

// runSeed fills the job's store with its portfolio.
func runSeed(ctx context.Context, j job, stderr io.Writer) (childResult, error) {
	clock := &simClock{}
	clock.Set(j.Now)
	eng, db, _, err := openEngineAt(ctx, j, clock.Now, stderr)
	if err != nil {
		return childResult{}, err
	}
	defer db.Close()
	start := time.Now()
	if err := seedPortfolio(ctx, db.Store, eng, clock, j.Size.Items, j.Size.Programs, j.Seed, j.Now); err != nil {
		return childResult{}, err
	}
	return childResult{Wall: time.Since(start), Records: j.Size.Items}, nil
}

// runPortfolio runs one step of the portfolio scenario: the sync it stands
// after, untimed, then the timed rollup of every program (or the reads).
func runPortfolio(ctx context.Context, j job, stderr io.Writer) (childResult, error) {
	eng, db, cfg, err := openEngine(ctx, j, stderr)
	if err != nil {
		return childResult{}, err
	}
	defer db.Close()
	programs := cfg.ProgramList()
	switch j.Step {
	case stepKept:
	case stepOneSource:
		n := programItems(j.Size, 0)
		err = changeItems(ctx, db.Store, 0, n, max(1, n/100), j.Now)
	case stepAllSources:
		for p := range programs {
			if err = changeItems(ctx, db.Store, p, programItems(j.Size, p), 1, j.Now); err != nil {
				break
			}
		}
	case stepRead:
		return measureReads(ctx, eng, db.Store, j.Reads)
	default:
		return childResult{}, fmt.Errorf("unknown portfolio step %q", j.Step)
	}
	if err != nil {
		return childResult{}, err
	}
	start := time.Now()
	rep, err := eng.Rollup(ctx, engine.RollupOptions{})
	wall := time.Since(start)
	if err != nil {
		return childResult{}, fmt.Errorf("rollup: %w", err)
	}
	if len(rep.Programs) != j.Size.Programs {
		return childResult{}, fmt.Errorf("rollup: got %d programs, want %d", len(rep.Programs), j.Size.Programs)
	}
	res := childResult{Wall: wall, Records: rep.Portfolio.Items.Live + rep.Portfolio.Items.Deleted,
		Health: fmt.Sprintf("%d red, %d amber, %d green", rep.Portfolio.Health.Red, rep.Portfolio.Health.Amber, rep.Portfolio.Health.Green)}
	if res.Records != j.Size.Items {
		return childResult{}, fmt.Errorf("rollup covered %d items, the portfolio has %d", res.Records, j.Size.Items)
	}
	return res, nil
}

// changeItems stands for a sync that changed k of the n items of program
// p's source, spread over it: each gets 250 more actual cost, in one page.
// It reads only those items, so that the step's CPU time is the rollup's.
func changeItems(ctx context.Context, db store.Store, p, n, k int, at time.Time) error {
	source := portfolioSource(p)
	var page []pmsync.Item
	for _, i := range spread(n, k) {
		id := fmt.Sprintf("P%02d-%d", p+1, i+1) // genProgram's ids
		it, ok, err := db.Item(ctx, source, id)
		if err != nil {
			return fmt.Errorf("change items of %s: %w", source, err)
		}
		if !ok {
			return fmt.Errorf("change items of %s: no item %s", source, id)
		}
		cost := 250.0
		if it.ActualCost != nil {
			cost += *it.ActualCost
		}
		it.ActualCost = &cost
		page = append(page, it)
	}
	if _, err := db.ApplyPage(ctx, store.PageWrite{Source: source, Items: page, Cursor: "changed", At: at}); err != nil {
		return fmt.Errorf("change items of %s: %w", source, err)
	}
	return nil
}

// programItems is how many of the portfolio's items program p holds.
func programItems(size portfolioSize, p int) int {
	n := size.Items / size.Programs
	if p < size.Items%size.Programs {
		n++
	}
	return n
}

// measureReads refreshes the served report, as a sync does at its end,
// then has readers concurrent clients read the API's rollup, then the
// dashboard's portfolio page, then the first program's page, each times
// each, over loopback HTTP.
func measureReads(ctx context.Context, eng *engine.Engine, db store.Store, each int) (childResult, error) {
	rep, err := eng.Refresh(ctx)
	if err != nil {
		return childResult{}, fmt.Errorf("refresh: %w", err)
	}
	srv, err := web.New(eng, db, web.Options{Log: zerolog.Nop()})
	if err != nil {
		return childResult{}, err
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	client := ts.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = readers
	res := childResult{Records: rep.Portfolio.Items.Live + rep.Portfolio.Items.Deleted}
	start := time.Now()
	for _, page := range []struct {
		path string
		into **readStats
	}{{"/api/v1/rollup", &res.API}, {"/", &res.Dashboard}, {"/programs/" + portfolioSource(0), &res.Program}} {
		st, err := readConcurrently(ctx, client, ts.URL+page.path, each)
		if err != nil {
			return childResult{}, err
		}
		*page.into = st
	}
	res.Wall = time.Since(start)
	return res, nil
}

// readConcurrently has readers clients GET url each times each and
// returns the latencies.
func readConcurrently(ctx context.Context, client *http.Client, url string, each int) (*readStats, error) {
	var (
		mu    sync.Mutex
		lat   []time.Duration
		size  int
		first error
		wg    sync.WaitGroup
	)
	for range readers {
		wg.Go(func() {
			for range each {
				start := time.Now()
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
					return
				}
				resp, err := client.Do(req)
				var n int64
				if err == nil {
					n, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("GET %s: %s", url, resp.Status)
					}
				}
				d := time.Since(start)
				mu.Lock()
				first = cmp.Or(first, err)
				lat = append(lat, d)
				size = int(n)
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	slices.Sort(lat)
	at := func(p float64) time.Duration { return lat[min(len(lat)-1, int(math.Ceil(p*float64(len(lat))))-1)] }
	return &readStats{Requests: len(lat), Bytes: size, P50: at(0.50), P95: at(0.95), Max: lat[len(lat)-1]}, nil
}

// writePortfolioMarkdown renders the portfolio steps: one table of
// rollups, one of reads.
func writePortfolioMarkdown(b *strings.Builder, rs []portfolioResult) {
	if len(rs) == 0 {
		return
	}
	b.WriteString("\n| Portfolio (items / programs) | Rollup after | Items | engine.Rollup | Peak RSS | CPU | Health |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|---|\n")
	for _, r := range rs {
		if r.Step == stepRead {
			continue
		}
		fmt.Fprintf(b, "| %s / %s | %s | %s | %s | %s | %s | %s |\n",
			pmsync.Money(float64(int64(r.Size.Items)), 0), pmsync.Money(float64(int64(r.Size.Programs)), 0), stepLabel(r.Step),
			pmsync.Money(float64(int64(r.Run.Records)), 0), withRange(r.Run.Wall, r.WallMin, r.WallMax), mib(r.Run.HWMKiB), seconds(r.Run.CPU), r.Run.Health)
	}
	fmt.Fprintf(b, "\n| Portfolio (items / programs) | Page | Answer | p50 | p95 | max | Peak RSS | CPU |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range rs {
		if r.Step != stepRead {
			continue
		}
		for _, page := range []struct {
			name string
			st   *readStats
		}{{"API `/api/v1/rollup`", r.Run.API}, {"dashboard `/`", r.Run.Dashboard}, {"program page `/programs/p01`", r.Run.Program}} {
			if page.st == nil {
				continue
			}
			fmt.Fprintf(b, "| %s / %s | %s | %s KiB | %s | %s | %s | %s | %s |\n",
				pmsync.Money(float64(int64(r.Size.Items)), 0), pmsync.Money(float64(int64(r.Size.Programs)), 0), page.name,
				pmsync.Money(float64(int64((page.st.Bytes+512)/1024)), 0), msec(page.st.P50), msec(page.st.P95), msec(page.st.Max), mib(r.Run.HWMKiB), seconds(r.Run.CPU))
		}
	}
	fmt.Fprintf(b, "\n(Reads: %d concurrent clients, %d requests per page in all, over loopback HTTP, after the refresh a sync ends with.)\n", readers, rs[len(rs)-1].Run.API.Requests)
}

func stepLabel(step string) string {
	switch step {
	case stepKept:
		return "nothing changed"
	case stepOneSource:
		return "a sync changed 1 % of one program"
	case stepAllSources:
		return "a sync changed every program"
	}
	return step
}

// msec shows a latency in milliseconds, one decimal below 10 ms.
func msec(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}
