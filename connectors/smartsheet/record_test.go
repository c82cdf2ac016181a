package smartsheet

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/mapping"
	"github.com/pmsync/pmsync/sandbox/smartsheetsim"
)

// planSheet builds a small plan by hand: a milestone with a task under it,
// a risk, a task with an empty Type, and a row of every other column type.
func planSheet(t *testing.T, e *env) (int64, map[string]int64) {
	t.Helper()
	cols := smartsheetsim.PlanColumns()
	cols[2].Validation = false // Status: teams type their own values too
	cols = append(cols,
		smartsheetsim.ColumnSpec{Title: "Reviewers", Type: smartsheetsim.MultiContactList},
		smartsheetsim.ColumnSpec{Title: "Sites", Type: smartsheetsim.MultiPicklist, Options: []string{"Main", "North", "Children's"}},
		smartsheetsim.ColumnSpec{Title: "Kickoff", Type: smartsheetsim.AbstractDateTime},
	)
	id, err := e.sim.CreateSheet("PACS Viewer Integration", cols)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	add := func(name string, parent int64, cells map[string]any) {
		t.Helper()
		cells["Task Name"] = name
		rid, err := e.sim.AddRow(id, parent, cells)
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = rid
	}
	priya := smartsheetsim.Contact{Name: "Priya Raman", Email: "priya.raman@hospital.example"}
	tom := smartsheetsim.Contact{Name: "Tom Becker", Email: "tom.becker@hospital.example"}
	add("Radiologist UAT sign-off", 0, map[string]any{
		"Type": "Milestone", "Status": "In Progress", "Start Date": "2026-03-02", "End Date": "2026-03-02",
		"Assigned To": priya, "% Complete": 0.5,
	})
	add("Validate HL7 ORU result routing", ids["Radiologist UAT sign-off"], map[string]any{
		"Type": "Task", "Status": "Blocked", "Workstream": "Interfaces", "Start Date": "2026-01-12", "End Date": "2026-02-20",
		"Duration": "30d", "Assigned To": tom, "% Complete": 0.35, "Planned Cost": 12500, "Actual Cost": 4100.5,
		"At Risk": true, "Reviewers": []smartsheetsim.Contact{priya, tom}, "Sites": []string{"Main", "North"},
		"Kickoff": "2026-01-12T08:00:00",
	})
	add("Outpatient site bandwidth too low for image streaming", 0, map[string]any{
		"Type": "Risk", "Status": "Not Started", "Likelihood": "4", "Impact": "5", "Assigned To": tom,
	})
	add("Order go-live T-shirts", 0, map[string]any{"Status": "Waiting on vendor"})
	return id, ids
}

func TestRecordData(t *testing.T) {
	e := newEnv(t, connectors.Params{})
	e.clk.Set(t0.Add(2 * time.Hour))
	id, ids := planSheet(t, e)
	st := newStore()
	st.pull(t, e.conn, scopeOf(id))

	taskID := ids["Validate HL7 ORU result routing"]
	msID := ids["Radiologist UAT sign-off"]
	got := st.items[itoa(taskID)]
	want := pmsync.Record{
		Source:     "pacs-plan",
		ExternalID: itoa(taskID),
		UpdatedAt:  t0.Add(2 * time.Hour),
		URL:        e.sim.Permalink(id) + "?rowId=" + itoa(taskID),
		Data: map[string]any{
			"id":          taskID,
			"rowNumber":   2,
			"parentId":    msID,
			"parent":      itoa(msID),
			"parent_type": "Milestone",
			"modifiedAt":  "2026-01-05T12:00:00Z",
			"primary":     "Validate HL7 ORU result routing",
			"cells": map[string]any{
				"Task Name": "Validate HL7 ORU result routing", "Type": "Task", "Status": "Blocked", "Workstream": "Interfaces",
				"Start Date": "2026-01-12", "End Date": "2026-02-20", "Duration": "30d", "Assigned To": "Tom Becker",
				"% Complete": 0.35, "Planned Cost": 12500.0, "Actual Cost": 4100.5, "Likelihood": nil, "Impact": nil,
				"At Risk": true, "Reviewers": []any{"Priya Raman", "Tom Becker"}, "Sites": []any{"Main", "North"},
				"Kickoff": "2026-01-12",
			},
			"cells_display": map[string]any{
				"Task Name": "Validate HL7 ORU result routing", "Type": "Task", "Status": "Blocked", "Workstream": "Interfaces",
				"Start Date": "01/12/26", "End Date": "02/20/26", "Duration": "30d", "Assigned To": "Tom Becker",
				"% Complete": "35%", "Planned Cost": "$12,500.00", "Actual Cost": "$4,100.50", "Likelihood": nil, "Impact": nil,
				"At Risk": nil, "Reviewers": "Priya Raman, Tom Becker", "Sites": "Main, North", "Kickoff": "01/12/26",
			},
			"cells_email": map[string]any{
				"Assigned To": "tom.becker@hospital.example",
				"Reviewers":   []any{"priya.raman@hospital.example", "tom.becker@hospital.example"},
			},
			"sheet": map[string]any{"id": id, "name": "PACS Viewer Integration", "version": e.sim.Version(id)},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("task record (-want +got):\n%s", d)
	}
	ms := st.items[itoa(msID)].Data
	if ms["parent"] != nil || ms["parent_type"] != nil || ms["cells"].(map[string]any)["At Risk"] != false {
		t.Errorf("milestone data %v: want no parent and an unchecked At Risk as false", ms)
	}
}

func TestNormalize(t *testing.T) {
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name  string
		typ   string
		cell  *cellDoc
		value any
		email any
	}{
		{"empty text", typeTextNumber, nil, nil, nil},
		{"number", typeTextNumber, &cellDoc{Value: 1200.0, DisplayValue: str("$1,200.00")}, 1200.0, nil},
		{"text", typeTextNumber, &cellDoc{Value: "N/A"}, "N/A", nil},
		{"date", typeDate, &cellDoc{Value: "2026-02-20"}, "2026-02-20", nil},
		{"date as epoch ms", typeDate, &cellDoc{Value: 1771545600000.0}, "2026-02-20", nil},
		{"project date", typeAbstractDateTime, &cellDoc{Value: "2026-02-20T08:00:00"}, "2026-02-20", nil},
		{"datetime", typeDateTime, &cellDoc{Value: "2026-02-20T08:00:00-05:00"}, "2026-02-20T13:00:00Z", nil},
		{"checkbox", typeCheckbox, &cellDoc{Value: true}, true, nil},
		{"empty checkbox", typeCheckbox, nil, false, nil},
		{"numeric picklist", typePicklist, &cellDoc{Value: 4.0}, "4", nil},
		{"contact with objectValue", typeContactList,
			&cellDoc{Value: "tom@h.example", DisplayValue: str("Tom"), ObjectValue: &objectValue{ObjectType: "CONTACT", Email: "tom@h.example", Name: "Tom Becker"}},
			"Tom Becker", "tom@h.example"},
		{"contact without objectValue", typeContactList, &cellDoc{Value: "tom@h.example", DisplayValue: str("Tom Becker")}, "Tom Becker", "tom@h.example"},
		{"free-text contact", typeContactList, &cellDoc{Value: "TBD", DisplayValue: str("TBD")}, "TBD", nil},
		{"duration", typeDuration, &cellDoc{Value: "5d", DisplayValue: str("5d")}, "5d", nil},
		{"multi picklist at level 0", typeMultiPicklist, &cellDoc{Value: "Main, North", DisplayValue: str("Main, North")}, []any{"Main", "North"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := normalize(&columnDoc{Title: "C", Type: tc.typ}, tc.cell)
			if d := cmp.Diff(tc.value, got.value); d != "" {
				t.Errorf("value (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.email, got.email); d != "" {
				t.Errorf("email (-want +got):\n%s", d)
			}
		})
	}
}

func TestDefaultMapping(t *testing.T) {
	spec, err := mapping.Parse(DefaultMapping, defaultMappingYAML)
	if err != nil {
		t.Fatalf("parse default.yaml: %v", err)
	}
	set, err := mapping.Compile(DefaultMapping, spec, nil)
	if err != nil {
		t.Fatalf("compile default.yaml: %v", err)
	}

	e := newEnv(t, connectors.Params{})
	id, ids := planSheet(t, e)
	st := newStore()
	st.pull(t, e.conn, scopeOf(id))
	link := func(name string) string { return e.sim.Permalink(id) + "?rowId=" + itoa(ids[name]) }
	f := func(v float64) *float64 { return &v }
	ms := itoa(ids["Radiologist UAT sign-off"])
	want := map[string]pmsync.Item{
		"Radiologist UAT sign-off": {
			Kind: pmsync.KindMilestone, Title: "Radiologist UAT sign-off", Owner: "Priya Raman",
			Status: "In Progress", State: pmsync.StateInProgress, Start: "2026-03-02", Due: "2026-03-02",
			PercentComplete: f(50),
		},
		"Validate HL7 ORU result routing": {
			Kind: pmsync.KindTask, Title: "Validate HL7 ORU result routing", Owner: "Tom Becker",
			Status: "Blocked", State: pmsync.StateBlocked, Start: "2026-01-12", Due: "2026-02-20",
			PercentComplete: f(35), PlannedCost: f(12500), ActualCost: f(4100.5), Milestone: ms, Parent: ms,
		},
		"Outpatient site bandwidth too low for image streaming": {
			Kind: pmsync.KindRisk, Title: "Outpatient site bandwidth too low for image streaming", Owner: "Tom Becker",
			Status: "Not Started", State: pmsync.StateTodo, Likelihood: 4, Impact: 5,
		},
		// Empty Type is a task; a status outside the template is todo.
		"Order go-live T-shirts": {
			Kind: pmsync.KindTask, Title: "Order go-live T-shirts", Status: "Waiting on vendor", State: pmsync.StateTodo,
		},
	}
	for name, w := range want {
		rec := st.items[itoa(ids[name])]
		w.Source, w.ExternalID, w.URL, w.UpdatedAt = "pacs-plan", itoa(ids[name]), link(name), t0
		got, err := set.Map(rec)
		if err != nil {
			t.Errorf("map %q: %v", name, err)
			continue
		}
		if d := cmp.Diff(w, got); d != "" {
			t.Errorf("item %q (-want +got):\n%s", name, d)
		}
	}
}
