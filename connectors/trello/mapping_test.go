package trello

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/mapping"
	"github.com/pmsync/pmsync/sandbox/trellosim"
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

func mapAll(t *testing.T, set *mapping.Set, pages []connectors.Page) map[string]pmsync.Item {
	t.Helper()
	out := map[string]pmsync.Item{}
	for _, p := range pages {
		for _, r := range p.Records {
			it, err := set.Map(r)
			if err != nil {
				t.Fatalf("map %s: %v", r.ExternalID, err)
			}
			if err := it.Validate(); err != nil {
				t.Fatalf("item %s: %v", r.ExternalID, err)
			}
			out[r.ExternalID] = it
		}
	}
	return out
}

// The default mapping reads the PMO template: each card of the recorded
// board maps to the item written out by hand from testdata/cards.json.
func TestDefaultMappingRecorded(t *testing.T) {
	set := compileDefault(t)
	srv := newRecorded(t)
	c, _, _ := newConnector(t, srv.ts.URL+"/1", nil)
	// What the mapping reads is what the engine puts in Scope.Fields.
	scope := recScope(set.References("fields", "custom")...)
	got := mapAll(t, set, pullPages(t, c, scope, ""))

	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	url := func(short, slug string, n int) string {
		return "https://trello.com/c/" + short + "/" + strconv.Itoa(n) + "-" + slug
	}
	want := map[string]pmsync.Item{
		cardMS: {Kind: pmsync.KindMilestone, Title: "Integrated testing sign-off", Owner: "Priya Raman",
			URL: url("Hq3KbT7w", "integrated-testing-sign-off", 257), Status: "Milestones", State: pmsync.StateTodo,
			Due: "2026-12-04", UpdatedAt: at("2026-11-25T16:30:00.000Z"), PercentComplete: ptr(75), PlannedCost: ptr(48000),
			Labels: []string{"Milestone"}},
		cardRisk: {Kind: pmsync.KindRisk, Title: "DICOM modality worklist outage during cutover", Owner: "Dr. Elena Ruiz",
			URL: url("pR8vN2cx", "dicom-modality-worklist-outage-during-cutover", 258), Status: "Risks", State: pmsync.StateTodo,
			UpdatedAt: at("2026-11-26T07:04:00.118Z"), Likelihood: 4, Impact: 5, Labels: []string{"Risk", "Interfaces"}},
		cardArch: {Kind: pmsync.KindRisk, Title: "Vendor VPN certificate expires before go-live",
			URL: url("Lw4mZs9d", "vendor-vpn-certificate-expires-before-go-live", 259), Status: "Risks", State: pmsync.StateCancelled,
			UpdatedAt: at("2026-11-26T07:02:30.412Z"), Likelihood: 2, Impact: 3, Labels: []string{"Risk"}},
		cardTask: {Kind: pmsync.KindTask, Title: "Configure hanging protocols for CT", Owner: "Marcus Bell",
			URL: url("Yb6tQe1f", "configure-hanging-protocols-for-ct", 260), Status: "Doing", State: pmsync.StateInProgress,
			Start: "2026-11-16", Due: "2026-12-11", UpdatedAt: at("2026-11-24T10:12:45.003Z"),
			PlannedCost: ptr(12000.5), ActualCost: ptr(13250.75), Labels: []string{"Interfaces"}},
		cardDone: {Kind: pmsync.KindTask, Title: "Decommission legacy viewer workstations", Owner: "Priya Raman",
			URL: url("Ka2nVj5r", "decommission-legacy-viewer-workstations", 261), Status: "Done", State: pmsync.StateDone,
			Due: "2026-10-30", UpdatedAt: at("2026-11-02T09:41:07.530Z"), PercentComplete: ptr(100)},
		cardPark: {Kind: pmsync.KindTask, Title: "Evaluate 3D reconstruction add-on",
			URL: url("Df7gRk3p", "evaluate-3d-reconstruction-add-on", 262), Status: "Parking lot", State: pmsync.StateTodo,
			UpdatedAt: at("2026-09-14T08:20:00.000Z")},
	}
	if len(got) != len(want) {
		t.Fatalf("mapped %d items, want %d", len(got), len(want))
	}
	for id, w := range want {
		w.Source, w.ExternalID = "pacs-trello", id
		if d := cmp.Diff(w, got[id], cmpopts.EquateEmpty()); d != "" {
			t.Errorf("item %s %q (-want +got):\n%s", id, w.Title, d)
		}
	}
}

// Acceptance (connector side): a program fed by a generated board rolls
// up with the counts the simulator's own cards give under the template's
// rules, and every archived risk is cancelled, not deleted.
func TestGeneratedBoardRollsUp(t *testing.T) {
	set := compileDefault(t)
	f := newSim(t, simOpts{cards: 1000})
	f.scope.Fields = set.References("fields", "custom")
	pages := f.pull(t, "")
	items := mapAll(t, set, pages)

	asOf := pmsync.DateOf(t0)
	listName := map[string]string{}
	for _, name := range trellosim.TemplateLists {
		listName[f.sim.ListID(f.board, name)] = name
	}
	msLabel, riskLabel := f.sim.LabelID(f.board, "Milestone"), f.sim.LabelID(f.board, "Risk")
	var milestones, msDone, late, open, redFlags, archivedRisks int
	for _, c := range f.sim.Cards(f.board) {
		list := listName[c.IDList]
		isMS := slices.Contains(c.Labels, msLabel) || list == "Milestones"
		isRisk := !isMS && (slices.Contains(c.Labels, riskLabel) || list == "Risks")
		cancelled := list == "Cancelled" || c.Closed && isRisk
		done := !cancelled && (c.DueComplete || list == "Done")
		switch {
		case isMS && !cancelled:
			milestones++
			if done {
				msDone++
			} else if c.Due != nil && pmsync.Date(c.Due.UTC().Format(pmsync.DateLayout)) < asOf {
				late++
			}
		case isRisk && !cancelled && !done:
			open++
			l, _ := strconv.Atoi(c.Custom["Likelihood"])
			i, _ := strconv.Atoi(c.Custom["Impact"])
			if l*i >= 15 {
				redFlags++
			}
		}
		if isRisk && c.Closed {
			archivedRisks++
			if it := items[c.ID]; it.State != pmsync.StateCancelled || it.Deleted() {
				t.Errorf("archived risk %s mapped to %s (deleted %v), want cancelled", c.ID, it.State, it.Deleted())
			}
		}
	}
	all := make([]pmsync.Item, 0, len(items))
	for _, it := range items {
		all = append(all, it)
	}
	prog := pmsync.Program{ID: "portal", Name: "Patient Portal Go-Live", Start: asOf.AddDays(-150), End: asOf.AddDays(150), Currency: "USD"}
	r := pmsync.Compute(prog, all, nil, pmsync.DefaultRules(), asOf)
	got := []int{r.Milestones.Total, r.Milestones.Done, r.Milestones.Late, r.Risks.Open, r.Risks.RedFlags, r.Items.Live}
	want := []int{milestones, msDone, late, open, redFlags, 1000}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("[milestones done late open-risks red-flags live] (-want +got):\n%s", d)
	}
	if milestones == 0 || late == 0 || open == 0 || redFlags == 0 || archivedRisks == 0 {
		t.Errorf("the generated board should have milestones (%d), late ones (%d), open risks (%d), red flags (%d) and archived risks (%d)",
			milestones, late, open, redFlags, archivedRisks)
	}
	if r.Budget.Planned == 0 || r.Budget.Actual == 0 {
		t.Errorf("budget planned %v actual %v: the cost fields did not map", r.Budget.Planned, r.Budget.Actual)
	}
}
