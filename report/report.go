// Package report renders rollup documents for people and programs: a
// terminal table, JSON (the versioned pmsync.rollup/v1 document), CSV and
// Markdown.
package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/pmsync/pmsync"
)

// Formats lists the supported output formats.
var Formats = []string{"table", "json", "csv", "md"}

// Write renders rep in the named format.
func Write(w io.Writer, rep pmsync.Report, format string) error {
	switch format {
	case "table", "":
		return Table(w, rep)
	case "json":
		return JSON(w, rep)
	case "csv":
		return CSV(w, rep)
	case "md":
		return Markdown(w, rep)
	}
	return fmt.Errorf("unknown format %q (use %s)", format, strings.Join(Formats, ", "))
}

// JSON writes the versioned rollup document. Missing lists are written as
// [] rather than null, and a missing schema as pmsync.Schema, so that every
// core key of the document keeps its type whoever built the report.
func JSON(w io.Writer, rep pmsync.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(normalize(rep)); err != nil {
		return fmt.Errorf("write rollup json: %w", err)
	}
	return nil
}

// normalize returns a copy of rep with nil lists made empty; rep itself is
// left alone because callers may share its slices.
func normalize(rep pmsync.Report) pmsync.Report {
	if rep.Schema == "" {
		rep.Schema = pmsync.Schema
	}
	programs := make([]pmsync.Rollup, len(rep.Programs))
	for i, r := range rep.Programs {
		r.Health.Reasons = orEmpty(r.Health.Reasons)
		r.Health.Rules = orEmpty(r.Health.Rules)
		r.Sources = orEmpty(r.Sources)
		r.Late = orEmpty(r.Late)
		r.DueSoon = orEmpty(r.DueSoon)
		r.RedFlags = orEmpty(r.RedFlags)
		r.RiskMatrix.Cells = orEmpty(r.RiskMatrix.Cells)
		r.NextMilestones = orEmpty(r.NextMilestones)
		r.AtRisk = orEmpty(r.AtRisk)
		r.Slips = orEmpty(r.Slips)
		r.Changes = orEmpty(r.Changes)
		r.Forecasting.Weekly = orEmpty(r.Forecasting.Weekly)
		r.Trend.Points = orEmpty(r.Trend.Points)
		programs[i] = r
	}
	rep.Programs = programs
	rep.Portfolio = normalizePortfolio(rep.Portfolio)
	groups := make([]pmsync.Portfolio, len(rep.Portfolios))
	for i, g := range rep.Portfolios {
		groups[i] = normalizePortfolio(g)
	}
	rep.Portfolios = groups
	return rep
}

func normalizePortfolio(p pmsync.Portfolio) pmsync.Portfolio {
	p.Programs = orEmpty(p.Programs)
	p.Attention = orEmpty(p.Attention)
	p.RedFlags = orEmpty(p.RedFlags)
	p.Late = orEmpty(p.Late)
	p.Slips = orEmpty(p.Slips)
	p.Changes = orEmpty(p.Changes)
	p.Trend.Points = orEmpty(p.Trend.Points)
	p.Budget.ByCurrency = orEmpty(p.Budget.ByCurrency)
	return p
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// stickyWriter keeps the first write error so that renderers built from
// many Fprintf calls can report a full disk or a closed pipe once, at the end.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	s.err = err
	return n, err
}

func pct(p *float64) string {
	if p == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", *p)
}

func signed(p *float64) string {
	if p == nil {
		return "—"
	}
	return fmt.Sprintf("%+.1f", *p)
}

// Table writes the executive view: the portfolio's totals and the
// programs in order of need of attention, one line per program, then one
// block per program.
func Table(w io.Writer, rep pmsync.Report) error {
	sw := &stickyWriter{w: w}
	fmt.Fprintf(sw, "Rollup as of %s", rep.AsOf)
	if rep.Version != "" {
		fmt.Fprintf(sw, " (report %s)", rep.Version)
	}
	fmt.Fprint(sw, "\n\n")
	if len(rep.Programs) > 0 {
		portfolioBlock(sw, "PORTFOLIO", rep.Portfolio)
		for _, g := range rep.Portfolios {
			name := g.Name
			if name == "" {
				name = "(no portfolio)"
			}
			portfolioBlock(sw, "PORTFOLIO "+name, g)
		}
	}
	tw := tabwriter.NewWriter(sw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROGRAM\tHEALTH\tPROGRESS\tMILESTONES (done/total, late, due soon)\tRISKS (open, red flags)\tBUDGET BURN\tELAPSED\tVARIANCE")
	for _, r := range rep.Programs {
		fmt.Fprintf(tw, "%s\t%s\t%s (%d/%d)\t%d/%d, %d late, %d due soon\t%d open, %d red\t%s\t%s\t%s\n",
			r.Name, strings.ToUpper(string(r.Health.Status)), pct(progress(r.Progress)), r.Progress.Done, r.Progress.Total,
			r.Milestones.Done, r.Milestones.Total, r.Milestones.Late, r.Milestones.DueSoon,
			r.Risks.Open, r.Risks.RedFlags, pct(r.Budget.BurnPercent), pct(r.Budget.ElapsedPercent), signed(r.Budget.VariancePoints))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write rollup table: %w", err)
	}
	for _, r := range rep.Programs {
		fmt.Fprintf(sw, "\n%s — %s", r.Name, strings.ToUpper(string(r.Health.Status)))
		if r.Owner != "" {
			fmt.Fprintf(sw, " (sponsor %s)", r.Owner)
		}
		fmt.Fprintln(sw)
		for _, reason := range r.Health.Reasons {
			fmt.Fprintf(sw, "  • %s\n", reason)
		}
		fmt.Fprintf(sw, "  budget: %s\n", budgetLine(r.Budget))
		if s := burnLine(r.Budget); s != "" {
			fmt.Fprintf(sw, "  burn: %s\n", s)
		}
		for _, m := range r.NextMilestones {
			fmt.Fprintf(sw, "  next: %s\n", milestoneLine(m))
		}
		for _, m := range r.AtRisk {
			fmt.Fprintf(sw, "  at risk: %s — %s\n", m.Title, m.Why)
		}
		for _, x := range r.Slips {
			fmt.Fprintf(sw, "  slipped: %s\n", slipLine(x))
		}
		if t := r.Throughput; t != (pmsync.Throughput{}) {
			fmt.Fprintf(sw, "  throughput: %s\n", throughputLine(t))
		}
		if s := trendLine(r.Trend); s != "" {
			fmt.Fprintf(sw, "  trend: %s\n", s)
		}
		for _, c := range r.Changes {
			fmt.Fprintf(sw, "  changed: %s\n", c)
		}
		if cs := r.ChangesSince; cs != nil {
			for _, c := range changesSinceLines(cs) {
				fmt.Fprintf(sw, "  %s\n", c)
			}
		}
		for _, s := range r.Sources {
			fmt.Fprintf(sw, "  source %s\n", sourceLine(s))
		}
	}
	if sw.err != nil {
		return fmt.Errorf("write rollup table: %w", sw.err)
	}
	return nil
}

// portfolioBlock writes a portfolio's totals, its programs in order of
// need of attention and its worst items.
func portfolioBlock(w io.Writer, title string, p pmsync.Portfolio) {
	fmt.Fprintf(w, "%s: %s — %d red, %d amber, %d green\n", title, plural(len(p.Programs), "program"), p.Health.Red, p.Health.Amber, p.Health.Green)
	m := p.Milestones
	fmt.Fprintf(w, "  progress %s (%d/%d) · milestones %d late, %d due soon, %d at risk, %d slipped (%d days) · %s of %d open\n",
		pct(progress(p.Progress)), p.Progress.Done, p.Progress.Total, m.Late, m.DueSoon, m.AtRisk, m.Slipped, m.SlipDays,
		plural(p.Risks.RedFlags, "red-flag risk"), p.Risks.Open)
	b := p.Budget
	switch {
	case b.Planned != nil && *b.Planned > 0:
		line := fmt.Sprintf("%s of %s spent (%s)", pmsync.Money(*b.Actual, 0), withCurrency(pmsync.Money(*b.Planned, 0), b.Currency), pct(b.BurnPercent))
		if b.ElapsedPercent != nil {
			line += fmt.Sprintf(" vs %s of time elapsed (%s points)", pct(b.ElapsedPercent), signed(b.VariancePoints))
		}
		if b.BurnRate != nil {
			line += fmt.Sprintf(" · %s a week", pmsync.Money(*b.BurnRate, 0))
		}
		fmt.Fprintf(w, "  budget %s\n", line)
	case len(b.ByCurrency) > 1:
		var parts []string
		for _, c := range b.ByCurrency {
			parts = append(parts, fmt.Sprintf("%s of %s (%s)", pmsync.Money(c.Actual, 0), withCurrency(pmsync.Money(c.Planned, 0), c.Currency), pct(c.BurnPercent)))
		}
		fmt.Fprintf(w, "  budget %s\n", strings.Join(parts, "; "))
	}
	fmt.Fprintf(w, "  throughput %s\n", throughputLine(p.Throughput))
	if s := trendLine(p.Trend); s != "" {
		fmt.Fprintf(w, "  trend %s\n", s)
	}
	for _, a := range p.Attention {
		line := fmt.Sprintf("  %d. %s — %s", a.Rank, a.Name, strings.ToUpper(string(a.Health)))
		if a.Owner != "" {
			line += " (sponsor " + a.Owner + ")"
		}
		if a.Health != pmsync.Green && len(a.Reasons) > 0 {
			line += ": " + a.Reasons[0]
			if len(a.Reasons) > 1 {
				line += fmt.Sprintf(" (+%d more)", len(a.Reasons)-1)
			}
		}
		fmt.Fprintln(w, line)
	}
	for _, x := range p.Late {
		fmt.Fprintf(w, "  late: %s — %s, due %s%s\n", x.Program, x.Title, x.Due, link(x.URL))
	}
	for _, x := range p.RedFlags {
		fmt.Fprintf(w, "  red flag: %s — %s, score %d%s\n", x.Program, x.Title, x.Score, link(x.URL))
	}
	for _, x := range p.Slips {
		fmt.Fprintf(w, "  slipped: %s — %s\n", x.Program, slipLine(x))
	}
	fmt.Fprintln(w)
}

func link(url string) string {
	if url == "" {
		return ""
	}
	return " " + url
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func budgetLine(b pmsync.Budget) string {
	var s string
	if b.Planned > 0 {
		s = fmt.Sprintf("%s of %s spent", pmsync.Money(b.Actual, 0), withCurrency(pmsync.Money(b.Planned, 0), b.Currency))
	} else {
		s = fmt.Sprintf("%s spent, no planned budget", withCurrency(pmsync.Money(b.Actual, 0), b.Currency))
	}
	if b.Forecast != nil {
		s += fmt.Sprintf("; forecast at completion %s", pmsync.Money(*b.Forecast, 0))
	}
	if b.CostVariance != nil {
		s += fmt.Sprintf("; cost variance %s", pmsync.Money(*b.CostVariance, 0))
	}
	return s
}

func burnLine(b pmsync.Budget) string {
	if b.BurnRate == nil {
		return ""
	}
	s := fmt.Sprintf("%s a week over the last 4 weeks", pmsync.Money(*b.BurnRate, 0))
	if b.RunsOut != nil {
		s += fmt.Sprintf("; the budget runs out on %s at that rate", *b.RunsOut)
	}
	return s
}

func milestoneLine(m pmsync.Milestone) string {
	s := fmt.Sprintf("%s %s [%s]", m.Due, m.Title, strings.ReplaceAll(m.State, "_", " "))
	if m.Owner != "" {
		s += " · " + m.Owner
	}
	if m.Progress != nil {
		s += fmt.Sprintf(" · %.0f%% done", *m.Progress)
	}
	if f := m.Forecast; f != nil {
		s += fmt.Sprintf(" · forecast %s (p50) – %s (p85)", f.P50, f.P85)
	}
	if m.SlipDays > 0 {
		s += fmt.Sprintf(" · slipped %d days from %s", m.SlipDays, m.Baseline)
	}
	return s + link(m.URL)
}

func slipLine(x pmsync.Slip) string {
	return fmt.Sprintf("%s +%d days (baseline %s, due %s, %s)", x.Title, x.Days, x.Baseline, x.Due, plural(len(x.Moves), "later move"))
}

func throughputLine(t pmsync.Throughput) string {
	return fmt.Sprintf("%d done, %s created in 7 days; %d done, %s created in 28 days", t.Done7, intOr(t.Created7), t.Done28, intOr(t.Created28))
}

func intOr(n *int) string {
	if n == nil {
		return "—"
	}
	return strconv.Itoa(*n)
}

// trendLine sums up a trend from its first point to its last.
func trendLine(t pmsync.Trend) string {
	if len(t.Points) < 2 {
		return ""
	}
	a, b := t.Points[0], t.Points[len(t.Points)-1]
	return fmt.Sprintf("since %s: progress %s → %s, late milestones %d → %d, red flags %d → %d, burn %s → %s (%s)",
		a.AsOf, pct(a.Progress), pct(b.Progress), a.LateMilestones, b.LateMilestones, a.RedFlags, b.RedFlags, pct(a.Burn), pct(b.Burn), plural(len(t.Points), "point"))
}

func changesSinceLines(cs *pmsync.ChangesSince) []string {
	if cs.From == nil {
		return []string{fmt.Sprintf("changed since %s: unknown (no rollup on or before that day)", cs.Since)}
	}
	if len(cs.Changes) == 0 {
		return []string{fmt.Sprintf("changed since %s (rollup of %s): nothing", cs.Since, *cs.From)}
	}
	out := make([]string, 0, len(cs.Changes))
	for _, c := range cs.Changes {
		out = append(out, fmt.Sprintf("changed since %s: %s", cs.Since, c))
	}
	return out
}

// sourceLine says how fresh one source's data is, e.g.
// "jira-ehr (jira): fresh, last success 2026-11-26 06:55 UTC".
func sourceLine(s pmsync.SourceStatus) string {
	state := "fresh"
	switch {
	case s.LastSuccess.IsZero():
		state = "never synced"
	case s.Stale:
		state = "STALE"
	}
	line := fmt.Sprintf("%s (%s): %s", s.Source, s.Connection, state)
	if !s.LastSuccess.IsZero() {
		line += ", last success " + s.LastSuccess.Format("2006-01-02 15:04 MST")
	}
	if s.LastError != "" {
		line += ", last error: " + s.LastError
	}
	if s.Quarantined > 0 {
		line += fmt.Sprintf(", %d quarantined (pmsync quarantine --source %s)", s.Quarantined, s.Source)
	}
	return line
}

func withCurrency(amount, currency string) string {
	if currency == "" {
		return amount
	}
	return amount + " " + currency
}

func num(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', 2, 64)
}

func dateOr(d *pmsync.Date) string {
	if d == nil {
		return ""
	}
	return string(*d)
}

func intOrEmpty(n *int) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(*n)
}

// staleSources names the sources whose data cannot be trusted to be current.
func staleSources(r pmsync.Rollup) string {
	var names []string
	for _, s := range r.Sources {
		if s.Stale || s.LastSuccess.IsZero() {
			names = append(names, s.Source)
		}
	}
	return strings.Join(names, "; ")
}

// CSV writes one row per program, for spreadsheets. Columns are only ever
// added at the end.
func CSV(w io.Writer, rep pmsync.Report) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"as_of", "program", "name", "health", "reasons", "progress_percent", "done", "total",
		"milestones_total", "milestones_done", "milestones_late", "milestones_due_soon", "risks_open", "red_flags",
		"budget_planned", "budget_actual", "burn_percent", "elapsed_percent", "variance_points", "currency", "version",
		"stale_sources", "portfolio", "owner", "milestones_at_risk", "milestones_slipped", "slip_days",
		"burn_rate_per_week", "runs_out_on", "cost_variance", "done_7d", "done_28d", "created_7d", "created_28d",
		"next_milestone", "next_due", "next_forecast_p85"})
	for _, r := range rep.Programs {
		var next pmsync.Milestone
		var nextP85 string
		if len(r.NextMilestones) > 0 {
			next = r.NextMilestones[0]
			if next.Forecast != nil {
				nextP85 = string(next.Forecast.P85)
			}
		}
		_ = cw.Write([]string{string(rep.AsOf), r.ID, r.Name, string(r.Health.Status), strings.Join(r.Health.Reasons, "; "),
			num(progress(r.Progress)), strconv.Itoa(r.Progress.Done), strconv.Itoa(r.Progress.Total),
			strconv.Itoa(r.Milestones.Total), strconv.Itoa(r.Milestones.Done), strconv.Itoa(r.Milestones.Late), strconv.Itoa(r.Milestones.DueSoon),
			strconv.Itoa(r.Risks.Open), strconv.Itoa(r.Risks.RedFlags),
			strconv.FormatFloat(r.Budget.Planned, 'f', 2, 64), strconv.FormatFloat(r.Budget.Actual, 'f', 2, 64),
			num(r.Budget.BurnPercent), num(r.Budget.ElapsedPercent), num(r.Budget.VariancePoints), r.Budget.Currency, r.Version,
			staleSources(r), r.Portfolio, r.Owner, strconv.Itoa(r.Milestones.AtRisk), strconv.Itoa(r.Milestones.Slipped), strconv.Itoa(r.Milestones.SlipDays),
			num(r.Budget.BurnRate), dateOr(r.Budget.RunsOut), num(r.Budget.CostVariance),
			strconv.Itoa(r.Throughput.Done7), strconv.Itoa(r.Throughput.Done28), intOrEmpty(r.Throughput.Created7), intOrEmpty(r.Throughput.Created28),
			next.Title, string(next.Due), nextP85})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write rollup csv: %w", err)
	}
	return nil
}

// Markdown writes a table, the reasons, what changed and how fresh each
// source is, for wikis and e-mail.
func Markdown(w io.Writer, rep pmsync.Report) error {
	sw := &stickyWriter{w: w}
	fmt.Fprintf(sw, "# Portfolio rollup — %s\n\n", rep.AsOf)
	if len(rep.Programs) > 0 {
		p := rep.Portfolio
		fmt.Fprintf(sw, "**%s: %d red, %d amber, %d green.** Progress %s; %d milestones late, %d due soon, %d at risk, %d slipped; %s.\n\n",
			plural(len(p.Programs), "program"), p.Health.Red, p.Health.Amber, p.Health.Green, pct(progress(p.Progress)),
			p.Milestones.Late, p.Milestones.DueSoon, p.Milestones.AtRisk, p.Milestones.Slipped, plural(p.Risks.RedFlags, "red-flag risk"))
		fmt.Fprintln(sw, "Needs attention:")
		fmt.Fprintln(sw)
		for _, a := range p.Attention {
			line := fmt.Sprintf("%d. %s — %s", a.Rank, mdEscape(a.Name), strings.ToUpper(string(a.Health)))
			if a.Health != pmsync.Green && len(a.Reasons) > 0 {
				line += ": " + mdEscape(a.Reasons[0])
			}
			fmt.Fprintln(sw, line)
		}
		fmt.Fprintln(sw)
	}
	fmt.Fprintln(sw, "| Program | Health | Progress | Milestones late | Red-flag risks | Budget burn | Time elapsed |")
	fmt.Fprintln(sw, "|---|---|---|---|---|---|---|")
	for _, r := range rep.Programs {
		fmt.Fprintf(sw, "| %s | %s | %s | %d | %d | %s | %s |\n", mdEscape(r.Name), strings.ToUpper(string(r.Health.Status)),
			pct(progress(r.Progress)), r.Milestones.Late, r.Risks.RedFlags, pct(r.Budget.BurnPercent), pct(r.Budget.ElapsedPercent))
	}
	for _, r := range rep.Programs {
		fmt.Fprintf(sw, "\n## %s\n\n", mdEscape(r.Name))
		for _, reason := range r.Health.Reasons {
			fmt.Fprintf(sw, "- %s\n", mdEscape(reason))
		}
		if len(r.NextMilestones) > 0 {
			fmt.Fprintln(sw, "\nNext milestones:")
			for _, m := range r.NextMilestones {
				fmt.Fprintf(sw, "- %s\n", mdEscape(milestoneLine(m)))
			}
		}
		if len(r.Slips) > 0 {
			fmt.Fprintln(sw, "\nSlipped:")
			for _, x := range r.Slips {
				fmt.Fprintf(sw, "- %s\n", mdEscape(slipLine(x)))
			}
		}
		if len(r.Changes) > 0 {
			fmt.Fprintf(sw, "\nChanged: %s\n", mdEscape(strings.Join(r.Changes, "; ")))
		}
		if len(r.Sources) > 0 {
			fmt.Fprintln(sw, "\nSources:")
			for _, s := range r.Sources {
				fmt.Fprintf(sw, "- %s\n", mdEscape(sourceLine(s)))
			}
		}
	}
	if sw.err != nil {
		return fmt.Errorf("write rollup markdown: %w", sw.err)
	}
	return nil
}

// mdEscape neutralises the Markdown that item titles from the vendors could
// smuggle into a wiki page: table breaks, links, raw HTML, code spans and
// line breaks.
func mdEscape(s string) string {
	return strings.NewReplacer(
		`\`, `\\`, "|", `\|`, "<", `\<`, ">", `\>`, "[", `\[`, "]", `\]`, "`", "\\`",
		"\r\n", " ", "\n", " ", "\r", " ",
	).Replace(s)
}

// progress returns the progress percentage, or nil when there is no work
// to measure it by (shown as a dash, like every ratio that cannot be
// computed).
func progress(p pmsync.Progress) *float64 {
	if p.Total == 0 {
		return nil
	}
	return &p.Percent
}
