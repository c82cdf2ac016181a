package pmsync

import (
	"fmt"
	"testing"
	"time"
)

// benchInput is a program of n items the way a large PMO has them: 2 %
// milestones (half of them moved once), 3 % risks, tasks linked to the
// milestones, done over the last ten weeks, with costs.
func benchInput(n int) Input {
	asOf := Date("2026-07-02")
	items := make([]Item, 0, n)
	var moves []DueMove
	milestones := n / 50
	for i := range n {
		it := Item{Source: "jira", ExternalID: fmt.Sprint(i), Title: "item", State: StateTodo, Kind: KindTask}
		switch {
		case i < milestones:
			it.Kind = KindMilestone
			it.Due = asOf.AddDays(i%120 - 30)
			if i%2 == 0 {
				moves = append(moves, DueMove{Source: "jira", ExternalID: it.ExternalID, At: asOf.Time().Add(-48 * time.Hour), From: it.Due.AddDays(-10), To: it.Due})
			}
		case i%33 == 0:
			it.Kind, it.Likelihood, it.Impact = KindRisk, 1+i%5, 1+(i/5)%5
		default:
			it.Milestone = fmt.Sprint(i % milestones)
			if i%3 == 0 {
				it.State = StateDone
				it.DoneAt = asOf.Time().Add(-time.Duration(i%70) * 24 * time.Hour)
			}
			c := float64(i % 500)
			it.PlannedCost, it.ActualCost = &c, &c
		}
		items = append(items, it)
	}
	return Input{Program: Program{ID: "p", Start: "2026-01-01", End: "2026-12-31"}, Items: items, Rules: DefaultRules(), AsOf: asOf,
		DueMoves: moves, ObservedSince: asOf.Time().AddDate(0, -6, 0)}
}

func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{100_000, 500_000} {
		in := benchInput(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Build(in)
			}
		})
	}
}
