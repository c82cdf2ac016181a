package web

import (
	"cmp"
	"fmt"
	"math"
	"net/url"
	"slices"
	"time"

	"github.com/pmsync/pmsync"
)

// The views lay the rollup and what the engine reports out for the pages
// and the JSON API. They compute no figure: the rollup holds them all (the
// portfolio's totals and ranking included); the views order, merge and put
// times in one zone.

// ranked orders a report's programs by the portfolio's ranking by need of
// attention (the rollup's; programs it does not rank follow in report
// order).
func ranked(rep pmsync.Report) []pmsync.Rollup {
	byID := make(map[string]pmsync.Rollup, len(rep.Programs))
	for _, r := range rep.Programs {
		byID[r.ID] = r
	}
	out := make([]pmsync.Rollup, 0, len(rep.Programs))
	for _, a := range rep.Portfolio.Attention {
		if r, ok := byID[a.Program]; ok {
			out = append(out, r)
			delete(byID, a.Program)
		}
	}
	for _, r := range rep.Programs {
		if _, left := byID[r.ID]; left {
			out = append(out, r)
		}
	}
	return out
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// programPath is the dashboard page of a program. Program ids come from
// the configuration, never from the data, so no item value reaches a URL.
func programPath(id string) string { return "/programs/" + url.PathEscape(id) }

// freshness is one source of a program as the pages show it.
type freshness struct {
	pmsync.SourceStatus
	Age string // "12 min ago"; "" when never synced
}

func freshnessOf(sources []pmsync.SourceStatus, now time.Time) []freshness {
	out := make([]freshness, 0, len(sources))
	for _, s := range sources {
		f := freshness{SourceStatus: s}
		if !s.LastSuccess.IsZero() {
			f.Age = ago(now.Sub(s.LastSuccess))
		}
		out = append(out, f)
	}
	return out
}

// ago writes a duration the way a person says how long ago something was.
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
}

// timelineRows are the milestones the rollup names, by due date: the late
// ones, those due soon, the next ones, those at risk and those that
// slipped, each once, with its baseline and forecast where known.
func timelineRows(r pmsync.Rollup) []timelineRow {
	var rows []timelineRow
	at := map[string]int{} // by source and external id
	row := func(ref pmsync.ItemRef) *timelineRow {
		key := ref.Source + "\x00" + ref.ExternalID
		if i, ok := at[key]; ok {
			return &rows[i]
		}
		at[key] = len(rows)
		rows = append(rows, timelineRow{Title: ref.Title, Due: ref.Due})
		return &rows[len(rows)-1]
	}
	for _, m := range r.Late {
		row(m).Status = "late"
	}
	for _, m := range r.DueSoon {
		if x := row(m); x.Status == "" {
			x.Status = "due soon"
		}
	}
	for _, list := range [][]pmsync.Milestone{r.NextMilestones, r.AtRisk} {
		for _, m := range list {
			x := row(m.ItemRef)
			if st := milestoneStatus(m.State); x.Status == "" || x.Status == "due soon" && st == "at risk" {
				x.Status = st
			}
			if m.Baseline != "" {
				x.Baseline = m.Baseline
			}
			if m.Forecast != nil {
				x.P50, x.P85 = m.Forecast.P50, m.Forecast.P85
			}
		}
	}
	for _, sl := range r.Slips {
		x := row(sl.ItemRef)
		x.Baseline = sl.Baseline
		if x.Status == "" {
			x.Status = "open"
		}
	}
	slices.SortStableFunc(rows, func(a, b timelineRow) int { return cmp.Compare(a.Due, b.Due) })
	return rows
}

// milestoneStatus words a milestone state of the rollup.
func milestoneStatus(state string) string {
	switch state {
	case pmsync.MilestoneLate:
		return "late"
	case pmsync.MilestoneAtRisk:
		return "at risk"
	case pmsync.MilestoneDueSoon:
		return "due soon"
	case pmsync.MilestoneNoDate:
		return "no date"
	}
	return "on track"
}

// matrixCell is one cell of the risk matrix as the page draws it.
type matrixCell struct {
	Likelihood, Impact, Score, Risks int
	Zone                             string // "red flag" | "watch" | "low"
	Class                            string // the zone's CSS class: red | watch | low
}

// matrixRows lays the matrix out as a steering committee reads it:
// likelihood 5 on top, impact 1 to 5 from left to right. Cells scoring at
// least the red-flag score are the red-flag zone; from half of it, watch.
func matrixRows(m pmsync.RiskMatrix, redFlag int) [][]matrixCell {
	rows := make([][]matrixCell, 0, 5)
	for l := 5; l >= 1; l-- {
		row := make([]matrixCell, 0, 5)
		for i := 1; i <= 5; i++ {
			c := matrixCell{Likelihood: l, Impact: i, Score: l * i, Risks: m.Count(l, i)}
			switch {
			case c.Score >= redFlag:
				c.Zone, c.Class = "red flag", "red"
			case 2*c.Score >= redFlag:
				c.Zone, c.Class = "watch", "watch"
			default:
				c.Zone, c.Class = "low", "low"
			}
			row = append(row, c)
		}
		rows = append(rows, row)
	}
	return rows
}

// figure is one count of the rollup with the items behind it, as many as
// a page lists.
type figure struct {
	Name  string
	Count int
	Items []pmsync.ItemRef
	More  int // items not listed
}

func newFigure(name string, count int, items []pmsync.ItemRef) figure {
	shown := items[:min(len(items), pageRows)]
	return figure{Name: name, Count: count, Items: shown, More: len(items) - len(shown)}
}

// keepRows keeps at most n timeline rows, by due date, when there are more:
// up to n/3 of the late ones, those due most recently (still within
// reach), and then the others (at risk, due soon, slipped, next) soonest
// first; late ones fill what the others leave.
func keepRows(rows []timelineRow, n int) []timelineRow {
	if len(rows) <= n {
		return rows
	}
	var late, other []timelineRow
	for _, r := range rows {
		if r.Status == "late" {
			late = append(late, r)
		} else {
			other = append(other, r)
		}
	}
	slices.Reverse(late) // rows come by due date: the most recent last
	nLate := min(len(late), n/3)
	nOther := min(len(other), n-nLate)
	nLate = min(len(late), n-nOther)
	kept := append(slices.Clone(late[:nLate]), other[:nOther]...)
	slices.SortStableFunc(kept, func(a, b timelineRow) int { return cmp.Compare(a.Due, b.Due) })
	return kept
}

func milestoneRefs(ms []pmsync.Milestone) []pmsync.ItemRef {
	out := make([]pmsync.ItemRef, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.ItemRef)
	}
	return out
}

func slipRefs(sl []pmsync.Slip) []pmsync.ItemRef {
	out := make([]pmsync.ItemRef, 0, len(sl))
	for _, s := range sl {
		out = append(out, s.ItemRef)
	}
	return out
}

// trendPoints are the rollup's trend, and the rollup itself as the last
// point when the trend does not reach its as-of date (a rollup built
// without history).
func trendPoints(r pmsync.Rollup) []pmsync.TrendPoint {
	pts := r.Trend.Points
	if n := len(pts); n == 0 || pts[n-1].AsOf != r.AsOf {
		var pct *float64
		if r.Progress.Total > 0 {
			p := r.Progress.Percent
			pct = &p
		}
		pts = append(slices.Clip(pts), pmsync.TrendPoint{AsOf: r.AsOf, Done: r.Progress.Done, Total: r.Progress.Total, Progress: pct,
			LateMilestones: r.Milestones.Late, RedFlags: r.Risks.RedFlags, Planned: r.Budget.Planned, Actual: r.Budget.Actual, Burn: r.Budget.BurnPercent})
	}
	return pts
}
