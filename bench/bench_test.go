package main

import (
	"context"
	"errors"
	"github.com/pmsync/pmsync"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pmsync/pmsync/store/postgres/pgtest"
)

// TestMain lets the test binary stand in for the benchmark binary: the
// end-to-end test runs its scenarios in children of it.
func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		os.Exit(childMain(path, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestMinRequests(t *testing.T) {
	for _, tc := range []struct {
		name           string
		items, pageMax int
		want           int
	}{
		{"full pages", 100_000, 100, 1000},
		{"a partial last page", 1001, 100, 11},
		{"fewer than a page", 7, 100, 1},
		{"nothing changed still asks once", 0, 100, 1},
		{"whole set in one request", 100_000, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := minRequests(tc.items, tc.pageMax); got != tc.want {
				t.Errorf("minRequests(%d, %d) = %d, want %d", tc.items, tc.pageMax, got, tc.want)
			}
		})
	}
}

func TestVendorRateMinTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		rate vendorRate
		n    int64
		want time.Duration
	}{
		{"within the burst", vendorRate{perSecond: 10, burst: 20}, 20, 0},
		{"jira cloud 1001 requests", vendorRate{perSecond: 10, burst: 20}, 1001, 98100 * time.Millisecond},
		{"asana free 1001 requests", vendorRate{perSecond: 2.5, burst: 5}, 1001, 398400 * time.Millisecond},
		{"no rate", vendorRate{}, 1000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.rate.minTime(tc.n); got != tc.want {
				t.Errorf("minTime(%d) = %s, want %s", tc.n, got, tc.want)
			}
		})
	}
}

func TestSpread(t *testing.T) {
	for _, tc := range []struct {
		n, k int
		want []int
	}{
		{10, 2, []int{0, 5}},
		{100, 4, []int{0, 25, 50, 75}},
		{3, 5, []int{0, 1, 2}}, // never more changes than items
	} {
		if got := spread(tc.n, tc.k); !slices.Equal(got, tc.want) {
			t.Errorf("spread(%d, %d) = %v, want %v", tc.n, tc.k, got, tc.want)
		}
	}
}

func TestParseHWM(t *testing.T) {
	for _, tc := range []struct {
		name, status string
		want         int64
		wantErr      bool
	}{
		{"linux status", "Name:\tbench\nVmPeak:\t  912340 kB\nVmHWM:\t   45120 kB\nVmRSS:\t   40000 kB\n", 45120, false},
		{"no VmHWM", "Name:\tbench\nVmRSS:\t 1 kB\n", 0, true},
		{"odd unit", "VmHWM:\t 12 MB\n", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseHWM(strings.NewReader(tc.status))
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseHWM error = %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("parseHWM = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestEndpoint(t *testing.T) {
	for _, tc := range []struct {
		c    call
		want string
	}{
		{call{Method: "POST", Path: "/rest/api/3/search/jql"}, "POST /rest/api/3/search/jql"},
		{call{Method: "GET", Path: "/sheets/4104000000000001", Query: "include=objectValue&page=2&pageSize=10000"}, "GET /sheets/{id}"},
		{call{Method: "GET", Path: "/sheets/4104000000000001", Query: "columnIds=4104000000000003&page=1"}, "GET /sheets/{id}?columnIds"},
		{call{Method: "GET", Path: "/sheets/4104000000000001", Query: "ifVersionAfter=7"}, "GET /sheets/{id}?ifVersionAfter"},
		{call{Method: "GET", Path: "/tasks", Query: "limit=100&modified_since=2026-03-02T16%3A05%3A00Z&project=1"}, "GET /tasks?modified_since"},
	} {
		if got := endpoint(tc.c); got != tc.want {
			t.Errorf("endpoint(%s %s?%s) = %q, want %q", tc.c.Method, tc.c.Path, tc.c.Query, got, tc.want)
		}
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{pmsync.Money(float64(0), 0), "0"},
		{pmsync.Money(float64(999), 0), "999"},
		{pmsync.Money(float64(1000), 0), "1,000"},
		{pmsync.Money(float64(100000), 0), "100,000"},
		{pmsync.Money(float64(-1234567), 0), "-1,234,567"},
		{duration(850 * time.Millisecond), "850 ms"},
		{duration(12345 * time.Millisecond), "12.35 s"},
		{withRange(2*time.Second, 0, 0), "2.00 s"},
		{withRange(2*time.Second, 900*time.Millisecond, 12340*time.Millisecond), "2.00 s (900ms–12.3s)"},
		{rate(100_000, 12500*time.Millisecond), "8,000"},
		{mib(45120), "44 MiB"},
		{times(3*time.Second, 2*time.Second), "1.5×"},
		{atRate(0), "no wait"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestWriteMarkdown(t *testing.T) {
	r := results{
		Command: "go run ./bench -items 1000",
		Machine: machine{CPUs: 2, CPUModel: "Test CPU", MemoryGiB: 24, GoVersion: "go1.26", OSArch: "linux/amd64"},
		Items:   1000, Seed: 7, Total: 3 * time.Second, Runs: 1,
		Syncs: []syncResult{{
			Vendor: "jira", Scenario: scenarioFull, Items: 1000, Modified: 1000,
			Requests: 11, MinRequests: 10, Endpoints: map[string]int{"POST /rest/api/3/search/jql": 10, "GET /rest/api/3/field": 1},
			Sync:  measured{childResult: childResult{Wall: 2 * time.Second, Store: 750 * time.Millisecond, Refresh: 1250 * time.Millisecond, SyncHWMKiB: 40960, HWMKiB: 61440, Records: 1000}, CPU: 1500 * time.Millisecond, FakeCPU: 250 * time.Millisecond},
			Floor: &measured{childResult: childResult{Wall: 500 * time.Millisecond, HWMKiB: 20480, Records: 1000}},
		}},
		Rollups: []rollupResult{{Vendor: "jira", Run: measured{childResult: childResult{Wall: 300 * time.Millisecond, ReadItems: 200 * time.Millisecond, Compute: 5 * time.Millisecond, HWMKiB: 51200, Records: 1000, Health: "red"}, CPU: time.Second}}},
	}
	r.Portfolio = []portfolioResult{
		{Size: portfolioSize{500_000, 50}, Step: stepOneSource, Run: measured{childResult: childResult{Wall: 400 * time.Millisecond, HWMKiB: 81920, Records: 500_000, Health: "50 red, 0 amber, 0 green"}, CPU: 350 * time.Millisecond}},
		{Size: portfolioSize{500_000, 50}, Step: stepRead, Run: measured{childResult: childResult{
			API:       &readStats{Requests: 200, Bytes: 6 << 20, P50: 12 * time.Millisecond, P95: 7500 * time.Microsecond, Max: 90 * time.Millisecond},
			Dashboard: &readStats{Requests: 200, Bytes: 200 << 10, P50: 3 * time.Millisecond, P95: 4 * time.Millisecond, Max: 5 * time.Millisecond},
			HWMKiB:    102400}, CPU: 2 * time.Second}},
	}
	var b strings.Builder
	if err := writeMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	var pg strings.Builder
	r.Store, r.Server = storePostgres, "15.18"
	if err := writeMarkdown(&pg, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pg.String(), "Store: PostgreSQL 15.18, a local server") {
		t.Errorf("markdown of a postgres run does not name the server; got:\n%s", pg.String())
	}
	for _, want := range []string{
		"Store: SQLite, a fresh file per vendor and run.",
		"| jira | full | 1,000 | 2.00 s | 750 ms | 500 | 11 (10) | 40 MiB | 1.50 s / 0.25 s | 500 ms | 20 MiB | 4.0× | no wait | 1.25 s, 60 MiB |\n",
		"| jira store | 1,000 | 300 ms | 200 ms | 5 ms | 50 MiB | 1.00 s | red |\n",
		"- jira full: `POST /rest/api/3/search/jql` ×10, `GET /rest/api/3/field` ×1\n",
		"Machine: 2 CPUs (Test CPU), 24 GiB, go1.26, linux/amd64.",
		"| 500,000 / 50 | a sync changed 1 % of one program | 500,000 | 400 ms | 80 MiB | 0.35 s | 50 red, 0 amber, 0 green |\n",
		"| 500,000 / 50 | API `/api/v1/rollup` | 6,144 KiB | 12 ms | 7.5 ms | 90 ms | 100 MiB | 2.00 s |\n",
		"| 500,000 / 50 | dashboard `/` | 200 KiB | 3.0 ms | 4.0 ms | 5.0 ms | 100 MiB | 2.00 s |\n",
		"20 concurrent clients, 200 requests per page in all",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q; got:\n%s", want, b.String())
		}
	}
}

func TestMedians(t *testing.T) {
	sync := func(wall, floor time.Duration) syncResult {
		return syncResult{Vendor: "jira", Scenario: scenarioFull,
			Sync:  measured{childResult: childResult{Wall: wall}},
			Floor: &measured{childResult: childResult{Wall: floor}}}
	}
	rollup := func(wall time.Duration) rollupResult {
		return rollupResult{Vendor: "jira", Run: measured{childResult: childResult{Wall: wall}}}
	}
	runs := []runResults{
		{Syncs: []syncResult{sync(3*time.Second, 5*time.Second)}, Rollups: []rollupResult{rollup(40 * time.Millisecond)}},
		{Syncs: []syncResult{sync(1*time.Second, 4*time.Second)}, Rollups: []rollupResult{rollup(20 * time.Millisecond)}},
		{Syncs: []syncResult{sync(2*time.Second, 6*time.Second)}, Rollups: []rollupResult{rollup(30 * time.Millisecond)}},
	}
	syncs, rollups := medians(runs)
	if len(syncs) != 1 || len(rollups) != 1 {
		t.Fatalf("got %d syncs and %d rollups, want 1 and 1", len(syncs), len(rollups))
	}
	s := syncs[0]
	if s.Sync.Wall != 2*time.Second || s.WallMin != time.Second || s.WallMax != 3*time.Second {
		t.Errorf("sync median %s (%s–%s), want 2s (1s–3s)", s.Sync.Wall, s.WallMin, s.WallMax)
	}
	if s.Floor.Wall != 5*time.Second {
		t.Errorf("floor median %s, want 5s", s.Floor.Wall)
	}
	if r := rollups[0]; r.Run.Wall != 30*time.Millisecond || r.WallMin != 20*time.Millisecond || r.WallMax != 40*time.Millisecond {
		t.Errorf("rollup median %s (%s–%s), want 30ms (20ms–40ms)", r.Run.Wall, r.WallMin, r.WallMax)
	}
	one, _ := medians(runs[:1])
	if one[0].WallMin != 0 || one[0].WallMax != 0 {
		t.Errorf("a single run has a range %s–%s, want none", one[0].WallMin, one[0].WallMax)
	}
}

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		check   func(options) bool
	}{
		{"defaults", nil, "", func(o options) bool {
			return o.items == 100_000 && strings.Join(o.vendors, ",") == "jira,asana,smartsheet,trello" && o.out == filepath.Join("bench", "out") && o.changedPct == 1 && o.runs == 3 && o.store == storeSQLite
		}},
		{"postgres", []string{"-store", "postgres"}, "", func(o options) bool { return o.store == storePostgres }},
		{"unknown store", []string{"-store", "mysql"}, `-store "mysql": want sqlite or postgres`, nil},
		{"subset", []string{"-items", "500", "-vendors", "asana, jira"}, "", func(o options) bool {
			return o.items == 500 && strings.Join(o.vendors, ",") == "asana,jira"
		}},
		{"unknown vendor", []string{"-vendors", "jira,wrike"}, `unknown vendor "wrike"`, nil},
		{"no items", []string{"-items", "0"}, "must be at least 1", nil},
		{"bad percent", []string{"-changed", "150"}, "must be in (0, 100]", nil},
		{"no runs", []string{"-runs", "0"}, "must be at least 1", nil},
		{"stray argument", []string{"jira"}, "unexpected arguments", nil},
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
			if !tc.check(o) {
				t.Errorf("options = %+v", o)
			}
		})
	}
}

// TestBenchmarkSmall runs the whole benchmark on a few hundred items per
// vendor, each scenario in a child of the test binary, and checks what the
// numbers must say whatever the machine: every item arrives in the full
// sync, the incremental sync stores exactly the changed items, a quiet
// source stores nothing, and the request counts match the page sizes.
func TestBenchmarkSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes; skipped with -short")
	}
	for _, st := range []string{storeSQLite, storePostgres} {
		t.Run(st, func(t *testing.T) { benchmarkSmall(t, st) })
	}
}

// benchmarkSmall is TestBenchmarkSmall on one store: the same figures,
// whichever store the syncs write to.
func benchmarkSmall(t *testing.T, st string) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const items = 300 // 1 % is 3 changed items
	o, err := parseFlags([]string{"-items", "300", "-runs", "1", "-out", t.TempDir(), "-store", st, "-portfolios", "600/3"}, new(strings.Builder))
	if err != nil {
		t.Fatal(err)
	}
	res, err := benchmark(context.Background(), exe, o, new(strings.Builder))
	if errors.Is(err, pgtest.ErrNotInstalled) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.Store != st {
		t.Errorf("results say store %q, want %q", res.Store, st)
	}
	type key struct{ vendor, scenario string }
	got := map[key]syncResult{}
	for _, s := range res.Syncs {
		got[key{s.Vendor, s.Scenario}] = s
	}
	// Requests each sync must send, from the connectors' documented
	// behaviour: Jira reads /field then 100 issues per search page (and
	// /myself for an incremental JQL in the user's zone); Asana reads its
	// events then 100 tasks per page; Smartsheet reads the sheet in one page
	// of up to 10,000 rows, and an unchanged sheet costs one version check.
	for _, tc := range []struct {
		vendor, scenario string
		requests         int
		minRequests      int
		changed          int
	}{
		{"jira", scenarioFull, 1 + 3, 3, items},
		{"jira", scenarioIncremental, 3, 1, 3},
		{"jira", scenarioNoChange, 3, 1, 0},
		{"asana", scenarioFull, 1 + 3, 3, items},
		{"asana", scenarioIncremental, 2, 1, 3},
		{"asana", scenarioNoChange, 2, 1, 0},
		{"smartsheet", scenarioFull, 1, 1, items},
		{"smartsheet", scenarioIncremental, 2, 1, 3},
		{"smartsheet", scenarioNoChange, 1, 1, 0},
		// Trello: the newest actions, the board with its lists, labels,
		// members and custom fields, then one page of cards; three changed
		// cards are the actions since the cursor, the board's names again
		// and the three cards; a quiet board is one actions request.
		{"trello", scenarioFull, 1 + 1 + 1, 1, items},
		{"trello", scenarioIncremental, 1 + 1 + 3, 2, 3},
		{"trello", scenarioNoChange, 1, 1, 0},
	} {
		s, ok := got[key{tc.vendor, tc.scenario}]
		if !ok {
			t.Errorf("%s %s: no result", tc.vendor, tc.scenario)
			continue
		}
		if s.Requests != tc.requests || s.MinRequests != tc.minRequests {
			t.Errorf("%s %s: %d requests (min %d), want %d (min %d); endpoints %v",
				tc.vendor, tc.scenario, s.Requests, s.MinRequests, tc.requests, tc.minRequests, s.Endpoints)
		}
		if s.Sync.Changed != tc.changed {
			t.Errorf("%s %s: stored %d changes, want %d", tc.vendor, tc.scenario, s.Sync.Changed, tc.changed)
		}
		// A quiet sync keeps the served rollup; one that changed items
		// computes it again.
		if quiet := tc.changed == 0; quiet != (s.Sync.Refresh == 0) {
			t.Errorf("%s %s: rollup refresh %s after %d changes", tc.vendor, tc.scenario, s.Sync.Refresh, tc.changed)
		}
		// Linux updates a process's RSS counters lazily, so the two
		// readings may disagree by a few pages.
		if s.Sync.SyncHWMKiB <= 0 || s.Sync.SyncHWMKiB > s.Sync.HWMKiB+1024 {
			t.Errorf("%s %s: peak RSS %d KiB before the refresh, %d KiB in all", tc.vendor, tc.scenario, s.Sync.SyncHWMKiB, s.Sync.HWMKiB)
		}
		if s.Sync.Wall <= 0 || s.Sync.HWMKiB <= 0 || s.Sync.CPU <= 0 {
			t.Errorf("%s %s: wall %s, peak RSS %d KiB, CPU %s: a measurement is missing", tc.vendor, tc.scenario, s.Sync.Wall, s.Sync.HWMKiB, s.Sync.CPU)
		}
	}
	if s := got[key{"jira", scenarioFull}]; s.Floor == nil || s.Floor.Records != items || s.Floor.Requests != 3 {
		t.Errorf("jira full floor = %+v, want %d records in 3 requests", s.Floor, items)
	}
	if s := got[key{"smartsheet", scenarioFull}]; s.Floor == nil || s.Floor.Records != items {
		t.Errorf("smartsheet full floor = %+v, want %d rows", s.Floor, items)
	}
	if len(res.Rollups) != len(knownVendors()) {
		t.Fatalf("got %d rollups, want %d", len(res.Rollups), len(knownVendors()))
	}
	for _, r := range res.Rollups {
		if r.Run.Records != items {
			t.Errorf("%s rollup covered %d live items, want %d", r.Vendor, r.Run.Records, items)
		}
	}
	// The portfolio: every step covers the 600 items of the 3 programs;
	// the read step has every reader's every request answered.
	var steps []string
	for _, p := range res.Portfolio {
		steps = append(steps, p.Step)
		if p.Size != (portfolioSize{Items: 600, Programs: 3}) || p.Run.Records != 600 || p.Run.Wall <= 0 || p.Run.HWMKiB <= 0 {
			t.Errorf("portfolio %s: %+v", p.Step, p)
		}
		if p.Step != stepRead {
			if p.Run.Health == "" {
				t.Errorf("portfolio %s: no health counts", p.Step)
			}
			continue
		}
		for name, st := range map[string]*readStats{"api": p.Run.API, "dashboard": p.Run.Dashboard, "program page": p.Run.Program} {
			if st == nil || st.Requests != readers*10 || st.Bytes == 0 || st.P50 <= 0 || st.P50 > st.P95 || st.P95 > st.Max {
				t.Errorf("portfolio reads of the %s: %+v", name, st)
			}
		}
	}
	if diff := strings.Join(steps, ","); diff != strings.Join(portfolioSteps(), ",") {
		t.Errorf("portfolio steps %s, want %s", diff, strings.Join(portfolioSteps(), ","))
	}
}

func TestParsePortfolios(t *testing.T) {
	got, err := parsePortfolios(" 500000/50, 100000/1 ,")
	if err != nil || !slices.Equal(got, []portfolioSize{{500000, 50}, {100000, 1}}) {
		t.Errorf("parsePortfolios = %v, %v", got, err)
	}
	if got, err := parsePortfolios(""); err != nil || got != nil {
		t.Errorf("parsePortfolios(\"\") = %v, %v; want none", got, err)
	}
	for _, bad := range []string{"500000", "10/0", "5/10", "x/2"} {
		if _, err := parsePortfolios(bad); err == nil {
			t.Errorf("parsePortfolios(%q) accepted it", bad)
		}
	}
}

// TestGenProgram checks the generated program against the shares its doc
// promises, counted here from the items.
func TestGenProgram(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	g := genProgram(0, 10_000, 2026, t0)
	kinds := map[pmsync.Kind]int{}
	arrived, linked := 0, 0
	for _, it := range g {
		kinds[it.item.Kind]++
		if it.arrive > 0 {
			arrived++
		}
		if it.item.Milestone != "" {
			linked++
		}
		if err := it.item.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	if kinds[pmsync.KindMilestone] != 800 || kinds[pmsync.KindRisk] != 1000 || kinds[pmsync.KindTask] != 8200 || arrived != 300 {
		t.Errorf("kinds %v, %d arrived; want 800 milestones, 1000 risks, 8200 tasks, 300 arrived", kinds, arrived)
	}
	if share := float64(linked) / 8200; share < 0.55 || share > 0.65 {
		t.Errorf("%.2f of the tasks count toward a milestone, want about 0.6", share)
	}
	again := genProgram(0, 10_000, 2026, t0)
	for i := range g {
		if g[i].item.ExternalID != again[i].item.ExternalID || g[i].item.State != again[i].item.State || g[i].doneSync != again[i].doneSync {
			t.Fatalf("item %d differs between two generations with one seed", i)
		}
	}
}
