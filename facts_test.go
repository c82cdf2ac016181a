package pmsync

import (
	"cmp"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
)

// TestFactsOf checks by hand what the facts keep of each kind of item.
func TestFactsOf(t *testing.T) {
	m1 := Item{Source: "jira", ExternalID: "M1", Kind: KindMilestone, State: StateInProgress, Title: "Go-live", URL: "u/M1", Owner: "Dana",
		Start: "2026-05-01", Due: "2026-06-20", PercentComplete: f(40), Fields: map[string]any{BaselineField: "2026-06-10", "team": "x"}}
	m2 := Item{Source: "jira", ExternalID: "M2", Kind: KindMilestone, State: StateDone, Title: "Kickoff", Due: "2026-03-01",
		DoneAt: at("2026-03-01T12:30:45Z")}
	t1 := Item{Source: "jira", ExternalID: "T1", Kind: KindTask, State: StateDone, Title: "Build", Milestone: "M1", PlannedCost: f(200), ActualCost: f(0),
		DoneAt: at("2026-06-30T15:00:00Z"), Due: "2026-06-01"}
	t2 := Item{Source: "jira", ExternalID: "T2", Kind: KindTask, State: StateTodo, Title: "Test", Milestone: "M9", DoneAt: at("2026-06-30T15:00:00Z")}
	t3 := Item{Source: "jira", ExternalID: "T3", Kind: KindTask, State: StateTodo, Title: "Train", Milestone: "M2"}
	r1 := Item{Source: "jira", ExternalID: "R1", Kind: KindRisk, State: StateTodo, Title: "Vendor", Likelihood: 4, Impact: 5, Milestone: "M1",
		Fields: map[string]any{BaselineField: 20260610}}
	r2 := Item{Source: "jira", ExternalID: "R2", Kind: KindRisk, State: StateCancelled, Title: "Gone", Likelihood: 5, Impact: 5}
	m3 := Item{Source: "jira", ExternalID: "M3", Kind: KindMilestone, State: StateTodo, Title: "Pilot", DeletedAt: at("2026-07-01T00:00:00Z")}
	got := FactsOf([]Item{m1, m2, t1, t2, t3, r1, r2, m3})
	want := Facts{
		Rows: []Fact{
			// M1: open, so its details are kept; the baseline field is a date.
			{Source: "jira", ExternalID: "M1", Kind: KindMilestone, State: StateInProgress, Milestone: -1, Detail: 0},
			// M2: done with its done time, in whole seconds; no details.
			{Source: "jira", ExternalID: "M2", Kind: KindMilestone, State: StateDone, Milestone: -1, Detail: -1, Flags: FactDoneAt, DoneAt: 1772368245},
			// T1 counts toward M1 (row 0), with both costs (0 is a cost).
			{Source: "jira", ExternalID: "T1", Kind: KindTask, State: StateDone, Milestone: 0, Detail: -1,
				Flags: FactPlanned | FactActual | FactDoneAt, Planned: 200, DoneAt: 1782831600},
			// T2 names a milestone the items lack, and a done time it is not done by.
			{Source: "jira", ExternalID: "T2", Kind: KindTask, State: StateTodo, Milestone: -1, Detail: -1},
			// T3 counts toward M2 (row 1) even though M2 is done.
			{Source: "jira", ExternalID: "T3", Kind: KindTask, State: StateTodo, Milestone: 1, Detail: -1},
			// R1: open risk, details kept, its milestone ignored.
			{Source: "jira", ExternalID: "R1", Kind: KindRisk, State: StateTodo, Likelihood: 4, Impact: 5, Milestone: -1, Detail: 1},
			{Source: "jira", ExternalID: "R2", Kind: KindRisk, State: StateCancelled, Likelihood: 5, Impact: 5, Milestone: -1, Detail: -1},
			{Source: "jira", ExternalID: "M3", Kind: KindMilestone, State: StateTodo, Flags: FactDeleted, Milestone: -1, Detail: -1},
		},
		Details: []Detail{
			{Title: "Go-live", URL: "u/M1", Owner: "Dana", Start: "2026-05-01", Due: "2026-06-20", Baseline: "2026-06-10", Percent: 40, HasPercent: true},
			{Title: "Vendor"}, // a baseline that is not text is no baseline
		},
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("FactsOf (-want +got):\n%s", diff)
	}
}

// TestFactsAppend: facts of two sources appended are the facts of their
// items together; a task never counts toward another source's milestone.
func TestFactsAppend(t *testing.T) {
	a := []Item{
		{Source: "a", ExternalID: "M", Kind: KindMilestone, State: StateTodo, Title: "A's"},
		{Source: "a", ExternalID: "T", Kind: KindTask, State: StateTodo, Milestone: "M"},
	}
	b := []Item{
		{Source: "b", ExternalID: "T", Kind: KindTask, State: StateDone, Milestone: "M"},
		{Source: "b", ExternalID: "X", Kind: KindRisk, State: StateTodo, Title: "B's", Likelihood: 3, Impact: 3},
	}
	var got Facts
	got.Append(FactsOf(a))
	got.Append(FactsOf(b))
	want := FactsOf(append(append([]Item{}, a...), b...))
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("appended facts (-want +got):\n%s", diff)
	}
	if got.Rows[1].Milestone != 0 || got.Rows[2].Milestone != -1 || got.Rows[3].Detail != 1 {
		t.Errorf("rows = %+v", got.Rows)
	}
}

// TestFactsBinaryRoundTrip encodes and decodes the golden programs' facts
// and a large generated program's.
func TestFactsBinaryRoundTrip(t *testing.T) {
	for name, in := range map[string]Input{"ehr": ehrInput(), "tele": teleInput(), "pacs": pacsInput(), "bench": benchInput(3000)} {
		f := FactsOf(in.Items)
		b, err := f.MarshalBinary()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var back Facts
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := gocmp.Diff(f, back); diff != "" {
			t.Errorf("%s: decoded facts (-want +got):\n%s", name, diff)
		}
	}
	var empty Facts
	b, err := empty.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back Facts
	if err := back.UnmarshalBinary(b); err != nil || len(back.Rows) != 0 || len(back.Details) != 0 {
		t.Errorf("empty facts decode to %+v, %v", back, err)
	}
}

// TestFactsDecodeRefusesDamage: every truncation of a valid encoding, and
// a few corruptions, are refused with an error, never a panic or a wrong
// result.
func TestFactsDecodeRefusesDamage(t *testing.T) {
	f := FactsOf(ehrInput().Items)
	b, err := f.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		var back Facts
		if err := back.UnmarshalBinary(b[:n]); err == nil {
			t.Fatalf("a prefix of %d of %d bytes decoded without error", n, len(b))
		}
	}
	for name, bad := range map[string][]byte{
		"other format version": append([]byte("PMF\x02"), b[4:]...),
		"trailing byte":        append(append([]byte{}, b...), 0),
		"huge row count":       append([]byte("PMF\x01\xff\xff\xff\xff\x0f"), b[5:]...),
	} {
		var back Facts
		if err := back.UnmarshalBinary(bad); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	bad := Facts{Rows: []Fact{{Source: "s", ExternalID: "1", Kind: "epic", State: StateTodo}}}
	if _, err := bad.MarshalBinary(); err == nil {
		t.Error("an unknown kind was encoded")
	}
}

// TestBuildFromFacts: a rollup from the items' facts, as a store keeps
// them (encoded and decoded), is the rollup from the items, to the last
// figure and listing.
func TestBuildFromFacts(t *testing.T) {
	for name, in := range map[string]Input{"ehr": ehrInput(), "tele": teleInput(), "pacs": pacsInput(), "bench": benchInput(5000)} {
		want, _ := Build(in)
		f := FactsOf(in.Items)
		b, err := f.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var kept Facts
		if err := kept.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		in.Items, in.Facts = nil, &kept
		got, ex := Build(in)
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("%s: rollup from facts (-items +facts):\n%s", name, diff)
		}
		if ex != nil {
			t.Errorf("%s: an explanation without items", name)
		}
	}
}

// TestNextMilestonesOfALargeProgram: of a program's hundreds of open
// milestones due from the as-of date on, the five soonest are listed, in
// order; worked out here by sorting the items.
func TestNextMilestonesOfALargeProgram(t *testing.T) {
	in := benchInput(20_000) // 400 milestones, due from 30 days ago to 89 days ahead
	// Shuffle the items' order by reversing it: the listing must not
	// depend on it.
	for i, j := 0, len(in.Items)-1; i < j; i, j = i+1, j-1 {
		in.Items[i], in.Items[j] = in.Items[j], in.Items[i]
	}
	var due []Item
	for _, it := range in.Items {
		if it.Kind == KindMilestone && !it.State.Closed() && !it.Due.Before(in.AsOf) {
			due = append(due, it)
		}
	}
	slices.SortFunc(due, func(a, b Item) int {
		return cmp.Or(cmp.Compare(a.Due, b.Due), cmp.Compare(a.Source, b.Source), cmp.Compare(a.ExternalID, b.ExternalID))
	})
	var want []string
	for _, it := range due[:NextMilestoneCount] {
		want = append(want, it.ExternalID+" "+string(it.Due))
	}
	r, _ := Build(in)
	var got []string
	for _, m := range r.NextMilestones {
		got = append(got, m.ExternalID+" "+string(m.Due))
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("next milestones (-want +got):\n%s", diff)
	}
}
