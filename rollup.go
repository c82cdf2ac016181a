package pmsync

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Schema is the version of the rollup JSON document.
const Schema = "pmsync.rollup/v1"

// HealthStatus is a RAG colour.
type HealthStatus string

// The colours, worst last.
const (
	Green HealthStatus = "green"
	Amber HealthStatus = "amber"
	Red   HealthStatus = "red"
)

// Report is the versioned rollup document of `pmsync rollup --format json`
// and the JSON API: the portfolio's totals, one group per portfolio name
// when programs name one, and every program's rollup.
type Report struct {
	Schema      string    `json:"schema"`
	AsOf        Date      `json:"as_of"`
	GeneratedAt time.Time `json:"generated_at"`
	// Version fingerprints what the document says (its programs' versions
	// and the totals), so that a file or webhook target receives each
	// distinct report once.
	Version string `json:"version"`
	// Portfolio totals every program of the report.
	Portfolio Portfolio `json:"portfolio"`
	// Portfolios holds one group per portfolio name, in the order the names
	// first appear; empty when no program names a portfolio. Programs
	// without one form a group named "".
	Portfolios []Portfolio `json:"portfolios"`
	Programs   []Rollup    `json:"programs"`
}

// Rollup is one program's executive summary.
type Rollup struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Portfolio and Owner (the executive sponsor) come from the program's
	// configuration; empty when not set.
	Portfolio  string          `json:"portfolio,omitempty"`
	Owner      string          `json:"owner,omitempty"`
	AsOf       Date            `json:"as_of"`
	Version    string          `json:"version"`
	Health     Health          `json:"health"`
	Progress   Progress        `json:"progress"`
	Milestones MilestoneCounts `json:"milestones"`
	Risks      RiskCounts      `json:"risks"`
	Budget     Budget          `json:"budget"`
	Items      ItemCounts      `json:"items"`
	Sources    []SourceStatus  `json:"sources"`
	// Late, DueSoon and RedFlags name the items behind the counts, worst first.
	Late     []ItemRef `json:"late_milestones"`
	DueSoon  []ItemRef `json:"due_soon_milestones"`
	RedFlags []ItemRef `json:"red_flag_risks"`
	// RiskMatrix counts the open risks by likelihood and impact.
	RiskMatrix RiskMatrix `json:"risk_matrix"`
	// NextMilestones are the open milestones due from the as-of date on,
	// soonest first (at most NextMilestoneCount).
	NextMilestones []Milestone `json:"next_milestones"`
	// AtRisk are the open milestones, not yet late, whose forecast p85
	// falls after their due date, soonest due first.
	AtRisk []Milestone `json:"at_risk_milestones"`
	// Slips are the open milestones due later than their baseline, the
	// largest slip first.
	Slips []Slip `json:"slips"`
	// Throughput counts work done and created recently.
	Throughput Throughput `json:"throughput"`
	// Forecasting says what the milestone forecasts were drawn from.
	Forecasting Forecasting `json:"forecasting"`
	// Trend is the program's history over the trend window.
	Trend Trend `json:"trend"`
	// Changes says what moved since the previous rollup of the program
	// (an empty list when nothing did or there is no previous rollup).
	Changes []string `json:"changes"`
	// ChangesSince says what moved since a given date; nil unless asked.
	ChangesSince *ChangesSince `json:"changes_since,omitempty"`
}

// Health is a colour with the reasons that produced it.
type Health struct {
	Status  HealthStatus `json:"status"`
	Reasons []string     `json:"reasons"`
	// Rules are the health rules that fired, each with its words; empty
	// for green.
	Rules []FiredRule `json:"rules"`
}

// FiredRule is one health rule that held for a program.
type FiredRule struct {
	Status HealthStatus `json:"status"` // the colour the rule gives
	Rule   string       `json:"rule"`   // the expression as configured
	// Reasons say, in words, what the figures the rule reads are.
	Reasons []string `json:"reasons"`
}

// Progress counts done work (tasks and milestones, cancelled excluded).
// Percent means nothing when Total is 0: the JSON document then holds
// null, like every other ratio that cannot be computed.
type Progress struct {
	Done    int     `json:"done"`
	Total   int     `json:"total"`
	Percent float64 `json:"percent"`
}

// MarshalJSON writes percent as null when there is no work to measure.
func (p Progress) MarshalJSON() ([]byte, error) {
	var pct *float64
	if p.Total > 0 {
		pct = &p.Percent
	}
	return json.Marshal(struct {
		Done    int      `json:"done"`
		Total   int      `json:"total"`
		Percent *float64 `json:"percent"`
	}{p.Done, p.Total, pct})
}

// Known reports whether there is work to measure progress by.
func (p Progress) Known() bool { return p.Total > 0 }

// MilestoneCounts counts milestones (cancelled excluded).
type MilestoneCounts struct {
	Total   int `json:"total"`
	Done    int `json:"done"`
	Late    int `json:"late"`
	DueSoon int `json:"due_soon"`
	// Behind counts the due-soon milestones whose progress trails the time
	// elapsed toward their due date.
	Behind int `json:"behind"`
	// AtRisk counts the open milestones, not late, whose forecast p85 is
	// after their due date.
	AtRisk int `json:"at_risk"`
	// Slipped counts the open milestones due later than their baseline,
	// and SlipDays adds up by how many days.
	Slipped  int `json:"slipped"`
	SlipDays int `json:"slip_days"`
}

// RiskCounts counts open risks and red flags.
type RiskCounts struct {
	Open     int `json:"open"`
	RedFlags int `json:"red_flags"`
}

// Budget is the burn against plan. Ratios are nil when they cannot be
// computed (no planned budget, no program dates, no progress yet, no
// snapshot old enough).
type Budget struct {
	Currency       string   `json:"currency,omitempty"`
	Planned        float64  `json:"planned"`
	Actual         float64  `json:"actual"`
	BurnPercent    *float64 `json:"burn_percent"`
	ElapsedPercent *float64 `json:"elapsed_percent"`
	VariancePoints *float64 `json:"variance_points"`
	Forecast       *float64 `json:"forecast_at_completion"`
	// Remaining is planned − actual (negative when overspent).
	Remaining *float64 `json:"remaining"`
	// BurnRate is the spend per week over the last four weeks, from the
	// snapshot taken four weeks before the as-of date or earlier.
	BurnRate *float64 `json:"burn_rate_per_week"`
	// RunsOut is the date the remaining budget is spent at BurnRate.
	RunsOut *Date `json:"runs_out_on"`
	// EarnedValue is planned × progress (the budgeted cost of the work
	// done) and CostVariance is EarnedValue − actual: negative means the
	// work done cost more than planned.
	EarnedValue  *float64 `json:"earned_value"`
	CostVariance *float64 `json:"cost_variance"`
}

// ItemCounts counts live items and tombstones.
type ItemCounts struct {
	Live    int `json:"live"`
	Deleted int `json:"deleted"`
}

// ItemRef points at one item behind a count.
type ItemRef struct {
	// Program is set where items of several programs are listed together
	// (the portfolio's lists).
	Program    string `json:"program,omitempty"`
	Source     string `json:"source"`
	ExternalID string `json:"external_id"`
	Title      string `json:"title"`
	URL        string `json:"url,omitempty"`
	Due        Date   `json:"due,omitempty"`
	Score      int    `json:"score,omitempty"`
	Owner      string `json:"owner,omitempty"`
}

// Milestone states, as Milestone.State names them.
const (
	MilestoneLate    = "late"
	MilestoneAtRisk  = "at_risk"
	MilestoneDueSoon = "due_soon"
	MilestoneOnTrack = "on_track"
	MilestoneNoDate  = "no_date"
)

// NextMilestoneCount is how many upcoming milestones a program lists.
const NextMilestoneCount = 5

// Milestone is one open milestone with what is known of its course.
type Milestone struct {
	ItemRef
	// State is the worst of late, at_risk, due_soon, on_track (or no_date).
	State string `json:"state"`
	// Progress is the done share of the tasks counting toward it, else its
	// own percent complete; nil when neither is known.
	Progress *float64 `json:"progress"`
	// Baseline is the first due date pmsync saw (or a mapped baseline) and
	// SlipDays how many days later the milestone is due now.
	Baseline Date `json:"baseline,omitempty"`
	SlipDays int  `json:"slip_days"`
	// Forecast is nil without linked open work or without throughput
	// history; Why then says which.
	Forecast *Forecast `json:"forecast"`
	// Why explains the state (at risk) or a missing forecast.
	Why string `json:"why,omitempty"`
}

// Forecast is a milestone's likely completion: a Monte Carlo over the
// program's weekly throughput.
type Forecast struct {
	P50 Date `json:"p50"`
	P85 Date `json:"p85"`
	// Remaining counts the open tasks the forecast finishes.
	Remaining int `json:"remaining"`
}

// Forecasting says what a program's forecasts were drawn from.
type Forecasting struct {
	// Weekly holds the tasks done in each observed week, newest week
	// first; weeks before the program's history begins are left out.
	Weekly []int  `json:"weekly_throughput"`
	Trials int    `json:"trials"`
	Seed   uint64 `json:"seed"`
}

// Slip is an open milestone due later than its baseline.
type Slip struct {
	ItemRef
	Baseline Date `json:"baseline"`
	// BaselineFrom says where the baseline came from: "first_seen" (the
	// first due date pmsync recorded) or "mapped" (fields.baseline_due).
	BaselineFrom string `json:"baseline_from"`
	Days         int    `json:"days"`
	// Moves are the recorded moves to a later date, oldest first.
	Moves []Move `json:"moves"`
}

// Move is one recorded move of a due date to a later day.
type Move struct {
	On   Date `json:"on"` // the day pmsync saw it
	From Date `json:"from"`
	To   Date `json:"to"`
	Days int  `json:"days"`
}

// Throughput counts tasks and milestones done, and created, in the last 7
// and 28 days. Created counts work pmsync first saw after its source's
// first complete sync; it is nil while that sync is younger than the
// window.
type Throughput struct {
	Done7     int  `json:"done_7d"`
	Done28    int  `json:"done_28d"`
	Created7  *int `json:"created_7d"`
	Created28 *int `json:"created_28d"`
}

// Trend is a figure history over a window of days.
type Trend struct {
	Since  Date         `json:"since"`
	Points []TrendPoint `json:"points"`
}

// TrendPoint is the state of a program (or the portfolio) on one day: the
// newest rollup of that day, or for the first point the state the window
// opened with.
type TrendPoint struct {
	AsOf           Date     `json:"as_of"`
	Done           int      `json:"done"`
	Total          int      `json:"total"`
	Progress       *float64 `json:"progress_percent"`
	LateMilestones int      `json:"late_milestones"`
	RedFlags       int      `json:"red_flags"`
	Planned        float64  `json:"planned"`
	Actual         float64  `json:"actual"`
	Burn           *float64 `json:"burn_percent"`
}

// ChangesSince is what moved since a given date.
type ChangesSince struct {
	Since Date `json:"since"`
	// From is the as-of date of the rollup compared with (the newest on or
	// before Since); nil when there was none, and Changes is then empty.
	From    *Date    `json:"from"`
	Changes []string `json:"changes"`
}

// Input is everything one program's rollup is computed from. Program,
// Items (or Facts), Rules and AsOf are required; the history fields feed
// the figures that need the past (slips, throughput, forecasts, burn rate,
// trends, changes), which are null or empty without them.
type Input struct {
	Program Program
	Items   []Item // tombstones included
	// Facts stands in for Items when Items is nil: the same rollup from
	// the items' compact form (FactsOf), which is what a store keeps. An
	// explanation needs Items.
	Facts   *Facts
	Sources []SourceStatus
	Rules   Rules
	AsOf    Date
	// Location is the calendar that done and first-seen times are dated
	// in; nil is UTC.
	Location *time.Location
	// DueMoves are the recorded due-date changes of the program's
	// milestones, oldest first: the baselines and slips.
	DueMoves []DueMove
	// Finished are the recorded moves of items into done, for items whose
	// mapping gives no done time.
	Finished []Seen
	// Arrived are the items pmsync first saw after their source's first
	// complete sync: new work.
	Arrived []Seen
	// ObservedSince is when the last of the program's sources completed
	// its first sync; zero while one has not.
	ObservedSince time.Time
	// Past are the program's earlier rollups (its snapshots), oldest first:
	// trends, burn rate and changes.
	Past []Rollup
	// TrendFrom is the first day of the trend window; "" means
	// DefaultTrendDays before AsOf.
	TrendFrom Date
	// ChangesSince, when set, asks what changed since that date.
	ChangesSince Date
	// Explain collects the items behind every figure.
	Explain bool
}

// DefaultTrendDays is the trend window when none is asked for.
const DefaultTrendDays = 28

// DueMove is one recorded change of a milestone's due date.
type DueMove struct {
	Source     string
	ExternalID string
	At         time.Time
	From, To   Date
}

// Seen says when pmsync saw something happen to an item.
type Seen struct {
	Source     string
	ExternalID string
	At         time.Time
}

// BaselineField is the mapped field a mapping may fill with a milestone's
// planned (baseline) due date; without it the baseline is the first due
// date pmsync saw.
const BaselineField = "baseline_due"

// Compute rolls a program's items up as of the given date, without
// history. It is Build with only the required inputs.
func Compute(p Program, items []Item, sources []SourceStatus, rules Rules, asOf Date) Rollup {
	r, _ := Build(Input{Program: p, Items: items, Sources: sources, Rules: rules, AsOf: asOf})
	return r
}

type itemKey struct{ source, id string }

// milestoneWork is an open milestone and the tasks counting toward it.
type milestoneWork struct {
	row       int // the milestone's index in the facts
	fact      *Fact
	detail    *Detail
	done, all int // linked tasks, cancelled excluded
	view      Milestone
	slip      *Slip
	remaining int
	hasLinked bool
}

// Build rolls a program up as of in.AsOf. It is pure: items, history,
// rules and dates in, rollup out. The Explanation is nil unless in.Explain.
func Build(in Input) (Rollup, *Explanation) {
	p, rules, asOf := in.Program, in.Rules, in.AsOf
	loc := in.Location
	if loc == nil {
		loc = time.UTC
	}
	r := Rollup{ID: p.ID, Name: p.Name, Portfolio: p.Portfolio, Owner: p.Owner, AsOf: asOf, Sources: in.Sources}
	if r.Sources == nil {
		r.Sources = []SourceStatus{}
	}
	r.Budget.Currency = p.Currency
	facts := in.Facts
	if in.Items != nil || facts == nil {
		f := FactsOf(in.Items)
		facts = &f
	}
	var ex *explainer
	if in.Explain && len(in.Items) == len(facts.Rows) {
		ex = newExplainer(in.Items)
	}
	rows := facts.Rows

	finished := make(map[itemKey]time.Time, len(in.Finished))
	for _, f := range in.Finished {
		finished[itemKey{f.Source, f.ExternalID}] = f.At // the newest wins: changes come oldest first
	}
	arrived := make(map[itemKey]time.Time, len(in.Arrived))
	for _, a := range in.Arrived {
		arrived[itemKey{a.Source, a.ExternalID}] = a.At
	}
	// Days are compared as day numbers: formatting a date per item would
	// cost an allocation each on a large program.
	today := dayNumber(asOf.Time())
	day7, day28 := today-7, today-28
	var weekly [forecastWeeks]int
	usesDoneAt := false
	var created7, created28 int

	var work []*milestoneWork
	byKey := map[itemKey]*milestoneWork{}
	// linked counts, per milestone (by its index), the tasks counting
	// toward it: done, all.
	linked := make([][2]int32, len(rows))
	var planned float64
	for i := range rows {
		it := &rows[i]
		if it.Deleted() {
			r.Items.Deleted++
			ex.add("items.deleted", i, "")
			continue
		}
		r.Items.Live++
		ex.add("items.live", i, "")
		if it.State == StateCancelled {
			continue
		}
		if it.Flags&FactPlanned != 0 {
			planned += it.Planned
			ex.add("budget.planned", i, "")
		}
		if it.Flags&FactActual != 0 {
			r.Budget.Actual += it.Actual
			ex.add("budget.actual", i, "")
		}
		switch it.Kind {
		case KindTask, KindMilestone:
			r.Progress.Total++
			ex.add("progress.total", i, "")
			if it.State == StateDone {
				r.Progress.Done++
				ex.add("progress.done", i, "")
				var when time.Time
				switch {
				case it.Flags&FactDoneAt != 0:
					when = it.doneTime()
					if it.Kind == KindTask {
						usesDoneAt = true
					}
				case len(finished) > 0:
					when = finished[itemKey{it.Source, it.ExternalID}]
				}
				if !when.IsZero() {
					on := dayNumber(when.In(loc))
					if on > day7 {
						r.Throughput.Done7++
						if ex != nil {
							ex.add("throughput.done_7d", i, "done "+string(DateOf(when.In(loc))))
						}
					}
					if on > day28 {
						r.Throughput.Done28++
						if ex != nil {
							ex.add("throughput.done_28d", i, "done "+string(DateOf(when.In(loc))))
						}
					}
					if it.Kind == KindTask {
						if w := max(0, today-on) / 7; w < forecastWeeks {
							weekly[w]++
						}
					}
				}
			}
			if len(arrived) > 0 {
				if t, ok := arrived[itemKey{it.Source, it.ExternalID}]; ok {
					on := dayNumber(t.In(loc))
					if on > day7 {
						created7++
						if ex != nil {
							ex.add("throughput.created_7d", i, "first seen "+string(DateOf(t.In(loc))))
						}
					}
					if on > day28 {
						created28++
						if ex != nil {
							ex.add("throughput.created_28d", i, "first seen "+string(DateOf(t.In(loc))))
						}
					}
				}
			}
		}
		switch it.Kind {
		case KindMilestone:
			r.Milestones.Total++
			ex.add("milestones.total", i, "")
			if it.State == StateDone {
				r.Milestones.Done++
				ex.add("milestones.done", i, "")
				continue
			}
			mw := &milestoneWork{row: i, fact: it, detail: &facts.Details[it.Detail]}
			work = append(work, mw)
			byKey[itemKey{it.Source, it.ExternalID}] = mw
		case KindTask:
			if m := it.Milestone; m >= 0 {
				c := &linked[m]
				c[1]++
				if it.State == StateDone {
					c[0]++
				} else if ex != nil {
					ex.linked[m] = append(ex.linked[m], i)
				}
			}
		case KindRisk:
			if it.State.Closed() {
				continue
			}
			r.Risks.Open++
			r.RiskMatrix.add(int(it.Likelihood), int(it.Impact))
			ex.add("risks.open", i, "")
			if score := int(it.Likelihood) * int(it.Impact); score >= rules.RedFlagScore {
				r.Risks.RedFlags++
				r.RedFlags = append(r.RedFlags, ref(it, &facts.Details[it.Detail], score))
				if ex != nil {
					ex.add("risks.red_flags", i, fmt.Sprintf("score %d", score))
				}
			}
		}
	}
	r.Progress.Percent = percent(r.Progress.Done, r.Progress.Total)

	// Created counts are only as good as the watch: before every source
	// had completed its first sync, new work could not be told from old.
	if obs := in.ObservedSince; !obs.IsZero() {
		since := dayNumber(obs.In(loc))
		if since <= day7 {
			r.Throughput.Created7 = &created7
		}
		if since <= day28 {
			r.Throughput.Created28 = &created28
		}
	}

	// The weeks of throughput history: each week must lie after the
	// program's start, and, when done times come only from what pmsync saw
	// happen, after every source was watched.
	observed := 0
	for w := range forecastWeeks {
		first, last := asOf.AddDays(-7*w-6), asOf.AddDays(-7*w)
		if !p.Start.IsZero() && last < p.Start {
			break
		}
		if !usesDoneAt && (in.ObservedSince.IsZero() || DateOf(in.ObservedSince.In(loc)) >= first) {
			break
		}
		observed++
	}
	r.Forecasting.Weekly = append([]int{}, weekly[:observed]...)

	// Milestones: lateness, progress, baselines and slips, then forecasts.
	moves := map[itemKey][]DueMove{}
	for _, m := range in.DueMoves {
		k := itemKey{m.Source, m.ExternalID}
		if _, ok := byKey[k]; ok {
			moves[k] = append(moves[k], m)
		}
	}
	var behind []ItemRef
	for _, mw := range work {
		m, d := mw.fact, mw.detail
		k := itemKey{m.Source, m.ExternalID}
		c := linked[mw.row]
		mw.done, mw.all = int(c[0]), int(c[1])
		mw.hasLinked = mw.all > 0
		mw.remaining = mw.all - mw.done
		mw.view = Milestone{ItemRef: ref(m, d, 0)}
		switch {
		case mw.hasLinked:
			mw.view.Progress = ptr(round2(100 * float64(mw.done) / float64(mw.all)))
		case d.HasPercent:
			mw.view.Progress = ptr(round2(d.Percent))
		}
		mw.slip = slipOf(m, d, moves[k], loc)
		if mw.slip != nil {
			mw.view.Baseline = mw.slip.Baseline
			mw.view.SlipDays = max(0, mw.slip.Days)
		}
		if d.Due.IsZero() {
			continue
		}
		switch {
		case d.Due.Before(asOf):
			r.Milestones.Late++
			r.Late = append(r.Late, ref(m, d, 0))
			if ex != nil {
				ex.add("milestones.late", mw.row, fmt.Sprintf("%d days late", d.Due.DaysUntil(asOf)))
			}
		case asOf.DaysUntil(d.Due) <= rules.DueSoonDays:
			r.Milestones.DueSoon++
			r.DueSoon = append(r.DueSoon, ref(m, d, 0))
			if ex != nil {
				ex.add("milestones.due_soon", mw.row, fmt.Sprintf("due in %d days", asOf.DaysUntil(d.Due)))
			}
			if milestoneBehind(d, mw.done, mw.all, p, asOf) {
				r.Milestones.Behind++
				behind = append(behind, ref(m, d, 0))
				ex.add("milestones.behind", mw.row, "progress behind the time elapsed toward its due date")
			}
		}
	}
	forecastAll(p.ID, asOf, r.Forecasting.Weekly, work, &r.Forecasting)
	for _, mw := range work {
		m, d := mw.fact, mw.detail
		v := &mw.view
		switch {
		case d.Due.IsZero():
			v.State = MilestoneNoDate
		case d.Due.Before(asOf):
			v.State = MilestoneLate
			v.Why = fmt.Sprintf("due %s, %d days ago", d.Due, d.Due.DaysUntil(asOf))
		case v.Forecast != nil && d.Due.Before(v.Forecast.P85):
			v.State = MilestoneAtRisk
			v.Why = fmt.Sprintf("forecast p85 %s is after due %s: %s, at %s a week over the last %s",
				v.Forecast.P85, d.Due, plural(v.Forecast.Remaining, "open task"), rangeText(r.Forecasting.Weekly), plural(len(r.Forecasting.Weekly), "week"))
			r.Milestones.AtRisk++
			r.AtRisk = append(r.AtRisk, *v)
			ex.add("milestones.at_risk", mw.row, v.Why)
		case asOf.DaysUntil(d.Due) <= rules.DueSoonDays:
			v.State = MilestoneDueSoon
		default:
			v.State = MilestoneOnTrack
		}
		if s := mw.slip; s != nil && s.Days > 0 {
			r.Milestones.Slipped++
			r.Milestones.SlipDays += s.Days
			r.Slips = append(r.Slips, *s)
			if ex != nil {
				ex.add("milestones.slipped", mw.row, fmt.Sprintf("baseline %s, due %s: %d days later", s.Baseline, d.Due, s.Days))
			}
		}
		if ex != nil && mw.hasLinked {
			name := "forecast " + m.Source + "/" + m.ExternalID
			ex.declare(name, "the open tasks counting toward the milestone, finished at the program's weekly throughput")
			for _, t := range ex.linked[int32(mw.row)] {
				ex.add(name, t, "")
			}
			ex.value(name, v.Forecast)
		}
	}
	byDue := func(a, b ItemRef) int {
		return cmp.Or(cmp.Compare(a.Due, b.Due), cmp.Compare(a.Source, b.Source), cmp.Compare(a.ExternalID, b.ExternalID))
	}
	// The soonest NextMilestoneCount of the milestones due from today on,
	// kept in order as they come: a large program has thousands, and only
	// a few are listed.
	next := make([]*Milestone, 0, NextMilestoneCount+1)
	for _, mw := range work {
		if d := mw.detail; d.Due.IsZero() || d.Due.Before(asOf) {
			continue
		}
		v := &mw.view
		i := len(next)
		for i > 0 && byDue(v.ItemRef, next[i-1].ItemRef) < 0 {
			i--
		}
		if i < NextMilestoneCount {
			next = slices.Insert(next, i, v)[:min(len(next)+1, NextMilestoneCount)]
		}
	}
	for _, v := range next {
		r.NextMilestones = append(r.NextMilestones, *v)
	}
	slices.SortFunc(r.Late, byDue)
	slices.SortFunc(r.DueSoon, byDue)
	slices.SortFunc(behind, byDue)
	slices.SortFunc(r.RedFlags, func(a, b ItemRef) int {
		return cmp.Or(-cmp.Compare(a.Score, b.Score), cmp.Compare(a.Source, b.Source), cmp.Compare(a.ExternalID, b.ExternalID))
	})
	slices.SortFunc(r.AtRisk, func(a, b Milestone) int { return byDue(a.ItemRef, b.ItemRef) })
	slices.SortFunc(r.Slips, func(a, b Slip) int { return cmp.Or(-cmp.Compare(a.Days, b.Days), byDue(a.ItemRef, b.ItemRef)) })
	r.Late = orEmpty(r.Late)
	r.DueSoon = orEmpty(r.DueSoon)
	r.RedFlags = orEmpty(r.RedFlags)
	r.NextMilestones = orEmpty(r.NextMilestones)
	r.AtRisk = orEmpty(r.AtRisk)
	r.Slips = orEmpty(r.Slips)
	r.RiskMatrix.Cells = orEmpty(r.RiskMatrix.Cells)

	budget(&r, p, planned, in.Past, asOf, ex)

	r.Health = evaluateHealth(&r, behind, rules, loc)
	r.Version = version(r)

	r.Trend = trend(r, in.Past, in.TrendFrom)
	r.Changes = []string{}
	if n := len(in.Past); n > 0 {
		prev := in.Past[n-1]
		if prev.Version == r.Version {
			r.Changes = orEmpty(prev.Changes)
		} else {
			r.Changes = Changes(prev, r)
		}
	}
	if in.ChangesSince != "" {
		r.ChangesSince = changesSince(r, in.Past, in.ChangesSince)
	}
	return r, ex.finish(&r, p)
}

// budget fills the budget figures from the items' sums and the program's
// past rollups.
func budget(r *Rollup, p Program, planned float64, past []Rollup, asOf Date, ex *explainer) {
	b := &r.Budget
	b.Planned = planned
	if p.Budget != nil {
		b.Planned = *p.Budget
		ex.declare("budget.planned", "the program's budget from the configuration (the items' planned costs are not added)")
		ex.clear("budget.planned")
	}
	b.Actual = round2(b.Actual)
	b.Planned = round2(b.Planned)
	if b.Planned > 0 {
		b.BurnPercent = ptr(round2(100 * b.Actual / b.Planned))
		b.Remaining = ptr(round2(b.Planned - b.Actual))
		if r.Progress.Total > 0 {
			b.EarnedValue = ptr(round2(b.Planned * float64(r.Progress.Done) / float64(r.Progress.Total)))
			b.CostVariance = ptr(round2(*b.EarnedValue - b.Actual))
		}
	}
	if e, ok := elapsed(p.Start, p.End, asOf); ok {
		b.ElapsedPercent = ptr(round2(e))
	}
	if b.BurnPercent != nil && b.ElapsedPercent != nil {
		b.VariancePoints = ptr(round2(*b.BurnPercent - *b.ElapsedPercent))
	}
	if r.Progress.Done > 0 && b.Actual > 0 {
		b.Forecast = ptr(round2(b.Actual * float64(r.Progress.Total) / float64(r.Progress.Done)))
	}
	// The spend four weeks ago is the actual of the newest rollup on or
	// before that day; without one the rate is unknown.
	cutoff := asOf.AddDays(-28)
	var then *Rollup
	for i := range past {
		if past[i].AsOf != "" && past[i].AsOf <= cutoff {
			then = &past[i]
		}
	}
	if then != nil {
		weeks := float64(then.AsOf.DaysUntil(asOf)) / 7
		b.BurnRate = ptr(round2((b.Actual - then.Budget.Actual) / weeks))
		ex.declare("budget.burn_rate_per_week", fmt.Sprintf("(actual %s − actual %s on %s) ÷ %.1f weeks", Money(b.Actual, 2), Money(then.Budget.Actual, 2), then.AsOf, weeks))
		if *b.BurnRate > 0 && b.Remaining != nil && *b.Remaining > 0 {
			if days := math.Ceil(*b.Remaining / *b.BurnRate * 7); days <= 100*366 {
				d := asOf.AddDays(int(days))
				b.RunsOut = &d
			}
		}
	}
}

// dayNumber counts the days from 1970-01-01 to t's calendar date in t's
// location.
func dayNumber(t time.Time) int {
	y, m, d := t.Date()
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// slipOf returns a milestone's baseline and its later moves, or nil when
// no baseline is known (no due date was ever seen).
func slipOf(m *Fact, d *Detail, moves []DueMove, loc *time.Location) *Slip {
	s := &Slip{ItemRef: ref(m, d, 0), BaselineFrom: "first_seen"}
	// The first due date pmsync saw: the value before the first recorded
	// change, or the first one set, or (no change recorded) the current.
	var last Date
	if len(moves) > 0 {
		last = moves[0].From
	}
	for _, mv := range moves {
		if mv.To == "" {
			continue // a cleared date is no move; the next one is compared with the last real date
		}
		if last != "" && last.Before(mv.To) {
			s.Moves = append(s.Moves, Move{On: DateOf(mv.At.In(loc)), From: last, To: mv.To, Days: last.DaysUntil(mv.To)})
		}
		if s.Baseline == "" {
			s.Baseline = last
			if s.Baseline == "" {
				s.Baseline = mv.To
			}
		}
		last = mv.To
	}
	if s.Baseline == "" {
		s.Baseline = d.Due
	}
	if d.Baseline != "" {
		s.Baseline, s.BaselineFrom = d.Baseline, "mapped"
	}
	if s.Baseline == "" {
		return nil
	}
	if !d.Due.IsZero() {
		s.Days = s.Baseline.DaysUntil(d.Due)
	}
	s.Moves = orEmpty(s.Moves)
	return s
}

// milestoneBehind reports whether a due-soon milestone's progress trails the
// time elapsed between its start (or the program's) and its due date.
// Progress is the done share of the tasks that count toward it (done of
// all), else its own percent complete; a milestone with neither has no
// known progress and is not called behind (it is still counted as due
// soon).
func milestoneBehind(m *Detail, done, all int, p Program, asOf Date) bool {
	var progress float64
	switch {
	case all > 0:
		progress = 100 * float64(done) / float64(all)
	case m.HasPercent:
		progress = m.Percent
	default:
		return false
	}
	start := m.Start
	if start.IsZero() || !start.Before(m.Due) {
		start = p.Start
	}
	expected, ok := elapsed(start, m.Due, asOf)
	if !ok {
		return progress < 100
	}
	return progress < expected
}

// elapsed returns the share of [start, end] that has passed by asOf, in
// percent clamped to 0..100.
func elapsed(start, end, asOf Date) (float64, bool) {
	if start.IsZero() || end.IsZero() || !start.Before(end) {
		return 0, false
	}
	total := float64(start.DaysUntil(end))
	done := float64(start.DaysUntil(asOf))
	return math.Max(0, math.Min(100, 100*done/total)), true
}

func names(refs []ItemRef) string {
	const show = 3
	var b strings.Builder
	for i, r := range refs {
		if i == show {
			fmt.Fprintf(&b, " and %d more", len(refs)-show)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(r.Title)
		switch {
		case r.Score > 0:
			fmt.Fprintf(&b, " (%d)", r.Score)
		case !r.Due.IsZero():
			fmt.Fprintf(&b, " (due %s)", r.Due)
		}
	}
	return b.String()
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func ref(it *Fact, d *Detail, score int) ItemRef {
	return ItemRef{Source: it.Source, ExternalID: it.ExternalID, Title: d.Title, URL: d.URL, Due: d.Due, Score: score, Owner: d.Owner}
}

func percent(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return round2(100 * float64(n) / float64(d))
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

func ptr[T any](v T) *T { return &v }

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// rangeText writes the smallest and largest of weekly task counts as
// "2–5 tasks" (or "1 task").
func rangeText(counts []int) string {
	if len(counts) == 0 {
		return "0 tasks"
	}
	lo, hi := slices.Min(counts), slices.Max(counts)
	if lo == hi {
		return plural(lo, "task")
	}
	return fmt.Sprintf("%d–%d tasks", lo, hi)
}

// version fingerprints what a rollup says (not when it was made, nor its
// history), so that a push happens once per distinct content.
func version(r Rollup) string {
	r.Version = ""
	r.Changes = nil
	r.ChangesSince = nil
	r.Trend = Trend{}
	r.Sources = nil // sync times move every run; they are not news
	b, _ := json.Marshal(r)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// Changes describes, in a few short lines, what moved between two rollups of
// the same program.
func Changes(prev, cur Rollup) []string {
	out := []string{}
	if prev.Health.Status != cur.Health.Status {
		out = append(out, fmt.Sprintf("health %s → %s", prev.Health.Status, cur.Health.Status))
	}
	if d := cur.Progress.Percent - prev.Progress.Percent; math.Abs(d) >= 0.01 {
		out = append(out, fmt.Sprintf("progress %.1f%% → %.1f%% (%+.1f points)", prev.Progress.Percent, cur.Progress.Percent, d))
	}
	if d := cur.Milestones.Done - prev.Milestones.Done; d != 0 {
		out = append(out, fmt.Sprintf("milestones done %d → %d", prev.Milestones.Done, cur.Milestones.Done))
	}
	if d := cur.Milestones.Late - prev.Milestones.Late; d != 0 {
		out = append(out, fmt.Sprintf("late milestones %d → %d", prev.Milestones.Late, cur.Milestones.Late))
	}
	if d := cur.Milestones.Slipped - prev.Milestones.Slipped; d != 0 {
		out = append(out, fmt.Sprintf("slipped milestones %d → %d", prev.Milestones.Slipped, cur.Milestones.Slipped))
	}
	if d := cur.Milestones.AtRisk - prev.Milestones.AtRisk; d != 0 {
		out = append(out, fmt.Sprintf("milestones at risk %d → %d", prev.Milestones.AtRisk, cur.Milestones.AtRisk))
	}
	if d := cur.Risks.RedFlags - prev.Risks.RedFlags; d != 0 {
		out = append(out, fmt.Sprintf("red-flag risks %d → %d", prev.Risks.RedFlags, cur.Risks.RedFlags))
	}
	if p, c := prev.Budget.BurnPercent, cur.Budget.BurnPercent; p != nil && c != nil && math.Abs(*c-*p) >= 0.01 {
		out = append(out, fmt.Sprintf("budget burn %.1f%% → %.1f%%", *p, *c))
	}
	return out
}
