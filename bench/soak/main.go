// Command soak runs pmsync's daemon loop for minutes against the Jira
// simulator, syncing every few seconds while dashboard readers fetch the
// dashboard and the rollup API without pause, and reports how large the
// SQLite WAL grew: its peak, its size at the end, and its largest size in
// each minute. It reproduces the soak that found the WAL growing without end
// (1.7 → 36 MB in five minutes with 20 readers), and measures the bound.
//
//	go run ./bench/soak [-duration 5m] [-readers 20] [-items 20000] [-sync 5s] [-checkpoint 30s|off] [-out DIR]
//
// Everything runs in this process: the simulator, the engine's scheduler
// (engine.Run, as `pmsync run` drives it), the dashboard (package web) on
// loopback, the readers, and a sampler reading the WAL file's size every
// 100 ms. The simulator changes 1 % of the items every sync interval, so
// that each sync writes. -checkpoint off runs without the store's periodic
// TRUNCATE checkpoint (SQLite's own passive checkpoints still run), which is
// what pmsync did before the bound.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
	_ "github.com/pmsync/pmsync/connectors/all"
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/sandbox/jirasim"
	"github.com/pmsync/pmsync/store"
	"github.com/pmsync/pmsync/store/sqlite"
	"github.com/pmsync/pmsync/web"
)

const (
	simEmail = "soak@hospital.example"
	simToken = "soak-jira-token"
)

type options struct {
	duration   time.Duration
	readers    int
	items      int
	every      time.Duration
	checkpoint string
	out        string
	seed       uint64
	recompute  bool
}

// result is what one soak measured.
type result struct {
	Duration      string   `json:"duration"`
	Items         int      `json:"items"`
	Readers       int      `json:"readers"`
	SyncEvery     string   `json:"sync_every"`
	Checkpoint    string   `json:"checkpoint"`
	ReadsWhat     string   `json:"readers_read"`
	Syncs         int      `json:"syncs"`
	SyncsOK       int      `json:"syncs_ok"`
	Changed       int      `json:"items_changed"`
	SyncErrors    []string `json:"sync_errors,omitempty"`
	Reads         int64    `json:"reads"`
	ReadErrors    int64    `json:"read_errors"`
	ReadP50ms     float64  `json:"read_p50_ms"`
	ReadP99ms     float64  `json:"read_p99_ms"`
	WALStartBytes int64    `json:"wal_start_bytes"`
	WALPeakBytes  int64    `json:"wal_peak_bytes"`
	WALEndBytes   int64    `json:"wal_end_bytes"`
	WALPerMinute  []int64  `json:"wal_max_per_minute_bytes"`
	DBBytes       int64    `json:"db_bytes"`
	Checkpoints   int      `json:"checkpoints"`
	Busy          int      `json:"checkpoints_busy"`
	Failed        int      `json:"checkpoints_failed"`
	CPUs          int      `json:"cpus"`
	GoVersion     string   `json:"go"`
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 5*time.Minute, "how long the daemon runs")
	flag.IntVar(&o.readers, "readers", 20, "dashboard readers fetching without pause")
	flag.IntVar(&o.items, "items", 20000, "issues in the simulated project")
	flag.DurationVar(&o.every, "sync", 5*time.Second, "sync interval")
	flag.StringVar(&o.checkpoint, "checkpoint", sqlite.DefaultCheckpointEvery.String(), `the store's periodic WAL checkpoint: an interval, or "off"`)
	flag.StringVar(&o.out, "out", filepath.Join("bench", "out"), "directory for soak.json")
	flag.Uint64Var(&o.seed, "seed", 2026, "seed of the generated project and of the changes")
	flag.BoolVar(&o.recompute, "recompute", false, "readers recompute the rollup from the items (engine.Rollup) instead of fetching the dashboard, which serves the latest computed report: long reads, as the dashboard made before it served a precomputed rollup")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	report(os.Stdout, res)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	name := "soak-checkpoint-" + strings.ReplaceAll(o.checkpoint, " ", "")
	if o.recompute {
		name += "-recompute"
	}
	name += ".json"
	if err := os.WriteFile(filepath.Join(o.out, name), append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (result, error) {
	res := result{Duration: o.duration.String(), Items: o.items, Readers: o.readers, SyncEvery: o.every.String(),
		Checkpoint: o.checkpoint, ReadsWhat: "dashboard and API", CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if o.recompute {
		res.ReadsWhat = "rollup recomputed from the items"
	}
	every := sqlite.DefaultCheckpointEvery
	if o.checkpoint == "off" {
		every = -1
	} else {
		d, err := time.ParseDuration(o.checkpoint)
		if err != nil || d <= 0 {
			return res, fmt.Errorf("-checkpoint %q: want a positive interval or off", o.checkpoint)
		}
		every = d
	}

	rng := rand.New(rand.NewPCG(o.seed, 1))
	sim := jirasim.New(jirasim.Options{Flavor: jirasim.Cloud, Email: simEmail, Token: simToken})
	sim.Add(jirasim.Generate("EHR", o.items, int64(o.seed), time.Now())...)
	simSrv := sim.Start()
	defer simSrv.Close()

	dir, err := os.MkdirTemp("", "pmsync-soak-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	dbPath := filepath.Join(dir, "pmsync.db")
	text := fmt.Sprintf(`database: %s
timezone: UTC
log: { level: warn }
schedule: { sync: "@every %s", rollup: "0 7 1 1 *", deletions: "0 3 1 1 *", prune: "0 4 1 1 *" }
connections:
  - name: jira
    kind: jira
    base_url: %s
    flavor: cloud
    rate_limit: { per_minute: 6000000, burst: 1000 }
    auth: { email_env: SOAK_EMAIL, token_env: SOAK_TOKEN }
programs:
  - id: ehr
    name: EHR Upgrade
    start: 2026-01-05
    end: 2026-12-18
    sources:
      - { name: ehr-jira, connection: jira, scope: { project: EHR } }
`, dbPath, o.every, simSrv.URL)
	env := map[string]string{"SOAK_EMAIL": simEmail, "SOAK_TOKEN": simToken}
	cfg, err := config.Parse(filepath.Join(dir, "pmsync.yaml"), []byte(text), connectors.Default, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return res, err
	}
	db, err := sqlite.OpenWith(ctx, dbPath, sqlite.Options{CheckpointEvery: every})
	if err != nil {
		return res, err
	}
	defer db.Close()
	eng, err := engine.New(cfg, db, engine.Options{Log: zerolog.Nop()})
	if err != nil {
		return res, err
	}
	// The first full sync before the clock starts: the soak is about the
	// steady state the soak report describes.
	if _, err := eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		return res, fmt.Errorf("first sync: %w", err)
	}
	if _, err := db.CheckpointWAL(ctx); err != nil {
		return res, err
	}
	res.WALStartBytes = db.WALSize()
	srv, err := web.New(eng, db, web.Options{Log: zerolog.Nop()})
	if err != nil {
		return res, err
	}
	dash := httptest.NewServer(srv)
	defer dash.Close()

	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var wg sync.WaitGroup

	// The sampler.
	minutes := int((o.duration + time.Minute - 1) / time.Minute)
	res.WALPerMinute = make([]int64, minutes)
	began := time.Now()
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			n := db.WALSize()
			res.WALPeakBytes = max(res.WALPeakBytes, n)
			if m := int(time.Since(began) / time.Minute); m < minutes {
				res.WALPerMinute[m] = max(res.WALPerMinute[m], n)
			}
		}
	})
	// The vendor: 1 % of the items change every sync interval.
	issues := sim.Issues()
	wg.Go(func() {
		t := time.NewTicker(o.every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for range max(1, o.items/100) {
				is := issues[rng.IntN(len(issues))]
				_ = sim.Update(is.Key, func(x *jirasim.Issue) {
					x.Summary = fmt.Sprintf("%s (rev %d)", strings.SplitN(x.Summary, " (rev", 2)[0], rng.IntN(1_000_000))
				})
			}
		}
	})
	// The readers.
	var reads, readErrs atomic.Int64
	var lmu sync.Mutex
	var latencies []time.Duration
	client := &http.Client{Timeout: time.Minute}
	for i := range o.readers {
		wg.Go(func() {
			paths := []string{"/", "/api/v1/rollup"}
			for n := i; ctx.Err() == nil; n++ {
				start := time.Now()
				var err error
				if o.recompute {
					_, err = eng.Rollup(ctx, engine.RollupOptions{})
				} else {
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, dash.URL+paths[n%2], nil)
					var resp *http.Response
					if resp, err = client.Do(req); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != http.StatusOK {
							err = fmt.Errorf("GET %s: %s", paths[n%2], resp.Status)
						}
					}
				}
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					readErrs.Add(1)
					continue
				}
				reads.Add(1)
				lmu.Lock()
				latencies = append(latencies, time.Since(start))
				lmu.Unlock()
			}
		})
	}
	// The daemon's own loop, as `pmsync run` drives it.
	stopRun := make(chan struct{})
	runErr := make(chan error, 1)
	go func() { runErr <- eng.Run(ctx, stopRun) }()
	<-ctx.Done()
	close(stopRun)
	wg.Wait()
	if err := <-runErr; err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return res, err
	}

	bg := context.Background()
	runs, err := db.Runs(bg, "ehr-jira", 0)
	if err != nil {
		return res, err
	}
	for _, r := range runs[:max(0, len(runs)-1)] { // the first full sync is not part of the soak
		res.Syncs++
		if r.Status == store.RunOK {
			res.SyncsOK++
		} else {
			res.SyncErrors = append(res.SyncErrors, r.Status+": "+r.Error)
		}
		res.Changed += r.Changed
	}
	res.Reads, res.ReadErrors = reads.Load(), readErrs.Load()
	res.ReadP50ms, res.ReadP99ms = percentile(latencies, 0.50), percentile(latencies, 0.99)
	res.WALEndBytes = db.WALSize()
	if fi, err := os.Stat(dbPath); err == nil {
		res.DBBytes = fi.Size()
	}
	st := db.WALStats()
	res.Checkpoints, res.Busy, res.Failed = st.Checkpoints-1, st.Busy, st.Failed // less the one after the first sync
	return res, nil
}

func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[int(p*float64(len(s)-1))]) / float64(time.Millisecond)
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

func report(w io.Writer, r result) {
	fmt.Fprintf(w, "soak: %s, %d readers (%s), %d items, sync every %s, periodic checkpoint %s (%d CPUs, %s)\n\n",
		r.Duration, r.Readers, r.ReadsWhat, r.Items, r.SyncEvery, r.Checkpoint, r.CPUs, r.GoVersion)
	fmt.Fprintf(w, "| syncs (ok) | items changed | reads (errors) | read p50 / p99 | WAL start | WAL peak | WAL end | database | checkpoints (busy, failed) |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(w, "| %d (%d) | %d | %d (%d) | %.0f / %.0f ms | %s | %s | %s | %s | %d (%d, %d) |\n\n",
		r.Syncs, r.SyncsOK, r.Changed, r.Reads, r.ReadErrors, r.ReadP50ms, r.ReadP99ms,
		mb(r.WALStartBytes), mb(r.WALPeakBytes), mb(r.WALEndBytes), mb(r.DBBytes), r.Checkpoints, r.Busy, r.Failed)
	var per []string
	for i, n := range r.WALPerMinute {
		per = append(per, fmt.Sprintf("min %d: %s", i+1, mb(n)))
	}
	fmt.Fprintf(w, "WAL peak per minute: %s\n", strings.Join(per, ", "))
	for _, e := range r.SyncErrors {
		fmt.Fprintf(w, "sync not ok: %s\n", e)
	}
}
