package pmsync

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// Each rule boundary, on both sides. As of 2026-07-02; the program runs
// 2026-01-01 → 2026-12-31, so 182 of 364 days (50 %) have elapsed.
func TestRuleBoundaries(t *testing.T) {
	const asOf Date = "2026-07-02"
	p := Program{ID: "p", Start: "2026-01-01", End: "2026-12-31", Budget: f(1000)}
	milestone := func(due Date) []Item {
		return []Item{{Source: "s", ExternalID: "m", Kind: KindMilestone, State: StateTodo, Due: due, Title: "Go-live"}}
	}
	risk := func(l, i int) []Item {
		return []Item{{Source: "s", ExternalID: "r", Kind: KindRisk, State: StateTodo, Likelihood: l, Impact: i, Title: "Vendor"}}
	}
	spent := func(actual float64) []Item {
		return []Item{{Source: "s", ExternalID: "t", Kind: KindTask, State: StateInProgress, ActualCost: f(actual)}}
	}
	tests := []struct {
		name    string
		items   []Item
		rules   func(*Rules)
		late    int
		dueSoon int
		flags   int
		want    HealthStatus
	}{
		{name: "due today is not late but due soon", items: milestone(asOf), dueSoon: 1, want: Green},
		{name: "due yesterday is late", items: milestone("2026-07-01"), late: 1, want: Red},
		{name: "due in exactly due_soon_days (14) is due soon", items: milestone("2026-07-16"), dueSoon: 1, want: Green},
		{name: "due in due_soon_days + 1 is not", items: milestone("2026-07-17"), want: Green},
		{name: "due in exactly a configured due_soon_days (3)", items: milestone("2026-07-05"), rules: func(r *Rules) { r.DueSoonDays = 3 }, dueSoon: 1, want: Green},
		{name: "due in a configured due_soon_days + 1", items: milestone("2026-07-06"), rules: func(r *Rules) { r.DueSoonDays = 3 }, want: Green},
		{name: "score exactly red_flag_score (15) is a red flag", items: risk(5, 3), flags: 1, want: Amber},
		{name: "score one below (14) is not", items: risk(7, 2), want: Green},
		{name: "score exactly a configured red_flag_score (12)", items: risk(3, 4), rules: func(r *Rules) { r.RedFlagScore = 12 }, flags: 1, want: Amber},
		{name: "score one below a configured red_flag_score", items: risk(3, 4), rules: func(r *Rules) { r.RedFlagScore = 13 }, want: Green},
		{name: "red_flags exactly red_flags_for_red (1) is red", items: risk(5, 5), rules: func(r *Rules) { r.RedFlagsForRed = 1 }, flags: 1, want: Red},
		// burn 550 / 1000 = 55 % vs 50 % elapsed: +5 points.
		{name: "variance exactly variance_amber_points (5) is green", items: spent(550), want: Green},
		{name: "variance just above (5.1) is amber", items: spent(551), want: Amber},
		{name: "variance exactly variance_red_points (15) is amber", items: spent(650), want: Amber},
		{name: "variance just above (15.1) is red", items: spent(651), want: Red},
		{name: "variance exactly a configured red threshold (8)", items: spent(580), rules: func(r *Rules) { r.VarianceRedPoints = 8 }, want: Amber},
		{name: "variance above a configured red threshold", items: spent(581), rules: func(r *Rules) { r.VarianceRedPoints = 8 }, want: Red},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rules := DefaultRules()
			if tc.rules != nil {
				tc.rules(&rules)
			}
			got := Compute(p, tc.items, nil, rules, asOf)
			if got.Milestones.Late != tc.late || got.Milestones.DueSoon != tc.dueSoon || got.Risks.RedFlags != tc.flags {
				t.Errorf("late %d due soon %d red flags %d; want %d %d %d", got.Milestones.Late, got.Milestones.DueSoon, got.Risks.RedFlags, tc.late, tc.dueSoon, tc.flags)
			}
			if got.Health.Status != tc.want {
				t.Errorf("health %s %q, want %s", got.Health.Status, got.Health.Reasons, tc.want)
			}
		})
	}
}

// A milestone whose forecast p85 falls on its due date is on track; one
// day later it is at risk. One task a week for eight weeks makes the
// forecast exact: 2 open tasks take 2 weeks, to 2026-07-16.
func TestForecastBoundary(t *testing.T) {
	const asOf Date = "2026-07-02"
	build := func(due Date) Rollup {
		items := []Item{{Source: "s", ExternalID: "m", Kind: KindMilestone, State: StateTodo, Due: due, Title: "Go-live"},
			{Source: "s", ExternalID: "a", Kind: KindTask, State: StateTodo, Milestone: "m"},
			{Source: "s", ExternalID: "b", Kind: KindTask, State: StateTodo, Milestone: "m"}}
		for w := range 8 {
			items = append(items, Item{Source: "s", ExternalID: fmt.Sprint("h", w), Kind: KindTask, State: StateDone,
				DoneAt: asOf.AddDays(-7 * w).Time().Add(9 * time.Hour)})
		}
		r, _ := Build(Input{Program: Program{ID: "p"}, Items: items, Rules: DefaultRules(), AsOf: asOf})
		return r
	}
	on := build("2026-07-16")
	if on.Milestones.AtRisk != 0 || on.NextMilestones[0].State != MilestoneDueSoon || on.NextMilestones[0].Forecast.P85 != "2026-07-16" {
		t.Errorf("p85 on the due date: at risk %d, %+v", on.Milestones.AtRisk, on.NextMilestones[0])
	}
	after := build("2026-07-15")
	if after.Milestones.AtRisk != 1 || after.NextMilestones[0].State != MilestoneAtRisk {
		t.Errorf("p85 a day after the due date: at risk %d, %+v", after.Milestones.AtRisk, after.NextMilestones[0])
	}
}

// The throughput windows are the 7 and 28 days ending on the as-of date:
// done exactly 7 days before is outside the first, 6 days before inside.
// Created is known once the first complete sync is at least as old as the
// window.
func TestThroughputWindows(t *testing.T) {
	const asOf Date = "2026-07-02"
	task := func(id string, done Date) Item {
		return Item{Source: "s", ExternalID: id, Kind: KindTask, State: StateDone, DoneAt: done.Time().Add(23 * time.Hour)}
	}
	items := []Item{task("a", "2026-06-25"), task("b", "2026-06-26"), task("c", "2026-06-04"), task("d", "2026-06-05"),
		{Source: "s", ExternalID: "e", Kind: KindTask, State: StateDone}, // done, but when is unknown
		{Source: "s", ExternalID: "f", Kind: KindTask, State: StateDone}}
	in := Input{Program: Program{ID: "p"}, Items: items, Rules: DefaultRules(), AsOf: asOf,
		Finished:      []Seen{{Source: "s", ExternalID: "f", At: at("2026-07-01T10:00:00Z")}},
		Arrived:       []Seen{{Source: "s", ExternalID: "a", At: at("2026-06-25T10:00:00Z")}, {Source: "s", ExternalID: "b", At: at("2026-06-26T10:00:00Z")}},
		ObservedSince: at("2026-06-25T23:59:00Z"),
	}
	r, _ := Build(in)
	// 7 days: b (06-26) and f (seen done 07-01); 28 days: also d (06-05) and a.
	if r.Throughput.Done7 != 2 || r.Throughput.Done28 != 4 {
		t.Errorf("done %d / %d, want 2 / 4", r.Throughput.Done7, r.Throughput.Done28)
	}
	// Watched since 06-25, the first day before the 7-day window: b counts.
	if r.Throughput.Created7 == nil || *r.Throughput.Created7 != 1 || r.Throughput.Created28 != nil {
		t.Errorf("created %v / %v, want 1 / unknown", r.Throughput.Created7, r.Throughput.Created28)
	}
	in.ObservedSince = at("2026-06-26T00:00:00Z")
	if r, _ := Build(in); r.Throughput.Created7 != nil {
		t.Errorf("created_7d = %d with a first sync inside the window; want unknown", *r.Throughput.Created7)
	}
	// The local calendar decides the day: 23:00 UTC on 06-25 is 06-26 in Berlin.
	in.Location, _ = time.LoadLocation("Europe/Berlin")
	if r, _ := Build(in); r.Throughput.Done7 != 3 {
		t.Errorf("done_7d in Berlin = %d, want 3 (a moves into the window)", r.Throughput.Done7)
	}
}

// The burn rate needs a snapshot at least 28 days old: exactly 28 days
// is enough, 27 is not.
func TestBurnRateBoundary(t *testing.T) {
	const asOf Date = "2026-07-02"
	items := []Item{{Source: "s", ExternalID: "t", Kind: KindTask, State: StateTodo, ActualCost: f(500)}}
	snap := func(asOf Date, actual float64) Rollup {
		return Rollup{AsOf: asOf, Budget: Budget{Actual: actual}}
	}
	p := Program{ID: "p", Budget: f(1000)}
	r, _ := Build(Input{Program: p, Items: items, Rules: DefaultRules(), AsOf: asOf, Past: []Rollup{snap("2026-06-05", 400)}})
	if r.Budget.BurnRate != nil {
		t.Errorf("burn rate %v from a 27-day-old snapshot, want none", *r.Budget.BurnRate)
	}
	// (500 − 300) / 4 = 50 a week; 500 left lasts 70 days: 2026-09-10.
	r, _ = Build(Input{Program: p, Items: items, Rules: DefaultRules(), AsOf: asOf, Past: []Rollup{snap("2026-06-04", 300), snap("2026-06-05", 400)}})
	if r.Budget.BurnRate == nil || *r.Budget.BurnRate != 50 || r.Budget.RunsOut == nil || *r.Budget.RunsOut != "2026-09-10" {
		t.Errorf("burn rate %v runs out %v, want 50 and 2026-09-10", r.Budget.BurnRate, r.Budget.RunsOut)
	}
	// (500 − 290) / 5 weeks = 42 when the newest old-enough snapshot is 35 days old.
	r, _ = Build(Input{Program: p, Items: items, Rules: DefaultRules(), AsOf: asOf, Past: []Rollup{snap("2026-05-28", 290)}})
	if r.Budget.BurnRate == nil || *r.Budget.BurnRate != 42 {
		t.Errorf("burn rate %v over 5 weeks, want 42", r.Budget.BurnRate)
	}
}

func TestNoItemsMeansNoRatios(t *testing.T) {
	r := Compute(Program{ID: "p", Start: "2026-01-01", End: "2026-12-31"}, nil, nil, DefaultRules(), "2026-07-02")
	b := r.Budget
	if b.BurnPercent != nil || b.Remaining != nil || b.EarnedValue != nil || b.CostVariance != nil || b.Forecast != nil || b.BurnRate != nil || b.RunsOut != nil {
		t.Errorf("budget without a plan: %+v", b)
	}
	if b.ElapsedPercent == nil || *b.ElapsedPercent != 50 {
		t.Errorf("elapsed %v, want 50 (dates alone make it)", b.ElapsedPercent)
	}
	doc, err := r.Progress.MarshalJSON()
	if err != nil || string(doc) != `{"done":0,"total":0,"percent":null}` {
		t.Errorf("progress = %s %v", doc, err)
	}
}

// No linked work or no history gives no forecast, never a guess.
func TestNoForecastWithoutWorkOrHistory(t *testing.T) {
	const asOf Date = "2026-07-02"
	m := Item{Source: "s", ExternalID: "m", Kind: KindMilestone, State: StateTodo, Due: "2026-08-01", Title: "Go-live"}
	open := Item{Source: "s", ExternalID: "a", Kind: KindTask, State: StateTodo, Milestone: "m"}
	oldDone := Item{Source: "s", ExternalID: "z", Kind: KindTask, State: StateDone, DoneAt: at("2026-03-01T10:00:00Z")}
	tests := []struct {
		name  string
		items []Item
		in    func(*Input)
		why   string
	}{
		{"no linked work", []Item{m}, nil, "no forecast: no task counts toward it"},
		{"no done times at all", []Item{m, open}, nil, "no forecast: no throughput history yet"},
		{"history without a task done in eight weeks", []Item{m, open, oldDone}, nil, "no forecast: no task done in the last 8 weeks"},
		// Done times seen by pmsync only, watched for three days: no week is whole.
		{"watched for less than a week", []Item{m, open, {Source: "s", ExternalID: "y", Kind: KindTask, State: StateDone}},
			func(in *Input) {
				in.Finished = []Seen{{Source: "s", ExternalID: "y", At: at("2026-07-01T10:00:00Z")}}
				in.ObservedSince = at("2026-06-29T10:00:00Z")
			}, "no forecast: no throughput history yet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Program: Program{ID: "p"}, Items: tc.items, Rules: DefaultRules(), AsOf: asOf}
			if tc.in != nil {
				tc.in(&in)
			}
			r, _ := Build(in)
			if n := r.NextMilestones; len(n) != 1 || n[0].Forecast != nil || n[0].Why != tc.why {
				t.Errorf("next milestones = %+v, want no forecast because %q", n, tc.why)
			}
		})
	}
}

// Weeks before the program's start, or (when done times come only from
// what pmsync saw) before every source was watched, are not history.
func TestObservedWeeks(t *testing.T) {
	const asOf Date = "2026-07-02"
	items := []Item{{Source: "s", ExternalID: "y", Kind: KindTask, State: StateDone}}
	in := Input{Program: Program{ID: "p"}, Items: items, Rules: DefaultRules(), AsOf: asOf,
		Finished:      []Seen{{Source: "s", ExternalID: "y", At: at("2026-07-01T10:00:00Z")}},
		ObservedSince: at("2026-06-10T10:00:00Z")}
	// Watched from 06-10: the weeks starting 06-26, 06-19 and 06-12 are whole.
	r, _ := Build(in)
	if !slices.Equal(r.Forecasting.Weekly, []int{1, 0, 0}) {
		t.Errorf("weekly = %v, want [1 0 0]", r.Forecasting.Weekly)
	}
	// A program started 06-20 has history for the weeks ending 07-02 and 06-25.
	in.Program.Start = "2026-06-20"
	if r, _ := Build(in); !slices.Equal(r.Forecasting.Weekly, []int{1, 0}) {
		t.Errorf("weekly = %v, want [1 0]", r.Forecasting.Weekly)
	}
}

// A due date moved later, cleared, set again and moved earlier: the
// baseline is the first date seen, and only later moves are slips.
func TestSlipHistory(t *testing.T) {
	m := Item{Source: "s", ExternalID: "m", Kind: KindMilestone, State: StateTodo, Due: "2026-09-05", Title: "Go-live"}
	moves := []DueMove{
		{Source: "s", ExternalID: "m", At: at("2026-05-01T10:00:00Z"), From: "", To: "2026-09-01"}, // set once seen without a date
		{Source: "s", ExternalID: "m", At: at("2026-05-10T10:00:00Z"), From: "2026-09-01", To: "2026-09-15"},
		{Source: "s", ExternalID: "m", At: at("2026-05-20T10:00:00Z"), From: "2026-09-15", To: ""},
		{Source: "s", ExternalID: "m", At: at("2026-05-21T10:00:00Z"), From: "", To: "2026-09-20"},
		{Source: "s", ExternalID: "m", At: at("2026-06-01T10:00:00Z"), From: "2026-09-20", To: "2026-09-05"},
	}
	r, _ := Build(Input{Program: Program{ID: "p"}, Items: []Item{m}, Rules: DefaultRules(), AsOf: "2026-07-02", DueMoves: moves})
	if len(r.Slips) != 1 {
		t.Fatalf("slips = %+v", r.Slips)
	}
	s := r.Slips[0]
	// Baseline 09-01; now 09-05: +4. Later moves: 09-01 → 09-15 (+14), and
	// 09-15 → 09-20 (+5) across the cleared date.
	want := []Move{{On: "2026-05-10", From: "2026-09-01", To: "2026-09-15", Days: 14}, {On: "2026-05-21", From: "2026-09-15", To: "2026-09-20", Days: 5}}
	if s.Baseline != "2026-09-01" || s.Days != 4 || !slices.Equal(s.Moves, want) {
		t.Errorf("slip = %+v", s)
	}
	// A done milestone is not reported as slipped.
	m.State = StateDone
	if r, _ := Build(Input{Program: Program{ID: "p"}, Items: []Item{m}, Rules: DefaultRules(), AsOf: "2026-07-02", DueMoves: moves}); len(r.Slips) != 0 {
		t.Errorf("a done milestone slipped: %+v", r.Slips)
	}
}

// Health rules from configuration: their colour, their words, nulls that
// do not fire, and a rule that fails at run time.
func TestHealthRules(t *testing.T) {
	p := Program{ID: "p", Start: "2026-01-01", End: "2026-12-31"}
	items := []Item{
		{Source: "s", ExternalID: "m", Kind: KindMilestone, State: StateTodo, Due: "2026-06-01", Title: "Go-live"},
		{Source: "s", ExternalID: "t", Kind: KindTask, State: StateDone},
	}
	compile := func(srcs ...string) []HealthRule {
		r, err := CompileHealthRules(srcs)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name       string
		red, amber []HealthRule
		want       HealthStatus
		reasons    []string
	}{
		{"a red rule", compile("milestones.late > 0"), []HealthRule{}, Red, []string{"1 milestone late: Go-live (due 2026-06-01)"}},
		{"an amber rule over progress", []HealthRule{}, compile("progress.percent < 60"), Amber, []string{"progress 50.0% (1 of 2 done)"}},
		{"a null figure does not fire", compile("budget.variance_points > 15"), []HealthRule{}, Green, []string{"no health rule fired"}},
		{"a rule may test for null", []HealthRule{}, compile("budget.burn_percent == nil"), Amber, []string{"0 spent, no planned budget"}},
		{"no rules at all", []HealthRule{}, []HealthRule{}, Green, []string{"no health rule fired"}},
		{"a rule failing at run time is amber and says so", []HealthRule{}, compile("milestones.late % milestones.behind > 0"), Amber,
			[]string{`health rule "milestones.late % milestones.behind > 0" could not be evaluated: runtime error: integer divide by zero (1:17)`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rules := DefaultRules()
			rules.Health = HealthRules{Red: tc.red, Amber: tc.amber}
			r := Compute(p, items, nil, rules, "2026-07-02")
			if r.Health.Status != tc.want || !slices.Equal(r.Health.Reasons, tc.reasons) {
				t.Errorf("health %s %q, want %s %q", r.Health.Status, r.Health.Reasons, tc.want, tc.reasons)
			}
		})
	}
	for _, bad := range []string{"milestones.late + 1", "milestones.lat > 0", "budget.planned > 'x'", "", "risks.red_flags >"} {
		if _, err := CompileHealthRule(bad); err == nil {
			t.Errorf("CompileHealthRule(%q) succeeded", bad)
		}
	}
	// Every figure a rule can read is one the words know.
	for _, fig := range HealthFigures() {
		if _, err := CompileHealthRule(fig + " == " + fig); err != nil {
			t.Errorf("figure %s: %v", fig, err)
		}
		w := healthWords{r: &Rollup{}, rules: DefaultRules()}
		if strings.HasPrefix(fig, "sources.") && fig != "sources.total" {
			continue // one line per source, none without sources
		}
		if len(w.describe(fig)) == 0 {
			t.Errorf("figure %s has no words", fig)
		}
	}
}
