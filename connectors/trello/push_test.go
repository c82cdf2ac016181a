package trello

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox/trellosim"
)

func ptr(f float64) *float64 { return &f }

// rollup is a hand-built rollup of the EHR upgrade.
func rollup(version string, health pmsync.HealthStatus) pmsync.Rollup {
	return pmsync.Rollup{
		ID: "ehr-upgrade", Name: "EHR Upgrade", AsOf: "2026-11-26", Version: version,
		Health:     pmsync.Health{Status: health, Reasons: []string{"1 milestone late: Go-live readiness review (due 2026-11-20)"}},
		Progress:   pmsync.Progress{Done: 85, Total: 200, Percent: 42.5},
		Milestones: pmsync.MilestoneCounts{Total: 8, Done: 3, Late: 1, DueSoon: 1},
		Risks:      pmsync.RiskCounts{Open: 9, RedFlags: 2},
		Budget: pmsync.Budget{Currency: "USD", Planned: 2500000, Actual: 980000.5,
			BurnPercent: ptr(39.2), ElapsedPercent: ptr(50), VariancePoints: ptr(-10.8)},
		Late:     []pmsync.ItemRef{{Title: "Go-live readiness review", Due: "2026-11-20"}},
		DueSoon:  []pmsync.ItemRef{{Title: "Command centre stood down", Due: "2026-12-02"}},
		RedFlags: []pmsync.ItemRef{{Title: "Interface engine capacity during the go-live peak", Score: 20}},
	}
}

// pushFixture is a board with an executive list and a status card.
type pushFixture struct {
	*simFixture
	list, card, steering string
}

func newPushFixture(t *testing.T, edit func(*connectors.Params)) *pushFixture {
	t.Helper()
	f := &pushFixture{simFixture: newSim(t, simOpts{params: edit})}
	f.list = f.sim.AddList(f.board, "Executive")
	f.steering = f.sim.AddLabel(f.board, "Steering", "blue")
	f.card = f.sim.AddCard(f.board, trellosim.Card{Name: "EHR Upgrade — executive status", IDList: f.list, Labels: []string{f.steering}})
	return f
}

func (f *pushFixture) push(t *testing.T, target Target, rs ...pmsync.Rollup) []connectors.Receipt {
	t.Helper()
	got, err := f.c.Push(context.Background(), connectors.Target{Key: target.Key(), Config: target}, rs)
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if len(got) != len(rs) {
		t.Fatalf("%d receipts for %d rollups", len(got), len(rs))
	}
	return got
}

// writes counts the requests since n that change something.
func (f *pushFixture) writes(n int, method, pathSuffix string) int {
	k := 0
	for _, r := range f.requestsSince(n) {
		if r.Method == method && strings.HasSuffix(r.Path, pathSuffix) {
			k++
		}
	}
	return k
}

func (f *pushFixture) allWrites(n int) int {
	k := 0
	for _, r := range f.requestsSince(n) {
		if r.Method != http.MethodGet {
			k++
		}
	}
	return k
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// A card target gets the summary, the next milestone's due date and the
// health label once per version; the same version again writes nothing.
func TestPushCardOncePerVersion(t *testing.T) {
	f := newPushFixture(t, nil)
	target := Target{Card: f.card}
	r1 := rollup("a1b2c3d4e5f6", pmsync.Amber)
	rc := f.push(t, target, r1)[0]
	if rc.Program != "ehr-upgrade" || rc.ID != f.card || rc.Existing || !strings.HasPrefix(rc.URL, "https://trello.com/c/") {
		t.Errorf("receipt %+v", rc)
	}
	card, _ := f.sim.Card(f.card)
	for _, want := range []string{
		"Health: Amber", "1 milestone late: Go-live readiness review (due 2026-11-20)",
		"42.5% done (85 of 200)", "milestones 3 of 8 done, 1 late, 1 due soon",
		"Next milestone: Go-live readiness review (due 2026-11-20)",
		"Interface engine capacity during the go-live peak (score 20)",
		"980,000.50 of 2,500,000.00 USD", "As of 2026-11-26.",
	} {
		if !strings.Contains(card.Desc, want) {
			t.Errorf("description lacks %q:\n%s", want, card.Desc)
		}
	}
	if got := lastLine(card.Desc); got != "pmsync:program=ehr-upgrade version=a1b2c3d4e5f6" {
		t.Errorf("last line %q, want the marker", got)
	}
	if card.Due == nil || !card.Due.Equal(time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("due %v, want the late milestone's date (2026-11-20) at noon UTC", card.Due)
	}
	amber := f.sim.LabelID(f.board, "Health: Amber")
	if amber == "" || !sameSet(card.Labels, []string{f.steering, amber}) {
		t.Errorf("labels %v, want Steering kept and Health: Amber (%s) added", card.Labels, amber)
	}
	if card.Name != "EHR Upgrade — executive status" {
		t.Errorf("a card target's name changed to %q", card.Name)
	}

	n := f.sim.RequestCount()
	if rc := f.push(t, target, r1)[0]; !rc.Existing || rc.ID != f.card {
		t.Errorf("second push of the same version: %+v, want Existing", rc)
	}
	if w := f.allWrites(n); w != 0 {
		t.Errorf("second push of the same version wrote %d times", w)
	}

	// A new version in red: the amber label goes, the red one comes.
	r2 := rollup("0f9e8d7c6b5a", pmsync.Red)
	r2.Late, r2.DueSoon = nil, []pmsync.ItemRef{{Title: "Command centre stood down", Due: "2026-12-02"}}
	f.push(t, target, r2)
	card, _ = f.sim.Card(f.card)
	red := f.sim.LabelID(f.board, "Health: Red")
	if red == "" || !sameSet(card.Labels, []string{f.steering, red}) {
		t.Errorf("labels %v, want Steering and Health: Red (%s) only", card.Labels, red)
	}
	if card.Due == nil || !card.Due.Equal(time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("due %v, want the milestone due soon (2026-12-02)", card.Due)
	}
	if lastLine(card.Desc) != "pmsync:program=ehr-upgrade version=0f9e8d7c6b5a" {
		t.Errorf("marker after v2: %q", lastLine(card.Desc))
	}

	// No open milestone named: the due date is cleared.
	r3 := rollup("112233445566", pmsync.Green)
	r3.Late, r3.DueSoon = nil, nil
	f.push(t, target, r3)
	if card, _ = f.sim.Card(f.card); card.Due != nil {
		t.Errorf("due %v after a rollup with no open milestone, want none", card.Due)
	}
	if f.writes(0, http.MethodPost, "/labels") != 3 {
		t.Errorf("%d labels created, want one per colour", f.writes(0, http.MethodPost, "/labels"))
	}
}

// comment: true adds one comment per version, never two.
func TestPushCommentOncePerVersion(t *testing.T) {
	f := newPushFixture(t, nil)
	target := Target{Card: f.card, Comment: true}
	f.push(t, target, rollup("v1", pmsync.Amber))
	f.push(t, target, rollup("v1", pmsync.Amber))
	comments := f.sim.Comments(f.card)
	if len(comments) != 1 || lastLine(comments[0]) != "pmsync:program=ehr-upgrade version=v1" {
		t.Fatalf("comments %q, want one ending in the v1 marker", comments)
	}
	if rc := f.push(t, target, rollup("v2", pmsync.Red))[0]; rc.Existing {
		t.Errorf("a new version came back Existing")
	}
	if comments = f.sim.Comments(f.card); len(comments) != 2 {
		t.Errorf("%d comments after two versions, want 2", len(comments))
	}
}

// A lost answer to a write does not make a second one: the comment, the
// health label and the list card are looked for again before a retry, and
// the card update is a PUT that repeats harmlessly.
func TestPushLostResponses(t *testing.T) {
	for _, tc := range []struct {
		name, method, path string
		list               bool
	}{
		{"comment", http.MethodPost, "/actions/comments", false},
		{"label", http.MethodPost, "/labels", false},
		{"card update", http.MethodPut, "", false},
		{"new list card", http.MethodPost, "/cards", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			drop := &dropFirst{method: tc.method, path: tc.path}
			f := newPushFixture(t, func(p *connectors.Params) {
				drop.next = http.DefaultTransport.(*http.Transport).Clone()
				p.Transport = drop
			})
			if tc.method == http.MethodPut {
				drop.path = "/cards/" + f.card
			}
			target := Target{Card: f.card, Comment: true}
			if tc.list {
				target = Target{List: f.list, Comment: true}
			}
			rc := f.push(t, target, rollup("v1", pmsync.Amber))[0]
			if drop.dropped != 1 {
				t.Fatalf("no answer was lost (%d); the test did not exercise the path", drop.dropped)
			}
			var mine []trellosim.Card
			for _, c := range f.sim.Cards(f.board) {
				if p, _, ok := readMarker(c.Desc); ok && p == "ehr-upgrade" {
					mine = append(mine, c)
				}
			}
			if len(mine) != 1 || mine[0].ID != rc.ID {
				t.Fatalf("%d cards carry the program (receipt %s), want exactly one", len(mine), rc.ID)
			}
			if got := f.sim.Comments(rc.ID); len(got) != 1 {
				t.Errorf("%d comments, want 1", len(got))
			}
			if got := f.writes(0, http.MethodPost, "/labels"); got != 1 {
				t.Errorf("%d labels created, want 1", got)
			}
			card := mine[0]
			amber := f.sim.LabelID(f.board, "Health: Amber")
			if !slices.Contains(card.Labels, amber) || lastLine(card.Desc) != "pmsync:program=ehr-upgrade version=v1" {
				t.Errorf("card %s not finished: labels %v, last line %q", card.ID, card.Labels, lastLine(card.Desc))
			}
			// Delivered means delivered: the next push of the version writes nothing.
			n := f.sim.RequestCount()
			if rc := f.push(t, target, rollup("v1", pmsync.Amber))[0]; !rc.Existing || f.allWrites(n) != 0 {
				t.Errorf("push after the lost answer: Existing %v, %d writes", rc.Existing, f.allWrites(n))
			}
		})
	}
}

// A list target keeps one card per program, also across restarts.
func TestPushListOneCardPerProgram(t *testing.T) {
	f := newPushFixture(t, nil)
	target := Target{List: f.list}
	pacs := func(v string) pmsync.Rollup {
		r := rollup(v, pmsync.Green)
		r.ID, r.Name = "pacs-viewer", "PACS Viewer Integration"
		return r
	}
	rcs := f.push(t, target, rollup("v1", pmsync.Amber), pacs("v1"))
	if rcs[0].ID == rcs[1].ID || rcs[0].Existing || rcs[1].Existing {
		t.Fatalf("receipts %+v, want two new cards", rcs)
	}
	f.push(t, target, rollup("v2", pmsync.Red), pacs("v1"))

	// A fresh connector (a restart) finds the cards again.
	other, _, _ := newConnector(t, trellosim.BaseURL(f.ts), nil)
	f.c = other
	again := f.push(t, target, rollup("v3", pmsync.Red), pacs("v2"))
	if again[0].ID != rcs[0].ID || again[1].ID != rcs[1].ID {
		t.Errorf("after a restart the programs landed on %s and %s, want %s and %s", again[0].ID, again[1].ID, rcs[0].ID, rcs[1].ID)
	}
	byProgram := map[string][]trellosim.Card{}
	for _, c := range f.sim.Cards(f.board) {
		if p, _, ok := readMarker(c.Desc); ok {
			byProgram[p] = append(byProgram[p], c)
		}
	}
	if len(byProgram["ehr-upgrade"]) != 1 || len(byProgram["pacs-viewer"]) != 1 {
		t.Fatalf("cards per program: ehr %d, pacs %d; want one each", len(byProgram["ehr-upgrade"]), len(byProgram["pacs-viewer"]))
	}
	ehr := byProgram["ehr-upgrade"][0]
	if ehr.Name != "EHR Upgrade" || ehr.IDList != f.list || lastLine(ehr.Desc) != "pmsync:program=ehr-upgrade version=v3" {
		t.Errorf("EHR card: name %q list %s marker %q", ehr.Name, ehr.IDList, lastLine(ehr.Desc))
	}
	if pc := byProgram["pacs-viewer"][0]; !slices.Contains(pc.Labels, f.sim.LabelID(f.board, "Health: Green")) {
		t.Errorf("PACS card labels %v, want Health: Green", pc.Labels)
	}
}

// A card shows one program: two programs for one card are refused before
// anything is sent, and a card showing another program is left alone.
func TestPushCardOneProgram(t *testing.T) {
	f := newPushFixture(t, nil)
	target := Target{Card: f.card}
	pacs := rollup("v1", pmsync.Green)
	pacs.ID = "pacs-viewer"
	n := f.sim.RequestCount()
	_, err := f.c.Push(context.Background(), connectors.Target{Key: target.Key(), Config: target}, []pmsync.Rollup{rollup("v1", pmsync.Amber), pacs})
	if err == nil || !strings.Contains(err.Error(), "one program") || f.sim.RequestCount() != n {
		t.Errorf("two programs to one card: %v after %d requests", err, f.sim.RequestCount()-n)
	}

	f.push(t, target, pacs)
	n = f.sim.RequestCount()
	_, err = f.c.Push(context.Background(), connectors.Target{Key: target.Key(), Config: target}, []pmsync.Rollup{rollup("v1", pmsync.Amber)})
	if !errors.Is(err, ErrOtherProgram) || f.allWrites(n) != 0 {
		t.Errorf("push to a card showing another program: %v with %d writes", err, f.allWrites(n))
	}
}

// Trello's refusals are APIErrors naming what failed, without secrets.
func TestPushErrors(t *testing.T) {
	f := newPushFixture(t, nil)
	f.sim.Inject(trellosim.Fault{Method: http.MethodPut, Path: "/cards/" + f.card, Status: 400})
	_, err := f.c.Push(context.Background(), connectors.Target{Key: "card=" + f.card, Config: Target{Card: f.card}}, []pmsync.Rollup{rollup("v1", pmsync.Amber)})
	var ae *connectors.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Message != trellosim.MsgInvalidID || !strings.Contains(err.Error(), f.card) {
		t.Errorf("Push after a 400 = %v", err)
	}
	assertNoSecret(t, err)

	missing := "6b07e0000000000000000001"
	_, err = f.c.Push(context.Background(), connectors.Target{Key: "card=" + missing, Config: Target{Card: missing}}, []pmsync.Rollup{rollup("v1", pmsync.Amber)})
	if connectors.StatusOf(err) != 404 || !strings.Contains(err.Error(), missing) {
		t.Errorf("Push to a missing card = %v", err)
	}
}
