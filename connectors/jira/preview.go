package jira

import (
	"fmt"
	"strings"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
)

// Preview is the kind's connectors.Spec.Preview: the comment each rollup would
// add to the target issue, in wiki markup (Cloud sends the same lines as
// an Atlassian Document Format document).
func Preview(target connectors.Target, rollups []pmsync.Rollup) ([]connectors.Preview, error) {
	t, err := connectors.TargetConfig(Kind, target, CheckTarget)
	if err != nil {
		return nil, fmt.Errorf("jira: %w", err)
	}
	key := strings.TrimSpace(t.Issue)
	out := make([]connectors.Preview, 0, len(rollups))
	for _, r := range rollups {
		out = append(out, connectors.Preview{Program: r.ID, Where: "a comment on issue " + key + " (unless one carries its marker line)", Text: renderWiki(commentLines(r))})
	}
	return out, nil
}
