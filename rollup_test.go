package pmsync

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func f(v float64) *float64 { return &v }

// The expectations below are computed by hand from the items listed; see the
// comments beside each figure.
func TestComputeMixedProgram(t *testing.T) {
	p := Program{ID: "ehr", Name: "EHR Upgrade", Start: "2026-01-01", End: "2026-12-31", Budget: f(1000), Currency: "USD"}
	it := func(id string, k Kind, s State) Item {
		return Item{Source: "jira", ExternalID: id, Kind: k, State: s, Title: id}
	}
	m1 := it("M1", KindMilestone, StateTodo)
	m1.Due = "2026-06-01" // before as-of: late
	m2 := it("M2", KindMilestone, StateInProgress)
	m2.Start, m2.Due = "2026-06-01", "2026-07-10" // 8 days away: due soon
	m3 := it("M3", KindMilestone, StateDone)
	m3.Due = "2026-03-01"
	m4 := it("M4", KindMilestone, StateCancelled)
	m4.Due = "2026-05-01" // cancelled: neither counted nor late
	t1 := it("T1", KindTask, StateDone)
	t1.PlannedCost, t1.ActualCost = f(200), f(300)
	t2 := it("T2", KindTask, StateInProgress)
	t2.ActualCost = f(100)
	t3 := it("T3", KindTask, StateDone)
	t3.Milestone = "M2"
	t4 := it("T4", KindTask, StateTodo)
	t4.Milestone = "M2"
	t5 := it("T5", KindTask, StateCancelled)
	t5.ActualCost = f(999) // cancelled: excluded from actual
	r1 := it("R1", KindRisk, StateTodo)
	r1.Likelihood, r1.Impact = 4, 4 // 16: red flag
	r2 := it("R2", KindRisk, StateInProgress)
	r2.Likelihood, r2.Impact = 5, 3 // 15: red flag (≥ 15)
	r3 := it("R3", KindRisk, StateDone)
	r3.Likelihood, r3.Impact = 5, 5 // closed
	r4 := it("R4", KindRisk, StateBlocked)
	r4.Likelihood, r4.Impact = 2, 2
	d1 := it("D1", KindTask, StateDone)
	d1.DeletedAt = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

	got := Compute(p, []Item{m1, m2, m3, m4, t1, t2, t3, t4, t5, r1, r2, r3, r4, d1}, nil, DefaultRules(), "2026-07-02")

	// progress: M1 M2 M3 T1 T2 T3 T4 = 7 counted; done M3 T1 T3 = 3 → 42.857…
	if diff := cmp.Diff(Progress{Done: 3, Total: 7, Percent: 42.86}, got.Progress); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	// M2 is due soon and behind (see the reasons below).
	if diff := cmp.Diff(MilestoneCounts{Total: 3, Done: 1, Late: 1, DueSoon: 1, Behind: 1}, got.Milestones); diff != "" {
		t.Errorf("milestones (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(RiskCounts{Open: 3, RedFlags: 2}, got.Risks); diff != "" {
		t.Errorf("risks (-want +got):\n%s", diff)
	}
	// 2026-01-01 → 2026-12-31 is 364 days; → 2026-07-02 is 182: elapsed 50 %.
	// actual 300 + 100 = 400 of 1000: burn 40 %, variance −10; forecast 400 × 7 / 3;
	// 600 remaining; earned value 1000 × 3 / 7 = 428.57, cost variance 428.57 − 400.
	wantBudget := Budget{Currency: "USD", Planned: 1000, Actual: 400, BurnPercent: f(40), ElapsedPercent: f(50), VariancePoints: f(-10), Forecast: f(933.33),
		Remaining: f(600), EarnedValue: f(428.57), CostVariance: f(28.57)}
	if diff := cmp.Diff(wantBudget, got.Budget); diff != "" {
		t.Errorf("budget (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(ItemCounts{Live: 13, Deleted: 1}, got.Items); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	if got.Health.Status != Red {
		t.Fatalf("health = %s, want red", got.Health.Status)
	}
	// red: the late M1 and two red flags; amber: M2 due soon with 1 of 2 tasks
	// done (50 %) while 31 of its 39 days (79 %) have passed.
	want := []string{"1 milestone late: M1 (due 2026-06-01)", "2 red-flag risks", "1 milestone due within 14 days and behind: M2 (due 2026-07-10)"}
	if len(got.Health.Reasons) != len(want) {
		t.Fatalf("reasons = %q, want %d of them", got.Health.Reasons, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(got.Health.Reasons[i], w) {
			t.Errorf("reason %d = %q, want prefix %q", i, got.Health.Reasons[i], w)
		}
	}
	if ids := []string{got.RedFlags[0].ExternalID, got.RedFlags[1].ExternalID}; ids[0] != "R1" || ids[1] != "R2" {
		t.Errorf("red flags = %v, want R1 (16) then R2 (15)", ids)
	}
}

func TestComputeHealthThresholds(t *testing.T) {
	p := Program{ID: "p", Start: "2026-01-01", End: "2026-12-31", Budget: f(1000)}
	cost := func(actual float64) []Item {
		return []Item{{Source: "s", ExternalID: "1", Kind: KindTask, State: StateInProgress, ActualCost: f(actual)}}
	}
	tests := []struct {
		name   string
		items  []Item
		want   HealthStatus
		reason string
	}{
		// elapsed is 50 % on 2026-07-02 (182 of 364 days)
		{"on track", cost(500), Green, "no late milestones"},
		{"variance 5 is not above 5", cost(550), Green, "no late milestones"},
		{"variance 10 is amber", cost(600), Amber, "budget burn 60.0% vs 50.0% of time elapsed (+10.0 points)"},
		{"variance 15 is amber", cost(650), Amber, "budget burn 65.0%"},
		{"variance 20 is red", cost(700), Red, "budget burn 70.0%"},
		{"one red flag is amber", []Item{{Source: "s", ExternalID: "r", Kind: KindRisk, State: StateTodo, Likelihood: 3, Impact: 5, Title: "Vendor delay"}}, Amber, "1 red-flag risk (score ≥ 15): Vendor delay"},
		{"score 14 is no flag", []Item{{Source: "s", ExternalID: "r", Kind: KindRisk, State: StateTodo, Likelihood: 2, Impact: 7}}, Green, "no late"},
		{"milestone due today is not late", []Item{{Source: "s", ExternalID: "m", Kind: KindMilestone, State: StateDone, Due: "2026-07-02"}}, Green, "no late"},
		{"open milestone due yesterday is late", []Item{{Source: "s", ExternalID: "m", Kind: KindMilestone, State: StateTodo, Due: "2026-07-01", Title: "Go-live"}}, Red, "1 milestone late: Go-live (due 2026-07-01)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Compute(p, tc.items, nil, DefaultRules(), "2026-07-02")
			if got.Health.Status != tc.want || !strings.HasPrefix(got.Health.Reasons[0], tc.reason) {
				t.Errorf("health = %s %q, want %s with %q", got.Health.Status, got.Health.Reasons, tc.want, tc.reason)
			}
		})
	}
}

func TestComputeBudgetFromItemsWhenNoProgramBudget(t *testing.T) {
	items := []Item{
		{Source: "s", ExternalID: "1", Kind: KindTask, State: StateDone, PlannedCost: f(100), ActualCost: f(50)},
		{Source: "s", ExternalID: "2", Kind: KindTask, State: StateTodo, PlannedCost: f(300)},
		{Source: "s", ExternalID: "3", Kind: KindTask, State: StateCancelled, PlannedCost: f(1000)},
	}
	got := Compute(Program{ID: "p"}, items, nil, DefaultRules(), "2026-07-02")
	// planned 100 + 300 (cancelled excluded); burn 50 / 400; no dates → no elapsed
	if got.Budget.Planned != 400 || got.Budget.BurnPercent == nil || *got.Budget.BurnPercent != 12.5 {
		t.Errorf("budget = %+v, want planned 400 burn 12.5", got.Budget)
	}
	if got.Budget.ElapsedPercent != nil || got.Budget.VariancePoints != nil {
		t.Errorf("elapsed/variance should be unknown without program dates: %+v", got.Budget)
	}
}

func TestVersionIgnoresSyncTimesButNotContent(t *testing.T) {
	p := Program{ID: "p"}
	items := []Item{{Source: "s", ExternalID: "1", Kind: KindTask, State: StateTodo}}
	a := Compute(p, items, []SourceStatus{{Source: "s", Stale: false}}, DefaultRules(), "2026-07-02")
	b := Compute(p, items, []SourceStatus{{Source: "s", Stale: true}}, DefaultRules(), "2026-07-02")
	if a.Version != b.Version {
		t.Errorf("source status changed the version: %s vs %s", a.Version, b.Version)
	}
	items[0].State = StateDone
	c := Compute(p, items, nil, DefaultRules(), "2026-07-02")
	if c.Version == a.Version {
		t.Errorf("a finished task did not change the version")
	}
	if ch := Changes(a, c); len(ch) == 0 || !strings.Contains(strings.Join(ch, ";"), "progress 0.0% → 100.0%") {
		t.Errorf("changes = %q", ch)
	}
}

func TestParseDate(t *testing.T) {
	for in, want := range map[string]Date{"2026-01-05": "2026-01-05", "2026-01-05T10:00:00.000+0000": "2026-01-05", "": ""} {
		if got, err := ParseDate(in); err != nil || got != want {
			t.Errorf("ParseDate(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"2026-02-30", "05/01/2026", "2026-01-05x"} {
		if _, err := ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) gave no error", bad)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter2-token")
	for _, out := range []string{s.String(), s.GoString()} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret leaked: %s", out)
		}
	}
	b, _ := s.MarshalText()
	if string(b) != "<secret>" {
		t.Errorf("MarshalText = %s", b)
	}
}

func TestSourceStatusKeepsLastSuccessKey(t *testing.T) {
	b, err := json.Marshal([]SourceStatus{{Source: "a"}, {Source: "b", LastSuccess: time.Date(2026, 11, 26, 6, 55, 0, 0, time.UTC)}})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"source":"a","connection":"","last_success":null,"stale":false,"quarantined":0},{"source":"b","connection":"","last_success":"2026-11-26T06:55:00Z","stale":false,"quarantined":0}]`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var back []SourceStatus
	if err := json.Unmarshal(b, &back); err != nil || !back[0].LastSuccess.IsZero() || back[1].LastSuccess.Hour() != 6 {
		t.Errorf("round trip: %+v %v", back, err)
	}
}

func TestDueSoonMilestoneWithUnknownProgressIsNotBehind(t *testing.T) {
	p := Program{ID: "p", Start: "2026-01-01", End: "2026-12-31"}
	m := Item{Source: "s", ExternalID: "m", Kind: KindMilestone, State: StateInProgress, Due: "2026-07-05", Title: "Go-live"}
	got := Compute(p, []Item{m}, nil, DefaultRules(), "2026-07-02")
	if got.Milestones.DueSoon != 1 || got.Health.Status != Green {
		t.Errorf("due soon %d, health %s %q; want 1 and green: nothing says it is behind", got.Milestones.DueSoon, got.Health.Status, got.Health.Reasons)
	}
	m.PercentComplete = new(float64) // 0 % done with 3 days left of a window that began on the program start
	got = Compute(p, []Item{m}, nil, DefaultRules(), "2026-07-02")
	if got.Health.Status != Amber {
		t.Errorf("health %s, want amber for a due-soon milestone at 0 %%", got.Health.Status)
	}
}

func TestStaleOrMissingSourcesAreAmber(t *testing.T) {
	p := Program{ID: "p"}
	last := time.Date(2026, 7, 1, 22, 10, 0, 0, time.UTC)
	tests := []struct {
		src  SourceStatus
		want HealthStatus
		why  string
	}{
		{SourceStatus{Source: "a", LastSuccess: last}, Green, "no late milestones"},
		{SourceStatus{Source: "a"}, Amber, "source a has never synced: its items are missing"},
		{SourceStatus{Source: "a", LastSuccess: last, Stale: true, LastError: "HTTP 401"}, Amber, "source a is stale: last synced 2026-07-01 22:10 UTC"},
	}
	for _, tc := range tests {
		got := Compute(p, nil, []SourceStatus{tc.src}, DefaultRules(), "2026-07-02")
		if got.Health.Status != tc.want || !strings.HasPrefix(got.Health.Reasons[0], tc.why) {
			t.Errorf("%+v: health %s %q, want %s %q", tc.src, got.Health.Status, got.Health.Reasons, tc.want, tc.why)
		}
	}
}

func TestStaleReasonIsInTheConfiguredZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// 22:10 UTC on 1 July is 18:10 in New York (EDT, UTC−4).
	last := time.Date(2026, 7, 1, 22, 10, 0, 0, time.UTC)
	got, _ := Build(Input{Program: Program{ID: "p"}, Sources: []SourceStatus{{Source: "a", LastSuccess: last, Stale: true}},
		Rules: DefaultRules(), AsOf: "2026-07-02", Location: ny})
	if want := "source a is stale: last synced 2026-07-01 18:10 EDT"; len(got.Health.Reasons) == 0 || got.Health.Reasons[0] != want {
		t.Errorf("reasons %q, want %q", got.Health.Reasons, want)
	}
}

func TestStaleSourceErrorTextDoesNotChangeTheVersion(t *testing.T) {
	last := time.Date(2026, 7, 1, 22, 10, 0, 0, time.UTC)
	a := Compute(Program{ID: "p"}, nil, []SourceStatus{{Source: "a", LastSuccess: last, Stale: true, LastError: "refId 1"}}, DefaultRules(), "2026-07-02")
	b := Compute(Program{ID: "p"}, nil, []SourceStatus{{Source: "a", LastSuccess: last, Stale: true, LastError: "refId 2"}}, DefaultRules(), "2026-07-02")
	if a.Version != b.Version {
		t.Errorf("a new error text made a new version: %s vs %s", a.Version, b.Version)
	}
}
