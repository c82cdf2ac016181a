package trello

import (
	"fmt"
	"strings"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
)

// Preview is the kind's connectors.Spec.Preview: what each rollup's card would
// hold (and the comment, when the target adds one).
func Preview(target connectors.Target, rollups []pmsync.Rollup) ([]connectors.Preview, error) {
	t, err := targetOf(target)
	if err != nil {
		return nil, fmt.Errorf("trello: %w", err)
	}
	out := make([]connectors.Preview, 0, len(rollups))
	for _, r := range rollups {
		where := "card " + t.Card
		if t.List != "" {
			where = "the card of program " + r.ID + " in list " + t.List
		}
		label, _, err := HealthLabel(r.Health.Status)
		if err != nil {
			return out, fmt.Errorf("trello: preview rollup %s: %w", r.ID, err)
		}
		var b strings.Builder
		if t.List != "" {
			fmt.Fprintf(&b, "name: %s\n", cardName(r))
		}
		due := "(cleared)"
		if d := dueOf(r); d != nil {
			due = fmt.Sprint(d)
		}
		fmt.Fprintf(&b, "label: %s\ndue: %s\ndescription:\n%s", label, due, Summary(r))
		if t.Comment {
			fmt.Fprintf(&b, "\ncomment:\n%s", Summary(r))
		}
		out = append(out, connectors.Preview{Program: r.ID, Where: where, Text: b.String()})
	}
	return out, nil
}
