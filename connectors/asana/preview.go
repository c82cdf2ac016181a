package asana

import (
	"fmt"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
)

// Preview is the kind's connectors.Spec.Preview: the status update each rollup
// would post on the target project.
func Preview(target connectors.Target, rollups []pmsync.Rollup) ([]connectors.Preview, error) {
	t, err := connectors.TargetConfig(Kind, target, CheckTarget)
	if err != nil {
		return nil, err
	}
	out := make([]connectors.Preview, 0, len(rollups))
	for _, r := range rollups {
		st, err := StatusType(r.Health.Status)
		if err != nil {
			return out, fmt.Errorf("asana: preview rollup %s: %w", r.ID, err)
		}
		out = append(out, connectors.Preview{Program: r.ID, Where: "a status update on project " + t.Project + " (unless one carries its marker line)",
			Text: fmt.Sprintf("status_type: %s\ntitle: %s\ntext:\n%s", st, Title(r), Text(r))})
	}
	return out, nil
}
