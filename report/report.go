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
		r.Sources = orEmpty(r.Sources)
		r.Late = orEmpty(r.Late)
		r.DueSoon = orEmpty(r.DueSoon)
		r.RedFlags = orEmpty(r.RedFlags)
		r.Changes = orEmpty(r.Changes)
		programs[i] = r
	}
	rep.Programs = programs
	return rep
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

// Table writes the executive view: one block per program.
func Table(w io.Writer, rep pmsync.Report) error {
	sw := &stickyWriter{w: w}
	tw := tabwriter.NewWriter(sw, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Rollup as of %s\n\n", rep.AsOf)
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
		fmt.Fprintf(sw, "\n%s — %s\n", r.Name, strings.ToUpper(string(r.Health.Status)))
		for _, reason := range r.Health.Reasons {
			fmt.Fprintf(sw, "  • %s\n", reason)
		}
		if r.Budget.Planned > 0 {
			fmt.Fprintf(sw, "  budget: %s of %s spent", pmsync.Money(r.Budget.Actual, 0), withCurrency(pmsync.Money(r.Budget.Planned, 0), r.Budget.Currency))
		} else {
			fmt.Fprintf(sw, "  budget: %s spent, no planned budget", withCurrency(pmsync.Money(r.Budget.Actual, 0), r.Budget.Currency))
		}
		if r.Budget.Forecast != nil {
			fmt.Fprintf(sw, "; forecast at completion %s", pmsync.Money(*r.Budget.Forecast, 0))
		}
		fmt.Fprintln(sw)
		for _, c := range r.Changes {
			fmt.Fprintf(sw, "  changed: %s\n", c)
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

// CSV writes one row per program, for spreadsheets.
func CSV(w io.Writer, rep pmsync.Report) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"as_of", "program", "name", "health", "reasons", "progress_percent", "done", "total",
		"milestones_total", "milestones_done", "milestones_late", "milestones_due_soon", "risks_open", "red_flags",
		"budget_planned", "budget_actual", "burn_percent", "elapsed_percent", "variance_points", "currency", "version",
		"stale_sources"})
	for _, r := range rep.Programs {
		_ = cw.Write([]string{string(rep.AsOf), r.ID, r.Name, string(r.Health.Status), strings.Join(r.Health.Reasons, "; "),
			num(progress(r.Progress)), strconv.Itoa(r.Progress.Done), strconv.Itoa(r.Progress.Total),
			strconv.Itoa(r.Milestones.Total), strconv.Itoa(r.Milestones.Done), strconv.Itoa(r.Milestones.Late), strconv.Itoa(r.Milestones.DueSoon),
			strconv.Itoa(r.Risks.Open), strconv.Itoa(r.Risks.RedFlags),
			strconv.FormatFloat(r.Budget.Planned, 'f', 2, 64), strconv.FormatFloat(r.Budget.Actual, 'f', 2, 64),
			num(r.Budget.BurnPercent), num(r.Budget.ElapsedPercent), num(r.Budget.VariancePoints), r.Budget.Currency, r.Version,
			staleSources(r)})
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
