package trellosim

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func types(list []obj) []string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i], _ = a["type"].(string)
	}
	return out
}

// history makes a known sequence of changes after the fixture's five
// createCard actions (t0+1m … t0+5m): a rename at t0+6m, a move at t0+7m,
// a comment and an archiving at t0+8m, a deletion at t0+9m.
func history(t *testing.T, f *fixture) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	build := f.card["build"]
	f.clk.Set(t0.Add(6 * time.Minute))
	must(f.s.UpdateCard(build, func(c *Card) { c.Name = "Build order sets (all clinics)" }))
	f.clk.Set(t0.Add(7 * time.Minute))
	must(f.s.UpdateCard(build, func(c *Card) { c.IDList = f.list["Doing"] }))
	f.clk.Set(t0.Add(8 * time.Minute))
	if r := send(t, f.ts, http.MethodPost, "/cards/"+build+"/actions/comments", url.Values{"text": {"Built in TST."}}); r.status != 200 {
		t.Fatalf("comment: %d %s", r.status, r.text())
	}
	must(f.s.ArchiveCard(f.card["vendor"]))
	f.clk.Set(t0.Add(9 * time.Minute))
	must(f.s.DeleteCard(f.card["parked"]))
}

func TestBoardActions(t *testing.T) {
	f := seed(t, Options{})
	history(t, f)
	var acts []obj
	getOK(t, f.ts, "/boards/"+f.board+"/actions", &acts)
	want := []string{"deleteCard", "updateCard", "commentCard", "updateCard", "updateCard",
		"createCard", "createCard", "createCard", "createCard", "createCard"}
	if diff := cmp.Diff(want, types(acts)); diff != "" {
		t.Fatalf("actions, newest first (-want +got):\n%s", diff)
	}
	for i := 1; i < len(acts); i++ {
		if acts[i]["id"].(string) >= acts[i-1]["id"].(string) || acts[i]["date"].(string) > acts[i-1]["date"].(string) {
			t.Errorf("action %d is not older than action %d", i, i-1)
		}
	}
	del, archive, comment, move, rename, created := acts[0], acts[1], acts[2], acts[3], acts[4], acts[9]

	if created["date"] != "2026-11-20T09:01:00.000Z" || created["idMemberCreator"] == "" {
		t.Errorf("createCard %v", created)
	}
	cd := created["data"].(obj)
	if cd["card"].(obj)["id"] != f.card["build"] || cd["card"].(obj)["name"] != "Build order sets" ||
		cd["card"].(obj)["idShort"] != float64(1) || cd["list"].(obj)["name"] != "Backlog" || cd["board"].(obj)["id"] != f.board {
		t.Errorf("createCard data %v", cd)
	}
	if diff := cmp.Diff(obj{"name": "Build order sets"}, rename["data"].(obj)["old"]); diff != "" {
		t.Errorf("rename old (-want +got):\n%s", diff)
	}
	md := move["data"].(obj)
	if diff := cmp.Diff(obj{"idList": f.list["Backlog"]}, md["old"]); diff != "" {
		t.Errorf("move old (-want +got):\n%s", diff)
	}
	if md["card"].(obj)["idList"] != f.list["Doing"] || md["listBefore"].(obj)["name"] != "Backlog" || md["listAfter"].(obj)["name"] != "Doing" {
		t.Errorf("move data %v", md)
	}
	if comment["data"].(obj)["text"] != "Built in TST." || comment["date"] != "2026-11-20T09:08:00.000Z" {
		t.Errorf("comment %v", comment)
	}
	ad := archive["data"].(obj)
	if ad["card"].(obj)["closed"] != true || !cmp.Equal(ad["old"], obj{"closed": false}) || ad["card"].(obj)["id"] != f.card["vendor"] {
		t.Errorf("archive data %v", ad)
	}
	dd := del["data"].(obj)
	if dd["card"].(obj)["id"] != f.card["parked"] || dd["list"].(obj)["name"] != "Parking" || del["date"] != "2026-11-20T09:09:00.000Z" {
		t.Errorf("deleteCard %v", del)
	}
	if mc := created["memberCreator"].(obj); mc["username"] != "pmointegration" {
		t.Errorf("memberCreator %v", mc)
	}
	if diff := cmp.Diff([]string{"Built in TST."}, f.s.Comments(f.card["build"])); diff != "" {
		t.Errorf("Comments (-want +got):\n%s", diff)
	}
}

func TestActionFilters(t *testing.T) {
	f := seed(t, Options{})
	history(t, f)
	base := "/boards/" + f.board + "/actions"
	cases := []struct {
		query string
		want  []string
	}{
		{"?filter=createCard", []string{"createCard", "createCard", "createCard", "createCard", "createCard"}},
		{"?filter=deleteCard,commentCard", []string{"deleteCard", "commentCard"}},
		{"?filter=updateCard:idList", []string{"updateCard"}},
		{"?filter=updateCard:closed,deleteCard", []string{"deleteCard", "updateCard"}},
		{"?filter=all&limit=2", []string{"deleteCard", "updateCard"}},
		{"?limit=2&page=1", []string{"commentCard", "updateCard"}},
		{"?limit=0", []string{}},
	}
	for _, c := range cases {
		var acts []obj
		getOK(t, f.ts, base+c.query, &acts)
		if diff := cmp.Diff(c.want, types(acts)); diff != "" {
			t.Errorf("actions%s (-want +got):\n%s", c.query, diff)
		}
	}
	var slim []obj
	getOK(t, f.ts, base+"?filter=deleteCard&fields=type,date&memberCreator=false", &slim)
	if len(slim) != 1 || len(slim[0]) != 3 || slim[0]["type"] != "deleteCard" || slim[0]["date"] == nil {
		t.Errorf("fields=type,date: %v", slim)
	}
	for _, q := range []string{"filter=eatCard", "limit=1001", "limit=-1", "since=soon", "before=5f", "fields=colour"} {
		r := get(t, f.ts, base+"?"+q)
		param, _, _ := strings.Cut(q, "=")
		if r.status != 400 || r.text() != "invalid value for "+param {
			t.Errorf("%s: %d %q", q, r.status, r.text())
		}
	}
	// A card's actions default to comments and list moves.
	var own []obj
	getOK(t, f.ts, "/cards/"+f.card["build"]+"/actions", &own)
	if diff := cmp.Diff([]string{"commentCard", "updateCard"}, types(own)); diff != "" {
		t.Errorf("card actions (-want +got):\n%s", diff)
	}
	getOK(t, f.ts, "/cards/"+f.card["build"]+"/actions?filter=commentCard", &own)
	if len(own) != 1 || own[0]["data"].(obj)["text"] != "Built in TST." {
		t.Errorf("card comments %v", own)
	}
	getOK(t, f.ts, "/cards/"+f.card["build"]+"/actions?filter=all", &own)
	if diff := cmp.Diff([]string{"commentCard", "updateCard", "updateCard", "createCard"}, types(own)); diff != "" {
		t.Errorf("all card actions (-want +got):\n%s", diff)
	}
}

func TestActionPaging(t *testing.T) {
	f := seed(t, Options{ActionsPageMax: 4})
	history(t, f)
	base := "/boards/" + f.board + "/actions"
	if r := get(t, f.ts, base+"?limit=5"); r.status != 400 || r.text() != "invalid value for limit" {
		t.Fatalf("limit above ActionsPageMax: %d %q", r.status, r.text())
	}
	var all []string
	before := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		q := base + "?limit=4"
		if before != "" {
			q += "&before=" + before
		}
		var page []obj
		getOK(t, f.ts, q, &page)
		all = append(all, idsOf(page)...)
		if len(page) < 4 {
			break
		}
		before = page[len(page)-1]["id"].(string)
	}
	if len(all) != 10 || !slices.IsSortedFunc(all, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Errorf("paged %d actions %v, want the 10 newest first", len(all), all)
	}

	// since with an id: only newer actions; with a date: from that second.
	var acts []obj
	getOK(t, f.ts, base+"?since="+all[3], &acts)
	if diff := cmp.Diff(all[:3], idsOf(acts)); diff != "" {
		t.Errorf("since an id (-want +got):\n%s", diff)
	}
	getOK(t, f.ts, base+"?since=2026-11-20T09:08:00Z", &acts)
	if diff := cmp.Diff([]string{"deleteCard", "updateCard", "commentCard"}, types(acts)); diff != "" {
		t.Errorf("since a date (-want +got):\n%s", diff)
	}
	getOK(t, f.ts, base+"?before=2026-11-20T09:03:00.000Z", &acts)
	if diff := cmp.Diff(all[8:], idsOf(acts)); diff != "" {
		t.Errorf("before a date (-want +got):\n%s", diff)
	}
	getOK(t, f.ts, base+"?since="+all[6]+"&before="+all[2]+"&limit=2", &acts)
	if diff := cmp.Diff(all[3:5], idsOf(acts)); diff != "" {
		t.Errorf("since+before+limit (-want +got):\n%s", diff)
	}
}

func TestActionsDefaultLimit(t *testing.T) {
	f := seed(t, Options{})
	for i := range 60 {
		f.clk.Advance(time.Second)
		if err := f.s.UpdateCard(f.card["golive"], func(c *Card) { c.Desc = strings.Repeat("x", i+1) }); err != nil {
			t.Fatal(err)
		}
	}
	var acts []obj
	getOK(t, f.ts, "/boards/"+f.board+"/actions", &acts)
	if len(acts) != 50 {
		t.Errorf("default page: %d actions, want 50", len(acts))
	}
	getOK(t, f.ts, "/boards/"+f.board+"/actions?limit=1000", &acts)
	if len(acts) != 65 {
		t.Errorf("limit=1000: %d actions, want 65", len(acts))
	}
}

func TestComments(t *testing.T) {
	f := seed(t, Options{})
	id := f.card["golive"]
	for _, text := range []string{"First", "Second"} {
		f.clk.Advance(time.Minute)
		r := send(t, f.ts, http.MethodPost, "/cards/"+id+"/actions/comments", url.Values{"text": {text}})
		var a obj
		decode(t, r, &a)
		if r.status != 200 || a["type"] != "commentCard" || a["data"].(obj)["text"] != text || a["data"].(obj)["card"].(obj)["id"] != id {
			t.Fatalf("comment %q: %d %v", text, r.status, a)
		}
	}
	if diff := cmp.Diff([]string{"First", "Second"}, f.s.Comments(id)); diff != "" {
		t.Errorf("Comments (-want +got):\n%s", diff)
	}
	var c obj
	getOK(t, f.ts, "/cards/"+id, &c)
	if c["badges"].(obj)["comments"] != float64(2) || c["dateLastActivity"] != "2026-11-20T09:07:00.000Z" {
		t.Errorf("after two comments: badges %v, dateLastActivity %v", c["badges"], c["dateLastActivity"])
	}
	if r := send(t, f.ts, http.MethodPost, "/cards/"+id+"/actions/comments", nil); r.status != 400 || r.text() != "invalid value for text" {
		t.Errorf("comment without text: %d %q", r.status, r.text())
	}
}

func TestGoAPI(t *testing.T) {
	f := seed(t, Options{})
	unknown := "5f0000007a3c51e0d2ffffff"
	if err := f.s.UpdateCard(unknown, func(*Card) {}); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateCard of an unknown card: %v", err)
	}
	if err := f.s.ArchiveCard(unknown); !errors.Is(err, ErrNotFound) {
		t.Errorf("ArchiveCard of an unknown card: %v", err)
	}
	if err := f.s.DeleteCard(unknown); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteCard of an unknown card: %v", err)
	}
	for name, change := range map[string]func(*Card){
		"unknown field":  func(c *Card) { c.Custom = map[string]string{"Colour": "red"} },
		"bad number":     func(c *Card) { c.Custom = map[string]string{"Planned Cost": "lots"} },
		"bad option":     func(c *Card) { c.Custom = map[string]string{"Likelihood": "9"} },
		"bad checkbox":   func(c *Card) { c.Custom = map[string]string{"Approved": "yes"} },
		"bad date":       func(c *Card) { c.Custom = map[string]string{"Go-Live Date": "soon"} },
		"foreign list":   func(c *Card) { c.IDList = unknown },
		"unknown label":  func(c *Card) { c.Labels = []string{unknown} },
		"unknown member": func(c *Card) { c.Members = []string{unknown} },
	} {
		if err := f.s.UpdateCard(f.card["build"], change); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("AddCard into an unknown list did not panic")
			}
		}()
		f.s.AddCard(f.board, Card{Name: "Lost", IDList: unknown})
	}()

	// Card hands out copies.
	c, _ := f.s.Card(f.card["build"])
	c.Custom["Owner"] = "Mallory"
	c.Members[0] = unknown
	again, _ := f.s.Card(f.card["build"])
	if again.Custom["Owner"] != "Alice Example" || again.Members[0] != f.alice {
		t.Error("Card shares its maps or slices with the simulator")
	}
	// A custom field change is logged the way Trello logs it.
	f.clk.Advance(time.Minute)
	if err := f.s.UpdateCard(f.card["build"], func(c *Card) { c.Custom["Planned Cost"] = "15" }); err != nil {
		t.Fatal(err)
	}
	var acts []obj
	getOK(t, f.ts, "/boards/"+f.board+"/actions?filter=updateCustomFieldItem", &acts)
	if len(acts) != 1 {
		t.Fatalf("updateCustomFieldItem actions: %v", acts)
	}
	d := acts[0]["data"].(obj)
	if d["customField"].(obj)["name"] != "Planned Cost" || !cmp.Equal(d["old"], obj{"value": obj{"number": "12.5"}}) ||
		!cmp.Equal(d["customFieldItem"].(obj)["value"], obj{"number": "15"}) {
		t.Errorf("updateCustomFieldItem data %v", d)
	}
	if got := len(f.s.Cards(f.board)); got != 5 {
		t.Errorf("Cards: %d, want all 5 including the archived one", got)
	}
}
