package pmsync

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRiskMatrix(t *testing.T) {
	p := Program{ID: "pacs", Name: "PACS"}
	risk := func(id string, s State, l, i int) Item {
		return Item{Source: "sheet", ExternalID: id, Kind: KindRisk, State: s, Title: id, Likelihood: l, Impact: i}
	}
	gone := risk("R9", StateTodo, 5, 5)
	gone.DeletedAt = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	items := []Item{
		risk("R1", StateTodo, 4, 5),
		risk("R2", StateInProgress, 4, 5),
		risk("R3", StateBlocked, 2, 3),
		risk("R4", StateTodo, 5, 1),
		risk("R5", StateTodo, 1, 5),
		risk("R6", StateDone, 5, 5),      // closed: not in the matrix
		risk("R7", StateCancelled, 3, 3), // closed
		risk("R8", StateTodo, 0, 3),      // no likelihood: unrated
		risk("R10", StateTodo, 2, 0),     // no impact: unrated
		gone,                             // deleted
		{Source: "sheet", ExternalID: "T1", Kind: KindTask, State: StateTodo, Likelihood: 3, Impact: 3},
	}
	got := Compute(p, items, nil, DefaultRules(), "2026-07-02").RiskMatrix
	// Open and rated: R1, R2 at (4,5); R3 at (2,3); R4 at (5,1); R5 at (1,5).
	// Highest likelihood first, then highest impact.
	want := RiskMatrix{Cells: []RiskCell{
		{Likelihood: 5, Impact: 1, Risks: 1},
		{Likelihood: 4, Impact: 5, Risks: 2},
		{Likelihood: 2, Impact: 3, Risks: 1},
		{Likelihood: 1, Impact: 5, Risks: 1},
	}, Unrated: 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("risk matrix (-want +got):\n%s", diff)
	}
	for _, c := range []struct{ l, i, want int }{{4, 5, 2}, {5, 1, 1}, {3, 3, 0}, {5, 5, 0}, {0, 3, 0}} {
		if n := got.Count(c.l, c.i); n != c.want {
			t.Errorf("Count(%d, %d) = %d, want %d", c.l, c.i, n, c.want)
		}
	}
}
