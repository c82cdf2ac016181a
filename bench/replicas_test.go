package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/store/postgres/pgtest"
)

func TestParseReplicaFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		want    replicaOptions
	}{
		{"off by default", nil, "", replicaOptions{sources: 8, items: 5000, vendor: "asana"}},
		{"three replicas", []string{"-replicas", "3"}, "", replicaOptions{count: 3, sources: 8, items: 5000, vendor: "asana"}},
		{"jira, workers", []string{"-replicas", "3", "-replicas-vendor", "jira", "-workers", "2", "-sources", "6", "-source-items", "20000"}, "",
			replicaOptions{count: 3, sources: 6, items: 20000, vendor: "jira", workers: 2}},
		{"one is no comparison", []string{"-replicas", "1"}, "-replicas 1: compare one replica with at least 2", replicaOptions{}},
		{"unknown vendor", []string{"-replicas", "3", "-replicas-vendor", "trello"}, `-replicas-vendor "trello": want asana or jira`, replicaOptions{}},
		{"no sources", []string{"-replicas", "3", "-sources", "0"}, "-sources 0: must be at least 1", replicaOptions{}},
		{"too many workers", []string{"-replicas", "3", "-workers", "65"}, "-workers 65: must be in 0..64", replicaOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(tc.args, new(strings.Builder))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, o.replicas, cmp.AllowUnexported(replicaOptions{})); diff != "" {
				t.Errorf("replica options (-want +got):\n%s", diff)
			}
		})
	}
	if got := (replicaOptions{}).workersOf(); got != 4 {
		t.Errorf("default workers = %d, want the configuration's default 4", got)
	}
}

func TestLeastAtRate(t *testing.T) {
	asanaFree := vendorRate{perSecond: 2.5, burst: 5} // 150/min, a two-second burst
	jiraCloud := vendorRate{perSecond: 10, burst: 20}
	for _, tc := range []struct {
		name           string
		rate           vendorRate
		sources, slots int
		requests       int64
		want           time.Duration
	}{
		// 5,000 tasks are 50 pages and one events request: 46 requests
		// past the burst at 2.5/s take 18.4 s.
		{"one replica of 4 workers: two rounds", asanaFree, 8, 4, 51, 36800 * time.Millisecond},
		{"three replicas of 4 workers: one round", asanaFree, 8, 8, 51, 18400 * time.Millisecond},
		{"one worker each of three: three rounds", asanaFree, 8, 3, 51, 55200 * time.Millisecond},
		{"jira: 181 past the burst at 10/s", jiraCloud, 8, 8, 201, 18100 * time.Millisecond},
		{"within the burst", asanaFree, 8, 4, 5, 0},
		{"no slots", asanaFree, 8, 0, 51, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := leastAtRate(tc.rate, tc.sources, tc.slots, tc.requests); got != tc.want {
				t.Errorf("leastAtRate = %s, want %s", got, tc.want)
			}
		})
	}
}

// child builds a replica's report for summarize; times are seconds after
// t0.
func child(t0 time.Time, cpu time.Duration, end float64, sources ...sourcePass) measured {
	return measured{childResult: childResult{Replica: &replicaPass{Start: t0, End: at(t0, end), Sources: sources}}, CPU: cpu}
}

func at(t0 time.Time, s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func okRun(t0 time.Time, source string, from, to float64, records int, requests int64) sourcePass {
	return sourcePass{Source: source, Status: "ok", Records: records, Requests: requests, Start: at(t0, from), End: at(t0, to)}
}

func TestSummarize(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	busy := func(source string) sourcePass { return sourcePass{Source: source, Status: "busy"} }
	children := []measured{
		// Replica 1 pulls a; b is busy; a second sync of c after replica 3
		// finished it.
		child(t0, time.Second, 2.5, okRun(t0, "a", 0.1, 2.0, 100, 2), busy("b"), okRun(t0, "c", 2.1, 2.4, 3, 1)),
		// Replica 2 pulls b, the slowest.
		child(t0, 2*time.Second, 3.2, busy("a"), okRun(t0, "b", 0.2, 3.0, 100, 2), busy("c")),
		// Replica 3 pulls c and finds a and b busy.
		child(t0, 500*time.Millisecond, 1.6, busy("a"), busy("b"), okRun(t0, "c", 0.3, 1.5, 100, 2)),
	}
	m, err := summarize(t0, children, []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	want := replicaMeasure{
		Replicas: 3,
		Wall:     3 * time.Second,         // b's first sync ended last
		Passes:   3200 * time.Millisecond, // replica 2's pass
		Repeats:  1, Busy: 5,
		Shares: []replicaShare{
			{Replica: 1, First: 1, Repeats: 1, Busy: 1, Records: 103, Requests: 3, CPU: time.Second, Pass: 2500 * time.Millisecond,
				Runs: []timedRun{{"a", 100 * time.Millisecond, 2 * time.Second, 100, false}, {"c", 2100 * time.Millisecond, 2400 * time.Millisecond, 3, true}}},
			{Replica: 2, First: 1, Busy: 2, Records: 100, Requests: 2, CPU: 2 * time.Second, Pass: 3200 * time.Millisecond,
				Runs: []timedRun{{"b", 200 * time.Millisecond, 3 * time.Second, 100, false}}},
			{Replica: 3, First: 1, Busy: 2, Records: 100, Requests: 2, CPU: 500 * time.Millisecond, Pass: 1600 * time.Millisecond,
				Runs: []timedRun{{"c", 300 * time.Millisecond, 1500 * time.Millisecond, 100, false}}},
		},
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if got := m.cpu(); got != 3500*time.Millisecond {
		t.Errorf("cpu = %s, want 3.5s", got)
	}

	if _, err := summarize(t0, children[1:], []string{"a", "b", "c"}); err == nil || !strings.Contains(err.Error(), "no replica synced source a") {
		t.Errorf("a source nobody synced: error = %v", err)
	}
	failed := []measured{child(t0, 0, 1, sourcePass{Source: "a", Status: "failed", Err: "asana: HTTP 500"})}
	if _, err := summarize(t0, failed, []string{"a"}); err == nil || !strings.Contains(err.Error(), "replica 1: source a failed: asana: HTTP 500") {
		t.Errorf("a failed source: error = %v", err)
	}
	if _, err := summarize(t0, []measured{{}}, []string{"a"}); err == nil || !strings.Contains(err.Error(), "replica 1 reported no pass") {
		t.Errorf("a replica without a report: error = %v", err)
	}
}

func TestReplicaMedians(t *testing.T) {
	m := func(limit string, replicas, run int, wall time.Duration) replicaMeasure {
		return replicaMeasure{Limit: limit, Replicas: replicas, Run: run, Wall: wall}
	}
	all := []replicaMeasure{
		m(limitVendor, 1, 1, 30*time.Second), m(limitVendor, 3, 1, 20*time.Second), m(limitUnlimited, 1, 1, 9*time.Second), m(limitUnlimited, 3, 1, 8*time.Second),
		m(limitVendor, 3, 2, 18*time.Second), m(limitVendor, 1, 2, 36*time.Second), m(limitUnlimited, 3, 2, 7*time.Second), m(limitUnlimited, 1, 2, 12*time.Second),
		m(limitVendor, 1, 3, 33*time.Second), m(limitVendor, 3, 3, 19*time.Second), m(limitUnlimited, 1, 3, 10*time.Second), m(limitUnlimited, 3, 3, 9*time.Second),
	}
	got := replicaMedians(all)
	want := []replicaMeasure{
		{Limit: limitVendor, Replicas: 1, Run: 3, Wall: 33 * time.Second, WallMin: 30 * time.Second, WallMax: 36 * time.Second},
		{Limit: limitVendor, Replicas: 3, Run: 3, Wall: 19 * time.Second, WallMin: 18 * time.Second, WallMax: 20 * time.Second},
		{Limit: limitUnlimited, Replicas: 1, Run: 3, Wall: 10 * time.Second, WallMin: 9 * time.Second, WallMax: 12 * time.Second},
		{Limit: limitUnlimited, Replicas: 3, Run: 1, Wall: 8 * time.Second, WallMin: 7 * time.Second, WallMax: 9 * time.Second},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("medians (-want +got):\n%s", diff)
	}
}

func TestWriteReplicasMarkdown(t *testing.T) {
	r := replicaResults{
		Command: "go run ./bench -replicas 3", Server: "15.18", Vendor: "asana", Rate: "150 requests/min per token",
		Sources: 2, Items: 5000, Workers: 4, Replicas: 3, Seed: 7, Runs: 1, Total: time.Minute,
		Machine: machine{CPUs: 2, CPUModel: "Test CPU", MemoryGiB: 24, GoVersion: "go1.26", OSArch: "linux/amd64"},
		Medians: []replicaMeasure{{
			Limit: limitVendor, Replicas: 3, Wall: 18500 * time.Millisecond, LeastAtRate: 18400 * time.Millisecond,
			Requests: 104, MinRequests: 100, Repeats: 1, Busy: 3, FakeCPU: time.Second, LoadStart: "9.5", LoadEnd: "10.1",
			Shares: []replicaShare{
				{Replica: 1, First: 2, Records: 10000, Requests: 102, CPU: 3 * time.Second, HWMKiB: 40960, Pass: 19 * time.Second,
					Runs: []timedRun{{"asana-1", 0, 18 * time.Second, 5000, false}, {"asana-2", 100 * time.Millisecond, 18500 * time.Millisecond, 5000, false}}},
				{Replica: 2, Repeats: 1, Busy: 1, Records: 10, Requests: 2, CPU: 500 * time.Millisecond, HWMKiB: 30720, Pass: 19200 * time.Millisecond,
					Runs: []timedRun{{"asana-2", 18600 * time.Millisecond, 19100 * time.Millisecond, 10, true}}},
				{Replica: 3, Busy: 2, CPU: 100 * time.Millisecond, HWMKiB: 20480, Pass: 50 * time.Millisecond},
			},
		}},
	}
	var b strings.Builder
	if err := writeReplicasMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"2 sources of 5,000 Asana items each",
		"| vendor's (150 requests/min per token) | 3 | 18.50 s | 18.40 s | 104 (100) | 1 | 3 | 3.60 s / 1.00 s | 40 / 30 / 20 MiB | 9.5–10.1 |\n",
		"| vendor's (150 requests/min per token) | 3 | 1 | 2 | 0 | 0 | 10,000 | 100 % | 102 | 3.00 s | 19.00 s |\n",
		"| vendor's (150 requests/min per token) | 3 | 2 | 0 | 1 | 1 | 10 | 0 % | 2 | 0.50 s | 19.20 s |\n",
		"- vendor rate, 3 replicas, replica 1: asana-1 0.0–18.0, asana-2 0.1–18.5\n",
		"- vendor rate, 3 replicas, replica 2: asana-2* 18.6–19.1\n",
		"- vendor rate, 3 replicas, replica 3: nothing\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q; got:\n%s", want, b.String())
		}
	}
}

// TestReplicasSmall runs the whole comparison on eight small Asana sources:
// one replica, then three, each a child of the test binary on a real
// PostgreSQL database, with the vendor's rate limit and without. Whatever
// the machine, every source is stored whole, no credential is pulled by two
// replicas at once, one replica sends exactly the requests the page size
// asks for, and the vendor's rate makes the syncs take at least what its
// budget allows.
func TestReplicasSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and child processes; skipped with -short")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o, err := parseFlags([]string{"-replicas", "3", "-source-items", "600", "-runs", "1", "-out", t.TempDir()}, new(strings.Builder))
	if err != nil {
		t.Fatal(err)
	}
	res, err := benchReplicas(context.Background(), exe, o, new(strings.Builder))
	if errors.Is(err, pgtest.ErrNotInstalled) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(res.All) != 4 || len(res.Medians) != 4 {
		t.Fatalf("got %d measurements and %d medians, want 4 and 4", len(res.All), len(res.Medians))
	}
	// 600 tasks are 6 pages of Asana's maximum 100, and a first sync asks
	// the events API once for its sync token: 7 requests per source.
	const sources, items, perSource = 8, 600, 7
	// At 150/min with a burst of 5, a source's 7 requests take at least
	// 2 / 2.5 s; one replica's 4 workers need two rounds for 8 sources,
	// three replicas one.
	least := map[int]time.Duration{1: 1600 * time.Millisecond, 3: 800 * time.Millisecond}
	for _, m := range res.Medians {
		name := m.Limit + " rate, " + plural(m.Replicas, "replica")
		if m.Items != sources*items {
			t.Errorf("%s: %d items stored, want %d", name, m.Items, sources*items)
		}
		if m.MinRequests != sources*6 {
			t.Errorf("%s: min requests %d, want %d", name, m.MinRequests, sources*6)
		}
		if m.MaxInFlight != 1 {
			t.Errorf("%s: a credential had %d requests in flight at once, want 1", name, m.MaxInFlight)
		}
		if len(m.Shares) != m.Replicas {
			t.Errorf("%s: %d shares", name, len(m.Shares))
		}
		first, records := 0, 0
		var requests int64
		for _, s := range m.Shares {
			first += s.First
			records += s.Records
			requests += s.Requests
		}
		if first != sources {
			t.Errorf("%s: %d first syncs, want one per source (%d)", name, first, sources)
		}
		// The connectors count what they send; the simulators what they
		// received.
		if requests != int64(m.Requests) {
			t.Errorf("%s: the replicas sent %d requests, the simulators received %d", name, requests, m.Requests)
		}
		if records < sources*items {
			t.Errorf("%s: the replicas read %d records, want at least %d", name, records, sources*items)
		}
		if m.Replicas == 1 {
			if m.Requests != sources*perSource || m.Repeats != 0 || m.Busy != 0 {
				t.Errorf("%s: %d requests, %d repeats, %d busy; want %d, 0, 0", name, m.Requests, m.Repeats, m.Busy, sources*perSource)
			}
		} else if m.Requests < sources*perSource {
			t.Errorf("%s: %d requests, want at least %d", name, m.Requests, sources*perSource)
		}
		if m.Limit == limitVendor {
			if m.LeastAtRate != least[m.Replicas] {
				t.Errorf("%s: least at vendor rate %s, want %s", name, m.LeastAtRate, least[m.Replicas])
			}
			if m.Wall < least[m.Replicas] {
				t.Errorf("%s: all synced in %s, faster than the vendor's rate allows (%s)", name, m.Wall, least[m.Replicas])
			}
		}
	}
}

// TestFleetConfig loads the configuration the replicas get, for each tool
// and rate limit: every source on its own connection with its own token,
// the vendor's default budget (no override) or one far above it, and the
// workers asked for.
func TestFleetConfig(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	for _, vendor := range []string{"asana", "jira"} {
		f, err := newFleet(vendor, 3, 5, 1, t0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.close()
		env := f.env()
		env[databaseEnv] = "postgres://bench@127.0.0.1:5432/bench"
		lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
		for _, tc := range []struct {
			limit   string
			workers int
			want    config.RateLimit
		}{
			{limitVendor, 0, config.RateLimit{}},
			{limitUnlimited, 2, config.RateLimit{PerMinute: 6_000_000, Burst: 1000}},
		} {
			cfg, err := config.Parse("bench.yaml", []byte(f.configYAML(tc.limit, tc.workers, t0)), connectors.Default, lookup)
			if err != nil {
				t.Fatalf("%s, %s rate: %v", vendor, tc.limit, err)
			}
			wantWorkers := tc.workers
			if wantWorkers == 0 {
				wantWorkers = config.DefaultWorkers
			}
			if cfg.Sync.Workers != wantWorkers {
				t.Errorf("%s, %s rate: workers %d, want %d", vendor, tc.limit, cfg.Sync.Workers, wantWorkers)
			}
			srcs := cfg.Sources()
			if len(srcs) != 3 {
				t.Fatalf("%s: %d sources, want 3", vendor, len(srcs))
			}
			tokens := map[string]bool{}
			for i, s := range srcs {
				wantName := fmt.Sprintf("%s-%d", vendor, i+1)
				if s.Name != wantName || s.Connection.Name != wantName || s.Connection.Kind != vendor {
					t.Errorf("%s: source %d is %s on %s (%s), want %s on its own connection", vendor, i+1, s.Name, s.Connection.Name, s.Connection.Kind, wantName)
				}
				if s.Connection.RateLimit != tc.want {
					t.Errorf("%s, %s rate: %s rate limit %+v, want %+v", vendor, tc.limit, s.Name, s.Connection.RateLimit, tc.want)
				}
				tokens[env[s.Connection.Auth.TokenEnv]] = true
			}
			if len(tokens) != 3 {
				t.Errorf("%s: %d distinct tokens for 3 connections", vendor, len(tokens))
			}
		}
	}
}

func TestPoolURL(t *testing.T) {
	const base = "postgres://postgres@127.0.0.1:5432/pmsync_1?sslmode=disable"
	for _, tc := range []struct {
		workers int
		want    string
	}{
		{4, base},
		{1, base},
		{8, "postgres://postgres@127.0.0.1:5432/pmsync_1?pool_max_conns=10&sslmode=disable"},
	} {
		got, err := poolURL(base, tc.workers)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("poolURL(%d workers) = %s, want %s", tc.workers, got, tc.want)
		}
	}
}
