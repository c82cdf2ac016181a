package main

import (
	"cmp"
	"fmt"
	"github.com/pmsync/pmsync"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The scenarios of one vendor, in the order they run.
const (
	scenarioFull        = "full"
	scenarioIncremental = "incremental"
	scenarioNoChange    = "no-change"
)

// syncResult is one sync scenario of one vendor.
type syncResult struct {
	Vendor   string `json:"vendor"`
	Scenario string `json:"scenario"`
	// Items is how many items the source holds; Modified how many of them
	// changed since the previous sync.
	Items    int `json:"items"`
	Modified int `json:"modified"`
	// Requests is what the simulator received, by endpoint; MinRequests
	// the fewest the API allows for the records that changed.
	Requests    int            `json:"requests"`
	Endpoints   map[string]int `json:"endpoints"`
	MinRequests int            `json:"min_requests"`
	// AtVendorRate is the least time Requests take at the connector's
	// default rate limit against the real service.
	AtVendorRate time.Duration `json:"at_vendor_rate"`
	Sync         measured      `json:"sync"`
	Floor        *measured     `json:"floor,omitempty"`
	// WallMin and WallMax are the fastest and slowest sync of the runs
	// when the benchmark ran more than once; Sync is the median run.
	WallMin time.Duration `json:"wall_min,omitempty"`
	WallMax time.Duration `json:"wall_max,omitempty"`
}

// rollupResult is engine.Rollup over the store one vendor's syncs filled.
type rollupResult struct {
	Vendor  string        `json:"vendor"`
	Run     measured      `json:"run"`
	WallMin time.Duration `json:"wall_min,omitempty"`
	WallMax time.Duration `json:"wall_max,omitempty"`
}

// runResults is one run of every selected vendor.
type runResults struct {
	Syncs   []syncResult   `json:"syncs"`
	Rollups []rollupResult `json:"rollups"`
}

// results is everything one benchmark run produced.
type results struct {
	Command string `json:"command"`
	// Store is the store the syncs wrote to: sqlite or postgres.
	Store string `json:"store"`
	// Server is the PostgreSQL server's version when Store is postgres.
	Server string `json:"server,omitempty"`
	// Revision is the commit the benchmark was built from, "+dirty" when
	// the tree had uncommitted changes; empty when the build did not say.
	Revision string        `json:"revision,omitempty"`
	Machine  machine       `json:"machine"`
	Items    int           `json:"items"`
	Seed     int64         `json:"seed"`
	Total    time.Duration `json:"total"`
	Runs     int           `json:"runs"`
	// Syncs and Rollups hold each measurement's median run; All every run
	// when there was more than one.
	Syncs   []syncResult   `json:"syncs"`
	Rollups []rollupResult `json:"rollups"`
	All     []runResults   `json:"all_runs,omitempty"`
	// Portfolio holds each step of each portfolio size, the median run.
	Portfolio []portfolioResult `json:"portfolio,omitempty"`
}

// medians reduces the runs to one result per measurement: the run with the
// median wall time (the slower middle one for an even count), with the
// fastest and slowest noted. The floor of a sync is picked the same way,
// on its own wall times.
func medians(runs []runResults) ([]syncResult, []rollupResult) {
	if len(runs) == 0 {
		return nil, nil
	}
	var syncs []syncResult
	for i := range runs[0].Syncs {
		all := make([]syncResult, 0, len(runs))
		var floors []*measured
		for _, r := range runs {
			all = append(all, r.Syncs[i])
			if f := r.Syncs[i].Floor; f != nil {
				floors = append(floors, f)
			}
		}
		slices.SortFunc(all, func(a, b syncResult) int { return cmp.Compare(a.Sync.Wall, b.Sync.Wall) })
		med := all[len(all)/2]
		if len(all) > 1 {
			med.WallMin, med.WallMax = all[0].Sync.Wall, all[len(all)-1].Sync.Wall
		}
		if len(floors) > 0 {
			slices.SortFunc(floors, func(a, b *measured) int { return cmp.Compare(a.Wall, b.Wall) })
			med.Floor = floors[len(floors)/2]
		}
		syncs = append(syncs, med)
	}
	var rollups []rollupResult
	for i := range runs[0].Rollups {
		all := make([]rollupResult, 0, len(runs))
		for _, r := range runs {
			all = append(all, r.Rollups[i])
		}
		slices.SortFunc(all, func(a, b rollupResult) int { return cmp.Compare(a.Run.Wall, b.Run.Wall) })
		med := all[len(all)/2]
		if len(all) > 1 {
			med.WallMin, med.WallMax = all[0].Run.Wall, all[len(all)-1].Run.Wall
		}
		rollups = append(rollups, med)
	}
	return syncs, rollups
}

// writeMarkdown renders the results as the tables BENCHMARKS.md shows.
func writeMarkdown(w io.Writer, r results) error {
	var b strings.Builder
	fmt.Fprintf(&b, "`%s`: %s items per vendor, seed %d, %s, %s in all", r.Command, pmsync.Money(float64(int64(r.Items)), 0), r.Seed, plural(r.Runs, "run"), seconds(r.Total))
	if r.Revision != "" {
		fmt.Fprintf(&b, ", at revision %s", r.Revision)
	}
	b.WriteString(".\n\n")
	fmt.Fprintf(&b, "Machine: %d CPUs (%s), %d GiB, %s, %s%s. The simulators run in the benchmark's own process and share these CPUs with the sync; their CPU time is the `fake` figure.\n\n",
		r.Machine.CPUs, orUnknown(r.Machine.CPUModel), r.Machine.MemoryGiB, r.Machine.GoVersion, r.Machine.OSArch, envNote(r.Machine.Env))
	switch r.Store {
	case storePostgres:
		fmt.Fprintf(&b, "Store: PostgreSQL %s, a local server on loopback with its default durability (fsync, synchronous commit), a fresh database per vendor and run. The server is a process of its own: its CPU time and memory are in neither figure below.\n\n", r.Server)
	default:
		b.WriteString("Store: SQLite, a fresh file per vendor and run.\n\n")
	}
	if r.Machine.LoadStart != "" {
		fmt.Fprintf(&b, "One-minute load average %s at the start, %s at the end (%d CPUs: above that, other work competed for them and wall times are inflated).\n\n",
			r.Machine.LoadStart, r.Machine.LoadEnd, r.Machine.CPUs)
	}
	if r.Runs > 1 {
		fmt.Fprintf(&b, "Each row is the median of %d runs by wall time; the range after it is the fastest and slowest run.\n\n", r.Runs)
	}

	b.WriteString("| Vendor | Scenario | Records | Wall | In store | Records/s | Requests (min) | Peak RSS | CPU pmsync / fake | Floor wall | Floor RSS | × floor | At vendor rate | Rollup refresh, peak RSS |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range r.Syncs {
		floorWall, floorRSS, ratio := "–", "–", "–"
		if s.Floor != nil {
			floorWall, floorRSS = duration(s.Floor.Wall), mib(s.Floor.HWMKiB)
			ratio = times(s.Sync.Wall, s.Floor.Wall)
		}
		refresh := "kept"
		if s.Sync.Refresh > 0 {
			refresh = duration(s.Sync.Refresh) + ", " + mib(s.Sync.HWMKiB)
		}
		// The sync's own peak, before the refresh (older results lack it).
		peak := s.Sync.HWMKiB
		if s.Sync.SyncHWMKiB > 0 {
			peak = s.Sync.SyncHWMKiB
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s (%s) | %s | %s / %s | %s | %s | %s | %s | %s |\n",
			s.Vendor, scenarioLabel(s), pmsync.Money(float64(int64(s.Sync.Records)), 0), withRange(s.Sync.Wall, s.WallMin, s.WallMax),
			duration(s.Sync.Store), rate(s.Sync.Records, s.Sync.Wall),
			pmsync.Money(float64(int64(s.Requests)), 0), pmsync.Money(float64(int64(s.MinRequests)), 0), mib(peak),
			seconds(s.Sync.CPU), seconds(s.Sync.FakeCPU), floorWall, floorRSS, ratio, atRate(s.AtVendorRate), refresh)
	}
	if len(r.Rollups) > 0 {
		b.WriteString("\n| Rollup over | Items | engine.Rollup | read items | compute | Peak RSS | CPU | Health |\n")
		b.WriteString("|---|--:|--:|--:|--:|--:|--:|---|\n")
		for _, ro := range r.Rollups {
			fmt.Fprintf(&b, "| %s store | %s | %s | %s | %s | %s | %s | %s |\n",
				ro.Vendor, pmsync.Money(float64(int64(ro.Run.Records)), 0), withRange(ro.Run.Wall, ro.WallMin, ro.WallMax), duration(ro.Run.ReadItems),
				duration(ro.Run.Compute), mib(ro.Run.HWMKiB), seconds(ro.Run.CPU), ro.Run.Health)
		}
	}
	writePortfolioMarkdown(&b, r.Portfolio)
	b.WriteString("\nRequests by endpoint:\n\n")
	for _, s := range r.Syncs {
		fmt.Fprintf(&b, "- %s %s: %s\n", s.Vendor, s.Scenario, endpointList(s.Endpoints))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// withRange shows a median wall time with the fastest and slowest run,
// when there was more than one.
func withRange(med, lo, hi time.Duration) string {
	if lo <= 0 || hi <= 0 {
		return duration(med)
	}
	return fmt.Sprintf("%s (%s–%s)", duration(med), short(lo), short(hi))
}

// short is a compact duration for ranges: "850ms", "12.3s".
func short(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1fs", d.Seconds())
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// envNote lists the environment settings that change what is measured.
func envNote(env map[string]string) string {
	if len(env) == 0 {
		return ""
	}
	keys := slices.Sorted(maps.Keys(env))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + env[k]
	}
	return ", with " + strings.Join(parts, " ")
}

func scenarioLabel(s syncResult) string {
	if s.Scenario == scenarioIncremental {
		return fmt.Sprintf("incremental (%s changed)", pmsync.Money(float64(int64(s.Modified)), 0))
	}
	return s.Scenario
}

// endpointList lists endpoints with their counts, most requested first.
func endpointList(m map[string]int) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("`%s` ×%d", k, m[k])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// duration shows a wall time: milliseconds below a second, else seconds
// with two decimals.
func duration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return seconds(d)
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// rate is records per second, rounded to a whole number.
func rate(n int, d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return pmsync.Money(math.Round(float64(n)/d.Seconds()), 0)
}

// mib shows KiB as MiB, rounded.
func mib(kib int64) string { return fmt.Sprintf("%d MiB", (kib+512)/1024) }

// times is how many times longer a took than b, with one decimal.
func times(a, b time.Duration) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f×", float64(a)/float64(b))
}

func atRate(d time.Duration) string {
	if d <= 0 {
		return "no wait"
	}
	return "≥ " + duration(d)
}

func orUnknown(s string) string {
	if s == "" {
		return "model unknown"
	}
	return s
}
