package main

// The replicas comparison: -sources sources, each on a connection (a
// credential) of its own, synced from scratch by one `pmsync run`-like
// process, then by -replicas of them sharing one PostgreSQL database; with
// the connectors' default rate limits and with none.
//
// A connection is synced by one replica at a time (its lease), so more
// replicas can only help when the sources sit on several connections: that
// is why every source here has its own. Every replica is a child process
// that runs what `pmsync run` runs when it starts: one engine.Sync of every
// source with busy sources skipped (another replica holds their lease).
// The children get ready (configuration, store, connectors), then start on
// one signal, so that process start-up is not in the wall time.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/asana"
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/sandbox/asanasim"
	"github.com/pmsync/pmsync/sandbox/jirasim"
	"github.com/pmsync/pmsync/store"
	"github.com/pmsync/pmsync/store/postgres"
	"github.com/pmsync/pmsync/store/postgres/pgtest"
)

// The rate limits a replicas measurement runs under.
const (
	limitVendor    = "vendor"    // the connectors' defaults: each vendor's published budget per token
	limitUnlimited = "unlimited" // lifted far above what loopback reaches
)

// readyTimeout bounds how long a replica may take to load its
// configuration and open the store before the measurement starts.
const readyTimeout = 2 * time.Minute

// replicaOptions are the flags of the replicas comparison.
type replicaOptions struct {
	count   int // replicas compared with one; 0 turns the comparison off
	sources int
	items   int // per source
	vendor  string
	workers int // sync.workers of every replica; 0 keeps the configuration's default
}

func (r *replicaOptions) register(fs *flag.FlagSet) {
	fs.IntVar(&r.count, "replicas", 0, "compare one replica with this many (at least 2) sharing one PostgreSQL database, instead of running the per-vendor scenarios")
	fs.IntVar(&r.sources, "sources", 8, "with -replicas: sources, each on a connection (credential) of its own")
	fs.IntVar(&r.items, "source-items", 5000, "with -replicas: items per source")
	fs.StringVar(&r.vendor, "replicas-vendor", "asana", "with -replicas: the tool every source is in (asana or jira)")
	fs.IntVar(&r.workers, "workers", 0, "with -replicas: sync.workers of every replica; 0 keeps the configuration's default")
}

// on reports whether the replicas comparison runs.
func (r replicaOptions) on() bool { return r.count != 0 }

func (r replicaOptions) check() error {
	if !r.on() {
		return nil
	}
	if r.count < 2 {
		return fmt.Errorf("-replicas %d: compare one replica with at least 2", r.count)
	}
	if r.sources < 1 {
		return fmt.Errorf("-sources %d: must be at least 1", r.sources)
	}
	if r.items < 1 {
		return fmt.Errorf("-source-items %d: must be at least 1", r.items)
	}
	if r.workers < 0 || r.workers > 64 {
		return fmt.Errorf("-workers %d: must be in 0..64 (0: the configuration's default)", r.workers)
	}
	if r.vendor != "asana" && r.vendor != "jira" {
		return fmt.Errorf("-replicas-vendor %q: want asana or jira", r.vendor)
	}
	return nil
}

// workersOf is the sync.workers every replica runs with.
func (r replicaOptions) workersOf() int {
	if r.workers > 0 {
		return r.workers
	}
	return config.DefaultWorkers
}

// replicaPass is what one replica's sync pass did, as the child reports it.
// Times are wall-clock times, comparable across the processes of one
// machine.
type replicaPass struct {
	Start   time.Time    `json:"start"` // the start signal arrived
	End     time.Time    `json:"end"`   // engine.Sync returned
	Sources []sourcePass `json:"sources"`
}

// sourcePass is one source in a replica's pass.
type sourcePass struct {
	Source   string    `json:"source"`
	Status   string    `json:"status"` // ok, busy (another replica held the lease), failed, stopped
	Records  int       `json:"records"`
	Changed  int       `json:"changed"`
	Requests int64     `json:"requests"`
	Start    time.Time `json:"start,omitzero"` // the run was recorded as started (lease taken)
	End      time.Time `json:"end,omitzero"`   // the run was recorded as finished
	Err      string    `json:"err,omitempty"`
}

// runTimes is the store with the wall-clock time at which each sync run was
// recorded as started and finished.
type runTimes struct {
	store.Store
	mu         sync.Mutex
	start, end map[int64]time.Time
}

// StartRun records the run and when it started.
func (r *runTimes) StartRun(ctx context.Context, source string, full bool, at time.Time) (int64, error) {
	id, err := r.Store.StartRun(ctx, source, full, at)
	if err == nil {
		r.mu.Lock()
		r.start[id] = time.Now()
		r.mu.Unlock()
	}
	return id, err
}

// FinishRun records the end of the run and when that happened.
func (r *runTimes) FinishRun(ctx context.Context, id int64, res store.RunResult, at time.Time) error {
	err := r.Store.FinishRun(ctx, id, res, at)
	r.mu.Lock()
	r.end[id] = time.Now()
	r.mu.Unlock()
	return err
}

// runReplica is the child of one replica: it builds the engine, tells the
// parent it is ready on file descriptor 3, waits for the start signal on
// stdin, then runs the pass `pmsync run` runs when it starts.
func runReplica(ctx context.Context, j job, stderr io.Writer) (childResult, error) {
	cfg, err := config.Parse("bench.yaml", []byte(j.Config), connectors.Default, benchEnv)
	if err != nil {
		return childResult{}, fmt.Errorf("parse the benchmark configuration: %w", err)
	}
	url := cfg.PostgresURL()
	if url == "" {
		return childResult{}, errors.New("a replica needs a PostgreSQL database")
	}
	db, err := postgres.Open(ctx, url.Reveal())
	if err != nil {
		return childResult{}, err
	}
	defer db.Close()
	st := &runTimes{Store: db, start: map[int64]time.Time{}, end: map[int64]time.Time{}}
	// The engine's clock runs on from the job's simulated time, counted
	// from the start signal.
	goAt := time.Now()
	now := func() time.Time { return j.Now.Add(time.Since(goAt)) }
	eng, err := engine.New(cfg, st, engine.Options{Log: zerolog.New(stderr).Level(zerolog.WarnLevel), Now: now})
	if err != nil {
		return childResult{}, fmt.Errorf("build the engine: %w", err)
	}
	ready := os.NewFile(3, "ready")
	if ready == nil {
		return childResult{}, errors.New("signal ready: no file descriptor 3")
	}
	_, err = io.WriteString(ready, "ready\n")
	ready.Close()
	if err != nil {
		return childResult{}, fmt.Errorf("signal ready: %w", err)
	}
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		return childResult{}, fmt.Errorf("wait for the start signal: %w", err)
	}
	goAt = time.Now()
	results, err := eng.Sync(ctx, engine.SyncOptions{SourceTimeout: cfg.Sync.RunTimeout, SkipBusy: true})
	pass := replicaPass{Start: goAt, End: time.Now()}
	if err != nil {
		return childResult{}, fmt.Errorf("sync pass: %w", err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, r := range results {
		sp := sourcePass{Source: r.Source, Status: r.Status, Records: r.Seen, Changed: r.Changed, Requests: r.Requests,
			Start: st.start[r.RunID], End: st.end[r.RunID]}
		if r.Err != nil {
			sp.Err = r.Err.Error()
		}
		pass.Sources = append(pass.Sources, sp)
	}
	return childResult{Wall: pass.End.Sub(pass.Start), Replica: &pass}, nil
}

// gate stands in front of one simulator, which serves one credential: it
// counts the requests and how many were in flight at once. Two replicas
// pulling one connection at the same time would show as two in flight.
type gate struct {
	next http.Handler

	mu            sync.Mutex
	in, max, seen int
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.in++
	g.seen++
	g.max = max(g.max, g.in)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.in--
		g.mu.Unlock()
	}()
	g.next.ServeHTTP(w, r)
}

// take returns the requests and the most in flight at once since the last
// take, and starts counting afresh.
func (g *gate) take() (requests, inFlight int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	requests, inFlight = g.seen, g.max
	g.seen, g.max = 0, 0
	return requests, inFlight
}

// fleetSource is one source: a simulator of its own behind a gate, with a
// credential of its own.
type fleetSource struct {
	name string // the connection's and the source's name
	// connection renders the connection's YAML (an indented list item) with
	// an extra line (the rate limit; "" for none).
	connection func(extra string) string
	scope      string
	env        map[string]string
	gate       *gate
	ts         *httptest.Server
}

// fleet is every source of the comparison, all in one tool.
type fleet struct {
	vendor  string
	pageMax int // records per request (the API's maximum page)
	// extra is the requests a first sync sends besides its pages: Asana's
	// events sync token, Jira's field list.
	extra   int
	rate    vendorRate // the connector's default budget per credential
	label   string     // that budget in words
	sources []*fleetSource
}

// newFleet starts n simulators of the vendor, each holding items generated
// items and accepting its own token.
func newFleet(vendor string, n, items int, seed int64, t0 time.Time) (*fleet, error) {
	clock := &simClock{}
	clock.Set(t0.Add(atFull))
	f := &fleet{vendor: vendor, pageMax: 100, extra: 1}
	switch vendor {
	case "asana":
		perMinute := float64(asana.DefaultPerMinute)
		// connectors/asana.New's default: DefaultPerMinute, a two-second burst.
		f.rate = vendorRate{perSecond: perMinute / 60, burst: max(1, int(perMinute/30))}
		f.label = fmt.Sprintf("%d requests/min per token", asana.DefaultPerMinute)
	case "jira":
		// connectors/jira.New's Cloud default: 10 requests/s, burst 20.
		f.rate = vendorRate{perSecond: 10, burst: 20}
		f.label = "10 requests/s per token"
	default:
		return nil, fmt.Errorf("unknown vendor %q for the replicas comparison (known: asana, jira)", vendor)
	}
	for i := 1; i <= n; i++ {
		s := &fleetSource{name: fmt.Sprintf("%s-%d", vendor, i)}
		switch vendor {
		case "asana":
			token := fmt.Sprintf("bench-asana-token-%d", i)
			tokenEnv := fmt.Sprintf("BENCH_ASANA_TOKEN_%d", i)
			srv := asanasim.New(asanasim.Options{Token: token, Now: clock.Now})
			project := srv.Generate(fmt.Sprintf("Hospital %d portfolio", i), items, seed+int64(i), t0)
			s.gate = &gate{next: srv}
			s.ts = httptest.NewServer(s.gate)
			base := s.ts.URL + asanasim.BasePath
			s.connection = func(extra string) string {
				return "  - name: " + s.name + "\n    kind: asana\n    base_url: \"" + base + "\"\n" + extra +
					"    auth: { token_env: " + tokenEnv + " }\n"
			}
			s.scope = `{ project: "` + project + `" }`
			s.env = map[string]string{tokenEnv: token}
		case "jira":
			token := fmt.Sprintf("bench-jira-token-%d", i)
			tokenEnv := fmt.Sprintf("BENCH_JIRA_TOKEN_%d", i)
			srv := jirasim.New(jirasim.Options{Flavor: jirasim.Cloud, Email: jiraEmail, Token: token, TimeZone: "America/New_York", Now: clock.Now})
			srv.Add(jirasim.Generate("EHR", items, seed+int64(i), t0)...)
			s.gate = &gate{next: srv}
			s.ts = httptest.NewServer(s.gate)
			base := s.ts.URL
			s.connection = func(extra string) string {
				return "  - name: " + s.name + "\n    kind: jira\n    base_url: \"" + base + "\"\n    flavor: cloud\n" + extra +
					"    auth: { email_env: BENCH_JIRA_EMAIL, token_env: " + tokenEnv + " }\n"
			}
			s.scope = `{ project: EHR }`
			s.env = map[string]string{"BENCH_JIRA_EMAIL": jiraEmail, tokenEnv: token}
		}
		f.sources = append(f.sources, s)
	}
	return f, nil
}

func (f *fleet) close() {
	for _, s := range f.sources {
		s.ts.Close()
	}
}

// names are the sources' names, in the configuration's order.
func (f *fleet) names() []string {
	out := make([]string, len(f.sources))
	for i, s := range f.sources {
		out[i] = s.name
	}
	return out
}

// configYAML is the configuration every replica of a measurement loads:
// one program fed by every source, each source on its own connection.
func (f *fleet) configYAML(limit string, workers int, t0 time.Time) string {
	var b strings.Builder
	b.WriteString("database: { url_env: " + databaseEnv + " }\ntimezone: UTC\nlog: { level: warn }\n")
	if workers > 0 {
		b.WriteString("sync: { workers: " + strconv.Itoa(workers) + " }\n")
	}
	extra := ""
	if limit == limitUnlimited {
		extra = "    " + unthrottled + "\n"
	}
	b.WriteString("connections:\n")
	for _, s := range f.sources {
		b.WriteString(s.connection(extra))
	}
	b.WriteString(`programs:
  - id: network
    name: Hospital network portfolio
    start: "` + t0.AddDate(0, 0, -150).Format(time.DateOnly) + `"
    end: "` + t0.AddDate(0, 0, 210).Format(time.DateOnly) + `"
    budget: { planned: 2500000, currency: USD }
    sources:
`)
	for _, s := range f.sources {
		b.WriteString("      - { name: " + s.name + ", connection: " + s.name + ", scope: " + s.scope + " }\n")
	}
	return b.String()
}

// env is every source's secrets.
func (f *fleet) env() map[string]string {
	out := map[string]string{}
	for _, s := range f.sources {
		for k, v := range s.env {
			out[k] = v
		}
	}
	return out
}

// replicaShare is one replica's part of a measurement.
type replicaShare struct {
	Replica int `json:"replica"` // 1-based, in the order they were started
	// First counts the sources whose first sync this replica ran; Repeats
	// the syncs of a source another replica had already synced (it reached
	// the source after the other released its lease: an incremental sync).
	First   int `json:"first"`
	Repeats int `json:"repeats"`
	// Busy counts the sources it skipped because another replica held
	// their lease.
	Busy     int           `json:"busy"`
	Records  int           `json:"records"`
	Requests int64         `json:"requests"`
	CPU      time.Duration `json:"cpu"`
	HWMKiB   int64         `json:"hwm_kib"`
	// Pass is from the start signal until its pass ended.
	Pass time.Duration `json:"pass"`
	Runs []timedRun    `json:"runs"`
}

// timedRun is one successful sync of a source, relative to the start
// signal.
type timedRun struct {
	Source  string        `json:"source"`
	From    time.Duration `json:"from"`
	To      time.Duration `json:"to"`
	Records int           `json:"records"`
	Repeat  bool          `json:"repeat,omitempty"`
}

// replicaMeasure is one measurement: some replicas syncing every source
// from scratch into a fresh database.
type replicaMeasure struct {
	Limit    string `json:"limit"` // limitVendor or limitUnlimited
	Replicas int    `json:"replicas"`
	Run      int    `json:"run"`
	// Wall is from the start signal until every source's first sync had
	// finished; Passes until the last replica's pass ended.
	Wall   time.Duration `json:"wall"`
	Passes time.Duration `json:"passes"`
	// LeastAtRate is the least wall time the vendor's rate allows, for
	// limitVendor: the sources' first syncs in rounds of as many at once as
	// the replicas have workers.
	LeastAtRate time.Duration `json:"least_at_rate,omitempty"`
	// Requests is what the simulators received; MinRequests the fewest the
	// API allows (every source's items in full pages).
	Requests    int `json:"requests"`
	MinRequests int `json:"min_requests"`
	// MaxInFlight is the most requests one credential had in flight at
	// once, over every source: above 1, two replicas pulled it together.
	MaxInFlight int `json:"max_in_flight"`
	// Items is the live items stored, every source.
	Items   int `json:"items"`
	Repeats int `json:"repeats"`
	Busy    int `json:"busy"`
	// FakeCPU is the benchmark process's CPU time during the measurement:
	// the simulators serving the syncs.
	FakeCPU   time.Duration  `json:"fake_cpu"`
	LoadStart string         `json:"load_start,omitempty"`
	LoadEnd   string         `json:"load_end,omitempty"`
	Shares    []replicaShare `json:"shares"`
	// WallMin and WallMax are the fastest and slowest of the runs, on the
	// median run.
	WallMin time.Duration `json:"wall_min,omitempty"`
	WallMax time.Duration `json:"wall_max,omitempty"`
}

// cpu is every replica's CPU time.
func (m replicaMeasure) cpu() time.Duration {
	var d time.Duration
	for _, s := range m.Shares {
		d += s.CPU
	}
	return d
}

// summarize turns the replicas' reports into a measurement: goAt is when
// the start signal went out, sources every source that had to be synced.
// A source no replica synced, or one that failed, is an error.
func summarize(goAt time.Time, children []measured, sources []string) (replicaMeasure, error) {
	m := replicaMeasure{Replicas: len(children)}
	type okRun struct {
		replica int
		sp      sourcePass
	}
	bySource := map[string][]okRun{}
	for i, c := range children {
		if c.Replica == nil {
			return m, fmt.Errorf("replica %d reported no pass", i+1)
		}
		sh := replicaShare{Replica: i + 1, CPU: c.CPU, HWMKiB: c.HWMKiB, Pass: c.Replica.End.Sub(goAt)}
		for _, sp := range c.Replica.Sources {
			switch sp.Status {
			case "ok":
				bySource[sp.Source] = append(bySource[sp.Source], okRun{i, sp})
				sh.Records += sp.Records
				sh.Requests += sp.Requests
			case "busy":
				sh.Busy++
			default:
				return m, fmt.Errorf("replica %d: source %s %s: %s", i+1, sp.Source, sp.Status, sp.Err)
			}
		}
		m.Busy += sh.Busy
		m.Passes = max(m.Passes, sh.Pass)
		m.Shares = append(m.Shares, sh)
	}
	for _, src := range sources {
		runs := bySource[src]
		if len(runs) == 0 {
			return m, fmt.Errorf("no replica synced source %s", src)
		}
		// A connection's lease lets one sync run at a time, so the run that
		// started first is the one that pulled the source in full.
		slices.SortFunc(runs, func(a, b okRun) int { return a.sp.Start.Compare(b.sp.Start) })
		for k, r := range runs {
			sh := &m.Shares[r.replica]
			if k == 0 {
				sh.First++
				m.Wall = max(m.Wall, r.sp.End.Sub(goAt))
			} else {
				sh.Repeats++
				m.Repeats++
			}
			sh.Runs = append(sh.Runs, timedRun{Source: src, From: r.sp.Start.Sub(goAt), To: r.sp.End.Sub(goAt), Records: r.sp.Records, Repeat: k > 0})
		}
	}
	for i := range m.Shares {
		slices.SortFunc(m.Shares[i].Runs, func(a, b timedRun) int { return cmp.Compare(a.From, b.From) })
	}
	return m, nil
}

// leastAtRate is the least time n sources of requests each take under the
// rate when slots of them sync at once: full rounds of slots, each round as
// long as one source's requests take.
func leastAtRate(r vendorRate, n, slots int, requests int64) time.Duration {
	if n <= 0 || slots <= 0 {
		return 0
	}
	rounds := (n + slots - 1) / slots
	return time.Duration(rounds) * r.minTime(requests)
}

// replicaResults is everything the replicas comparison produced.
type replicaResults struct {
	Command  string        `json:"command"`
	Server   string        `json:"server"`
	Revision string        `json:"revision,omitempty"`
	Machine  machine       `json:"machine"`
	Vendor   string        `json:"vendor"`
	Rate     string        `json:"rate"` // the vendor's default budget per credential, in words
	Sources  int           `json:"sources"`
	Items    int           `json:"items"` // per source
	Workers  int           `json:"workers"`
	Replicas int           `json:"replicas"`
	Seed     int64         `json:"seed"`
	Runs     int           `json:"runs"`
	Total    time.Duration `json:"total"`
	// Medians holds, for each rate limit and replica count, the run with the
	// median wall time; All every run.
	Medians []replicaMeasure `json:"medians"`
	All     []replicaMeasure `json:"all"`
}

// runReplicas runs the replicas comparison and writes replicas.md and
// replicas.json to -out.
func runReplicas(ctx context.Context, exe string, o options, args []string, stdout, stderr io.Writer) error {
	res, err := benchReplicas(ctx, exe, o, stderr)
	if err != nil {
		return err
	}
	res.Command = strings.TrimSpace("go run ./bench " + strings.Join(args, " "))
	var md strings.Builder
	if err := writeReplicasMarkdown(&md, res); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "replicas.md"), []byte(md.String()), 0o644); err != nil {
		return fmt.Errorf("write replicas.md: %w", err)
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encode replicas.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(o.out, "replicas.json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("write replicas.json: %w", err)
	}
	_, err = io.WriteString(stdout, md.String())
	return err
}

// benchReplicas starts PostgreSQL and the simulators, then measures every
// rate limit and replica count -runs times, alternating which replica count
// goes first so that a drift in the machine's load favours neither.
func benchReplicas(ctx context.Context, exe string, o options, progress io.Writer) (replicaResults, error) {
	start := time.Now()
	ro := o.replicas
	work, err := os.MkdirTemp("", "pmsync-bench-replicas-")
	if err != nil {
		return replicaResults{}, fmt.Errorf("create a work directory: %w", err)
	}
	if o.keep {
		fmt.Fprintln(progress, "work directory:", work)
	} else {
		defer os.RemoveAll(work)
	}
	srv, err := pgtest.Start(ctx, pgtest.Options{Durable: true})
	if err != nil {
		return replicaResults{}, fmt.Errorf("-replicas: %w", err)
	}
	defer srv.Stop()
	version, err := srv.Version(ctx)
	if err != nil {
		return replicaResults{}, err
	}
	f, err := newFleet(ro.vendor, ro.sources, ro.items, o.seed, o.t0)
	if err != nil {
		return replicaResults{}, err
	}
	defer f.close()
	res := replicaResults{
		Server: version, Revision: revision(), Vendor: ro.vendor, Rate: f.label, Sources: ro.sources, Items: ro.items,
		Workers: ro.workersOf(), Replicas: ro.count, Seed: o.seed, Runs: o.runs,
		Machine: machine{
			CPUs: runtime.NumCPU(), CPUModel: cpuModel(), MemoryGiB: memoryGiB(),
			GoVersion: runtime.Version(), OSArch: runtime.GOOS + "/" + runtime.GOARCH, Env: tuningEnv(), LoadStart: loadAverage(),
		},
	}
	seq := 0
	for run := 1; run <= o.runs; run++ {
		for _, limit := range []string{limitVendor, limitUnlimited} {
			counts := []int{1, ro.count}
			if run%2 == 0 {
				counts = []int{ro.count, 1}
			}
			for _, n := range counts {
				seq++
				m, err := measureReplicas(ctx, exe, filepath.Join(work, fmt.Sprintf("replicas-%03d.json", seq)), srv, f, o, limit, n)
				if err != nil {
					return replicaResults{}, fmt.Errorf("run %d, %s rate, %s: %w", run, limit, plural(n, "replica"), err)
				}
				m.Run = run
				res.All = append(res.All, m)
				fmt.Fprintf(progress, "run %d: %s rate, %s: %d sources synced in %s, %d requests, load %s–%s\n",
					run, limit, plural(n, "replica"), ro.sources, duration(m.Wall), m.Requests, m.LoadStart, m.LoadEnd)
			}
		}
	}
	res.Medians = replicaMedians(res.All)
	res.Total = time.Since(start)
	res.Machine.LoadEnd = loadAverage()
	return res, nil
}

// replicaMedians picks, for each rate limit and replica count, the run with
// the median wall time (the slower middle one for an even count), with the
// fastest and slowest noted.
func replicaMedians(all []replicaMeasure) []replicaMeasure {
	type key struct {
		limit    string
		replicas int
	}
	var order []key
	groups := map[key][]replicaMeasure{}
	for _, m := range all {
		k := key{m.Limit, m.Replicas}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], m)
	}
	slices.SortStableFunc(order, func(a, b key) int {
		if a.limit != b.limit {
			return cmp.Compare(limitRank(a.limit), limitRank(b.limit))
		}
		return cmp.Compare(a.replicas, b.replicas)
	})
	var out []replicaMeasure
	for _, k := range order {
		g := slices.Clone(groups[k])
		slices.SortFunc(g, func(a, b replicaMeasure) int { return cmp.Compare(a.Wall, b.Wall) })
		med := g[len(g)/2]
		if len(g) > 1 {
			med.WallMin, med.WallMax = g[0].Wall, g[len(g)-1].Wall
		}
		out = append(out, med)
	}
	return out
}

func limitRank(l string) int {
	if l == limitVendor {
		return 0
	}
	return 1
}

// measureReplicas runs n replicas on a fresh database until each has done
// its pass, checks that every source was stored whole and that no
// credential was pulled by two requests at once, and sums up.
func measureReplicas(ctx context.Context, exe, jobPath string, srv *pgtest.Server, f *fleet, o options, limit string, n int) (replicaMeasure, error) {
	url, err := srv.CreateDatabase(ctx)
	if err != nil {
		return replicaMeasure{}, err
	}
	defer srv.DropDatabase(context.WithoutCancel(ctx), url)
	// Opening the store here applies the migrations before the replicas
	// start, and the counts below read through it.
	db, err := postgres.Open(ctx, url)
	if err != nil {
		return replicaMeasure{}, err
	}
	defer db.Close()
	for _, s := range f.sources {
		s.gate.take()
	}
	j := job{Kind: jobReplica, Now: o.t0.Add(atFull), Config: f.configYAML(limit, o.replicas.workers, o.t0)}
	data, err := json.Marshal(j)
	if err != nil {
		return replicaMeasure{}, fmt.Errorf("write replica job: %w", err)
	}
	if err := os.WriteFile(jobPath, data, 0o600); err != nil {
		return replicaMeasure{}, fmt.Errorf("write replica job: %w", err)
	}
	env := f.env()
	if env[databaseEnv], err = poolURL(url, o.replicas.workersOf()); err != nil {
		return replicaMeasure{}, err
	}

	var children []*replicaChild
	defer func() {
		for _, c := range children {
			c.kill()
		}
	}()
	for range n {
		c, err := startReplica(ctx, exe, jobPath, env)
		if err != nil {
			return replicaMeasure{}, err
		}
		children = append(children, c)
	}
	for i, c := range children {
		if err := c.awaitReady(readyTimeout); err != nil {
			return replicaMeasure{}, fmt.Errorf("replica %d: %w", i+1, err)
		}
	}
	loadStart := loadAverage()
	before, err := selfCPU()
	if err != nil {
		return replicaMeasure{}, err
	}
	goAt := time.Now()
	for i, c := range children {
		if err := c.signal(); err != nil {
			return replicaMeasure{}, fmt.Errorf("replica %d: %w", i+1, err)
		}
	}
	reports := make([]measured, n)
	for i, c := range children {
		if reports[i], err = c.wait(); err != nil {
			return replicaMeasure{}, fmt.Errorf("replica %d: %w", i+1, err)
		}
	}
	after, err := selfCPU()
	if err != nil {
		return replicaMeasure{}, err
	}
	m, err := summarize(goAt, reports, f.names())
	if err != nil {
		return m, err
	}
	m.Limit, m.FakeCPU, m.LoadStart, m.LoadEnd = limit, after-before, loadStart, loadAverage()
	perSource := minRequests(o.replicas.items, f.pageMax)
	m.MinRequests = len(f.sources) * perSource
	if limit == limitVendor {
		slots := min(len(f.sources), n*o.replicas.workersOf())
		m.LeastAtRate = leastAtRate(f.rate, len(f.sources), slots, int64(perSource+f.extra))
	}
	for _, s := range f.sources {
		reqs, inFlight := s.gate.take()
		m.Requests += reqs
		m.MaxInFlight = max(m.MaxInFlight, inFlight)
		if inFlight > 1 {
			return m, fmt.Errorf("connection %s had %d requests in flight at once: two replicas pulled it together", s.name, inFlight)
		}
		live, deleted, err := db.CountItems(ctx, s.name)
		if err != nil {
			return m, err
		}
		if live != o.replicas.items || deleted != 0 {
			return m, fmt.Errorf("source %s: %d live and %d deleted items stored, the simulator holds %d", s.name, live, deleted, o.replicas.items)
		}
		m.Items += live
	}
	return m, nil
}

// defaultPool is the connection pool a store opens when its URL does not
// say (pgxpool's default on a machine of up to 4 CPUs).
const defaultPool = 4

// poolURL is the database URL a replica with that many workers gets: with
// more workers than the default pool has connections, a pool of workers + 2
// (a page write holds a connection; lease renewals and run records need
// more), as the README tells operators to set it.
func poolURL(dbURL string, workers int) (string, error) {
	if workers <= defaultPool {
		return dbURL, nil
	}
	u, err := neturl.Parse(dbURL)
	if err != nil {
		return "", fmt.Errorf("database url: %w", err)
	}
	q := u.Query()
	q.Set("pool_max_conns", strconv.Itoa(workers+2))
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// replicaChild is one running replica.
type replicaChild struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	ready          *os.File // the read end of the child's file descriptor 3
	stdout, stderr bytes.Buffer
	waited         bool
}

// startReplica starts a child of exe on the job file, with env added to
// its environment.
func startReplica(ctx context.Context, exe, jobPath string, env map[string]string) (*replicaChild, error) {
	c := &replicaChild{cmd: exec.CommandContext(ctx, exe)}
	c.cmd.Env = append(os.Environ(), childEnv+"="+jobPath)
	for k, v := range env {
		c.cmd.Env = append(c.cmd.Env, k+"="+v)
	}
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("start replica: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start replica: %w", err)
	}
	c.ready = r
	c.cmd.ExtraFiles = []*os.File{w}
	err = c.cmd.Start()
	w.Close() // the child holds its own copy: its exit ends the pipe
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("start replica: %w", err)
	}
	return c, nil
}

// awaitReady waits for the child's "ready" line.
func (c *replicaChild) awaitReady(timeout time.Duration) error {
	defer c.ready.Close()
	if err := c.ready.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("wait for the replica to get ready: %w", err)
	}
	line, err := bufio.NewReader(c.ready).ReadString('\n')
	if err != nil || line != "ready\n" {
		c.kill()
		return fmt.Errorf("the replica did not get ready (%q, %v): %s", line, err, lastLines(c.stderr.String(), 5))
	}
	return nil
}

// signal sends the start signal.
func (c *replicaChild) signal() error {
	_, err := io.WriteString(c.stdin, "go\n")
	if cerr := c.stdin.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("send the start signal: %w", err)
	}
	return nil
}

// wait waits for the child to end and reads its report.
func (c *replicaChild) wait() (measured, error) {
	c.waited = true
	if err := c.cmd.Wait(); err != nil {
		return measured{}, fmt.Errorf("replica child: %w: %s", err, lastLines(c.stderr.String(), 5))
	}
	var m measured
	if err := json.Unmarshal(c.stdout.Bytes(), &m.childResult); err != nil {
		return measured{}, fmt.Errorf("read replica report: %w", err)
	}
	m.CPU = c.cmd.ProcessState.UserTime() + c.cmd.ProcessState.SystemTime()
	return m, nil
}

// kill ends a child that was not waited for (the measurement failed).
func (c *replicaChild) kill() {
	if c.waited {
		return
	}
	c.waited = true
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

// writeReplicasMarkdown renders the comparison as BENCHMARKS.md shows it.
func writeReplicasMarkdown(w io.Writer, r replicaResults) error {
	var b strings.Builder
	fmt.Fprintf(&b, "`%s`: %d sources of %s %s items each, every source on a connection (credential) of its own; one replica against %d on one PostgreSQL database; `sync.workers` %d per replica; seed %d, %s, %s in all",
		r.Command, r.Sources, pmsync.Money(float64(int64(r.Items)), 0), vendorTitle(r.Vendor), r.Replicas, r.Workers, r.Seed, plural(r.Runs, "run"), seconds(r.Total))
	if r.Revision != "" {
		fmt.Fprintf(&b, ", at revision %s", r.Revision)
	}
	b.WriteString(".\n\n")
	fmt.Fprintf(&b, "Machine: %d CPUs (%s), %d GiB, %s, %s%s. PostgreSQL %s on the same machine (default durability), a fresh database per measurement. The simulators run in the benchmark's own process (`fake` CPU); the replicas are child processes; all share these CPUs.\n\n",
		r.Machine.CPUs, orUnknown(r.Machine.CPUModel), r.Machine.MemoryGiB, r.Machine.GoVersion, r.Machine.OSArch, envNote(r.Machine.Env), r.Server)
	if r.Machine.LoadStart != "" {
		fmt.Fprintf(&b, "One-minute load average %s at the start, %s at the end (%d CPUs: above that, other work competed for them and wall times are inflated).\n\n",
			r.Machine.LoadStart, r.Machine.LoadEnd, r.Machine.CPUs)
	}
	if r.Runs > 1 {
		fmt.Fprintf(&b, "Each row is the median of %d runs by wall time; the range after it is the fastest and slowest run.\n\n", r.Runs)
	}
	b.WriteString("| Rate limit | Replicas | All synced | Least at vendor rate | Requests (min) | Repeat syncs | Busy skips | CPU replicas / fake | Peak RSS per replica | Load |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, m := range r.Medians {
		least := "–"
		if m.Limit == limitVendor {
			least = duration(m.LeastAtRate)
		}
		var rss []string
		for _, s := range m.Shares {
			rss = append(rss, strconv.FormatInt((s.HWMKiB+512)/1024, 10))
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s (%s) | %d | %d | %s / %s | %s MiB | %s–%s |\n",
			limitLabel(m.Limit, r.Rate), m.Replicas, withRange(m.Wall, m.WallMin, m.WallMax), least,
			pmsync.Money(float64(int64(m.Requests)), 0), pmsync.Money(float64(int64(m.MinRequests)), 0),
			m.Repeats, m.Busy, seconds(m.cpu()), seconds(m.FakeCPU), strings.Join(rss, " / "), m.LoadStart, m.LoadEnd)
	}
	b.WriteString("\nEach replica's share (the median runs):\n\n")
	b.WriteString("| Rate limit | Replicas | Replica | First syncs | Repeat syncs | Busy skips | Records | Share of records | Requests | CPU | Pass ended |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, m := range r.Medians {
		total := 0
		for _, s := range m.Shares {
			total += s.Records
		}
		for _, s := range m.Shares {
			share := "–"
			if total > 0 {
				share = fmt.Sprintf("%.0f %%", 100*float64(s.Records)/float64(total))
			}
			fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %s | %s | %s | %s | %s |\n",
				limitLabel(m.Limit, r.Rate), m.Replicas, s.Replica, s.First, s.Repeats, s.Busy,
				pmsync.Money(float64(int64(s.Records)), 0), share, pmsync.Money(float64(s.Requests), 0), seconds(s.CPU), duration(s.Pass))
		}
	}
	b.WriteString("\nWho synced what, when (seconds from the start signal; * a repeat sync):\n\n")
	for _, m := range r.Medians {
		for _, s := range m.Shares {
			var runs []string
			for _, t := range s.Runs {
				mark := ""
				if t.Repeat {
					mark = "*"
				}
				runs = append(runs, fmt.Sprintf("%s%s %.1f–%.1f", t.Source, mark, t.From.Seconds(), t.To.Seconds()))
			}
			if len(runs) == 0 {
				runs = []string{"nothing"}
			}
			fmt.Fprintf(&b, "- %s rate, %s, replica %d: %s\n", m.Limit, plural(m.Replicas, "replica"), s.Replica, strings.Join(runs, ", "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func limitLabel(limit, rate string) string {
	if limit == limitVendor {
		return "vendor's (" + rate + ")"
	}
	return "none"
}

func vendorTitle(v string) string {
	switch v {
	case "asana":
		return "Asana"
	case "jira":
		return "Jira Cloud"
	}
	return v
}
