package trellosim

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var genNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func generated(t *testing.T, n int, seed int64) (*Server, string) {
	t.Helper()
	clk := &clock{t: genNow}
	s := New(Options{Key: testKey, Token: testToken, Now: clk.Now})
	return s, s.Generate("Patient Portal Go-Live", n, seed, genNow)
}

func TestGenerateTemplate(t *testing.T) {
	s, board := generated(t, 200, 7)
	ts := s.Start()
	defer ts.Close()

	var lists []obj
	getOK(t, ts, "/boards/"+board+"/lists", &lists)
	if diff := cmp.Diff([]string{"Backlog", "Doing", "Blocked", "Done", "Cancelled", "Milestones", "Risks"}, names(lists)); diff != "" {
		t.Errorf("lists (-want +got):\n%s", diff)
	}
	listName := map[string]string{}
	for _, l := range lists {
		listName[l["id"].(string)] = l["name"].(string)
	}
	var labels []obj
	getOK(t, ts, "/boards/"+board+"/labels", &labels)
	labelName := map[string]string{}
	for _, l := range labels {
		labelName[l["id"].(string)] = l["name"].(string)
		if l["color"] == nil {
			t.Errorf("label %v has no colour", l["name"])
		}
	}
	if !slices.Contains(names(labels), "Milestone") || !slices.Contains(names(labels), "Risk") || len(labels) < 4 {
		t.Errorf("labels %v", names(labels))
	}
	var fields []obj
	getOK(t, ts, "/boards/"+board+"/customFields", &fields)
	types := map[string]string{}
	for _, f := range fields {
		types[f["name"].(string)] = f["type"].(string)
		if f["type"] == "list" {
			var opts []string
			for _, o := range f["options"].([]any) {
				opts = append(opts, o.(obj)["value"].(obj)["text"].(string))
			}
			if diff := cmp.Diff([]string{"1", "2", "3", "4", "5"}, opts); diff != "" {
				t.Errorf("%s options (-want +got):\n%s", f["name"], diff)
			}
		}
	}
	want := map[string]string{"Planned Cost": "number", "Actual Cost": "number", "Likelihood": "list", "Impact": "list", "Owner": "text"}
	if diff := cmp.Diff(want, types); diff != "" {
		t.Errorf("custom fields (-want +got):\n%s", diff)
	}
	var members []obj
	getOK(t, ts, "/boards/"+board+"/members", &members)
	if len(members) < 5 {
		t.Errorf("%d board members", len(members))
	}

	cards := s.Cards(board)
	if len(cards) != 200 {
		t.Fatalf("%d cards, want 200", len(cards))
	}
	has := func(c Card, label string) bool {
		return slices.ContainsFunc(c.Labels, func(id string) bool { return labelName[id] == label })
	}
	soon := genNow.AddDate(0, 0, 14)
	var milestones, risks, late, dueSoon, doneMilestones, redFlags, calmRisks, closedRisks, archived int
	taskLists := map[string]int{}
	for _, c := range cards {
		if c.DateLastActivity.After(genNow) || idTime(c.ID).After(genNow) {
			t.Errorf("card %q is from the future: %v", c.Name, c.DateLastActivity)
		}
		for name, v := range c.Custom {
			if types[name] == "number" {
				if _, err := strconv.ParseFloat(v, 64); err != nil {
					t.Errorf("card %q %s = %q is not a number", c.Name, name, v)
				}
			}
		}
		if c.Closed {
			archived++
		}
		list := listName[c.IDList]
		switch {
		case has(c, "Milestone") || list == "Milestones":
			milestones++
			switch {
			case c.DueComplete:
				doneMilestones++
			case c.Due != nil && c.Due.Before(genNow):
				late++
			case c.Due != nil && c.Due.Before(soon):
				dueSoon++
			}
		case has(c, "Risk") || list == "Risks":
			risks++
			l, errL := strconv.Atoi(c.Custom["Likelihood"])
			i, errI := strconv.Atoi(c.Custom["Impact"])
			if errL != nil || errI != nil || l < 1 || l > 5 || i < 1 || i > 5 {
				t.Errorf("risk %q likelihood %q impact %q", c.Name, c.Custom["Likelihood"], c.Custom["Impact"])
			}
			if l*i >= 15 {
				redFlags++
			} else {
				calmRisks++
			}
			if c.Closed {
				closedRisks++
			}
		default:
			taskLists[list]++
			if list == "Done" && c.CheckItemsChecked != c.CheckItems {
				t.Errorf("done task %q has %d of %d items checked", c.Name, c.CheckItemsChecked, c.CheckItems)
			}
			if list == "Done" && c.Due != nil && !c.DueComplete {
				t.Errorf("done task %q is not dueComplete", c.Name)
			}
			if list == "Backlog" && c.CheckItemsChecked != 0 {
				t.Errorf("backlog task %q has checked items", c.Name)
			}
		}
	}
	// 8% and 10% of 200.
	if milestones != 16 || risks != 20 {
		t.Errorf("%d milestones and %d risks, want 16 and 20", milestones, risks)
	}
	if late == 0 || dueSoon == 0 || doneMilestones == 0 {
		t.Errorf("milestones: %d late, %d due soon, %d done; want some of each", late, dueSoon, doneMilestones)
	}
	if redFlags == 0 || calmRisks == 0 || closedRisks == 0 {
		t.Errorf("risks: %d red flags, %d below 15, %d archived; want some of each", redFlags, calmRisks, closedRisks)
	}
	for _, l := range []string{"Backlog", "Doing", "Blocked", "Done", "Cancelled"} {
		if taskLists[l] == 0 {
			t.Errorf("no task in %s: %v", l, taskLists)
		}
	}
	if archived <= closedRisks {
		t.Errorf("%d archived cards, %d of them risks: want archived tasks too", archived, closedRisks)
	}
	var cardNames []string
	for _, c := range cards {
		cardNames = append(cardNames, c.Name)
	}
	all := strings.Join(cardNames, "\n")
	for _, want := range []string{"Configure MyChart proxy access", "Go-live command centre staffing", "Go-live: patient portal live"} {
		if !strings.Contains(all, want) {
			t.Errorf("no card named %q", want)
		}
	}

	// On the wire, custom numbers are strings.
	var wire []obj
	getOK(t, ts, "/boards/"+board+"/cards/all?customFieldItems=true&fields=name", &wire)
	numbers := 0
	for _, c := range wire {
		for _, it := range c["customFieldItems"].([]any) {
			v, _ := it.(obj)["value"].(obj)
			if n, ok := v["number"]; ok {
				numbers++
				if _, isString := n.(string); !isString {
					t.Errorf("number value %#v is not a string", n)
				}
			}
		}
	}
	if numbers == 0 {
		t.Error("no number values on the wire")
	}

	// The history leads up to now: one createCard per card, nothing later
	// than now.
	var acts []obj
	getOK(t, ts, "/boards/"+board+"/actions?filter=createCard&limit=1000", &acts)
	if len(acts) != 200 {
		t.Errorf("%d createCard actions, want 200", len(acts))
	}
	getOK(t, ts, "/boards/"+board+"/actions?limit=1", &acts)
	if newest, _ := time.Parse(TimeFormat, acts[0]["date"].(string)); newest.After(genNow) {
		t.Errorf("newest action at %v, after now", newest)
	}
	getOK(t, ts, "/boards/"+board+"/actions?filter=updateCard:closed&limit=1000", &acts)
	if len(acts) != archived {
		t.Errorf("%d archiving actions for %d archived cards", len(acts), archived)
	}
}

func TestGenerateShares(t *testing.T) {
	for _, n := range []int{0, 1, 3, 25, 120} {
		s, board := generated(t, n, 3)
		cards := s.Cards(board)
		if len(cards) != n {
			t.Errorf("n=%d: %d cards", n, len(cards))
		}
		milestones, risks := 0, 0
		for _, c := range cards {
			switch s.lists[c.IDList].name {
			case "Milestones":
				milestones++
			case "Risks":
				risks++
			}
			for _, l := range c.Labels {
				switch s.labels[l].name {
				case "Milestone":
					if s.lists[c.IDList].name != "Milestones" {
						milestones++
					}
				case "Risk":
					if s.lists[c.IDList].name != "Risks" {
						risks++
					}
				}
			}
		}
		wantM, wantR := int(math.Round(float64(n)*0.08)), int(math.Round(float64(n)*0.10))
		if n >= 3 {
			wantM, wantR = max(wantM, 1), max(wantR, 1)
		}
		if milestones != wantM || risks != wantR {
			t.Errorf("n=%d: %d milestones and %d risks, want %d and %d", n, milestones, risks, wantM, wantR)
		}
	}
}

func TestGenerateDeterministic(t *testing.T) {
	s1, b1 := generated(t, 120, 42)
	s2, b2 := generated(t, 120, 42)
	if b1 != b2 {
		t.Fatalf("board ids %s and %s", b1, b2)
	}
	if diff := cmp.Diff(s1.Cards(b1), s2.Cards(b2)); diff != "" {
		t.Fatalf("same seed, different cards (-first +second):\n%s", diff)
	}
	ts1, ts2 := s1.Start(), s2.Start()
	defer ts1.Close()
	defer ts2.Close()
	for _, p := range []string{"/boards/" + b1 + "/actions?limit=1000", "/boards/" + b1 + "/cards/all?customFieldItems=true&checklists=all"} {
		if a, b := get(t, ts1, p).text(), get(t, ts2, p).text(); a != b {
			t.Errorf("same seed, different %s", p)
		}
	}
	s3, b3 := generated(t, 120, 43)
	if cmp.Equal(s1.Cards(b1), s3.Cards(b3)) {
		t.Error("seeds 42 and 43 gave the same cards")
	}
	// Ids sort by creation.
	var prev string
	for _, c := range s1.Cards(b1) {
		if c.ID <= prev {
			t.Fatalf("card ids out of order: %s after %s", c.ID, prev)
		}
		prev = c.ID
	}
}
