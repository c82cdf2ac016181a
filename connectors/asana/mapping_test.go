package asana

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/mapping"
	"github.com/pmsync/pmsync/sandbox/asanasim"
)

func compileDefault(t *testing.T) *mapping.Set {
	t.Helper()
	spec, err := mapping.Parse(DefaultMapping, defaultMappingYAML)
	if err != nil {
		t.Fatalf("parse default.yaml: %v", err)
	}
	set, err := mapping.Compile(DefaultMapping, spec, nil)
	if err != nil {
		t.Fatalf("compile default.yaml: %v", err)
	}
	return set
}

// The default mapping reads the PMO template: pulled from the fake, each
// task maps to the item written out by hand below.
func TestDefaultMapping(t *testing.T) {
	set := compileDefault(t)
	f := newFixture(t, fixtureOpts{tasks: 0})
	p := f.sim.AddProject("Template", asanasim.PMOFields()...)
	f.scope.Config = Scope{Project: p}
	add := func(tk asanasim.Task) string {
		t.Helper()
		gid, err := f.sim.AddTask(p, tk)
		if err != nil {
			t.Fatal(err)
		}
		return gid
	}
	done := t0.Add(-48 * time.Hour)
	cf := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	milestone := add(asanasim.Task{Name: "Pilot go-live: Family Medicine", Subtype: "milestone", Section: "Go-Live & Hypercare",
		Assignee: "Dana Whitfield", DueOn: "2026-11-02", Custom: cf(asanasim.FieldStatus, asanasim.StatusInProgress)})
	risk := add(asanasim.Task{Name: "Interface engine upgrade slips", Section: "Risks", Assignee: "Tom Keller", DueOn: "2026-12-01",
		Custom: cf(asanasim.FieldStatus, asanasim.StatusNotStarted, asanasim.FieldLikelihood, 4.0, asanasim.FieldImpact, 5.0)})
	ticked := add(asanasim.Task{Name: "Run go-live rehearsal", Section: "Go-Live & Hypercare", Completed: true, CompletedAt: done,
		DueOn: "2026-11-20", StartOn: "2026-11-10", Parent: milestone,
		Custom: cf(asanasim.FieldStatus, asanasim.StatusInProgress, asanasim.FieldPlannedCost, 12000.0, asanasim.FieldActualCost, 13250.75)})
	cancelled := add(asanasim.Task{Name: "Configure device loaner workflow", Section: "Clinical Workflows", Completed: true, CompletedAt: done,
		DueAt: time.Date(2026, 10, 15, 16, 30, 0, 0, time.UTC), Custom: cf(asanasim.FieldStatus, asanasim.StatusCancelled)})
	blank := add(asanasim.Task{Name: "Publish front-desk tip sheets"})

	base := "https://app.asana.com/0/" + p + "/"
	want := map[string]pmsync.Item{
		milestone: {Kind: pmsync.KindMilestone, Title: "Pilot go-live: Family Medicine", Owner: "Dana Whitfield",
			Status: "In Progress", State: pmsync.StateInProgress, Due: "2026-11-02"},
		risk: {Kind: pmsync.KindRisk, Title: "Interface engine upgrade slips", Owner: "Tom Keller",
			Status: "Not Started", State: pmsync.StateTodo, Due: "2026-12-01", Likelihood: 4, Impact: 5},
		ticked: {Kind: pmsync.KindTask, Title: "Run go-live rehearsal", Status: "In Progress", State: pmsync.StateDone,
			Start: "2026-11-10", Due: "2026-11-20", DoneAt: done, PlannedCost: ptr(12000), ActualCost: ptr(13250.75), Parent: milestone},
		cancelled: {Kind: pmsync.KindTask, Title: "Configure device loaner workflow", Status: "Cancelled", State: pmsync.StateCancelled,
			Due: "2026-10-15", DoneAt: done},
		blank: {Kind: pmsync.KindTask, Title: "Publish front-desk tip sheets", State: pmsync.StateTodo},
	}
	got := map[string]pmsync.Item{}
	for _, page := range f.pull(t, "") {
		for _, rec := range page.Records {
			it, err := set.Map(rec)
			if err != nil {
				t.Fatalf("map %s: %v", rec.ExternalID, err)
			}
			got[rec.ExternalID] = it
		}
	}
	for gid, w := range want {
		w.Source, w.ExternalID, w.URL, w.UpdatedAt = f.scope.Source, gid, base+gid, t0
		if d := cmp.Diff(w, got[gid]); d != "" {
			t.Errorf("item %s %q (-want +got):\n%s", gid, w.Title, d)
		}
	}
}

// Acceptance (connector side): a program fed by an Asana project rolls up
// with the milestone and risk counts the fake's own data gives.
func TestGeneratedProjectRollsUp(t *testing.T) {
	set := compileDefault(t)
	f := newFixture(t, fixtureOpts{tasks: 1000})
	var items []pmsync.Item
	for _, page := range f.pull(t, "") {
		for _, rec := range page.Records {
			it, err := set.Map(rec)
			if err != nil {
				t.Fatalf("map %s: %v", rec.ExternalID, err)
			}
			if err := it.Validate(); err != nil {
				t.Fatalf("item %s: %v", rec.ExternalID, err)
			}
			items = append(items, it)
		}
	}
	asOf := pmsync.DateOf(t0)
	var milestones, milestonesDone, late, open, redFlags int
	for _, tk := range f.sim.Tasks(f.project) {
		status, _ := tk.Custom[asanasim.FieldStatus].(string)
		cancelled := status == asanasim.StatusCancelled
		done := !cancelled && (tk.Completed || status == asanasim.StatusDone)
		switch {
		case tk.Subtype == "milestone" && !cancelled:
			milestones++
			if done {
				milestonesDone++
			} else if tk.DueOn < string(asOf) {
				late++
			}
		case tk.Section == asanasim.SectionRisks && !cancelled && !done:
			open++
			if tk.Custom[asanasim.FieldLikelihood].(float64)*tk.Custom[asanasim.FieldImpact].(float64) >= 15 {
				redFlags++
			}
		}
	}
	prog := pmsync.Program{ID: "telehealth", Name: "Telehealth Launch", Start: asOf.AddDays(-150), End: asOf.AddDays(150), Currency: "USD"}
	r := pmsync.Compute(prog, items, nil, pmsync.DefaultRules(), asOf)
	got := []int{r.Milestones.Total, r.Milestones.Done, r.Milestones.Late, r.Risks.Open, r.Risks.RedFlags, r.Items.Live}
	want := []int{milestones, milestonesDone, late, open, redFlags, 1000}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("[milestones done late open-risks red-flags live] (-want +got):\n%s", d)
	}
	if milestones == 0 || late == 0 || open == 0 || redFlags == 0 {
		t.Errorf("the generated plan should have milestones (%d), late ones (%d), open risks (%d) and red flags (%d)", milestones, late, open, redFlags)
	}
}
