package smartsheet

import (
	"fmt"
	"strings"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
)

// Preview is the kind's connectors.Spec.Preview: the cells of each program's row
// in the rollup sheet, by column title. The sheet is not read, so the
// health is shown by its colour name rather than the column's own option.
func Preview(target connectors.Target, rollups []pmsync.Rollup) ([]connectors.Preview, error) {
	t, err := connectors.TargetConfig(Kind, target, CheckTarget)
	if err != nil {
		return nil, fmt.Errorf("smartsheet: %w", err)
	}
	rs := &rollupSheet{cols: map[string]*columnDoc{}}
	for _, rc := range rollupColumns() {
		key, title := rc[0], rc[1]
		if v := strings.TrimSpace(t.Options[key]); v != "" {
			title = v
		}
		rs.cols[key] = &columnDoc{Title: title}
	}
	out := make([]connectors.Preview, 0, len(rollups))
	for _, r := range rollups {
		d, err := rs.want(r)
		if err != nil {
			return out, fmt.Errorf("smartsheet: preview rollup %s: %w", r.ID, err)
		}
		var b strings.Builder
		for i, cw := range d.cells {
			if i > 0 {
				b.WriteString("\n")
			}
			v := "(cleared)"
			if cw.value != nil {
				v = fmt.Sprint(cw.value)
			}
			fmt.Fprintf(&b, "%s: %s", cw.col.Title, v)
		}
		out = append(out, connectors.Preview{Program: r.ID, Where: fmt.Sprintf("the row of program %q in sheet %s (added when missing)", d.name, t.Sheet), Text: b.String()})
	}
	return out, nil
}
