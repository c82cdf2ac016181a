package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
)

// update is the conventional golden-file switch: go test ./report -update.
var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func f64(f float64) *float64 { return &f }

// fixture is a hand-built report: one red program with every kind of bad
// news and one green program whose budget ratios cannot be computed. The
// numbers agree with each other (120/300 = 40.0 %, 1 550 000.25 / 2 500 000
// = 62.0 %, 62.0 − 45.0 = +17.0 points, 1 550 000.25 × 300 / 120 =
// 3 875 000.63) so that a reader of the golden files can check them.
//
// The EHR program also carries every figure added for the portfolio view:
// earned value 2 500 000 × 120 / 300 = 1 000 000, cost variance
// 1 000 000 − 1 550 000.25, 949 999.75 remaining, which at 50 000 a week
// lasts ⌈132.99…⌉ = 133 days: 2027-04-08. The portfolio totals come from
// pmsync.NewReport; the golden files were reviewed against these numbers.
func fixture() pmsync.Report {
	return pmsync.NewReport("2026-11-26", time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC), fixturePrograms())
}

func d(s pmsync.Date) *pmsync.Date { return &s }

func ip(n int) *int { return &n }

func fixturePrograms() []pmsync.Rollup {
	return []pmsync.Rollup{
		{
			ID:      "ehr-upgrade",
			Name:    "EHR Upgrade",
			AsOf:    "2026-11-26",
			Version: "3f9a1c2b7d4e",
			Health: pmsync.Health{Status: pmsync.Red, Reasons: []string{
				"2 milestones late: Go-live readiness review (due 2026-11-20), Data migration dry run (due 2026-11-24)",
				"2 red-flag risks (score ≥ 15): Interface engine | HL7 feed vendor delay, Pharmacy formulary [mapping] gaps",
				"budget burn 62.0% vs 45.0% of time elapsed (+17.0 points)",
			}},
			Progress:   pmsync.Progress{Done: 120, Total: 300, Percent: 40.0},
			Milestones: pmsync.MilestoneCounts{Total: 8, Done: 3, Late: 2, DueSoon: 1, AtRisk: 1, Slipped: 1, SlipDays: 14},
			Risks:      pmsync.RiskCounts{Open: 10, RedFlags: 2},
			Budget: pmsync.Budget{
				Currency: "USD", Planned: 2500000, Actual: 1550000.25,
				BurnPercent: f64(62.0), ElapsedPercent: f64(45.0), VariancePoints: f64(17.0), Forecast: f64(3875000.63),
				Remaining: f64(949999.75), BurnRate: f64(50000), RunsOut: d("2027-04-08"), EarnedValue: f64(1000000), CostVariance: f64(-550000.25),
			},
			Items: pmsync.ItemCounts{Live: 320, Deleted: 2},
			Sources: []pmsync.SourceStatus{
				{Source: "jira-ehr", Connection: "jira", LastSuccess: time.Date(2026, 11, 26, 6, 55, 0, 0, time.UTC), Quarantined: 3},
				{Source: "smartsheet-budget", Connection: "smartsheet", LastSuccess: time.Date(2026, 11, 25, 22, 10, 0, 0, time.UTC),
					Stale: true, LastError: "smartsheet: 429 rate limited (errorCode 4003)"},
				{Source: "trello-training", Connection: "trello", Stale: true},
			},
			Late: []pmsync.ItemRef{
				{Source: "jira-ehr", ExternalID: "EHR-101", Title: "Go-live readiness review", URL: "https://acme.atlassian.net/browse/EHR-101", Due: "2026-11-20", Owner: "Dana Whitfield"},
				{Source: "jira-ehr", ExternalID: "EHR-117", Title: "Data migration dry run", URL: "https://acme.atlassian.net/browse/EHR-117", Due: "2026-11-24"},
			},
			DueSoon: []pmsync.ItemRef{
				{Source: "jira-ehr", ExternalID: "EHR-130", Title: "Pharmacy cutover plan signed off", Due: "2026-12-03"},
			},
			RedFlags: []pmsync.ItemRef{
				{Source: "jira-ehr", ExternalID: "EHR-205", Title: "Interface engine | HL7 feed vendor delay", Score: 20, Owner: "Sam Okafor"},
				{Source: "smartsheet-budget", ExternalID: "4410", Title: "Pharmacy formulary [mapping] gaps", Score: 16},
			},
			RiskMatrix: pmsync.RiskMatrix{Cells: []pmsync.RiskCell{
				{Likelihood: 5, Impact: 4, Risks: 1}, {Likelihood: 4, Impact: 4, Risks: 1}, {Likelihood: 2, Impact: 3, Risks: 7},
			}, Unrated: 1},
			Changes:   []string{"health amber → red", "late milestones 1 → 2"},
			Portfolio: "Clinical", Owner: "Dana Whitfield",
			NextMilestones: []pmsync.Milestone{
				{ItemRef: pmsync.ItemRef{Source: "jira-ehr", ExternalID: "EHR-130", Title: "Pharmacy cutover plan signed off", Due: "2026-12-03", Owner: "Lee Park",
					URL: "https://acme.atlassian.net/browse/EHR-130"}, State: pmsync.MilestoneAtRisk, Progress: f64(40), Baseline: "2026-11-19", SlipDays: 14,
					Forecast: &pmsync.Forecast{P50: "2026-12-03", P85: "2026-12-10", Remaining: 6},
					Why:      "forecast p85 2026-12-10 is after due 2026-12-03: 6 open tasks, at 2–5 tasks a week over the last 8 weeks"},
				{ItemRef: pmsync.ItemRef{Source: "jira-ehr", ExternalID: "EHR-140", Title: "Training complete", Due: "2027-01-15"}, State: pmsync.MilestoneOnTrack,
					Baseline: "2027-01-15", Why: "no forecast: no task counts toward it"},
			},
			AtRisk: []pmsync.Milestone{{ItemRef: pmsync.ItemRef{Source: "jira-ehr", ExternalID: "EHR-130", Title: "Pharmacy cutover plan signed off", Due: "2026-12-03", Owner: "Lee Park",
				URL: "https://acme.atlassian.net/browse/EHR-130"}, State: pmsync.MilestoneAtRisk, Progress: f64(40), Baseline: "2026-11-19", SlipDays: 14,
				Forecast: &pmsync.Forecast{P50: "2026-12-03", P85: "2026-12-10", Remaining: 6},
				Why:      "forecast p85 2026-12-10 is after due 2026-12-03: 6 open tasks, at 2–5 tasks a week over the last 8 weeks"}},
			Slips: []pmsync.Slip{{ItemRef: pmsync.ItemRef{Source: "jira-ehr", ExternalID: "EHR-130", Title: "Pharmacy cutover plan signed off", Due: "2026-12-03"},
				Baseline: "2026-11-19", BaselineFrom: "first_seen", Days: 14, Moves: []pmsync.Move{{On: "2026-11-10", From: "2026-11-19", To: "2026-12-03", Days: 14}}}},
			Throughput:  pmsync.Throughput{Done7: 12, Done28: 40, Created7: ip(5), Created28: ip(18)},
			Forecasting: pmsync.Forecasting{Weekly: []int{3, 5, 2, 4, 5, 3, 2, 4}, Trials: 10000, Seed: 42},
			Trend: pmsync.Trend{Since: "2026-10-29", Points: []pmsync.TrendPoint{
				{AsOf: "2026-10-29", Done: 100, Total: 290, Progress: f64(34.48), LateMilestones: 1, RedFlags: 2, Planned: 2500000, Actual: 1350000, Burn: f64(54)},
				{AsOf: "2026-11-26", Done: 120, Total: 300, Progress: f64(40), LateMilestones: 2, RedFlags: 2, Planned: 2500000, Actual: 1550000.25, Burn: f64(62)},
			}},
			ChangesSince: &pmsync.ChangesSince{Since: "2026-11-01", From: d("2026-10-30"), Changes: []string{"late milestones 1 → 2"}},
		},
		{
			ID:         "telehealth",
			Name:       "Telehealth Launch",
			AsOf:       "2026-11-26",
			Version:    "b71e04a9c3d2",
			Health:     pmsync.Health{Status: pmsync.Green, Reasons: []string{"no late milestones, no red-flag risks, budget on track"}},
			Progress:   pmsync.Progress{Done: 45, Total: 60, Percent: 75.0},
			Milestones: pmsync.MilestoneCounts{Total: 4, Done: 3},
			Risks:      pmsync.RiskCounts{Open: 2},
			Items:      pmsync.ItemCounts{Live: 64},
			Sources: []pmsync.SourceStatus{
				{Source: "asana-telehealth", Connection: "asana", LastSuccess: time.Date(2026, 11, 26, 6, 50, 0, 0, time.UTC)},
			},
			Late:      []pmsync.ItemRef{},
			DueSoon:   []pmsync.ItemRef{},
			RedFlags:  []pmsync.ItemRef{},
			Portfolio: "Digital",
		},
	}
}

func TestWriteGolden(t *testing.T) {
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, fixture(), format); err != nil {
				t.Fatalf("Write(%q): %v", format, err)
			}
			golden := filepath.Join("testdata", "rollup."+format+".golden")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatalf("update golden: %v", err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run go test ./report -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), buf.String()); diff != "" {
				t.Errorf("Write(%q) differs from %s (-want +got):\n%s", format, golden, diff)
			}
		})
	}
}

func TestWriteEmptyFormatIsTable(t *testing.T) {
	var table, empty bytes.Buffer
	if err := Write(&table, fixture(), "table"); err != nil {
		t.Fatal(err)
	}
	if err := Write(&empty, fixture(), ""); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(table.String(), empty.String()); diff != "" {
		t.Errorf("format \"\" is not the table (-table +empty):\n%s", diff)
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	for _, format := range []string{"xml", "JSON", "markdown", "html"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, fixture(), format)
			if err == nil {
				t.Fatalf("Write(%q) succeeded; want an error", format)
			}
			msg := err.Error()
			for _, valid := range []string{"table", "json", "csv", "md", `"` + format + `"`} {
				if !strings.Contains(msg, valid) {
					t.Errorf("error %q does not mention %s", msg, valid)
				}
			}
			if buf.Len() != 0 {
				t.Errorf("Write(%q) wrote %q before failing", format, buf.String())
			}
		})
	}
}

// kind names the JSON type of a decoded value.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

// lookup follows a dotted path through decoded JSON objects.
func lookup(doc map[string]any, path string) (any, bool) {
	var cur any = doc
	for _, key := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[key]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// TestJSONCoreKeys holds the JSON to the fixed core of the pmsync.rollup/v1
// document (DESIGN §5): these keys must exist with these types.
func TestJSONCoreKeys(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, fixture(), "json"); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("decode rollup json: %v\n%s", err, buf.String())
	}

	top := map[string]any{
		"schema":       "pmsync.rollup/v1",
		"as_of":        "2026-11-26",
		"generated_at": "2026-11-26T07:00:00Z",
	}
	for key, want := range top {
		if got := doc[key]; got != want {
			t.Errorf("%s = %#v, want %#v", key, got, want)
		}
	}
	programs, ok := doc["programs"].([]any)
	if !ok || len(programs) != 2 {
		t.Fatalf("programs = %#v, want an array of 2", doc["programs"])
	}

	// Per program: path → the allowed JSON types. Budget ratios are null when
	// they cannot be computed, so the key must still be there.
	core := []struct {
		path  string
		kinds string
	}{
		{"id", "string"},
		{"name", "string"},
		{"health", "object"},
		{"health.status", "string"},
		{"health.reasons", "array"},
		{"progress", "object"},
		{"progress.done", "number"},
		{"progress.total", "number"},
		{"progress.percent", "number"},
		{"milestones", "object"},
		{"milestones.total", "number"},
		{"milestones.done", "number"},
		{"milestones.late", "number"},
		{"milestones.due_soon", "number"},
		{"risks", "object"},
		{"risks.open", "number"},
		{"risks.red_flags", "number"},
		{"budget", "object"},
		{"budget.planned", "number"},
		{"budget.actual", "number"},
		{"budget.burn_percent", "number|null"},
		{"budget.elapsed_percent", "number|null"},
		{"budget.variance_points", "number|null"},
		{"items", "object"},
		{"items.live", "number"},
		{"items.deleted", "number"},
		{"sources", "array"},
	}
	for i, p := range programs {
		prog, ok := p.(map[string]any)
		if !ok {
			t.Fatalf("programs[%d] is %s, want object", i, kind(p))
		}
		for _, c := range core {
			v, ok := lookup(prog, c.path)
			if !ok {
				t.Errorf("programs[%d].%s is missing", i, c.path)
				continue
			}
			if k := kind(v); !strings.Contains("|"+c.kinds+"|", "|"+k+"|") {
				t.Errorf("programs[%d].%s is %s, want %s", i, c.path, k, c.kinds)
			}
		}
		reasons, _ := lookup(prog, "health.reasons")
		for j, r := range reasons.([]any) {
			if kind(r) != "string" {
				t.Errorf("programs[%d].health.reasons[%d] is %s, want string", i, j, kind(r))
			}
		}
		sources, _ := prog["sources"].([]any)
		for j, s := range sources {
			src, ok := s.(map[string]any)
			if !ok {
				t.Errorf("programs[%d].sources[%d] is %s, want object", i, j, kind(s))
				continue
			}
			if kind(src["connection"]) != "string" {
				t.Errorf("programs[%d].sources[%d].connection is %s, want string", i, j, kind(src["connection"]))
			}
			if kind(src["stale"]) != "bool" {
				t.Errorf("programs[%d].sources[%d].stale is %s, want bool", i, j, kind(src["stale"]))
			}
			if ls, ok := src["last_success"]; !ok || (kind(ls) != "string" && kind(ls) != "null") {
				t.Errorf("programs[%d].sources[%d].last_success is %s, want a string or null", i, j, kind(ls))
			}
		}
	}

	// Values straight from the fixture, to show the keys carry the right data.
	values := []struct {
		prog int
		path string
		want any
	}{
		{0, "id", "ehr-upgrade"},
		{0, "health.status", "red"},
		{0, "progress.percent", 40.0},
		{0, "milestones.late", 2.0},
		{0, "risks.red_flags", 2.0},
		{0, "budget.planned", 2500000.0},
		{0, "budget.actual", 1550000.25},
		{0, "budget.burn_percent", 62.0},
		{0, "budget.variance_points", 17.0},
		{0, "items.deleted", 2.0},
		{1, "id", "telehealth"},
		{1, "health.status", "green"},
		{1, "budget.burn_percent", nil},
		{1, "budget.elapsed_percent", nil},
		{1, "budget.variance_points", nil},
	}
	for _, v := range values {
		got, _ := lookup(programs[v.prog].(map[string]any), v.path)
		if got != v.want {
			t.Errorf("programs[%d].%s = %#v, want %#v", v.prog, v.path, got, v.want)
		}
	}
	wantSources := []any{
		map[string]any{"source": "jira-ehr", "connection": "jira", "last_success": "2026-11-26T06:55:00Z", "stale": false, "quarantined": 3.0},
		map[string]any{"source": "smartsheet-budget", "connection": "smartsheet", "last_success": "2026-11-25T22:10:00Z", "stale": true,
			"last_error": "smartsheet: 429 rate limited (errorCode 4003)", "quarantined": 0.0},
		map[string]any{"source": "trello-training", "connection": "trello", "last_success": nil, "stale": true, "quarantined": 0.0},
	}
	gotSources := programs[0].(map[string]any)["sources"]
	if diff := cmp.Diff(wantSources, gotSources); diff != "" {
		t.Errorf("programs[0].sources (-want +got):\n%s", diff)
	}
}

func TestJSONFillsMissingLists(t *testing.T) {
	// A portfolio nobody computed: every list empty, every ratio null.
	const zeroPortfolio = `"portfolio":{"name":"","programs":[],"health":{"red":0,"amber":0,"green":0},` +
		`"progress":{"done":0,"total":0,"percent":null},` +
		`"milestones":{"total":0,"done":0,"late":0,"due_soon":0,"behind":0,"at_risk":0,"slipped":0,"slip_days":0},` +
		`"risks":{"open":0,"red_flags":0},` +
		`"budget":{"planned":null,"actual":null,"burn_percent":null,"elapsed_percent":null,"variance_points":null,"burn_rate_per_week":null,"by_currency":[]},` +
		`"items":{"live":0,"deleted":0},"throughput":{"done_7d":0,"done_28d":0,"created_7d":null,"created_28d":null},` +
		`"attention":[],"top_red_flag_risks":[],"top_late_milestones":[],"top_slips":[],"trend":{"since":"","points":[]},"changes":[]}`
	tests := []struct {
		name string
		rep  pmsync.Report
		want string
	}{
		{
			name: "no programs",
			rep:  pmsync.Report{AsOf: "2026-11-26", GeneratedAt: time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)},
			want: `{"schema":"pmsync.rollup/v1","as_of":"2026-11-26","generated_at":"2026-11-26T07:00:00Z","version":"",` + zeroPortfolio +
				`,"portfolios":[],"programs":[]}`,
		},
		{
			name: "program without lists",
			rep: pmsync.Report{Schema: pmsync.Schema, AsOf: "2026-11-26", GeneratedAt: time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC),
				Programs: []pmsync.Rollup{{ID: "p", Name: "P", Health: pmsync.Health{Status: pmsync.Green}}}},
			want: `{"schema":"pmsync.rollup/v1","as_of":"2026-11-26","generated_at":"2026-11-26T07:00:00Z","version":"",` + zeroPortfolio +
				`,"portfolios":[],"programs":[` +
				`{"id":"p","name":"P","as_of":"","version":"","health":{"status":"green","reasons":[],"rules":[]},` +
				`"progress":{"done":0,"total":0,"percent":null},` +
				`"milestones":{"total":0,"done":0,"late":0,"due_soon":0,"behind":0,"at_risk":0,"slipped":0,"slip_days":0},` +
				`"risks":{"open":0,"red_flags":0},"budget":{"planned":0,"actual":0,"burn_percent":null,"elapsed_percent":null,` +
				`"variance_points":null,"forecast_at_completion":null,"remaining":null,"burn_rate_per_week":null,"runs_out_on":null,` +
				`"earned_value":null,"cost_variance":null},"items":{"live":0,"deleted":0},"sources":[],` +
				`"late_milestones":[],"due_soon_milestones":[],"red_flag_risks":[],"risk_matrix":{"cells":[],"unrated":0},"next_milestones":[],"at_risk_milestones":[],"slips":[],` +
				`"throughput":{"done_7d":0,"done_28d":0,"created_7d":null,"created_28d":null},` +
				`"forecasting":{"weekly_throughput":[],"trials":0,"seed":0},"trend":{"since":"","points":[]},"changes":[]}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := JSON(&buf, tt.rep); err != nil {
				t.Fatal(err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, buf.Bytes()); err != nil {
				t.Fatalf("compact %s: %v", buf.String(), err)
			}
			if diff := cmp.Diff(tt.want, compact.String()); diff != "" {
				t.Errorf("JSON (-want +got):\n%s", diff)
			}
			for _, p := range tt.rep.Programs {
				if p.Sources != nil || p.Health.Reasons != nil {
					t.Errorf("JSON changed the caller's report: %+v", p)
				}
			}
		})
	}
}

// failWriter accepts limit bytes and then fails, like a full disk.
type failWriter struct {
	limit int
	err   error
}

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n := f.limit
		f.limit = 0
		return n, f.err
	}
	f.limit -= len(p)
	return len(p), nil
}

func TestWriteReportsWriterErrors(t *testing.T) {
	full := errors.New("no space left on device")
	for _, format := range Formats {
		// A failure at the first byte and one well into the document (after
		// the table section, where the table renderer writes directly).
		for _, limit := range []int{0, 700} {
			t.Run(fmt.Sprintf("%s/after_%d_bytes", format, limit), func(t *testing.T) {
				err := Write(&failWriter{limit: limit, err: full}, fixture(), format)
				if !errors.Is(err, full) {
					t.Errorf("Write(%q) with a writer failing after %d bytes = %v, want %v", format, limit, err, full)
				}
			})
		}
	}
}

func TestMoney(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{999, "999"},
		{1000, "1,000"},
		{2500000, "2,500,000"},
		{1550000.25, "1,550,000"},
		{3875000.63, "3,875,001"},
		{-1234.6, "-1,235"},
		{-0.4, "0"},
	}
	for _, tt := range tests {
		if got := pmsync.Money(tt.in, 0); got != tt.want {
			t.Errorf("money(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMarkdownEscape(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"EHR Upgrade", "EHR Upgrade"},
		{"a | b", `a \| b`},
		{"[click](https://evil.example)", `\[click\](https://evil.example)`},
		{"<img src=x onerror=alert(1)>", `\<img src=x onerror=alert(1)\>`},
		{"`code`", "\\`code\\`"},
		{`C:\path`, `C:\\path`},
		{"two\nlines\r\nhere", "two lines here"},
		{"score ≥ 15 (due 2026-11-20)", "score ≥ 15 (due 2026-11-20)"},
	}
	for _, tt := range tests {
		if got := mdEscape(tt.in); got != tt.want {
			t.Errorf("mdEscape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSourceLine(t *testing.T) {
	tests := []struct {
		in   pmsync.SourceStatus
		want string
	}{
		{pmsync.SourceStatus{Source: "a", Connection: "jira", LastSuccess: time.Date(2026, 11, 26, 6, 55, 0, 0, time.UTC)},
			"a (jira): fresh, last success 2026-11-26 06:55 UTC"},
		{pmsync.SourceStatus{Source: "b", Connection: "asana", LastSuccess: time.Date(2026, 11, 25, 1, 2, 0, 0, time.UTC), Stale: true, LastError: "boom"},
			"b (asana): STALE, last success 2026-11-25 01:02 UTC, last error: boom"},
		{pmsync.SourceStatus{Source: "c", Connection: "trello", Stale: true},
			"c (trello): never synced"},
		{pmsync.SourceStatus{Source: "d", Connection: "trello", Stale: true, LastError: "401 unauthorized"},
			"d (trello): never synced, last error: 401 unauthorized"},
	}
	for _, tt := range tests {
		if got := sourceLine(tt.in); got != tt.want {
			t.Errorf("sourceLine(%+v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
