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

// WriteExplain renders an explanation document: for every figure of every
// program, its value, how it is computed and the items behind it.
func WriteExplain(w io.Writer, ex pmsync.ExplainReport, format string) error {
	switch format {
	case "table", "":
		return explainTable(w, ex)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if ex.Schema == "" {
			ex.Schema = pmsync.ExplainSchema
		}
		if ex.Programs == nil {
			ex.Programs = []pmsync.Explanation{}
		}
		if err := enc.Encode(ex); err != nil {
			return fmt.Errorf("write explanation json: %w", err)
		}
		return nil
	case "csv":
		return explainCSV(w, ex)
	case "md":
		return explainMarkdown(w, ex)
	}
	return fmt.Errorf("unknown format %q (use %s)", format, strings.Join(Formats, ", "))
}

// value writes a figure's value as the document would, "null" for a
// figure that cannot be computed.
func value(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.Trim(string(b), `"`)
}

func cost(p *float64) string {
	if p == nil {
		return "–"
	}
	return pmsync.Money(*p, 2)
}

func explainTable(w io.Writer, ex pmsync.ExplainReport) error {
	sw := &stickyWriter{w: w}
	fmt.Fprintf(sw, "Explanation as of %s\n", ex.AsOf)
	for _, p := range ex.Programs {
		fmt.Fprintf(sw, "\n%s (%s)\n", p.Name, p.Program)
		for _, f := range p.Figures {
			fmt.Fprintf(sw, "\n  %s = %s — %s\n", f.Name, value(f.Value), f.How)
			if len(f.Items) == 0 {
				continue
			}
			tw := tabwriter.NewWriter(sw, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "    KIND\tSTATE\tDUE\tSCORE\tPLANNED\tACTUAL\tITEM\tNOTE\tLINK")
			for _, e := range f.Items {
				score := "–"
				if e.Score > 0 {
					score = strconv.Itoa(e.Score)
				}
				due := string(e.Due)
				if due == "" {
					due = "–"
				}
				fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\t%s\t%s/%s %s\t%s\t%s\n", e.Kind, e.State, due, score, cost(e.PlannedCost), cost(e.ActualCost),
					e.Source, e.ExternalID, e.Title, e.Note, e.URL)
			}
			if err := tw.Flush(); err != nil {
				return fmt.Errorf("write explanation: %w", err)
			}
		}
	}
	if sw.err != nil {
		return fmt.Errorf("write explanation: %w", sw.err)
	}
	return nil
}

// explainCSV writes one row per item behind a figure, and one row for a
// figure without items, for spreadsheets.
func explainCSV(w io.Writer, ex pmsync.ExplainReport) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"as_of", "program", "figure", "value", "how", "source", "external_id", "kind", "state", "title", "due", "score",
		"planned_cost", "actual_cost", "note", "url"})
	for _, p := range ex.Programs {
		for _, f := range p.Figures {
			head := []string{string(ex.AsOf), p.Program, f.Name, value(f.Value), f.How}
			if len(f.Items) == 0 {
				_ = cw.Write(append(head, make([]string, 11)...))
				continue
			}
			for _, e := range f.Items {
				score := ""
				if e.Score > 0 {
					score = strconv.Itoa(e.Score)
				}
				_ = cw.Write(append(append([]string{}, head...), e.Source, e.ExternalID, string(e.Kind), string(e.State), e.Title, string(e.Due), score,
					num(e.PlannedCost), num(e.ActualCost), e.Note, e.URL))
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write explanation csv: %w", err)
	}
	return nil
}

func explainMarkdown(w io.Writer, ex pmsync.ExplainReport) error {
	sw := &stickyWriter{w: w}
	fmt.Fprintf(sw, "# Explanation — %s\n", ex.AsOf)
	for _, p := range ex.Programs {
		fmt.Fprintf(sw, "\n## %s\n", mdEscape(p.Name))
		for _, f := range p.Figures {
			fmt.Fprintf(sw, "\n**%s = %s** — %s\n", mdEscape(f.Name), mdEscape(value(f.Value)), mdEscape(f.How))
			if len(f.Items) == 0 {
				continue
			}
			fmt.Fprintln(sw, "\n| Kind | State | Due | Score | Planned | Actual | Item | Note |")
			fmt.Fprintln(sw, "|---|---|---|---|---|---|---|---|")
			for _, e := range f.Items {
				title := mdEscape(e.Title)
				if e.URL != "" {
					title = "[" + title + "](" + strings.NewReplacer("(", "%28", ")", "%29", " ", "%20").Replace(e.URL) + ")"
				}
				score := ""
				if e.Score > 0 {
					score = strconv.Itoa(e.Score)
				}
				fmt.Fprintf(sw, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", e.Kind, e.State, e.Due, score, cost(e.PlannedCost), cost(e.ActualCost), title, mdEscape(e.Note))
			}
		}
	}
	if sw.err != nil {
		return fmt.Errorf("write explanation markdown: %w", sw.err)
	}
	return nil
}
