package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
	_ "github.com/pmsync/pmsync/connectors/all" // the connectors the configurations name
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/store"
	"github.com/pmsync/pmsync/store/postgres"
	"github.com/pmsync/pmsync/store/sqlite"
)

// childEnv names the variable that turns the benchmark binary into the child
// of one scenario; its value is the path of the job file. Each scenario runs
// in its own process so that its peak RSS and CPU time are its own.
const childEnv = "BENCH_CHILD_JOB"

// The kinds of job a child runs.
const (
	jobSync   = "sync"
	jobFloor  = "floor"
	jobRollup = "rollup"
	// jobSeed fills a store with a portfolio and jobPortfolio measures one
	// step of it (portfolio.go).
	jobSeed      = "seed"
	jobPortfolio = "portfolio"
	// jobReplica is one replica of the replicas comparison (replicas.go).
	jobReplica = "replica"
)

// job is what the parent asks a child to do.
type job struct {
	Kind string `json:"kind"`
	// Now is the simulated time when the job starts; the engine's clock
	// runs on from it.
	Now time.Time `json:"now"`
	// CPUProfile, when set, is where a sync or rollup child writes its CPU
	// profile.
	CPUProfile string `json:"cpu_profile,omitempty"`

	// sync and rollup
	Config string `json:"config,omitempty"` // pmsync YAML
	Source string `json:"source,omitempty"`
	Full   bool   `json:"full,omitempty"`

	// seed and portfolio
	Size portfolioSize `json:"size,omitzero"`
	Step string        `json:"step,omitempty"`
	Seed int64         `json:"seed,omitempty"`
	// Reads is how many requests each reader sends per page.
	Reads int `json:"reads,omitempty"`

	// floor
	BaseURL string `json:"base_url,omitempty"`
	AuthEnv string `json:"auth_env,omitempty"` // the variable holding the Authorization header
	Paging  paging `json:"paging,omitempty"`
	Calls   []call `json:"calls,omitempty"`
}

// childResult is what a child reports back on stdout.
type childResult struct {
	Wall     time.Duration `json:"wall"`
	HWMKiB   int64         `json:"hwm_kib"` // VmHWM at the end: the process's peak RSS
	Records  int           `json:"records"`
	Changed  int           `json:"changed"`
	Pages    int           `json:"pages"`
	Requests int64         `json:"requests"`
	Bytes    int64         `json:"bytes,omitempty"` // floor: response bytes decoded

	// sync: the time spent in the store's page writes and tombstoning
	// (the rest of Wall is fetching, decoding and mapping)
	Store time.Duration `json:"store,omitempty"`
	// sync: the rollup refresh that follows the sync (engine.RefreshAfter),
	// timed apart from it; zero when nothing changed and the served
	// rollup was kept.
	Refresh time.Duration `json:"refresh,omitempty"`
	// sync: the peak RSS before the rollup refresh, the sync's own
	// (HWMKiB is the whole process's, refresh included).
	SyncHWMKiB int64 `json:"sync_hwm_kib,omitempty"`

	// rollup: where the time went
	ReadItems time.Duration `json:"read_items,omitempty"`
	Compute   time.Duration `json:"compute,omitempty"`
	Health    string        `json:"health,omitempty"`

	// portfolio read step: the served report under concurrent readers
	API       *readStats `json:"api,omitempty"`
	Dashboard *readStats `json:"dashboard,omitempty"`
	Program   *readStats `json:"program,omitempty"` // the first program's page
	// replica: what one replica's sync pass did
	Replica *replicaPass `json:"replica,omitempty"`
}

// childMain runs the job named by childEnv and writes its result as JSON to
// stdout. It returns the process exit code.
func childMain(path string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := runJob(ctx, path, stderr)
	if err == nil {
		res.HWMKiB, err = peakRSS("/proc/self/status")
	}
	if err == nil {
		err = json.NewEncoder(stdout).Encode(res)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench child:", err)
		return 1
	}
	return 0
}

func runJob(ctx context.Context, path string, stderr io.Writer) (childResult, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return childResult{}, fmt.Errorf("read job: %w", err)
	}
	var j job
	if err := json.Unmarshal(data, &j); err != nil {
		return childResult{}, fmt.Errorf("decode job %s: %w", path, err)
	}
	if j.CPUProfile != "" {
		f, err := os.Create(j.CPUProfile)
		if err != nil {
			return childResult{}, fmt.Errorf("create cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return childResult{}, fmt.Errorf("start cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	switch j.Kind {
	case jobSync:
		return runSync(ctx, j, stderr)
	case jobRollup:
		return runRollup(ctx, j, stderr)
	case jobFloor:
		return runFloor(ctx, j)
	case jobSeed:
		return runSeed(ctx, j, stderr)
	case jobPortfolio:
		return runPortfolio(ctx, j, stderr)
	case jobReplica:
		return runReplica(ctx, j, stderr)
	}
	return childResult{}, fmt.Errorf("unknown job kind %q", j.Kind)
}

// benchEnv serves the configuration's secrets from the BENCH_ variables
// the parent set, and nothing else: a PMSYNC_ override in the caller's
// environment must not change what is measured.
func benchEnv(key string) (string, bool) {
	if !strings.HasPrefix(key, "BENCH_") {
		return "", false
	}
	return os.LookupEnv(key)
}

// openEngine loads the job's configuration and builds an engine over its
// store, with a clock that runs on from the job's simulated time.
func openEngine(ctx context.Context, j job, stderr io.Writer) (*engine.Engine, *timedStore, *config.Config, error) {
	start := time.Now()
	return openEngineAt(ctx, j, func() time.Time { return j.Now.Add(time.Since(start)) }, stderr)
}

// openEngineAt is openEngine with the engine's clock given.
func openEngineAt(ctx context.Context, j job, now func() time.Time, stderr io.Writer) (*engine.Engine, *timedStore, *config.Config, error) {
	cfg, err := config.Parse("bench.yaml", []byte(j.Config), connectors.Default, benchEnv)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parse the benchmark configuration: %w", err)
	}
	var db store.Store
	if url := cfg.PostgresURL(); url != "" {
		db, err = postgres.Open(ctx, url.Reveal())
	} else {
		db, err = sqlite.Open(ctx, cfg.Database)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	st := &timedStore{Store: db}
	log := zerolog.New(stderr).Level(zerolog.WarnLevel)
	eng, err := engine.New(cfg, st, engine.Options{Log: log, Now: now})
	if err != nil {
		db.Close()
		return nil, nil, nil, fmt.Errorf("build the engine: %w", err)
	}
	return eng, st, cfg, nil
}

// timedStore is the store with the time of its sync writes added up, to
// tell storage apart from fetching and mapping in a sync's wall time.
type timedStore struct {
	store.Store
	spent time.Duration
}

// ApplyPage writes a page and adds its time to spent.
func (t *timedStore) ApplyPage(ctx context.Context, w store.PageWrite) (store.PageResult, error) {
	start := time.Now()
	defer func() { t.spent += time.Since(start) }()
	return t.Store.ApplyPage(ctx, w)
}

// Tombstone marks items deleted and adds its time to spent.
func (t *timedStore) Tombstone(ctx context.Context, fence store.Fence, source string, live []string, at time.Time) (int, error) {
	start := time.Now()
	defer func() { t.spent += time.Since(start) }()
	return t.Store.Tombstone(ctx, fence, source, live, at)
}

// runSync runs one sync of the job's source and times it; opening the store
// and building the engine are not part of the time.
func runSync(ctx context.Context, j job, stderr io.Writer) (childResult, error) {
	eng, db, _, err := openEngine(ctx, j, stderr)
	if err != nil {
		return childResult{}, err
	}
	defer db.Close()
	start := time.Now()
	// The rollup the engine refreshes after a sync is timed apart: Wall is
	// the sync's own work.
	results, err := eng.Sync(ctx, engine.SyncOptions{Sources: []string{j.Source}, Full: j.Full, SkipRefresh: true})
	wall := time.Since(start)
	if err != nil {
		return childResult{}, fmt.Errorf("sync %s: %w", j.Source, err)
	}
	if len(results) != 1 {
		return childResult{}, fmt.Errorf("sync %s: got %d source results, want 1", j.Source, len(results))
	}
	r := results[0]
	res := childResult{Wall: wall, Records: r.Seen, Changed: r.Changed, Pages: r.Pages, Requests: r.Requests, Store: db.spent}
	if res.SyncHWMKiB, err = peakRSS("/proc/self/status"); err != nil {
		return childResult{}, err
	}
	start = time.Now()
	refreshed, err := eng.RefreshAfter(ctx, results)
	if err != nil {
		return childResult{}, fmt.Errorf("refresh the rollup after the sync of %s: %w", j.Source, err)
	}
	if refreshed {
		res.Refresh = time.Since(start)
	}
	return res, nil
}

// runRollup times engine.Rollup over the whole store, then its two halves
// alone: reading the items and the pure rollup math.
func runRollup(ctx context.Context, j job, stderr io.Writer) (childResult, error) {
	eng, db, cfg, err := openEngine(ctx, j, stderr)
	if err != nil {
		return childResult{}, err
	}
	defer db.Close()
	start := time.Now()
	rep, err := eng.Rollup(ctx, engine.RollupOptions{})
	wall := time.Since(start)
	if err != nil {
		return childResult{}, fmt.Errorf("rollup: %w", err)
	}
	if len(rep.Programs) != 1 {
		return childResult{}, fmt.Errorf("rollup: got %d programs, want 1", len(rep.Programs))
	}
	res := childResult{Wall: wall, Records: rep.Programs[0].Items.Live, Health: string(rep.Programs[0].Health.Status)}

	p := cfg.ProgramList()[0]
	start = time.Now()
	items, err := db.Items(ctx, p.Sources...)
	res.ReadItems = time.Since(start)
	if err != nil {
		return childResult{}, fmt.Errorf("read items: %w", err)
	}
	start = time.Now()
	r := pmsync.Compute(p, items, nil, cfg.RulesFor(p.ID), rep.AsOf)
	res.Compute = time.Since(start)
	if r.Items.Live != res.Records {
		return childResult{}, fmt.Errorf("rollup: engine counted %d live items, Compute %d", res.Records, r.Items.Live)
	}
	return res, nil
}

// peakRSS reads VmHWM, the peak resident set of this process, from a
// /proc/<pid>/status file, in KiB. Unlike the rusage a parent reads, it
// starts afresh at exec and so is this scenario's own.
func peakRSS(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read peak rss: %w", err)
	}
	defer f.Close()
	return parseHWM(f)
}

// parseHWM finds the VmHWM line of a /proc status file ("VmHWM:   123 kB").
func parseHWM(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("read peak rss: unexpected VmHWM line %q", sc.Text())
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read peak rss: VmHWM %q: %w", fields[0], err)
		}
		return n, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read peak rss: %w", err)
	}
	return 0, errors.New("read peak rss: no VmHWM line")
}
