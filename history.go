package pmsync

import "fmt"

// Figures returns the rollup without its listings of items and sources
// (late, due-soon, next and at-risk milestones, red flags, slips, source
// statuses), its trend and its changes since a date: what a later rollup
// reads of it as history (trends, the burn rate, what changed). A stored
// rollup's figures are a small part of it.
func (r Rollup) Figures() Rollup {
	r.Late, r.DueSoon, r.RedFlags, r.NextMilestones, r.AtRisk, r.Slips = nil, nil, nil, nil, nil, nil
	r.Sources = nil
	r.Trend = Trend{}
	r.ChangesSince = nil
	return r
}

// trend builds a program's history over the window from its past rollups
// and the current one: the newest rollup of each day in the window, after
// a first point dated the window's first day holding the state the window
// opened with (the newest rollup before it), when there is one.
func trend(cur Rollup, past []Rollup, from Date) Trend {
	if from == "" {
		from = cur.AsOf.AddDays(-DefaultTrendDays)
	}
	t := Trend{Since: from, Points: []TrendPoint{}}
	var opening *Rollup
	for i := range past {
		p := &past[i]
		switch {
		case p.AsOf == "" || p.AsOf >= cur.AsOf:
			continue // the current rollup stands for today
		case p.AsOf < from:
			opening = p
		default:
			pt := pointOf(*p)
			if n := len(t.Points); n > 0 && t.Points[n-1].AsOf == pt.AsOf {
				t.Points[n-1] = pt
			} else {
				t.Points = append(t.Points, pt)
			}
		}
	}
	if opening != nil && (len(t.Points) == 0 || t.Points[0].AsOf != from) {
		pt := pointOf(*opening)
		pt.AsOf = from
		t.Points = append([]TrendPoint{pt}, t.Points...)
	}
	t.Points = append(t.Points, pointOf(cur))
	return t
}

func pointOf(r Rollup) TrendPoint {
	pt := TrendPoint{AsOf: r.AsOf, Done: r.Progress.Done, Total: r.Progress.Total, LateMilestones: r.Milestones.Late,
		RedFlags: r.Risks.RedFlags, Planned: r.Budget.Planned, Actual: r.Budget.Actual, Burn: r.Budget.BurnPercent}
	if r.Progress.Total > 0 {
		pt.Progress = ptr(r.Progress.Percent)
	}
	return pt
}

// changesSince compares the current rollup with the newest past one on or
// before the date.
func changesSince(cur Rollup, past []Rollup, since Date) *ChangesSince {
	cs := &ChangesSince{Since: since, Changes: []string{}}
	var then *Rollup
	for i := range past {
		if past[i].AsOf != "" && past[i].AsOf <= since {
			then = &past[i]
		}
	}
	if then == nil {
		return cs
	}
	from := then.AsOf
	cs.From = &from
	cs.Changes = Changes(*then, cur)
	for _, s := range cur.Slips {
		for _, m := range s.Moves {
			if m.On > from {
				cs.Changes = append(cs.Changes, fmt.Sprintf("%s moved from %s to %s (+%d days)", s.Title, m.From, m.To, m.Days))
			}
		}
	}
	return cs
}
