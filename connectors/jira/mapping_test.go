package jira

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/mapping"
	"github.com/pmsync/pmsync/sandbox/jirasim"
)

// TestDefaultMapping compiles the embedded PMO template and maps issues
// pulled from the simulator to hand-written items.
func TestDefaultMapping(t *testing.T) {
	spec, err := mapping.Parse(DefaultMapping, defaultMappingYAML)
	if err != nil {
		t.Fatalf("parse default.yaml: %v", err)
	}
	set, err := mapping.Compile(DefaultMapping, spec, nil)
	if err != nil {
		t.Fatalf("compile default.yaml: %v", err)
	}

	for _, flavor := range []jirasim.Flavor{jirasim.Cloud, jirasim.DataCenter} {
		t.Run(string(flavor), func(t *testing.T) {
			e := newEnv(t, envOpts{flavor: flavor})
			planned, actual := 125000.0, 98000.5
			at := func(h int) time.Time { return time.Date(2026, 2, 1, h, 0, 0, 0, time.UTC) }
			e.sim.Add(
				jirasim.Issue{ID: "20001", Key: "EHR-1", Type: "Risk", Summary: "Vendor delay", Description: "patient 123",
					Status: "In Progress", Likelihood: "4", Impact: "5", Labels: []string{"vendor", "contract"},
					Assignee: "Ana Lima", Priority: "High", Updated: at(8)},
				jirasim.Issue{ID: "20002", Key: "EHR-2", Type: "Milestone", Summary: "Go-live", Status: "Done", Resolution: "Done",
					Due: "2026-06-30", Start: "2026-01-05", PlannedCost: &planned, ActualCost: &actual, Updated: at(9)},
				jirasim.Issue{ID: "20003", Key: "EHR-3", Type: "Task", Summary: "Interface build", Status: "Blocked",
					Parent: "EHR-2", Due: "2026-05-01", Updated: at(10)},
				jirasim.Issue{ID: "20004", Key: "EHR-4", Type: "Story", Summary: "Old report", Status: "Done",
					Resolution: "Won't Do", Updated: at(11)},
				jirasim.Issue{ID: "20005", Key: "EHR-5", Type: "Bug", Summary: "Login banner", Updated: at(12)},
				// A sub-task's parent is a task, not a milestone.
				jirasim.Issue{ID: "20006", Key: "EHR-6", Type: "Sub-task", Summary: "Map lab codes", Status: "In Progress",
					Parent: "EHR-3", Updated: at(13)},
			)
			want := map[string]pmsync.Item{
				"20001": {Kind: pmsync.KindRisk, Title: "Vendor delay", Owner: "Ana Lima", Priority: "High",
					Status: "In Progress", State: pmsync.StateInProgress, Likelihood: 4, Impact: 5,
					Labels: []string{"vendor", "contract"}, UpdatedAt: at(8)},
				"20002": {Kind: pmsync.KindMilestone, Title: "Go-live", Status: "Done", State: pmsync.StateDone,
					Start: "2026-01-05", Due: "2026-06-30", PlannedCost: &planned, ActualCost: &actual, UpdatedAt: at(9)},
				"20003": {Kind: pmsync.KindTask, Title: "Interface build", Status: "Blocked", State: pmsync.StateBlocked,
					Due: "2026-05-01", Parent: "20002", Milestone: "20002", UpdatedAt: at(10)},
				"20004": {Kind: pmsync.KindTask, Title: "Old report", Status: "Done", State: pmsync.StateCancelled, UpdatedAt: at(11)},
				"20005": {Kind: pmsync.KindTask, Title: "Login banner", Status: "To Do", State: pmsync.StateTodo, UpdatedAt: at(12)},
				"20006": {Kind: pmsync.KindTask, Title: "Map lab codes", Status: "In Progress", State: pmsync.StateInProgress,
					Parent: "20003", UpdatedAt: at(13)},
			}
			got := 0
			for _, p := range e.pull(t, projectScope, "") {
				for _, rec := range p.Records {
					item, err := set.Map(rec)
					if err != nil {
						t.Errorf("map issue %s: %v", rec.ExternalID, err)
						continue
					}
					w, ok := want[rec.ExternalID]
					if !ok {
						t.Errorf("unexpected issue %s", rec.ExternalID)
						continue
					}
					w.Source, w.ExternalID, w.URL = "jira-ehr", rec.ExternalID, rec.URL
					if diff := cmp.Diff(w, item); diff != "" {
						t.Errorf("issue %s (-want +got):\n%s", rec.ExternalID, diff)
					}
					got++
				}
			}
			if got != len(want) {
				t.Errorf("mapped %d issues, want %d", got, len(want))
			}
		})
	}
}
