package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
)

func explainFixture() pmsync.ExplainReport {
	return pmsync.ExplainReport{Schema: pmsync.ExplainSchema, AsOf: "2026-11-26", Programs: []pmsync.Explanation{{
		Program: "ehr-upgrade", Name: "EHR Upgrade", AsOf: "2026-11-26",
		Figures: []pmsync.Figure{
			{Name: "milestones.late", Value: 1, How: "open milestones due before the as-of date", Items: []pmsync.Evidence{
				{Source: "jira-ehr", ExternalID: "EHR-101", Kind: pmsync.KindMilestone, State: pmsync.StateInProgress, Title: "Go-live | review",
					Due: "2026-11-20", URL: "https://acme.atlassian.net/browse/EHR-101", Note: "6 days late"}}},
			{Name: "budget.actual", Value: 300.5, How: "the items' actual costs added up", Items: []pmsync.Evidence{
				{Source: "jira-ehr", ExternalID: "EHR-7", Kind: pmsync.KindTask, State: pmsync.StateDone, Title: "Build", PlannedCost: f64(200), ActualCost: f64(300.5)}}},
			{Name: "budget.burn_rate_per_week", Value: (*float64)(nil), How: "null without a snapshot four weeks old", Items: []pmsync.Evidence{}},
		},
	}}}
}

func TestWriteExplain(t *testing.T) {
	var table bytes.Buffer
	if err := WriteExplain(&table, explainFixture(), "table"); err != nil {
		t.Fatal(err)
	}
	want := `Explanation as of 2026-11-26

EHR Upgrade (ehr-upgrade)

  milestones.late = 1 — open milestones due before the as-of date
    KIND       STATE        DUE         SCORE  PLANNED  ACTUAL  ITEM                               NOTE         LINK
    milestone  in_progress  2026-11-20  –      –        –       jira-ehr/EHR-101 Go-live | review  6 days late  https://acme.atlassian.net/browse/EHR-101

  budget.actual = 300.5 — the items' actual costs added up
    KIND  STATE  DUE  SCORE  PLANNED  ACTUAL  ITEM                  NOTE  LINK
    task  done   –    –      200.00   300.50  jira-ehr/EHR-7 Build        

  budget.burn_rate_per_week = null — null without a snapshot four weeks old
`
	if diff := cmp.Diff(want, table.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}

	var doc bytes.Buffer
	if err := WriteExplain(&doc, explainFixture(), "json"); err != nil {
		t.Fatal(err)
	}
	var back pmsync.ExplainReport
	if err := json.Unmarshal(doc.Bytes(), &back); err != nil || back.Schema != "pmsync.explain/v1" || back.Programs[0].Figures[0].Items[0].ExternalID != "EHR-101" {
		t.Errorf("json: %v %+v", err, back)
	}
	if !strings.Contains(doc.String(), `"value": null`) {
		t.Errorf("a figure that cannot be computed is not null:\n%s", doc.String())
	}

	var rows bytes.Buffer
	if err := WriteExplain(&rows, explainFixture(), "csv"); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&rows).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// header, one row per item, one row for the figure without items
	if len(recs) != 4 || recs[1][2] != "milestones.late" || recs[1][6] != "EHR-101" || recs[2][12] != "200.00" || recs[3][3] != "null" || recs[3][5] != "" {
		t.Errorf("csv rows = %q", recs)
	}

	var md bytes.Buffer
	if err := WriteExplain(&md, explainFixture(), "md"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| milestone | in_progress | 2026-11-20 |  | – | – | [Go-live \\| review](https://acme.atlassian.net/browse/EHR-101) | 6 days late |") {
		t.Errorf("markdown:\n%s", md.String())
	}
	if err := WriteExplain(&md, explainFixture(), "xml"); err == nil {
		t.Error("format xml accepted")
	}
}

// The keys added to pmsync.rollup/v1 are there, with their types, in every
// program and in the portfolio.
func TestJSONAddedKeys(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, fixture(), "json"); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	check := func(where string, obj map[string]any, keys []string) {
		for _, k := range keys {
			path, kinds, _ := strings.Cut(k, " ")
			v, ok := lookup(obj, path)
			if !ok {
				t.Errorf("%s.%s is missing", where, path)
				continue
			}
			if got := kind(v); !strings.Contains("|"+kinds+"|", "|"+got+"|") {
				t.Errorf("%s.%s is %s, want %s", where, path, got, kinds)
			}
		}
	}
	check("report", doc, []string{"version string", "portfolio object", "portfolios array"})
	portfolio := []string{"name string", "programs array", "health.red number", "health.amber number", "health.green number",
		"progress.percent number|null", "milestones.at_risk number", "milestones.slipped number", "milestones.slip_days number", "milestones.behind number",
		"risks.red_flags number", "budget.planned number|null", "budget.actual number|null", "budget.burn_percent number|null",
		"budget.elapsed_percent number|null", "budget.variance_points number|null", "budget.burn_rate_per_week number|null", "budget.by_currency array",
		"items.live number", "throughput.done_7d number", "throughput.created_28d number|null", "attention array", "top_red_flag_risks array",
		"top_late_milestones array", "top_slips array", "trend.since string", "trend.points array", "changes array"}
	check("portfolio", doc["portfolio"].(map[string]any), portfolio)
	for _, g := range doc["portfolios"].([]any) {
		check("portfolios[]", g.(map[string]any), portfolio)
	}
	program := []string{"portfolio string", "owner string", "health.rules array", "milestones.at_risk number", "milestones.slipped number",
		"milestones.slip_days number", "budget.remaining number|null", "budget.burn_rate_per_week number|null", "budget.runs_out_on string|null",
		"budget.earned_value number|null", "budget.cost_variance number|null", "next_milestones array", "at_risk_milestones array", "slips array",
		"throughput.done_7d number", "throughput.done_28d number", "throughput.created_7d number|null", "throughput.created_28d number|null",
		"forecasting.weekly_throughput array", "forecasting.trials number", "forecasting.seed number", "trend.since string", "trend.points array",
		"changes array", "changes_since.since string", "changes_since.from string|null", "changes_since.changes array"}
	ehr := doc["programs"].([]any)[0].(map[string]any)
	check("programs[0]", ehr, program)
	next := ehr["next_milestones"].([]any)[0].(map[string]any)
	check("next_milestones[0]", next, []string{"title string", "due string", "state string", "progress number|null", "baseline string",
		"slip_days number", "forecast.p50 string", "forecast.p85 string", "forecast.remaining number", "why string", "url string", "owner string"})
	if f := ehr["next_milestones"].([]any)[1].(map[string]any)["forecast"]; f != nil {
		t.Errorf("a milestone without a forecast has forecast %v, want null", f)
	}
	slip := ehr["slips"].([]any)[0].(map[string]any)
	check("slips[0]", slip, []string{"baseline string", "baseline_from string", "days number", "moves array"})
	point := ehr["trend"].(map[string]any)["points"].([]any)[0].(map[string]any)
	check("trend.points[0]", point, []string{"as_of string", "done number", "total number", "progress_percent number|null", "late_milestones number",
		"red_flags number", "planned number", "actual number", "burn_percent number|null"})
}
