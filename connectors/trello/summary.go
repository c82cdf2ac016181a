package trello

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pmsync/pmsync"
)

// markerPrefix starts the line of a pushed description or comment that
// names the program and the rollup version it shows.
const markerPrefix = "pmsync:program="

// Marker is the last line of every description and comment pmsync writes:
// the program, found again by it in a list, and the rollup version, which
// tells a retried push that the version is already there.
func Marker(r pmsync.Rollup) string {
	return markerPrefix + r.ID + " version=" + r.Version
}

// readMarker finds the marker line in text and returns its program and
// version.
func readMarker(text string) (program, version string, ok bool) {
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		rest, found := strings.CutPrefix(line, markerPrefix)
		if !found {
			continue
		}
		program, tail, _ := strings.Cut(rest, " ")
		version, _ = strings.CutPrefix(strings.TrimSpace(tail), "version=")
		return program, strings.TrimSpace(version), program != ""
	}
	return "", "", false
}

// healthLabelPrefix starts the name of every health label, so that the
// previous colour's label is taken off a card.
const healthLabelPrefix = "Health:"

// HealthLabel returns the name and Trello colour of the label for a health
// status. Trello has no amber, so amber is yellow.
func HealthLabel(h pmsync.HealthStatus) (name, color string, err error) {
	switch h {
	case pmsync.Green:
		return "Health: Green", "green", nil
	case pmsync.Amber:
		return "Health: Amber", "yellow", nil
	case pmsync.Red:
		return "Health: Red", "red", nil
	}
	return "", "", fmt.Errorf("health %q is not green, amber or red", h)
}

// NextMilestone is the open milestone due first that the rollup names: a
// late one when there is one, else the next due soon. False when the
// rollup names none.
func NextMilestone(r pmsync.Rollup) (pmsync.ItemRef, bool) {
	var next pmsync.ItemRef
	found := false
	for _, m := range append(append([]pmsync.ItemRef(nil), r.Late...), r.DueSoon...) {
		if m.Due.IsZero() {
			continue
		}
		if !found || m.Due.Before(next.Due) {
			next, found = m, true
		}
	}
	return next, found
}

// Summary is the card description of a rollup, written to be read in ten
// seconds: the verdict and why, progress, the next milestone, late
// milestones and red-flag risks by name, budget burn against time elapsed,
// what changed since the last update, and the marker line last.
func Summary(r pmsync.Rollup) string {
	var b strings.Builder
	label, _, err := HealthLabel(r.Health.Status)
	if err != nil {
		label = "Health: " + string(r.Health.Status)
	}
	reasons := "no concerns"
	if len(r.Health.Reasons) > 0 {
		reasons = strings.Join(r.Health.Reasons, "; ")
	}
	fmt.Fprintf(&b, "**%s** — %s\n\n", label, reasons)
	fmt.Fprintf(&b, "Progress: %s%% done (%d of %d); milestones %d of %d done, %d late, %d due soon\n",
		num(r.Progress.Percent), r.Progress.Done, r.Progress.Total,
		r.Milestones.Done, r.Milestones.Total, r.Milestones.Late, r.Milestones.DueSoon)
	if m, ok := NextMilestone(r); ok {
		fmt.Fprintf(&b, "Next milestone: %s (due %s)\n", m.Title, m.Due)
	}
	fmt.Fprintf(&b, "Late milestones: %s\n", refs(r.Late, func(x pmsync.ItemRef) string {
		if x.Due.IsZero() {
			return x.Title
		}
		return fmt.Sprintf("%s (due %s)", x.Title, x.Due)
	}))
	fmt.Fprintf(&b, "Red-flag risks: %s (%d open risks)\n", refs(r.RedFlags, func(x pmsync.ItemRef) string {
		return fmt.Sprintf("%s (score %d)", x.Title, x.Score)
	}), r.Risks.Open)
	fmt.Fprintf(&b, "Budget: %s\n", budgetLine(r.Budget))
	changes := "no material change"
	if len(r.Changes) > 0 {
		changes = strings.Join(r.Changes, "; ")
	}
	fmt.Fprintf(&b, "Since last update: %s\n", changes)
	fmt.Fprintf(&b, "As of %s.", r.AsOf)
	return fit(b.String(), maxDesc-len(Marker(r))-2) + "\n\n" + Marker(r)
}

// maxDesc is the longest card description Trello accepts.
const maxDesc = 16384

// fit cuts text to at most n bytes on a rune boundary, so that a rollup
// with very long reasons still leaves room for the marker line.
func fit(text string, n int) string {
	if len(text) <= n {
		return text
	}
	cut := max(n-len("…"), 0)
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:cut] + "…"
}

// refs names up to five items and counts the rest.
func refs(list []pmsync.ItemRef, name func(pmsync.ItemRef) string) string {
	const show = 5
	if len(list) == 0 {
		return "none"
	}
	parts := make([]string, 0, min(len(list), show)+1)
	for i, x := range list {
		if i == show {
			parts = append(parts, fmt.Sprintf("and %d more", len(list)-show))
			break
		}
		parts = append(parts, name(x))
	}
	return strings.Join(parts, ", ")
}

func budgetLine(b pmsync.Budget) string {
	cur := ""
	if b.Currency != "" {
		cur = " " + b.Currency
	}
	switch {
	case b.BurnPercent == nil:
		return fmt.Sprintf("%s%s spent, no planned budget", pmsync.Money(b.Actual, 2), cur)
	case b.ElapsedPercent == nil || b.VariancePoints == nil:
		return fmt.Sprintf("%s%% burned (%s of %s%s)", num(*b.BurnPercent), pmsync.Money(b.Actual, 2), pmsync.Money(b.Planned, 2), cur)
	}
	sign := "+"
	if *b.VariancePoints < 0 {
		sign = ""
	}
	return fmt.Sprintf("%s%% burned vs %s%% of time elapsed (%s%s points); %s of %s%s spent",
		num(*b.BurnPercent), num(*b.ElapsedPercent), sign, num(*b.VariancePoints),
		pmsync.Money(b.Actual, 2), pmsync.Money(b.Planned, 2), cur)
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }
