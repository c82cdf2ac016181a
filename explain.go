package pmsync

// ExplainSchema is the version of the explanation document of `pmsync
// rollup --explain --format json` and the JSON API.
const ExplainSchema = "pmsync.explain/v1"

// Explanation lists, for every figure of a program's rollup, the items
// behind it.
type Explanation struct {
	Program string   `json:"program"`
	Name    string   `json:"name"`
	AsOf    Date     `json:"as_of"`
	Figures []Figure `json:"figures"`
}

// Figure is one figure of the rollup, how it is computed and the items it
// counts or adds up. A figure derived from others names them in How and
// lists no items of its own.
type Figure struct {
	Name  string     `json:"name"` // as in the document: "milestones.late"
	Value any        `json:"value"`
	How   string     `json:"how"`
	Items []Evidence `json:"items"`
}

// Evidence is one item behind a figure.
type Evidence struct {
	Source      string   `json:"source"`
	ExternalID  string   `json:"external_id"`
	Kind        Kind     `json:"kind"`
	State       State    `json:"state"`
	Title       string   `json:"title"`
	Due         Date     `json:"due,omitempty"`
	Score       int      `json:"score,omitempty"`
	PlannedCost *float64 `json:"planned_cost,omitempty"`
	ActualCost  *float64 `json:"actual_cost,omitempty"`
	Owner       string   `json:"owner,omitempty"`
	URL         string   `json:"url,omitempty"`
	// Note says what about the item counts here ("done 2026-06-01").
	Note string `json:"note,omitempty"`
}

// ExplainReport is the explanation document: one Explanation per program.
type ExplainReport struct {
	Schema   string        `json:"schema"`
	AsOf     Date          `json:"as_of"`
	Programs []Explanation `json:"programs"`
}

// explainer collects evidence while a rollup is built. Its methods do
// nothing on a nil explainer, so that the rollup pays nothing unless asked.
type explainer struct {
	items   []Item // the program's items; evidence names them by index
	figures map[string]*Figure
	order   []string
	values  map[string]any
	linked  map[int32][]int // open tasks by the milestone they count toward (indexes)
}

// explainFigures are the figures every explanation lists, in order, with
// how each is computed.
func explainFigures() [][2]string {
	return [][2]string{
		{"items.live", "items of the program's sources that still exist at the source"},
		{"items.deleted", "items deleted at their source (kept as tombstones, otherwise ignored)"},
		{"progress.total", "tasks and milestones, cancelled excluded"},
		{"progress.done", "tasks and milestones done"},
		{"progress.percent", "progress.done ÷ progress.total × 100; null without work"},
		{"milestones.total", "milestones, cancelled excluded"},
		{"milestones.done", "milestones done"},
		{"milestones.late", "open milestones due before the as-of date"},
		{"milestones.due_soon", "open milestones due from the as-of date to rules.due_soon_days after it"},
		{"milestones.behind", "due-soon milestones whose progress trails the time elapsed toward their due date"},
		{"milestones.at_risk", "open milestones, not late, whose forecast p85 is after their due date"},
		{"milestones.slipped", "open milestones due later than their baseline (the first due date pmsync saw, or fields.baseline_due)"},
		{"milestones.slip_days", "the days the slipped milestones are due later than their baselines, added up"},
		{"risks.open", "risks neither done nor cancelled"},
		{"risks.red_flags", "open risks whose likelihood × impact is at least rules.red_flag_score"},
		{"budget.planned", "the items' planned costs added up (cancelled excluded)"},
		{"budget.actual", "the items' actual costs added up (cancelled excluded)"},
		{"budget.burn_percent", "budget.actual ÷ budget.planned × 100"},
		{"budget.elapsed_percent", "days from the program's start to the as-of date ÷ days from start to end × 100"},
		{"budget.variance_points", "budget.burn_percent − budget.elapsed_percent"},
		{"budget.forecast_at_completion", "budget.actual × progress.total ÷ progress.done"},
		{"budget.remaining", "budget.planned − budget.actual"},
		{"budget.burn_rate_per_week", "spend per week since the newest snapshot at least four weeks old; null without one"},
		{"budget.runs_out_on", "the as-of date plus budget.remaining ÷ budget.burn_rate_per_week weeks"},
		{"budget.earned_value", "budget.planned × progress.done ÷ progress.total"},
		{"budget.cost_variance", "budget.earned_value − budget.actual"},
		{"throughput.done_7d", "tasks and milestones done in the 7 days up to the as-of date (done time from the tool, else when pmsync saw it)"},
		{"throughput.done_28d", "tasks and milestones done in the 28 days up to the as-of date"},
		{"throughput.created_7d", "tasks and milestones first seen in the 7 days up to the as-of date, after their source's first complete sync"},
		{"throughput.created_28d", "tasks and milestones first seen in the 28 days up to the as-of date, after their source's first complete sync"},
	}
}

func newExplainer(items []Item) *explainer {
	e := &explainer{items: items, figures: map[string]*Figure{}, values: map[string]any{}, linked: map[int32][]int{}}
	for _, f := range explainFigures() {
		e.declare(f[0], f[1])
	}
	return e
}

// declare adds a figure, or replaces how an existing one is computed.
func (e *explainer) declare(name, how string) {
	if e == nil {
		return
	}
	if f, ok := e.figures[name]; ok {
		f.How = how
		return
	}
	e.figures[name] = &Figure{Name: name, How: how, Items: []Evidence{}}
	e.order = append(e.order, name)
}

func (e *explainer) clear(name string) {
	if e == nil {
		return
	}
	if f, ok := e.figures[name]; ok {
		f.Items = []Evidence{}
	}
}

func (e *explainer) value(name string, v any) {
	if e == nil {
		return
	}
	e.values[name] = v
}

// add names item i of the program as evidence of a figure. It does
// nothing on a nil explainer, but Go evaluates the arguments first: a
// caller whose note takes formatting checks for nil itself, so that a
// rollup without explanation pays nothing for notes.
func (e *explainer) add(name string, i int, note string) {
	if e == nil {
		return
	}
	it := &e.items[i]
	f, ok := e.figures[name]
	if !ok {
		e.declare(name, "")
		f = e.figures[name]
	}
	ev := Evidence{Source: it.Source, ExternalID: it.ExternalID, Kind: it.Kind, State: it.State, Title: it.Title, Due: it.Due,
		PlannedCost: it.PlannedCost, ActualCost: it.ActualCost, Owner: it.Owner, URL: it.URL, Note: note}
	if it.Kind == KindRisk {
		ev.Score = it.Likelihood * it.Impact
	}
	f.Items = append(f.Items, ev)
}

// finish fills in each figure's value from the finished rollup.
func (e *explainer) finish(r *Rollup, p Program) *Explanation {
	if e == nil {
		return nil
	}
	b := r.Budget
	var pct *float64
	if r.Progress.Total > 0 {
		pct = &r.Progress.Percent
	}
	values := map[string]any{
		"items.live": r.Items.Live, "items.deleted": r.Items.Deleted,
		"progress.total": r.Progress.Total, "progress.done": r.Progress.Done, "progress.percent": pct,
		"milestones.total": r.Milestones.Total, "milestones.done": r.Milestones.Done, "milestones.late": r.Milestones.Late,
		"milestones.due_soon": r.Milestones.DueSoon, "milestones.behind": r.Milestones.Behind, "milestones.at_risk": r.Milestones.AtRisk,
		"milestones.slipped": r.Milestones.Slipped, "milestones.slip_days": r.Milestones.SlipDays,
		"risks.open": r.Risks.Open, "risks.red_flags": r.Risks.RedFlags,
		"budget.planned": b.Planned, "budget.actual": b.Actual, "budget.burn_percent": b.BurnPercent,
		"budget.elapsed_percent": b.ElapsedPercent, "budget.variance_points": b.VariancePoints,
		"budget.forecast_at_completion": b.Forecast, "budget.remaining": b.Remaining, "budget.burn_rate_per_week": b.BurnRate,
		"budget.runs_out_on": b.RunsOut, "budget.earned_value": b.EarnedValue, "budget.cost_variance": b.CostVariance,
		"throughput.done_7d": r.Throughput.Done7, "throughput.done_28d": r.Throughput.Done28,
		"throughput.created_7d": r.Throughput.Created7, "throughput.created_28d": r.Throughput.Created28,
	}
	for k, v := range e.values {
		values[k] = v
	}
	out := &Explanation{Program: p.ID, Name: p.Name, AsOf: r.AsOf, Figures: make([]Figure, 0, len(e.order))}
	for _, name := range e.order {
		f := *e.figures[name]
		f.Value = values[name]
		out.Figures = append(out.Figures, f)
	}
	return out
}
