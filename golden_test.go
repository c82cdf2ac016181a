package pmsync

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The golden portfolio: three programs on 2026-07-02 with every figure of
// the rollup in play. Every expected value below is worked out by hand
// from the items listed, in the comments beside it; none comes from
// running the code.

const goldenAsOf Date = "2026-07-02"

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func item(id string, k Kind, s State, title string) Item {
	return Item{Source: "jira", ExternalID: id, Kind: k, State: s, Title: title, URL: "https://acme.atlassian.net/browse/" + id}
}

// ehrInput is a red program: a late milestone, two red flags, a milestone
// due soon and behind, slips, forecasts from a steady one task a week, a
// burn rate from snapshots and quarantined records.
func ehrInput() Input {
	m1 := item("M1", KindMilestone, StateTodo, "Go-live readiness")
	m1.Due, m1.Owner = "2026-06-20", "Dana Whitfield"
	m1.Fields = map[string]any{BaselineField: "2026-06-10"}
	m2 := item("M2", KindMilestone, StateInProgress, "Pharmacy cutover")
	m2.Start, m2.Due = "2026-06-01", "2026-07-10"
	m3 := item("M3", KindMilestone, StateTodo, "Training complete")
	m3.Due = "2026-09-30"
	m4 := item("M4", KindMilestone, StateDone, "Kickoff")
	m4.Due, m4.DoneAt = "2026-03-01", at("2026-03-01T12:00:00Z")
	m5 := item("M5", KindMilestone, StateTodo, "Decommission legacy")
	m6 := item("M6", KindMilestone, StateCancelled, "Dropped pilot")
	m6.Due = "2026-05-01"
	task := func(id string, s State, milestone, doneAt string) Item {
		t := item(id, KindTask, s, "Task "+id)
		t.Milestone = milestone
		if doneAt != "" {
			t.DoneAt = at(doneAt)
		}
		return t
	}
	t1 := task("T1", StateDone, "M1", "2026-06-30T15:00:00Z")
	t1.PlannedCost, t1.ActualCost = f(200), f(300)
	t2 := task("T2", StateTodo, "M1", "")
	t2.ActualCost = f(100)
	t10 := task("T10", StateCancelled, "", "")
	t10.PlannedCost, t10.ActualCost = f(50), f(999)
	risk := func(id string, s State, l, i int, title string) Item {
		r := item(id, KindRisk, s, title)
		r.Likelihood, r.Impact = l, i
		return r
	}
	d1 := task("D1", StateDone, "", "2026-06-29T10:00:00Z")
	d1.DeletedAt = at("2026-07-01T00:00:00Z")
	items := []Item{m1, m2, m3, m4, m5, m6,
		t1, t2,
		task("T3", StateDone, "M2", "2026-06-24T10:00:00Z"), task("T4", StateTodo, "M2", ""), task("T5", StateInProgress, "M2", ""),
		task("T6", StateTodo, "M3", ""), task("T7", StateBlocked, "M3", ""), task("T8", StateTodo, "M3", ""), task("T9", StateTodo, "M3", ""),
		task("H1", StateDone, "", "2026-06-17T09:00:00Z"), task("H2", StateDone, "", "2026-06-10T09:00:00Z"),
		task("H3", StateDone, "", "2026-06-03T09:00:00Z"), task("H4", StateDone, "", "2026-05-27T09:00:00Z"),
		task("H5", StateDone, "", "2026-05-20T09:00:00Z"), task("H6", StateDone, "", "2026-05-13T09:00:00Z"),
		task("H7", StateDone, "", "2026-04-01T09:00:00Z"),
		t10,
		risk("R1", StateTodo, 4, 4, "Vendor delay"), risk("R2", StateInProgress, 5, 3, "Formulary gaps"),
		risk("R3", StateBlocked, 3, 4, "Staff turnover"), risk("R4", StateDone, 5, 5, "Old risk"),
		d1,
	}
	past := func(asOf Date, version string, health HealthStatus, done, total, late, flags, slipped int, actual float64) Rollup {
		r := Rollup{ID: "ehr", AsOf: asOf, Version: version, Health: Health{Status: health}}
		r.Progress = Progress{Done: done, Total: total, Percent: percent(done, total)}
		r.Milestones = MilestoneCounts{Done: 1, Late: late, Slipped: slipped}
		r.Risks.RedFlags = flags
		r.Budget = Budget{Planned: 1000, Actual: actual, BurnPercent: f(actual / 10)}
		return r
	}
	return Input{
		Program: Program{ID: "ehr", Name: "EHR Upgrade", Portfolio: "Clinical", Owner: "Dana Whitfield",
			Start: "2026-01-01", End: "2026-12-31", Budget: f(1000), Currency: "USD", Sources: []string{"jira-ehr"}},
		Items:   items,
		Sources: []SourceStatus{{Source: "jira-ehr", Connection: "jira", LastSuccess: at("2026-07-02T06:00:00Z"), Quarantined: 2}},
		Rules:   DefaultRules(),
		AsOf:    goldenAsOf,
		DueMoves: []DueMove{
			{Source: "jira", ExternalID: "M2", At: at("2026-06-01T08:00:00Z"), From: "2026-07-15", To: "2026-07-10"},
			{Source: "jira", ExternalID: "M3", At: at("2026-06-15T09:00:00Z"), From: "2026-09-01", To: "2026-09-20"},
			{Source: "jira", ExternalID: "M3", At: at("2026-06-28T09:00:00Z"), From: "2026-09-20", To: "2026-09-30"},
			{Source: "jira", ExternalID: "T4", At: at("2026-06-28T09:00:00Z"), From: "2026-06-01", To: "2026-08-01"}, // a task: no slip
		},
		Arrived: []Seen{
			{Source: "jira", ExternalID: "T9", At: at("2026-06-30T11:00:00Z")},
			{Source: "jira", ExternalID: "T8", At: at("2026-06-10T11:00:00Z")},
		},
		ObservedSince: at("2026-05-01T00:00:00Z"),
		Past: []Rollup{
			past("2026-05-28", "p1", Amber, 2, 10, 0, 1, 0, 250),
			past("2026-06-04", "p2", Amber, 3, 12, 0, 1, 0, 260),
			past("2026-06-20", "p3", Amber, 4, 14, 1, 2, 1, 350),
			past("2026-06-20", "p4", Amber, 5, 15, 1, 2, 1, 360),
			past("2026-06-30", "p5", Amber, 9, 20, 1, 2, 1, 390),
		},
		ChangesSince: "2026-06-25",
	}
}

// teleInput is a green program with no history at all.
func teleInput() Input {
	a1 := Item{Source: "asana", ExternalID: "A1", Kind: KindTask, State: StateDone, Title: "Pick a video vendor", DoneAt: at("2026-06-20T12:00:00Z"), ActualCost: f(200)}
	a2 := Item{Source: "asana", ExternalID: "A2", Kind: KindTask, State: StateTodo, Title: "Pilot clinic", ActualCost: f(50)}
	n1 := Item{Source: "asana", ExternalID: "N1", Kind: KindMilestone, State: StateTodo, Title: "First virtual visit", Due: "2026-08-15"}
	return Input{
		Program: Program{ID: "tele", Name: "Telehealth Launch", Portfolio: "Digital", Owner: "Sam Okafor",
			Start: "2026-03-01", End: "2026-09-01", Budget: f(500), Currency: "USD"},
		Items:   []Item{a1, a2, n1},
		Sources: []SourceStatus{{Source: "asana-tele", Connection: "asana", LastSuccess: at("2026-07-02T06:00:00Z")}},
		Rules:   DefaultRules(),
		AsOf:    goldenAsOf,
	}
}

// pacsInput is an amber program: one red flag, a source never synced, a
// budget from its items and no dates.
func pacsInput() Input {
	r := Item{Source: "smartsheet", ExternalID: "9001", Kind: KindRisk, State: StateTodo, Title: "Imaging vendor insolvency", Likelihood: 5, Impact: 4}
	b := Item{Source: "smartsheet", ExternalID: "9002", Kind: KindTask, State: StateTodo, Title: "Viewer integration", PlannedCost: f(300), ActualCost: f(0)}
	return Input{
		Program: Program{ID: "pacs", Name: "PACS Viewer", Portfolio: "Clinical", Currency: "USD"},
		Items:   []Item{r, b},
		Sources: []SourceStatus{{Source: "smartsheet-pacs", Connection: "smartsheet", Stale: true}},
		Rules:   DefaultRules(),
		AsOf:    goldenAsOf,
	}
}

func d(s Date) *Date { return &s }

func TestGoldenProgram(t *testing.T) {
	in := ehrInput()
	in.Explain = true
	got, ex := Build(in)

	// Live: 6 milestones, 17 tasks (T1–T10 minus none, H1–H7), 4 risks = 27;
	// D1 is a tombstone.
	if diff := cmp.Diff(ItemCounts{Live: 27, Deleted: 1}, got.Items); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	// Counted: M1–M5 and T1–T9, H1–H7 = 21 (M6 and T10 cancelled); done:
	// M4, T1, T3, H1–H7 = 10; 10 / 21 = 47.619…
	if diff := cmp.Diff(Progress{Done: 10, Total: 21, Percent: 47.62}, got.Progress); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	// M1 late (due 06-20); M2 due in 8 days, 1 of 3 tasks done (33 %) after
	// 31 of its 39 days (79 %): behind; M2's p85 07-16 is after its due
	// 07-10: at risk; M1 (baseline 06-10 mapped, due 06-20: +10) and M3
	// (09-01 → 09-30: +29) slipped, 39 days in all.
	if diff := cmp.Diff(MilestoneCounts{Total: 5, Done: 1, Late: 1, DueSoon: 1, Behind: 1, AtRisk: 1, Slipped: 2, SlipDays: 39}, got.Milestones); diff != "" {
		t.Errorf("milestones (-want +got):\n%s", diff)
	}
	// R1 16, R2 15 (= red_flag_score), R3 12 open; R4 done.
	if diff := cmp.Diff(RiskCounts{Open: 3, RedFlags: 2}, got.Risks); diff != "" {
		t.Errorf("risks (-want +got):\n%s", diff)
	}
	// Actual 300 + 100 (T10 cancelled) = 400 of 1000: burn 40 %; 182 of 364
	// days: elapsed 50 %; variance −10; forecast 400 × 21 / 10 = 840;
	// remaining 600; burn rate (400 − 260 on 06-04) / 4 weeks = 35; runs
	// out after ⌈600 / 35 × 7⌉ = 120 days: 2026-10-30; earned value
	// 1000 × 10 / 21 = 476.19; cost variance 476.19 − 400 = 76.19.
	wantBudget := Budget{Currency: "USD", Planned: 1000, Actual: 400, BurnPercent: f(40), ElapsedPercent: f(50), VariancePoints: f(-10),
		Forecast: f(840), Remaining: f(600), BurnRate: f(35), RunsOut: d("2026-10-30"), EarnedValue: f(476.19), CostVariance: f(76.19)}
	if diff := cmp.Diff(wantBudget, got.Budget); diff != "" {
		t.Errorf("budget (-want +got):\n%s", diff)
	}
	// Done in (06-25, 07-02]: T1 (06-30); in (06-04, 07-02]: T1, T3 (06-24),
	// H1 (06-17), H2 (06-10). First seen after the first complete sync
	// (05-01): T9 06-30, T8 06-10.
	if diff := cmp.Diff(Throughput{Done7: 1, Done28: 4, Created7: ip(1), Created28: ip(2)}, got.Throughput); diff != "" {
		t.Errorf("throughput (-want +got):\n%s", diff)
	}
	// One task in each of the eight weeks back from 07-02 (T1 06-30, T3
	// 06-24, H1 06-17, H2 06-10, H3 06-03, H4 05-27, H5 05-20, H6 05-13).
	if diff := cmp.Diff([]int{1, 1, 1, 1, 1, 1, 1, 1}, got.Forecasting.Weekly); diff != "" {
		t.Errorf("weekly throughput (-want +got):\n%s", diff)
	}
	// With exactly one task a week, n open tasks take n weeks in every
	// trial: M2 (T4, T5) 2 weeks → 07-16; M3 (T6–T9) 4 weeks → 07-30.
	ref := func(id, title string, due Date) ItemRef {
		return ItemRef{Source: "jira", ExternalID: id, Title: title, URL: "https://acme.atlassian.net/browse/" + id, Due: due}
	}
	wantNext := []Milestone{
		{ItemRef: ref("M2", "Pharmacy cutover", "2026-07-10"), State: MilestoneAtRisk, Progress: f(33.33), Baseline: "2026-07-15",
			Forecast: &Forecast{P50: "2026-07-16", P85: "2026-07-16", Remaining: 2},
			Why:      "forecast p85 2026-07-16 is after due 2026-07-10: 2 open tasks, at 1 task a week over the last 8 weeks"},
		{ItemRef: ref("M3", "Training complete", "2026-09-30"), State: MilestoneOnTrack, Progress: f(0), Baseline: "2026-09-01", SlipDays: 29,
			Forecast: &Forecast{P50: "2026-07-30", P85: "2026-07-30", Remaining: 4}},
	}
	if diff := cmp.Diff(wantNext, got.NextMilestones); diff != "" {
		t.Errorf("next milestones (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantNext[:1], got.AtRisk); diff != "" {
		t.Errorf("at-risk milestones (-want +got):\n%s", diff)
	}
	m1 := ref("M1", "Go-live readiness", "2026-06-20")
	m1.Owner = "Dana Whitfield"
	wantSlips := []Slip{
		{ItemRef: ref("M3", "Training complete", "2026-09-30"), Baseline: "2026-09-01", BaselineFrom: "first_seen", Days: 29,
			Moves: []Move{{On: "2026-06-15", From: "2026-09-01", To: "2026-09-20", Days: 19}, {On: "2026-06-28", From: "2026-09-20", To: "2026-09-30", Days: 10}}},
		{ItemRef: m1, Baseline: "2026-06-10", BaselineFrom: "mapped", Days: 10, Moves: []Move{}},
	}
	if diff := cmp.Diff(wantSlips, got.Slips); diff != "" {
		t.Errorf("slips (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]ItemRef{m1}, got.Late); diff != "" {
		t.Errorf("late (-want +got):\n%s", diff)
	}
	r1, r2 := ref("R1", "Vendor delay", ""), ref("R2", "Formulary gaps", "")
	r1.Score, r2.Score = 16, 15
	if diff := cmp.Diff([]ItemRef{r1, r2}, got.RedFlags); diff != "" {
		t.Errorf("red flags (-want +got):\n%s", diff)
	}

	// Health: red for M1 and for two red flags (≥ red_flags_for_red 2);
	// amber for M2 behind and the quarantined records; the amber red-flag
	// rule says what the red one said.
	wantHealth := Health{Status: Red,
		Reasons: []string{
			"1 milestone late: Go-live readiness (due 2026-06-20)",
			"2 red-flag risks (score ≥ 15): Vendor delay (16), Formulary gaps (15)",
			"1 milestone due within 14 days and behind: Pharmacy cutover (due 2026-07-10)",
			"source jira-ehr has 2 records in quarantine: figures are built on incomplete data (pmsync quarantine --source jira-ehr)",
		},
		Rules: []FiredRule{
			{Status: Red, Rule: "milestones.late > 0", Reasons: []string{"1 milestone late: Go-live readiness (due 2026-06-20)"}},
			{Status: Red, Rule: "risks.red_flags >= rules.red_flags_for_red", Reasons: []string{"2 red-flag risks (score ≥ 15): Vendor delay (16), Formulary gaps (15)"}},
			{Status: Amber, Rule: "risks.red_flags > 0", Reasons: []string{"2 red-flag risks (score ≥ 15): Vendor delay (16), Formulary gaps (15)"}},
			{Status: Amber, Rule: "milestones.behind > 0", Reasons: []string{"1 milestone due within 14 days and behind: Pharmacy cutover (due 2026-07-10)"}},
			{Status: Amber, Rule: "sources.quarantined > 0", Reasons: []string{"source jira-ehr has 2 records in quarantine: figures are built on incomplete data (pmsync quarantine --source jira-ehr)"}},
		},
	}
	if diff := cmp.Diff(wantHealth, got.Health); diff != "" {
		t.Errorf("health (-want +got):\n%s", diff)
	}

	// Trend from 06-04 (28 days back): P2 on 06-04, the later of the two
	// 06-20 snapshots, 06-30, and today. P1 (05-28) is before the window
	// and the window's first day has a point of its own.
	wantTrend := Trend{Since: "2026-06-04", Points: []TrendPoint{
		{AsOf: "2026-06-04", Done: 3, Total: 12, Progress: f(25), LateMilestones: 0, RedFlags: 1, Planned: 1000, Actual: 260, Burn: f(26)},
		{AsOf: "2026-06-20", Done: 5, Total: 15, Progress: f(33.33), LateMilestones: 1, RedFlags: 2, Planned: 1000, Actual: 360, Burn: f(36)},
		{AsOf: "2026-06-30", Done: 9, Total: 20, Progress: f(45), LateMilestones: 1, RedFlags: 2, Planned: 1000, Actual: 390, Burn: f(39)},
		{AsOf: "2026-07-02", Done: 10, Total: 21, Progress: f(47.62), LateMilestones: 1, RedFlags: 2, Planned: 1000, Actual: 400, Burn: f(40)},
	}}
	if diff := cmp.Diff(wantTrend, got.Trend); diff != "" {
		t.Errorf("trend (-want +got):\n%s", diff)
	}
	// Since the previous rollup (P5): amber → red, 45.0 → 47.62 %, one more
	// slip (M3 had slipped before too, but P5 counted 1), M2 newly at risk,
	// burn 39 → 40.
	wantChanges := []string{"health amber → red", "progress 45.0% → 47.6% (+2.6 points)", "slipped milestones 1 → 2",
		"milestones at risk 0 → 1", "budget burn 39.0% → 40.0%"}
	if diff := cmp.Diff(wantChanges, got.Changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	// Since 06-25: compared with P4 (06-20), plus M3's move seen on 06-28.
	wantSince := &ChangesSince{Since: "2026-06-25", From: d("2026-06-20"), Changes: []string{
		"health amber → red", "progress 33.3% → 47.6% (+14.3 points)", "slipped milestones 1 → 2", "milestones at risk 0 → 1",
		"budget burn 36.0% → 40.0%", "Training complete moved from 2026-09-20 to 2026-09-30 (+10 days)"}}
	if diff := cmp.Diff(wantSince, got.ChangesSince); diff != "" {
		t.Errorf("changes since (-want +got):\n%s", diff)
	}

	// The explanation names the items behind the figures.
	figures := map[string]Figure{}
	for _, fg := range ex.Figures {
		figures[fg.Name] = fg
	}
	ids := func(name string) string {
		var out []string
		for _, e := range figures[name].Items {
			out = append(out, e.ExternalID)
		}
		return strings.Join(out, " ")
	}
	for name, want := range map[string]string{
		"milestones.late":        "M1",
		"milestones.due_soon":    "M2",
		"milestones.behind":      "M2",
		"milestones.at_risk":     "M2",
		"milestones.slipped":     "M1 M3", // explanations list items in source order
		"milestones.done":        "M4",
		"risks.red_flags":        "R1 R2",
		"risks.open":             "R1 R2 R3",
		"budget.actual":          "T1 T2",
		"budget.planned":         "", // the program's own budget
		"items.deleted":          "D1",
		"progress.done":          "M4 T1 T3 H1 H2 H3 H4 H5 H6 H7",
		"throughput.done_7d":     "T1",
		"throughput.done_28d":    "T1 T3 H1 H2",
		"throughput.created_7d":  "T9",
		"throughput.created_28d": "T8 T9", // T8 before T9 in the items
		"forecast jira/M2":       "T4 T5",
		"forecast jira/M3":       "T6 T7 T8 T9",
		"forecast jira/M1":       "T2",
	} {
		if got := ids(name); got != want {
			t.Errorf("explain %s: items %q, want %q", name, got, want)
		}
	}
	if v := figures["milestones.late"].Value; v != 1 {
		t.Errorf("explain milestones.late value = %v, want 1", v)
	}
	if e := figures["throughput.done_7d"].Items; len(e) != 1 || e[0].Note != "done 2026-06-30" || e[0].URL != "https://acme.atlassian.net/browse/T1" {
		t.Errorf("explain throughput.done_7d = %+v", e)
	}
	if e := figures["risks.red_flags"].Items; len(e) != 2 || e[0].Score != 16 || e[0].Kind != KindRisk || e[0].State != StateTodo {
		t.Errorf("explain risks.red_flags = %+v", e)
	}
	if h := figures["budget.burn_rate_per_week"].How; h != "(actual 400.00 − actual 260.00 on 2026-06-04) ÷ 4.0 weeks" {
		t.Errorf("explain burn rate how = %q", h)
	}
}

func ip(n int) *int { return &n }

func TestGoldenPortfolio(t *testing.T) {
	var programs []Rollup
	for _, in := range []Input{ehrInput(), teleInput(), pacsInput()} {
		r, _ := Build(in)
		programs = append(programs, r)
	}
	tele, pacs := programs[1], programs[2]

	// Telehealth: 1 of 3 done; 250 of 500 spent (50 %) after 123 of 184
	// days (66.85 %): variance −16.85, green; forecast 250 × 3 = 750;
	// earned value 500 / 3 = 166.67, cost variance −83.33; no snapshots:
	// no burn rate; no complete first sync known: created unknown.
	wantTele := Budget{Currency: "USD", Planned: 500, Actual: 250, BurnPercent: f(50), ElapsedPercent: f(66.85), VariancePoints: f(-16.85),
		Forecast: f(750), Remaining: f(250), EarnedValue: f(166.67), CostVariance: f(-83.33)}
	if diff := cmp.Diff(wantTele, tele.Budget); diff != "" {
		t.Errorf("tele budget (-want +got):\n%s", diff)
	}
	if tele.Health.Status != Green || tele.Health.Reasons[0] != "no late milestones, no red-flag risks, budget on track" {
		t.Errorf("tele health = %+v", tele.Health)
	}
	if diff := cmp.Diff(Throughput{Done7: 0, Done28: 1}, tele.Throughput); diff != "" {
		t.Errorf("tele throughput (-want +got):\n%s", diff)
	}
	// N1 has no task counting toward it: no forecast, and it says why.
	if n := tele.NextMilestones; len(n) != 1 || n[0].Forecast != nil || n[0].Why != "no forecast: no task counts toward it" || n[0].State != MilestoneOnTrack || n[0].Progress != nil {
		t.Errorf("tele next milestones = %+v", n)
	}
	// PACS: planned from its one task (300), nothing spent; no dates.
	wantPacs := Budget{Currency: "USD", Planned: 300, Actual: 0, BurnPercent: f(0), Remaining: f(300), EarnedValue: f(0), CostVariance: f(0)}
	if diff := cmp.Diff(wantPacs, pacs.Budget); diff != "" {
		t.Errorf("pacs budget (-want +got):\n%s", diff)
	}
	wantPacsHealth := []string{"1 red-flag risk (score ≥ 15): Imaging vendor insolvency (20)", "source smartsheet-pacs has never synced: its items are missing"}
	if diff := cmp.Diff(wantPacsHealth, pacs.Health.Reasons); pacs.Health.Status != Amber || diff != "" {
		t.Errorf("pacs health %s (-want +got):\n%s", pacs.Health.Status, diff)
	}

	rep := NewReport(goldenAsOf, at("2026-07-02T07:00:00Z"), programs)
	p := rep.Portfolio
	if diff := cmp.Diff([]string{"ehr", "tele", "pacs"}, p.Programs); diff != "" {
		t.Errorf("programs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(HealthCounts{Red: 1, Amber: 1, Green: 1}, p.Health); diff != "" {
		t.Errorf("health counts (-want +got):\n%s", diff)
	}
	// 10 + 1 + 0 of 21 + 3 + 1 = 11 of 25 = 44 %.
	if diff := cmp.Diff(Progress{Done: 11, Total: 25, Percent: 44}, p.Progress); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(MilestoneCounts{Total: 6, Done: 1, Late: 1, DueSoon: 1, Behind: 1, AtRisk: 1, Slipped: 2, SlipDays: 39}, p.Milestones); diff != "" {
		t.Errorf("milestones (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(RiskCounts{Open: 4, RedFlags: 3}, p.Risks); diff != "" {
		t.Errorf("risks (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(ItemCounts{Live: 32, Deleted: 1}, p.Items); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	// Created is unknown for two programs, so for the portfolio.
	if diff := cmp.Diff(Throughput{Done7: 1, Done28: 5}, p.Throughput); diff != "" {
		t.Errorf("throughput (-want +got):\n%s", diff)
	}
	// One currency: 1000 + 500 + 300 = 1800 planned, 400 + 250 + 0 = 650
	// spent (36.11 %); PACS has no dates, so no elapsed or variance; only
	// EHR has a burn rate, so none for the portfolio.
	wantBudget := PortfolioBudget{Currency: "USD", Planned: f(1800), Actual: f(650), BurnPercent: f(36.11),
		ByCurrency: []CurrencyTotal{{Currency: "USD", Planned: 1800, Actual: 650, BurnPercent: f(36.11)}}}
	if diff := cmp.Diff(wantBudget, p.Budget); diff != "" {
		t.Errorf("budget (-want +got):\n%s", diff)
	}
	var ranked []string
	for _, a := range p.Attention {
		ranked = append(ranked, a.Program+":"+string(a.Health))
	}
	if diff := cmp.Diff([]string{"ehr:red", "pacs:amber", "tele:green"}, ranked); diff != "" {
		t.Errorf("attention (-want +got):\n%s", diff)
	}
	if a := p.Attention[0]; a.Rank != 1 || a.LateMilestones != 1 || a.RedFlags != 2 || a.AtRisk != 1 || a.Slipped != 2 || a.Owner != "Dana Whitfield" || a.Portfolio != "Clinical" {
		t.Errorf("attention[0] = %+v", a)
	}
	var flags []string
	for _, r := range p.RedFlags {
		flags = append(flags, r.Program+"/"+r.ExternalID)
	}
	if diff := cmp.Diff([]string{"pacs/9001", "ehr/R1", "ehr/R2"}, flags); diff != "" {
		t.Errorf("top red flags (-want +got):\n%s", diff)
	}
	if l := p.Late; len(l) != 1 || l[0].Program != "ehr" || l[0].ExternalID != "M1" {
		t.Errorf("top late = %+v", l)
	}
	if s := p.Slips; len(s) != 2 || s[0].ExternalID != "M3" || s[0].Program != "ehr" || s[1].Days != 10 {
		t.Errorf("top slips = %+v", s)
	}
	// The portfolio's trend: EHR alone until today, then all three:
	// 11 of 25, 1 late, 3 red flags, 650 of 1800 (36.11 %).
	wantTrend := []TrendPoint{
		{AsOf: "2026-06-04", Done: 3, Total: 12, Progress: f(25), RedFlags: 1, Planned: 1000, Actual: 260, Burn: f(26)},
		{AsOf: "2026-06-20", Done: 5, Total: 15, Progress: f(33.33), LateMilestones: 1, RedFlags: 2, Planned: 1000, Actual: 360, Burn: f(36)},
		{AsOf: "2026-06-30", Done: 9, Total: 20, Progress: f(45), LateMilestones: 1, RedFlags: 2, Planned: 1000, Actual: 390, Burn: f(39)},
		{AsOf: "2026-07-02", Done: 11, Total: 25, Progress: f(44), LateMilestones: 1, RedFlags: 3, Planned: 1800, Actual: 650, Burn: f(36.11)},
	}
	if diff := cmp.Diff(wantTrend, p.Trend.Points); diff != "" {
		t.Errorf("portfolio trend (-want +got):\n%s", diff)
	}
	if len(p.Changes) != 5 || p.Changes[0] != "EHR Upgrade: health amber → red" {
		t.Errorf("portfolio changes = %q", p.Changes)
	}

	// Groups by portfolio, in order of first appearance: Clinical (EHR,
	// PACS) and Digital (Telehealth).
	if len(rep.Portfolios) != 2 {
		t.Fatalf("portfolios = %d, want 2", len(rep.Portfolios))
	}
	clin, dig := rep.Portfolios[0], rep.Portfolios[1]
	if clin.Name != "Clinical" || dig.Name != "Digital" {
		t.Fatalf("portfolio names %q %q", clin.Name, dig.Name)
	}
	// Clinical: 10 + 0 of 21 + 1 = 22 → 45.45 %; red 1, amber 1; 1000 + 300 = 1300 planned, 400 spent (30.77 %).
	if diff := cmp.Diff(Progress{Done: 10, Total: 22, Percent: 45.45}, clin.Progress); diff != "" {
		t.Errorf("clinical progress (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(HealthCounts{Red: 1, Amber: 1}, clin.Health); diff != "" {
		t.Errorf("clinical health (-want +got):\n%s", diff)
	}
	if b := clin.Budget; *b.Planned != 1300 || *b.Actual != 400 || *b.BurnPercent != 30.77 {
		t.Errorf("clinical budget = planned %v actual %v burn %v; want 1300, 400, 30.77", *b.Planned, *b.Actual, *b.BurnPercent)
	}
	if diff := cmp.Diff([]string{"tele"}, dig.Programs); diff != "" || dig.Health.Green != 1 {
		t.Errorf("digital = %v %+v", dig.Programs, dig.Health)
	}
	if rep.Version == "" || rep.Schema != Schema {
		t.Errorf("report version %q schema %q", rep.Version, rep.Schema)
	}
}
