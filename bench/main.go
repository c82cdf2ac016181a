// Command bench is pmsync's reproducible benchmark (DESIGN §8). For each
// vendor it loads the sandbox simulator with a generated program of
// -items items and, over loopback, measures a full sync, an incremental
// sync after 1 % of the items changed, and a sync where nothing changed;
// then engine.Rollup over the store those syncs filled. Each measurement
// runs in a child process, so its peak RSS and CPU time are its own, and
// each sync is compared with a floor: the same pages fetched and decoded by
// a bare net/http loop, with no mapping or storage.
//
//	go run ./bench [-items 100000] [-vendors jira,asana,smartsheet,trello] [-out bench/out] [-runs 3] [-store sqlite|postgres]
//	               [-portfolios 500000/50,100000/1] [-reads 10]
//
// With -replicas N it instead compares one replica with N replicas on one
// PostgreSQL database syncing -sources sources, each on a connection of its
// own (replicas.go):
//
//	go run ./bench -replicas 3 [-sources 8] [-source-items 5000] [-replicas-vendor asana] [-runs 3]
//
// With -store postgres the syncs write to a throwaway PostgreSQL server
// (store/postgres/pgtest: initdb on a temporary directory, a free loopback
// port, PostgreSQL's default durability), one fresh database per vendor
// and run, instead of a SQLite file.
//
// Then the portfolio scenario (portfolio.go): for each -portfolios size
// (default 500000/50 and 100000/1: items/programs) a store is seeded as
// weekly syncs and scheduled rollups would have filled it, and engine.Rollup
// of every program is timed with nothing changed, after a sync changed 1 %
// of one program and after one changed every program; then the served
// report is read by 20 concurrent clients of the API and of the dashboard
// (-reads requests each per page).
//
// Every vendor runs -runs times; the tables show each measurement's median
// run. The results are printed as Markdown and written to -out as
// results.md and results.json. BENCHMARKS.md explains how to read them.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pmsync/pmsync/store/postgres/pgtest"
)

// The stores -store chooses between.
const (
	storeSQLite   = "sqlite"
	storePostgres = "postgres"
)

// databaseEnv is the variable that hands a sync child the URL of its
// PostgreSQL database; the configuration reads it through url_env.
const databaseEnv = "BENCH_DATABASE_URL"

// The timeline of one vendor, relative to options.t0: the full sync, then the
// changes spread over an hour, the incremental sync, and a sync with
// nothing new. Changes are spread so that the connectors' overlap (5
// minutes before the cursor) re-reads only the last few of them, as it
// would in steady state.
const (
	atFull        = time.Minute
	changesFrom   = 10 * time.Minute
	changesTo     = 70 * time.Minute
	atIncremental = 75 * time.Minute
	atNoChange    = 90 * time.Minute
)

// options are the command-line flags.
type options struct {
	items      int
	vendors    []string
	out        string
	changedPct float64
	seed       int64
	cpuProfile string
	floor      bool
	rollup     bool
	keep       bool
	runs       int
	store      string // storeSQLite or storePostgres
	// portfolios are the sizes of the portfolio rollup scenario; reads is
	// how many requests each of its readers sends per page.
	portfolios []portfolioSize
	reads      int
	// replicas are the flags of the replicas comparison (replicas.go),
	// which runs instead of the per-vendor scenarios when set.
	replicas replicaOptions
	// t0 is the simulated "now" the programs are generated around. A fixed
	// time makes every run generate the same data and the same timeline of
	// changes, whatever the day.
	t0 time.Time
}

func main() {
	if path := os.Getenv(childEnv); path != "" {
		os.Exit(childMain(path, os.Stdout, os.Stderr))
	}
	os.Exit(parentMain(os.Args[1:], os.Stdout, os.Stderr))
}

// parentMain runs the benchmark and returns the exit code.
func parentMain(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, args, stdout, stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "bench:", err)
		}
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{t0: time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)}
	var vendors string
	fs.IntVar(&o.items, "items", 100_000, "items per vendor")
	fs.StringVar(&vendors, "vendors", strings.Join(knownVendors(), ","), "comma-separated vendors to run")
	fs.StringVar(&o.out, "out", filepath.Join("bench", "out"), "directory for results.md and results.json")
	fs.Float64Var(&o.changedPct, "changed", 1, "percent of the items changed before the incremental sync")
	fs.Int64Var(&o.seed, "seed", 2026, "seed of the generated programs")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "directory for CPU profiles: VENDOR-SCENARIO[-floor]-rRUN.pprof and VENDOR-rollup-rRUN.pprof of the children, simulators.pprof of this process")
	fs.BoolVar(&o.floor, "floor", true, "measure the fetch-and-decode floor of each sync")
	fs.BoolVar(&o.rollup, "rollup", true, "measure engine.Rollup over each vendor's store")
	fs.IntVar(&o.runs, "runs", 3, "runs of every vendor; the table shows each measurement's median run")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (databases, job files) and print its path")
	fs.StringVar(&o.store, "store", storeSQLite, "the store the syncs write to: sqlite (a file) or postgres (a throwaway local server)")
	portfolios := fs.String("portfolios", "500000/50,100000/1", "portfolio rollup scenarios, items/programs, comma-separated; empty for none")
	fs.IntVar(&o.reads, "reads", 10, "requests each of the portfolio's 20 concurrent readers sends per page")
	o.replicas.register(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	var err error
	if o.portfolios, err = parsePortfolios(*portfolios); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.items < 1 {
		return o, fmt.Errorf("-items %d: must be at least 1", o.items)
	}
	if o.runs < 1 {
		return o, fmt.Errorf("-runs %d: must be at least 1", o.runs)
	}
	if o.reads < 1 {
		return o, fmt.Errorf("-reads %d: must be at least 1", o.reads)
	}
	if o.store != storeSQLite && o.store != storePostgres {
		return o, fmt.Errorf("-store %q: want sqlite or postgres", o.store)
	}
	if err := o.replicas.check(); err != nil {
		return o, err
	}
	if o.changedPct <= 0 || o.changedPct > 100 {
		return o, fmt.Errorf("-changed %g: must be in (0, 100]", o.changedPct)
	}
	for v := range strings.SplitSeq(vendors, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		if !slices.Contains(knownVendors(), v) {
			return o, fmt.Errorf("-vendors: unknown vendor %q (known: %s)", v, strings.Join(knownVendors(), ", "))
		}
		o.vendors = append(o.vendors, v)
	}
	if len(o.vendors) == 0 && len(o.portfolios) == 0 {
		return o, errors.New("-vendors: name at least one vendor (or a -portfolios size)")
	}
	return o, nil
}

// run parses the flags, runs every vendor and writes the results.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the benchmark binary to run scenarios in: %w", err)
	}
	// An unwritable -out should fail before minutes of measuring, not after.
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("create the output directory: %w", err)
	}
	if o.replicas.on() {
		return runReplicas(ctx, exe, o, args, stdout, stderr)
	}
	res, err := benchmark(ctx, exe, o, stderr)
	if err != nil {
		return err
	}
	res.Command = strings.TrimSpace("go run ./bench " + strings.Join(args, " "))
	var md strings.Builder
	if err := writeMarkdown(&md, res); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "results.md"), []byte(md.String()), 0o644); err != nil {
		return fmt.Errorf("write results.md: %w", err)
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(o.out, "results.json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results.json: %w", err)
	}
	_, err = io.WriteString(stdout, md.String())
	return err
}

// benchmark runs every selected vendor, each scenario in a child of exe.
func benchmark(ctx context.Context, exe string, o options, progress io.Writer) (results, error) {
	start := time.Now()
	work, err := os.MkdirTemp("", "pmsync-bench-")
	if err != nil {
		return results{}, fmt.Errorf("create a work directory: %w", err)
	}
	if o.keep {
		fmt.Fprintln(progress, "work directory:", work)
	} else {
		defer os.RemoveAll(work)
	}
	if o.cpuProfile != "" {
		if err := os.MkdirAll(o.cpuProfile, 0o755); err != nil {
			return results{}, fmt.Errorf("create the profile directory: %w", err)
		}
		// This process is the simulators: its profile shows what serving
		// the syncs cost.
		f, err := os.Create(filepath.Join(o.cpuProfile, "simulators.pprof"))
		if err != nil {
			return results{}, fmt.Errorf("create the simulators' cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return results{}, fmt.Errorf("start the simulators' cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	sp := &spawner{exe: exe, work: work}
	var version string
	if o.store == storePostgres {
		srv, err := pgtest.Start(ctx, pgtest.Options{Durable: true})
		if err != nil {
			return results{}, fmt.Errorf("-store postgres: %w", err)
		}
		defer srv.Stop()
		sp.pg = srv
		if version, err = srv.Version(ctx); err != nil {
			return results{}, err
		}
	}
	res := results{
		Store:    o.store,
		Server:   version,
		Items:    o.items,
		Seed:     o.seed,
		Revision: revision(),
		Machine: machine{
			CPUs: runtime.NumCPU(), CPUModel: cpuModel(), MemoryGiB: memoryGiB(),
			GoVersion: runtime.Version(), OSArch: runtime.GOOS + "/" + runtime.GOARCH, Env: tuningEnv(),
			LoadStart: loadAverage(),
		},
	}
	var runs []runResults
	for n := 1; n <= o.runs; n++ {
		var rr runResults
		for _, name := range o.vendors {
			syncs, ro, err := benchVendor(ctx, sp, name, n, o, progress)
			if err != nil {
				return results{}, fmt.Errorf("%s, run %d: %w", name, n, err)
			}
			rr.Syncs = append(rr.Syncs, syncs...)
			if ro != nil {
				rr.Rollups = append(rr.Rollups, *ro)
			}
			// The next vendor's simulator should not pay for this one's heap.
			debug.FreeOSMemory()
		}
		runs = append(runs, rr)
	}
	if res.Portfolio, err = benchPortfolios(ctx, sp, o, progress); err != nil {
		return results{}, err
	}
	res.Runs = len(runs)
	res.Syncs, res.Rollups = medians(runs)
	if res.Runs > 1 {
		res.All = runs
	}
	res.Total = time.Since(start)
	res.Machine.LoadEnd = loadAverage()
	return res, nil
}

// benchVendor runs the three syncs of one vendor and the rollup over the
// store they filled.
func benchVendor(ctx context.Context, sp *spawner, name string, run int, o options, progress io.Writer) ([]syncResult, *rollupResult, error) {
	t0 := o.t0
	clock := &simClock{}
	clock.Set(t0)
	genStart := time.Now()
	v, err := newVendor(name, o.items, o.seed, clock, t0)
	if err != nil {
		return nil, nil, err
	}
	defer v.close()
	fmt.Fprintf(progress, "run %d: %s: generated %d items in %s\n", run, name, o.items, duration(time.Since(genStart)))
	var database string // the configuration's database: value
	if sp.pg != nil {
		url, err := sp.pg.CreateDatabase(ctx)
		if err != nil {
			return nil, nil, err
		}
		if !o.keep {
			defer sp.pg.DropDatabase(context.WithoutCancel(ctx), url)
		}
		database = "{ url_env: " + databaseEnv + " }"
		v.env[databaseEnv] = url
	} else {
		db := filepath.Join(sp.work, fmt.Sprintf("%s-r%d.db", name, run))
		if !o.keep {
			defer removeDB(db)
		}
		database = strconv.Quote(db)
	}
	cfg := v.configYAML(database, t0)
	modified := max(1, int(math.Round(float64(o.items)*o.changedPct/100)))

	var out []syncResult
	step := func(scenario string, at time.Duration, full bool, mod int) (syncResult, error) {
		clock.Set(t0.Add(at))
		r, err := measureSync(ctx, sp, v, o, job{Kind: jobSync, Now: clock.Now(), Config: cfg, Source: name, Full: full}, scenario, mod, run)
		if err != nil {
			return r, fmt.Errorf("%s sync: %w", scenario, err)
		}
		fmt.Fprintf(progress, "run %d: %s: %s sync: %d records in %s, %d requests\n", run, name, scenario, r.Sync.Records, duration(r.Sync.Wall), r.Requests)
		out = append(out, r)
		return r, nil
	}

	full, err := step(scenarioFull, atFull, true, o.items)
	if err != nil {
		return nil, nil, err
	}
	if full.Sync.Records != o.items {
		return nil, nil, fmt.Errorf("full sync saw %d records, the simulator holds %d", full.Sync.Records, o.items)
	}
	if err := v.change(clock, spread(o.items, modified), t0.Add(changesFrom), t0.Add(changesTo)); err != nil {
		return nil, nil, err
	}
	incr, err := step(scenarioIncremental, atIncremental, false, modified)
	if err != nil {
		return nil, nil, err
	}
	if incr.Sync.Changed < modified {
		return nil, nil, fmt.Errorf("incremental sync stored %d changes, %d items changed", incr.Sync.Changed, modified)
	}
	none, err := step(scenarioNoChange, atNoChange, false, 0)
	if err != nil {
		return nil, nil, err
	}
	if none.Sync.Changed != 0 {
		return nil, nil, fmt.Errorf("no-change sync stored %d changes", none.Sync.Changed)
	}
	if !o.rollup {
		return out, nil, nil
	}
	j := job{Kind: jobRollup, Now: clock.Now(), Config: cfg, CPUProfile: profilePath(o, name, "rollup", run)}
	m, err := sp.run(ctx, j, v.env)
	if err != nil {
		return nil, nil, fmt.Errorf("rollup: %w", err)
	}
	fmt.Fprintf(progress, "run %d: %s: rollup of %d items in %s\n", run, name, m.Records, duration(m.Wall))
	return out, &rollupResult{Vendor: name, Run: m}, nil
}

// measureSync runs one sync in a child, counts what the simulator received,
// and replays its data requests in a floor child.
func measureSync(ctx context.Context, sp *spawner, v *vendor, o options, j job, scenario string, modified, run int) (syncResult, error) {
	r := syncResult{Vendor: v.name, Scenario: scenario, Items: o.items, Modified: modified, MinRequests: minRequests(modified, v.pageMax)}
	if v.minimum != nil {
		r.MinRequests = v.minimum(modified, o.items)
	}
	j.CPUProfile = profilePath(o, v.name, scenario, run)
	v.reset()
	m, err := sp.run(ctx, j, v.env)
	if err != nil {
		return r, err
	}
	r.Sync = m
	calls := v.calls()
	r.Requests = len(calls)
	r.Endpoints = map[string]int{}
	var data []call
	for _, c := range calls {
		r.Endpoints[endpoint(c)]++
		if v.data(c) {
			data = append(data, c)
		}
	}
	r.AtVendorRate = v.rate.minTime(int64(r.Requests))
	if !o.floor || len(data) == 0 {
		return r, nil
	}
	v.reset()
	fj := job{Kind: jobFloor, Now: j.Now, CPUProfile: profilePath(o, v.name, scenario+"-floor", run), BaseURL: v.baseURL, AuthEnv: "BENCH_AUTH", Paging: v.paging, Calls: data}
	f, err := sp.run(ctx, fj,
		map[string]string{"BENCH_AUTH": v.auth})
	if err != nil {
		return r, fmt.Errorf("floor: %w", err)
	}
	// Token-paged vendors must have walked the very pages the sync read.
	if v.paging != pagingNone && (f.Records != m.Records || f.Requests != int64(len(data))) {
		return r, fmt.Errorf("floor read %d records in %d requests, the sync %d records in %d data requests", f.Records, f.Requests, m.Records, len(data))
	}
	r.Floor = &f
	return r, nil
}

func profilePath(o options, vendor, scenario string, run int) string {
	if o.cpuProfile == "" {
		return ""
	}
	return filepath.Join(o.cpuProfile, fmt.Sprintf("%s-%s-r%d.pprof", vendor, scenario, run))
}

// removeDB deletes a run's database with its WAL and shared-memory files.
func removeDB(path string) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(path + suffix)
	}
}
