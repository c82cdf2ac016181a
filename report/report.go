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
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	case "csv":
		return CSV(w, rep)
	case "md":
		return Markdown(w, rep)
	}
	return fmt.Errorf("unknown format %q (use %s)", format, strings.Join(Formats, ", "))
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
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Rollup as of %s\n\n", rep.AsOf)
	fmt.Fprintln(tw, "PROGRAM\tHEALTH\tPROGRESS\tMILESTONES (done/total, late, due soon)\tRISKS (open, red flags)\tBUDGET BURN\tELAPSED\tVARIANCE")
	for _, r := range rep.Programs {
		fmt.Fprintf(tw, "%s\t%s\t%.1f%% (%d/%d)\t%d/%d, %d late, %d due soon\t%d open, %d red\t%s\t%s\t%s\n",
			r.Name, strings.ToUpper(string(r.Health.Status)), r.Progress.Percent, r.Progress.Done, r.Progress.Total,
			r.Milestones.Done, r.Milestones.Total, r.Milestones.Late, r.Milestones.DueSoon,
			r.Risks.Open, r.Risks.RedFlags, pct(r.Budget.BurnPercent), pct(r.Budget.ElapsedPercent), signed(r.Budget.VariancePoints))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rep.Programs {
		fmt.Fprintf(w, "\n%s — %s\n", r.Name, strings.ToUpper(string(r.Health.Status)))
		for _, reason := range r.Health.Reasons {
			fmt.Fprintf(w, "  • %s\n", reason)
		}
		fmt.Fprintf(w, "  budget: %s of %s %s spent", money(r.Budget.Actual), money(r.Budget.Planned), r.Budget.Currency)
		if r.Budget.Forecast != nil {
			fmt.Fprintf(w, "; forecast at completion %s", money(*r.Budget.Forecast))
		}
		fmt.Fprintln(w)
		for _, c := range r.Changes {
			fmt.Fprintf(w, "  changed: %s\n", c)
		}
		for _, s := range r.Sources {
			state := "fresh"
			switch {
			case s.LastSuccess.IsZero():
				state = "never synced"
			case s.Stale:
				state = "STALE"
			}
			line := fmt.Sprintf("  source %s (%s): %s", s.Source, s.Connection, state)
			if !s.LastSuccess.IsZero() {
				line += ", last success " + s.LastSuccess.Format("2006-01-02 15:04 MST")
			}
			if s.LastError != "" {
				line += ", last error: " + s.LastError
			}
			fmt.Fprintln(w, line)
		}
	}
	return nil
}

func money(f float64) string {
	s := strconv.FormatFloat(f, 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func num(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', 2, 64)
}

// CSV writes one row per program, for spreadsheets.
func CSV(w io.Writer, rep pmsync.Report) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"as_of", "program", "name", "health", "reasons", "progress_percent", "done", "total",
		"milestones_total", "milestones_done", "milestones_late", "milestones_due_soon", "risks_open", "red_flags",
		"budget_planned", "budget_actual", "burn_percent", "elapsed_percent", "variance_points", "currency", "version"})
	for _, r := range rep.Programs {
		_ = cw.Write([]string{string(rep.AsOf), r.ID, r.Name, string(r.Health.Status), strings.Join(r.Health.Reasons, "; "),
			strconv.FormatFloat(r.Progress.Percent, 'f', 2, 64), strconv.Itoa(r.Progress.Done), strconv.Itoa(r.Progress.Total),
			strconv.Itoa(r.Milestones.Total), strconv.Itoa(r.Milestones.Done), strconv.Itoa(r.Milestones.Late), strconv.Itoa(r.Milestones.DueSoon),
			strconv.Itoa(r.Risks.Open), strconv.Itoa(r.Risks.RedFlags),
			strconv.FormatFloat(r.Budget.Planned, 'f', 2, 64), strconv.FormatFloat(r.Budget.Actual, 'f', 2, 64),
			num(r.Budget.BurnPercent), num(r.Budget.ElapsedPercent), num(r.Budget.VariancePoints), r.Budget.Currency, r.Version})
	}
	cw.Flush()
	return cw.Error()
}

// Markdown writes a table and the reasons, for wikis and e-mail.
func Markdown(w io.Writer, rep pmsync.Report) error {
	fmt.Fprintf(w, "# Portfolio rollup — %s\n\n", rep.AsOf)
	fmt.Fprintln(w, "| Program | Health | Progress | Milestones late | Red-flag risks | Budget burn | Time elapsed |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	for _, r := range rep.Programs {
		fmt.Fprintf(w, "| %s | %s | %.1f%% | %d | %d | %s | %s |\n", mdEscape(r.Name), strings.ToUpper(string(r.Health.Status)),
			r.Progress.Percent, r.Milestones.Late, r.Risks.RedFlags, pct(r.Budget.BurnPercent), pct(r.Budget.ElapsedPercent))
	}
	for _, r := range rep.Programs {
		fmt.Fprintf(w, "\n## %s\n\n", mdEscape(r.Name))
		for _, reason := range r.Health.Reasons {
			fmt.Fprintf(w, "- %s\n", mdEscape(reason))
		}
	}
	return nil
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
