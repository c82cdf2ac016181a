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
// and the JSON API.
type Report struct {
	Schema      string    `json:"schema"`
	AsOf        Date      `json:"as_of"`
	GeneratedAt time.Time `json:"generated_at"`
	Programs    []Rollup  `json:"programs"`
}

// Rollup is one program's executive summary.
type Rollup struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
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
	// Changes says what moved since the previous rollup of the program
	// (an empty list when nothing did or there is no previous rollup).
	Changes []string `json:"changes"`
}

// Health is a colour with the reasons that produced it.
type Health struct {
	Status  HealthStatus `json:"status"`
	Reasons []string     `json:"reasons"`
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

// MilestoneCounts counts milestones (cancelled excluded).
type MilestoneCounts struct {
	Total   int `json:"total"`
	Done    int `json:"done"`
	Late    int `json:"late"`
	DueSoon int `json:"due_soon"`
}

// RiskCounts counts open risks and red flags.
type RiskCounts struct {
	Open     int `json:"open"`
	RedFlags int `json:"red_flags"`
}

// Budget is the burn against plan. Ratios are nil when they cannot be
// computed (no planned budget, no program dates, no progress yet).
type Budget struct {
	Currency       string   `json:"currency,omitempty"`
	Planned        float64  `json:"planned"`
	Actual         float64  `json:"actual"`
	BurnPercent    *float64 `json:"burn_percent"`
	ElapsedPercent *float64 `json:"elapsed_percent"`
	VariancePoints *float64 `json:"variance_points"`
	Forecast       *float64 `json:"forecast_at_completion"`
}

// ItemCounts counts live items and tombstones.
type ItemCounts struct {
	Live    int `json:"live"`
	Deleted int `json:"deleted"`
}

// ItemRef points at one item behind a count.
type ItemRef struct {
	Source     string `json:"source"`
	ExternalID string `json:"external_id"`
	Title      string `json:"title"`
	URL        string `json:"url,omitempty"`
	Due        Date   `json:"due,omitempty"`
	Score      int    `json:"score,omitempty"`
	Owner      string `json:"owner,omitempty"`
}

// Compute rolls a program's items up as of the given date. It is pure:
// items, rules and dates in, rollup out. Items may include tombstones; they
// are counted as deleted and otherwise ignored.
func Compute(p Program, items []Item, sources []SourceStatus, rules Rules, asOf Date) Rollup {
	r := Rollup{ID: p.ID, Name: p.Name, AsOf: asOf, Sources: sources}
	if r.Sources == nil {
		r.Sources = []SourceStatus{}
	}
	r.Budget.Currency = p.Currency

	milestones := map[string]Item{} // by source + external id
	linked := map[string][2]int{}   // milestone key → done, total of tasks counting toward it
	var planned float64
	for _, it := range items {
		if it.Deleted() {
			r.Items.Deleted++
			continue
		}
		r.Items.Live++
		if it.State == StateCancelled {
			continue
		}
		if it.PlannedCost != nil {
			planned += *it.PlannedCost
		}
		if it.ActualCost != nil {
			r.Budget.Actual += *it.ActualCost
		}
		switch it.Kind {
		case KindTask, KindMilestone:
			r.Progress.Total++
			if it.State == StateDone {
				r.Progress.Done++
			}
		}
		switch it.Kind {
		case KindMilestone:
			milestones[it.Source+"\x00"+it.ExternalID] = it
			r.Milestones.Total++
			if it.State == StateDone {
				r.Milestones.Done++
			}
		case KindTask:
			if it.Milestone != "" {
				k := it.Source + "\x00" + it.Milestone
				c := linked[k]
				c[1]++
				if it.State == StateDone {
					c[0]++
				}
				linked[k] = c
			}
		case KindRisk:
			if it.State.Closed() {
				continue
			}
			r.Risks.Open++
			if score := it.Likelihood * it.Impact; score >= rules.RedFlagScore {
				r.Risks.RedFlags++
				r.RedFlags = append(r.RedFlags, ref(it, score))
			}
		}
	}
	r.Progress.Percent = percent(r.Progress.Done, r.Progress.Total)

	var behind []ItemRef
	for k, m := range milestones {
		if m.State == StateDone || m.Due.IsZero() {
			continue
		}
		switch {
		case m.Due.Before(asOf):
			r.Milestones.Late++
			r.Late = append(r.Late, ref(m, 0))
		case asOf.DaysUntil(m.Due) <= rules.DueSoonDays:
			r.Milestones.DueSoon++
			r.DueSoon = append(r.DueSoon, ref(m, 0))
			if milestoneBehind(m, linked[k], p, asOf) {
				behind = append(behind, ref(m, 0))
			}
		}
	}
	byDue := func(a, b ItemRef) int {
		return cmp.Or(cmp.Compare(a.Due, b.Due), cmp.Compare(a.Source, b.Source), cmp.Compare(a.ExternalID, b.ExternalID))
	}
	slices.SortFunc(r.Late, byDue)
	slices.SortFunc(r.DueSoon, byDue)
	slices.SortFunc(behind, byDue)
	slices.SortFunc(r.RedFlags, func(a, b ItemRef) int {
		return cmp.Or(-cmp.Compare(a.Score, b.Score), cmp.Compare(a.Source, b.Source), cmp.Compare(a.ExternalID, b.ExternalID))
	})
	if r.Late == nil {
		r.Late = []ItemRef{}
	}
	if r.DueSoon == nil {
		r.DueSoon = []ItemRef{}
	}
	if r.RedFlags == nil {
		r.RedFlags = []ItemRef{}
	}

	r.Budget.Planned = planned
	if p.Budget != nil {
		r.Budget.Planned = *p.Budget
	}
	r.Budget.Actual = round2(r.Budget.Actual)
	r.Budget.Planned = round2(r.Budget.Planned)
	if r.Budget.Planned > 0 {
		r.Budget.BurnPercent = ptr(round2(100 * r.Budget.Actual / r.Budget.Planned))
	}
	if e, ok := elapsed(p.Start, p.End, asOf); ok {
		r.Budget.ElapsedPercent = ptr(round2(e))
	}
	if r.Budget.BurnPercent != nil && r.Budget.ElapsedPercent != nil {
		r.Budget.VariancePoints = ptr(round2(*r.Budget.BurnPercent - *r.Budget.ElapsedPercent))
	}
	if r.Progress.Done > 0 && r.Budget.Actual > 0 {
		r.Budget.Forecast = ptr(round2(r.Budget.Actual * float64(r.Progress.Total) / float64(r.Progress.Done)))
	}

	r.Health = health(r, behind, rules)
	r.Version = version(r)
	return r
}

// milestoneBehind reports whether a due-soon milestone's progress trails the
// time elapsed between its start (or the program's) and its due date.
// Progress is the done share of the tasks that count toward it, else its own
// percent complete; a milestone with neither has no known progress and is
// not called behind (it is still counted as due soon).
func milestoneBehind(m Item, linked [2]int, p Program, asOf Date) bool {
	var progress float64
	switch {
	case linked[1] > 0:
		progress = 100 * float64(linked[0]) / float64(linked[1])
	case m.PercentComplete != nil:
		progress = *m.PercentComplete
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

func health(r Rollup, behind []ItemRef, rules Rules) Health {
	var red, amber []string
	if n := r.Milestones.Late; n > 0 {
		red = append(red, fmt.Sprintf("%s late: %s", plural(n, "milestone"), names(r.Late)))
	}
	if n := r.Risks.RedFlags; n >= rules.RedFlagsForRed {
		red = append(red, fmt.Sprintf("%s (score ≥ %d): %s", plural(n, "red-flag risk"), rules.RedFlagScore, names(r.RedFlags)))
	} else if n > 0 {
		amber = append(amber, fmt.Sprintf("%s (score ≥ %d): %s", plural(n, "red-flag risk"), rules.RedFlagScore, names(r.RedFlags)))
	}
	if v := r.Budget.VariancePoints; v != nil {
		msg := fmt.Sprintf("budget burn %.1f%% vs %.1f%% of time elapsed (%+.1f points)", *r.Budget.BurnPercent, *r.Budget.ElapsedPercent, *v)
		switch {
		case *v > rules.VarianceRedPoints:
			red = append(red, msg)
		case *v > rules.VarianceAmberPoint:
			amber = append(amber, msg)
		}
	}
	if len(behind) > 0 {
		amber = append(amber, fmt.Sprintf("%s due within %d days and behind: %s", plural(len(behind), "milestone"), rules.DueSoonDays, names(behind)))
	}
	// Figures from a source that stopped syncing look healthy for the wrong
	// reason: say so rather than report green on old data.
	for _, s := range r.Sources {
		switch {
		case s.LastSuccess.IsZero():
			amber = append(amber, fmt.Sprintf("source %s has never synced: its items are missing", s.Source))
		case s.Stale:
			// The error stays in sources[].last_error: its text varies from
			// run to run and would make every rollup a new version.
			amber = append(amber, fmt.Sprintf("source %s is stale: last synced %s", s.Source, s.LastSuccess.UTC().Format("2006-01-02 15:04 MST")))
		}
	}
	switch {
	case len(red) > 0:
		return Health{Status: Red, Reasons: append(red, amber...)}
	case len(amber) > 0:
		return Health{Status: Amber, Reasons: amber}
	}
	return Health{Status: Green, Reasons: []string{"no late milestones, no red-flag risks, budget on track"}}
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

func ref(it Item, score int) ItemRef {
	return ItemRef{Source: it.Source, ExternalID: it.ExternalID, Title: it.Title, URL: it.URL, Due: it.Due, Score: score, Owner: it.Owner}
}

func percent(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return round2(100 * float64(n) / float64(d))
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

func ptr(f float64) *float64 { return &f }

// version fingerprints what a rollup says (not when it was made), so that a
// push happens once per distinct content.
func version(r Rollup) string {
	r.Version = ""
	r.Changes = nil
	r.Sources = nil // sync times move every run; they are not news
	b, _ := json.Marshal(r)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// Changes describes, in a few short lines, what moved between two rollups of
// the same program.
func Changes(prev, cur Rollup) []string {
	var out []string
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
	if d := cur.Risks.RedFlags - prev.Risks.RedFlags; d != 0 {
		out = append(out, fmt.Sprintf("red-flag risks %d → %d", prev.Risks.RedFlags, cur.Risks.RedFlags))
	}
	if p, c := prev.Budget.BurnPercent, cur.Budget.BurnPercent; p != nil && c != nil && math.Abs(*c-*p) >= 0.01 {
		out = append(out, fmt.Sprintf("budget burn %.1f%% → %.1f%%", *p, *c))
	}
	return out
}
