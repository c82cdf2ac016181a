package pmsync

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// HealthRules colour a program: red when any Red rule holds, else amber
// when any Amber rule holds, else green. A nil list stands for the default
// list of that colour; an empty one for none.
type HealthRules struct {
	Red   []HealthRule
	Amber []HealthRule
}

// HealthRule is one compiled health expression over the rollup's figures,
// such as "milestones.late > 0" or "budget.variance_points >
// rules.variance_red_points". HealthFigures lists what it may read.
type HealthRule struct {
	Expr    string
	program *vm.Program
	figures []string // the figures it reads, as "section.name"
}

// DefaultRed and DefaultAmber return the default health rules: the
// documented semantics, with the thresholds read from rules.* so that the
// numeric settings keep working.
func DefaultRed() []string {
	return []string{
		"milestones.late > 0",
		"risks.red_flags >= rules.red_flags_for_red",
		"budget.variance_points > rules.variance_red_points",
	}
}

// DefaultAmber: see DefaultRed.
func DefaultAmber() []string {
	return []string{
		"risks.red_flags > 0",
		"budget.variance_points > rules.variance_amber_points",
		"milestones.behind > 0",
		"sources.never_synced > 0",
		"sources.stale > 0",
		"sources.quarantined > 0",
	}
}

// greenDefault is the reason of green under the default rules.
const greenDefault = "no late milestones, no red-flag risks, budget on track"

// CompileHealthRule compiles one health expression. It must yield a bool
// and may read only the figures HealthFigures lists and the rules.*
// thresholds; the error says what is wrong, for the config file to place.
func CompileHealthRule(src string) (HealthRule, error) {
	if strings.TrimSpace(src) == "" {
		return HealthRule{}, fmt.Errorf("health rule is empty")
	}
	prog, err := expr.Compile(src, expr.Env(healthEnv{}), expr.AsBool())
	if err != nil {
		return HealthRule{}, fmt.Errorf("health rule %q: %w", src, err)
	}
	node := prog.Node()
	var v figureVisitor
	ast.Walk(&node, &v)
	return HealthRule{Expr: src, program: prog, figures: v.figures}, nil
}

// CompileHealthRules compiles a list of expressions; the error of the
// first bad one names its index.
func CompileHealthRules(srcs []string) ([]HealthRule, error) {
	out := make([]HealthRule, 0, len(srcs))
	for i, src := range srcs {
		r, err := CompileHealthRule(src)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// DefaultHealthRules returns the default rule set, compiled.
func DefaultHealthRules() HealthRules {
	red, err := CompileHealthRules(DefaultRed())
	if err != nil {
		panic("pmsync: default red rules: " + err.Error())
	}
	amber, err := CompileHealthRules(DefaultAmber())
	if err != nil {
		panic("pmsync: default amber rules: " + err.Error())
	}
	return HealthRules{Red: red, Amber: amber}
}

type figureVisitor struct{ figures []string }

// Visit collects the figures a rule reads: section.name member accesses.
func (v *figureVisitor) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok {
		return
	}
	id, ok1 := m.Node.(*ast.IdentifierNode)
	prop, ok2 := m.Property.(*ast.StringNode)
	if !ok1 || !ok2 || id.Value == "rules" {
		return
	}
	if f := id.Value + "." + prop.Value; !slices.Contains(v.figures, f) {
		v.figures = append(v.figures, f)
	}
}

// healthEnv is what a health expression sees: the rollup's figures under
// the names of the JSON document, and the thresholds under rules.
type healthEnv struct {
	Progress   envProgress   `expr:"progress"`
	Milestones envMilestones `expr:"milestones"`
	Risks      envRisks      `expr:"risks"`
	Budget     envBudget     `expr:"budget"`
	Items      envItems      `expr:"items"`
	Sources    envSources    `expr:"sources"`
	Throughput envThroughput `expr:"throughput"`
	Rules      envRules      `expr:"rules"`
}

type envProgress struct {
	Done    int      `expr:"done"`
	Total   int      `expr:"total"`
	Percent *float64 `expr:"percent"`
}

type envMilestones struct {
	Total    int `expr:"total"`
	Done     int `expr:"done"`
	Late     int `expr:"late"`
	DueSoon  int `expr:"due_soon"`
	Behind   int `expr:"behind"`
	AtRisk   int `expr:"at_risk"`
	Slipped  int `expr:"slipped"`
	SlipDays int `expr:"slip_days"`
}

type envRisks struct {
	Open     int `expr:"open"`
	RedFlags int `expr:"red_flags"`
	MaxScore int `expr:"max_score"`
}

type envBudget struct {
	Planned        float64  `expr:"planned"`
	Actual         float64  `expr:"actual"`
	BurnPercent    *float64 `expr:"burn_percent"`
	ElapsedPercent *float64 `expr:"elapsed_percent"`
	VariancePoints *float64 `expr:"variance_points"`
	Forecast       *float64 `expr:"forecast_at_completion"`
	Remaining      *float64 `expr:"remaining"`
	BurnRate       *float64 `expr:"burn_rate_per_week"`
	EarnedValue    *float64 `expr:"earned_value"`
	CostVariance   *float64 `expr:"cost_variance"`
}

type envItems struct {
	Live    int `expr:"live"`
	Deleted int `expr:"deleted"`
}

type envSources struct {
	Total       int `expr:"total"`
	Stale       int `expr:"stale"`
	NeverSynced int `expr:"never_synced"`
	Quarantined int `expr:"quarantined"`
}

type envThroughput struct {
	Done7     int  `expr:"done_7d"`
	Done28    int  `expr:"done_28d"`
	Created7  *int `expr:"created_7d"`
	Created28 *int `expr:"created_28d"`
}

type envRules struct {
	DueSoonDays         int     `expr:"due_soon_days"`
	RedFlagScore        int     `expr:"red_flag_score"`
	RedFlagsForRed      int     `expr:"red_flags_for_red"`
	VarianceRedPoints   float64 `expr:"variance_red_points"`
	VarianceAmberPoints float64 `expr:"variance_amber_points"`
}

// HealthFigures lists the figures a health rule can read.
func HealthFigures() []string {
	return []string{
		"progress.done", "progress.total", "progress.percent",
		"milestones.total", "milestones.done", "milestones.late", "milestones.due_soon", "milestones.behind",
		"milestones.at_risk", "milestones.slipped", "milestones.slip_days",
		"risks.open", "risks.red_flags", "risks.max_score",
		"budget.planned", "budget.actual", "budget.burn_percent", "budget.elapsed_percent", "budget.variance_points",
		"budget.forecast_at_completion", "budget.remaining", "budget.burn_rate_per_week", "budget.earned_value", "budget.cost_variance",
		"items.live", "items.deleted",
		"sources.total", "sources.stale", "sources.never_synced", "sources.quarantined",
		"throughput.done_7d", "throughput.done_28d", "throughput.created_7d", "throughput.created_28d",
	}
}

func newHealthEnv(r *Rollup, rules Rules) healthEnv {
	env := healthEnv{
		Progress:   envProgress{Done: r.Progress.Done, Total: r.Progress.Total},
		Milestones: envMilestones{Total: r.Milestones.Total, Done: r.Milestones.Done, Late: r.Milestones.Late, DueSoon: r.Milestones.DueSoon, Behind: r.Milestones.Behind, AtRisk: r.Milestones.AtRisk, Slipped: r.Milestones.Slipped, SlipDays: r.Milestones.SlipDays},
		Risks:      envRisks{Open: r.Risks.Open, RedFlags: r.Risks.RedFlags},
		Budget: envBudget{Planned: r.Budget.Planned, Actual: r.Budget.Actual, BurnPercent: r.Budget.BurnPercent, ElapsedPercent: r.Budget.ElapsedPercent,
			VariancePoints: r.Budget.VariancePoints, Forecast: r.Budget.Forecast, Remaining: r.Budget.Remaining, BurnRate: r.Budget.BurnRate,
			EarnedValue: r.Budget.EarnedValue, CostVariance: r.Budget.CostVariance},
		Items:      envItems{Live: r.Items.Live, Deleted: r.Items.Deleted},
		Throughput: envThroughput{Done7: r.Throughput.Done7, Done28: r.Throughput.Done28, Created7: r.Throughput.Created7, Created28: r.Throughput.Created28},
		Rules: envRules{DueSoonDays: rules.DueSoonDays, RedFlagScore: rules.RedFlagScore, RedFlagsForRed: rules.RedFlagsForRed,
			VarianceRedPoints: rules.VarianceRedPoints, VarianceAmberPoints: rules.VarianceAmberPoint},
	}
	if r.Progress.Total > 0 {
		env.Progress.Percent = &r.Progress.Percent
	}
	for _, f := range r.RedFlags {
		env.Risks.MaxScore = max(env.Risks.MaxScore, f.Score)
	}
	for _, s := range r.Sources {
		env.Sources.Total++
		switch {
		case s.LastSuccess.IsZero():
			env.Sources.NeverSynced++
		case s.Stale:
			env.Sources.Stale++
		}
		env.Sources.Quarantined += s.Quarantined
	}
	return env
}

// figureNil reports whether a figure the rule reads cannot be computed.
func (env *healthEnv) figureNil(f string) bool {
	switch f {
	case "progress.percent":
		return env.Progress.Percent == nil
	case "budget.burn_percent":
		return env.Budget.BurnPercent == nil
	case "budget.elapsed_percent":
		return env.Budget.ElapsedPercent == nil
	case "budget.variance_points":
		return env.Budget.VariancePoints == nil
	case "budget.forecast_at_completion":
		return env.Budget.Forecast == nil
	case "budget.remaining":
		return env.Budget.Remaining == nil
	case "budget.burn_rate_per_week":
		return env.Budget.BurnRate == nil
	case "budget.earned_value":
		return env.Budget.EarnedValue == nil
	case "budget.cost_variance":
		return env.Budget.CostVariance == nil
	case "throughput.created_7d":
		return env.Throughput.Created7 == nil
	case "throughput.created_28d":
		return env.Throughput.Created28 == nil
	}
	return false
}

// evaluateHealth runs the program's health rules. A rule that reads a
// figure which cannot be computed (null) does not fire, unless it tests
// for null itself; one that fails for another reason makes the program
// amber and says so, so that a broken rule is seen.
func evaluateHealth(r *Rollup, behind []ItemRef, rules Rules, loc *time.Location) Health {
	red, amber := rules.Health.Red, rules.Health.Amber
	isDefault := red == nil && amber == nil
	if red == nil || amber == nil {
		def := DefaultHealthRules()
		if red == nil {
			red = def.Red
		}
		if amber == nil {
			amber = def.Amber
		}
	}
	env := newHealthEnv(r, rules)
	words := healthWords{r: r, behind: behind, rules: rules, loc: loc}
	h := Health{Status: Green, Reasons: []string{}, Rules: []FiredRule{}}
	fire := func(status HealthStatus, list []HealthRule) {
		for _, rule := range list {
			out, err := expr.Run(rule.program, env)
			if err != nil {
				if slices.ContainsFunc(rule.figures, env.figureNil) {
					continue
				}
				h.Rules = append(h.Rules, FiredRule{Status: Amber, Rule: rule.Expr, Reasons: []string{fmt.Sprintf("health rule %q could not be evaluated: %v", rule.Expr, firstLine(err.Error()))}})
				continue
			}
			if fired, _ := out.(bool); !fired {
				continue
			}
			fr := FiredRule{Status: status, Rule: rule.Expr, Reasons: []string{}}
			for _, f := range rule.figures {
				for _, w := range words.describe(f) {
					if !slices.Contains(fr.Reasons, w) {
						fr.Reasons = append(fr.Reasons, w)
					}
				}
			}
			if len(fr.Reasons) == 0 {
				fr.Reasons = append(fr.Reasons, "health rule "+rule.Expr+" holds")
			}
			h.Rules = append(h.Rules, fr)
		}
	}
	fire(Red, red)
	fire(Amber, amber)
	for _, fr := range h.Rules {
		switch {
		case fr.Status == Red:
			h.Status = Red
		case fr.Status == Amber && h.Status == Green:
			h.Status = Amber
		}
	}
	// Red reasons first, then amber, each said once.
	for _, status := range []HealthStatus{Red, Amber} {
		for _, fr := range h.Rules {
			if fr.Status != status {
				continue
			}
			for _, w := range fr.Reasons {
				if !slices.Contains(h.Reasons, w) {
					h.Reasons = append(h.Reasons, w)
				}
			}
		}
	}
	if h.Status == Green {
		if isDefault {
			h.Reasons = []string{greenDefault}
		} else {
			h.Reasons = []string{"no health rule fired"}
		}
	}
	return h
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// healthWords says what a figure is, in the words a reason uses.
type healthWords struct {
	r      *Rollup
	behind []ItemRef
	rules  Rules
	// loc is the zone times are written in (the configuration's), so that
	// a reason reads in the zone of every other time the reader sees.
	loc *time.Location
}

func (w healthWords) describe(figure string) []string {
	r := w.r
	b := r.Budget
	switch figure {
	case "milestones.late":
		if r.Milestones.Late == 0 {
			return []string{"no milestone late"}
		}
		return []string{fmt.Sprintf("%s late: %s", plural(r.Milestones.Late, "milestone"), names(r.Late))}
	case "milestones.due_soon":
		if r.Milestones.DueSoon == 0 {
			return []string{fmt.Sprintf("no milestone due within %d days", w.rules.DueSoonDays)}
		}
		return []string{fmt.Sprintf("%s due within %d days: %s", plural(r.Milestones.DueSoon, "milestone"), w.rules.DueSoonDays, names(r.DueSoon))}
	case "milestones.behind":
		if len(w.behind) == 0 {
			return []string{"no milestone due soon is behind"}
		}
		return []string{fmt.Sprintf("%s due within %d days and behind: %s", plural(len(w.behind), "milestone"), w.rules.DueSoonDays, names(w.behind))}
	case "milestones.at_risk":
		if len(r.AtRisk) == 0 {
			return []string{"no milestone at risk"}
		}
		var parts []string
		for i, m := range r.AtRisk {
			if i == 3 {
				parts = append(parts, fmt.Sprintf("and %d more", len(r.AtRisk)-3))
				break
			}
			parts = append(parts, fmt.Sprintf("%s (due %s, forecast p85 %s)", m.Title, m.Due, m.Forecast.P85))
		}
		return []string{fmt.Sprintf("%s at risk: %s", plural(len(r.AtRisk), "milestone"), strings.Join(parts, ", "))}
	case "milestones.slipped", "milestones.slip_days":
		if len(r.Slips) == 0 {
			return []string{"no milestone slipped"}
		}
		var parts []string
		for i, s := range r.Slips {
			if i == 3 {
				parts = append(parts, fmt.Sprintf("and %d more", len(r.Slips)-3))
				break
			}
			parts = append(parts, fmt.Sprintf("%s (+%d days, baseline %s, due %s)", s.Title, s.Days, s.Baseline, s.Due))
		}
		return []string{fmt.Sprintf("%s slipped by %d days in all: %s", plural(r.Milestones.Slipped, "milestone"), r.Milestones.SlipDays, strings.Join(parts, ", "))}
	case "milestones.total", "milestones.done":
		return []string{fmt.Sprintf("%d of %s done", r.Milestones.Done, plural(r.Milestones.Total, "milestone"))}
	case "risks.red_flags", "risks.max_score":
		if r.Risks.RedFlags == 0 {
			return []string{fmt.Sprintf("no red-flag risk (score ≥ %d)", w.rules.RedFlagScore)}
		}
		return []string{fmt.Sprintf("%s (score ≥ %d): %s", plural(r.Risks.RedFlags, "red-flag risk"), w.rules.RedFlagScore, names(r.RedFlags))}
	case "risks.open":
		return []string{plural(r.Risks.Open, "open risk")}
	case "budget.variance_points", "budget.elapsed_percent":
		if b.VariancePoints == nil {
			return []string{"budget burn against time elapsed is unknown (no planned budget or no program dates)"}
		}
		return []string{fmt.Sprintf("budget burn %.1f%% vs %.1f%% of time elapsed (%+.1f points)", *b.BurnPercent, *b.ElapsedPercent, *b.VariancePoints)}
	case "budget.burn_percent", "budget.planned", "budget.actual", "budget.remaining":
		if b.BurnPercent == nil {
			return []string{fmt.Sprintf("%s spent, no planned budget", w.money(b.Actual))}
		}
		return []string{fmt.Sprintf("budget burn %.1f%%: %s of %s spent, %s remaining", *b.BurnPercent, w.money(b.Actual), w.money(b.Planned), w.money(*b.Remaining))}
	case "budget.burn_rate_per_week":
		if b.BurnRate == nil {
			return []string{"burn rate unknown (no rollup four weeks old yet)"}
		}
		s := fmt.Sprintf("spending %s a week over the last 4 weeks", w.money(*b.BurnRate))
		if b.RunsOut != nil {
			s += fmt.Sprintf("; the budget runs out on %s at that rate", *b.RunsOut)
		}
		return []string{s}
	case "budget.earned_value", "budget.cost_variance":
		if b.CostVariance == nil {
			return []string{"cost variance unknown (no planned budget or no work)"}
		}
		return []string{fmt.Sprintf("cost variance %s: work worth %s done for %s spent", w.money(*b.CostVariance), w.money(*b.EarnedValue), w.money(b.Actual))}
	case "budget.forecast_at_completion":
		if b.Forecast == nil {
			return []string{"forecast at completion unknown (nothing done or spent yet)"}
		}
		return []string{fmt.Sprintf("forecast at completion %s against %s planned", w.money(*b.Forecast), w.money(b.Planned))}
	case "progress.done", "progress.total", "progress.percent":
		if r.Progress.Total == 0 {
			return []string{"no work to measure progress by"}
		}
		return []string{fmt.Sprintf("progress %.1f%% (%d of %d done)", r.Progress.Percent, r.Progress.Done, r.Progress.Total)}
	case "items.live", "items.deleted":
		return []string{fmt.Sprintf("%s, %d deleted at the source", plural(r.Items.Live, "live item"), r.Items.Deleted)}
	case "sources.never_synced":
		var out []string
		for _, s := range r.Sources {
			if s.LastSuccess.IsZero() {
				out = append(out, fmt.Sprintf("source %s has never synced: its items are missing", s.Source))
			}
		}
		return out
	case "sources.stale":
		var out []string
		for _, s := range r.Sources {
			if s.Stale && !s.LastSuccess.IsZero() {
				// The error stays in sources[].last_error: its text varies
				// from run to run and would make every rollup a new version.
				out = append(out, fmt.Sprintf("source %s is stale: last synced %s", s.Source, s.LastSuccess.In(w.loc).Format("2006-01-02 15:04 MST")))
			}
		}
		return out
	case "sources.quarantined":
		var out []string
		for _, s := range r.Sources {
			if s.Quarantined > 0 {
				out = append(out, fmt.Sprintf("source %s has %s in quarantine: figures are built on incomplete data (pmsync quarantine --source %s)", s.Source, plural(s.Quarantined, "record"), s.Source))
			}
		}
		return out
	case "sources.total":
		return []string{plural(len(r.Sources), "source")}
	case "throughput.done_7d", "throughput.created_7d":
		return []string{fmt.Sprintf("%d done and %s created in the last 7 days", r.Throughput.Done7, count(r.Throughput.Created7))}
	case "throughput.done_28d", "throughput.created_28d":
		return []string{fmt.Sprintf("%d done and %s created in the last 28 days", r.Throughput.Done28, count(r.Throughput.Created28))}
	}
	return nil
}

func (w healthWords) money(f float64) string {
	s := Money(f, 0)
	if c := w.r.Budget.Currency; c != "" {
		s += " " + c
	}
	return s
}

func count(n *int) string {
	if n == nil {
		return "an unknown number"
	}
	return fmt.Sprint(*n)
}

// Equal reports whether two rules are the same expression (compiled
// programs are not comparable), for tests and go-cmp.
func (r HealthRule) Equal(o HealthRule) bool { return r.Expr == o.Expr }
