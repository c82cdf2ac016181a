package web

import (
	"cmp"
	"fmt"
	"math"
	"net/url"
	"slices"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
)

// The views turn the rollup and what the engine reports into what the pages
// and the JSON API show. They compute nothing the rollup already holds:
// they add it up across programs, rank, and put times in one zone.

// portfolioSummary is the band at the top of the portfolio page.
type portfolioSummary struct {
	Programs int `json:"programs"`
	// Health counts the programs of each colour.
	Health healthCounts `json:"health"`
	// Progress adds up done and total work of every program.
	Progress pmsync.Progress `json:"progress"`
	// Late and DueSoon add up milestones; RedFlags the red-flag risks.
	Late     int `json:"late_milestones"`
	DueSoon  int `json:"due_soon_milestones"`
	RedFlags int `json:"red_flag_risks"`
	// Budgets adds up budgets per currency (amounts in different
	// currencies are never summed).
	Budgets []budgetTotal `json:"budgets"`
}

type healthCounts struct {
	Red   int `json:"red"`
	Amber int `json:"amber"`
	Green int `json:"green"`
}

// budgetTotal is the budget of the programs of one currency: planned and
// actual summed; burn and elapsed over the programs that have both a
// planned budget and dates, the time elapsed weighted by planned budget.
type budgetTotal struct {
	Currency       string   `json:"currency"`
	Planned        float64  `json:"planned"`
	Actual         float64  `json:"actual"`
	BurnPercent    *float64 `json:"burn_percent"`
	ElapsedPercent *float64 `json:"elapsed_percent"`
	VariancePoints *float64 `json:"variance_points"`
	// Programs counts the programs summed; Measured those with burn and
	// elapsed both known.
	Programs int `json:"programs"`
	Measured int `json:"measured"`
}

func summarize(programs []pmsync.Rollup) portfolioSummary {
	s := portfolioSummary{Programs: len(programs), Budgets: []budgetTotal{}}
	type acc struct {
		budgetTotal
		mPlanned, mActual, mElapsed float64
	}
	var order []string
	byCur := map[string]*acc{}
	for _, r := range programs {
		switch r.Health.Status {
		case pmsync.Red:
			s.Health.Red++
		case pmsync.Amber:
			s.Health.Amber++
		default:
			s.Health.Green++
		}
		s.Progress.Done += r.Progress.Done
		s.Progress.Total += r.Progress.Total
		s.Late += r.Milestones.Late
		s.DueSoon += r.Milestones.DueSoon
		s.RedFlags += r.Risks.RedFlags
		if r.Budget.Planned == 0 && r.Budget.Actual == 0 {
			continue // no budget to add up
		}
		a, ok := byCur[r.Budget.Currency]
		if !ok {
			a = &acc{budgetTotal: budgetTotal{Currency: r.Budget.Currency}}
			byCur[r.Budget.Currency] = a
			order = append(order, r.Budget.Currency)
		}
		a.Programs++
		a.Planned += r.Budget.Planned
		a.Actual += r.Budget.Actual
		if r.Budget.Planned > 0 && r.Budget.ElapsedPercent != nil {
			a.Measured++
			a.mPlanned += r.Budget.Planned
			a.mActual += r.Budget.Actual
			a.mElapsed += r.Budget.Planned * *r.Budget.ElapsedPercent
		}
	}
	if s.Progress.Total > 0 {
		s.Progress.Percent = round2(100 * float64(s.Progress.Done) / float64(s.Progress.Total))
	}
	for _, c := range order {
		a := byCur[c]
		t := a.budgetTotal
		t.Planned, t.Actual = round2(t.Planned), round2(t.Actual)
		if a.mPlanned > 0 {
			burn, elapsed := round2(100*a.mActual/a.mPlanned), round2(a.mElapsed/a.mPlanned)
			t.BurnPercent, t.ElapsedPercent = &burn, &elapsed
			v := round2(burn - elapsed)
			t.VariancePoints = &v
		}
		s.Budgets = append(s.Budgets, t)
	}
	return s
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// rank orders programs by need of attention: red before amber before
// green; then more late milestones, more red flags, a larger burn
// variance, more milestones due soon; then by name.
func rank(programs []pmsync.Rollup) []pmsync.Rollup {
	out := slices.Clone(programs)
	severity := func(h pmsync.HealthStatus) int {
		switch h {
		case pmsync.Red:
			return 2
		case pmsync.Amber:
			return 1
		}
		return 0
	}
	variance := func(r pmsync.Rollup) float64 {
		if r.Budget.VariancePoints == nil {
			return math.Inf(-1)
		}
		return *r.Budget.VariancePoints
	}
	slices.SortStableFunc(out, func(a, b pmsync.Rollup) int {
		return cmp.Or(
			-cmp.Compare(severity(a.Health.Status), severity(b.Health.Status)),
			-cmp.Compare(a.Milestones.Late, b.Milestones.Late),
			-cmp.Compare(a.Risks.RedFlags, b.Risks.RedFlags),
			-cmp.Compare(variance(a), variance(b)),
			-cmp.Compare(a.Milestones.DueSoon, b.Milestones.DueSoon),
			cmp.Compare(a.Name, b.Name),
		)
	})
	return out
}

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

// history turns a program's snapshots (newest first, as the store returns
// them) and its current rollup into one point per as-of date, oldest
// first; the latest rollup of a date stands for it.
func history(snaps []store.Snapshot, current pmsync.Rollup) []pmsync.Rollup {
	var out []pmsync.Rollup
	add := func(r pmsync.Rollup) {
		if n := len(out); n > 0 && out[n-1].AsOf == r.AsOf {
			out[n-1] = r
			return
		}
		out = append(out, r)
	}
	for i := len(snaps) - 1; i >= 0; i-- {
		r := snaps[i].Rollup
		if r.AsOf == "" {
			r.AsOf = snaps[i].AsOf
		}
		if r.AsOf > current.AsOf {
			continue
		}
		add(r)
	}
	add(current)
	return out
}

// timelineRows are the milestones the rollup names, ordered by due date:
// the late ones and those due soon.
func timelineRows(r pmsync.Rollup) []timelineRow {
	var rows []timelineRow
	for _, m := range r.Late {
		rows = append(rows, timelineRow{Title: m.Title, Due: m.Due, Status: "late"})
	}
	for _, m := range r.DueSoon {
		rows = append(rows, timelineRow{Title: m.Title, Due: m.Due, Status: "due soon"})
	}
	slices.SortStableFunc(rows, func(a, b timelineRow) int { return cmp.Compare(a.Due, b.Due) })
	return rows
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

// figure is one count of the rollup with the items behind it.
type figure struct {
	Name  string
	Count int
	Items []pmsync.ItemRef
}
