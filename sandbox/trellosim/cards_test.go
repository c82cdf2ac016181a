package trellosim

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBoard(t *testing.T) {
	f := seed(t, Options{})
	var b obj
	getOK(t, f.ts, "/boards/"+f.board, &b)
	if b["id"] != f.board || b["name"] != "EHR Pilot" || b["closed"] != false {
		t.Errorf("board %v", b)
	}
	if !strings.HasPrefix(b["url"].(string), "https://trello.com/b/") || !strings.HasSuffix(b["url"].(string), "/ehr-pilot") ||
		!strings.HasPrefix(b["shortUrl"].(string), "https://trello.com/b/") {
		t.Errorf("url %v shortUrl %v", b["url"], b["shortUrl"])
	}
	if _, ok := b["dateLastActivity"]; ok {
		t.Error("dateLastActivity is not among Trello's default board fields")
	}
	var some obj
	getOK(t, f.ts, "/boards/"+f.board+"?fields=name,dateLastActivity", &some)
	// The last card was added five minutes after t0.
	want := obj{"id": f.board, "name": "EHR Pilot", "dateLastActivity": "2026-11-20T09:05:00.000Z"}
	if diff := cmp.Diff(want, some); diff != "" {
		t.Errorf("fields=name,dateLastActivity (-want +got):\n%s", diff)
	}
}

func TestBoardCardsFilters(t *testing.T) {
	f := seed(t, Options{})
	path := "/boards/" + f.board + "/cards"
	cases := []struct {
		query string
		want  []string // short names, in the expected order
	}{
		// visible is the default: open cards in open lists, list by list.
		{"", []string{"build", "golive", "vendor"}},
		{"/visible", []string{"build", "golive", "vendor"}},
		{"/open", []string{"build", "golive", "vendor", "parked"}},
		{"/closed", []string{"archived"}},
		{"/all", []string{"build", "golive", "vendor", "archived", "parked"}},
		{"?filter=all", []string{"build", "golive", "vendor", "archived", "parked"}},
		{"/none", []string{}},
	}
	for _, c := range cases {
		var got []obj
		getOK(t, f.ts, path+c.query, &got)
		want := make([]string, len(c.want))
		for i, n := range c.want {
			want[i] = f.card[n]
		}
		if diff := cmp.Diff(want, idsOf(got)); diff != "" {
			t.Errorf("cards%s (-want +got):\n%s", c.query, diff)
		}
	}
	if r := get(t, f.ts, path+"/sideways"); r.status != 400 || r.text() != "invalid value for filter" {
		t.Errorf("bad filter: %d %q", r.status, r.text())
	}
	// Cards of a list, open ones by default.
	var inDone []obj
	getOK(t, f.ts, "/lists/"+f.list["Done"]+"/cards", &inDone)
	if diff := cmp.Diff([]string{f.card["vendor"]}, idsOf(inDone)); diff != "" {
		t.Errorf("lists/Done/cards (-want +got):\n%s", diff)
	}
	getOK(t, f.ts, "/lists/"+f.list["Done"]+"/cards?filter=all", &inDone)
	if diff := cmp.Diff([]string{f.card["vendor"], f.card["archived"]}, idsOf(inDone)); diff != "" {
		t.Errorf("lists/Done/cards?filter=all (-want +got):\n%s", diff)
	}
}

func TestCardJSON(t *testing.T) {
	f := seed(t, Options{})
	var cards []obj
	getOK(t, f.ts, "/boards/"+f.board+"/cards", &cards)
	build, golive := cards[0], cards[1]

	for k, want := range map[string]any{
		"id": f.card["build"], "name": "Build order sets", "desc": "Cardiology first",
		"idBoard": f.board, "idList": f.list["Backlog"], "closed": false,
		"due": "2026-11-26T17:00:00.000Z", "dueComplete": false, "start": nil,
		"dateLastActivity": "2026-11-20T09:01:00.000Z", "idShort": float64(1),
	} {
		if !cmp.Equal(build[k], want) {
			t.Errorf("build[%q] = %#v, want %#v", k, build[k], want)
		}
	}
	for _, k := range []string{"pos", "url", "shortUrl", "idLabels", "labels", "idMembers", "idChecklists", "badges"} {
		if _, ok := build[k]; !ok {
			t.Errorf("card has no %q", k)
		}
	}
	if _, ok := build["customFieldItems"]; ok {
		t.Error("customFieldItems sent without customFieldItems=true")
	}
	badges := build["badges"].(obj)
	if badges["checkItems"] != float64(4) || badges["checkItemsChecked"] != float64(1) {
		t.Errorf("badges %v, want 4 items, 1 checked", badges)
	}
	if len(build["idChecklists"].([]any)) != 1 {
		t.Errorf("idChecklists %v, want one", build["idChecklists"])
	}
	if diff := cmp.Diff([]any{f.alice}, build["idMembers"]); diff != "" {
		t.Errorf("idMembers (-want +got):\n%s", diff)
	}
	wantLabels := []any{obj{"id": f.label["Milestone"], "idBoard": f.board, "name": "Milestone", "color": "purple"}}
	if diff := cmp.Diff(wantLabels, golive["labels"]); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{f.label["Milestone"]}, golive["idLabels"]); diff != "" {
		t.Errorf("idLabels (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(build["url"].(string), "https://trello.com/c/") || !strings.HasSuffix(build["url"].(string), "/1-build-order-sets") {
		t.Errorf("url %v", build["url"])
	}

	// fields= keeps the named fields and the id.
	var slim []obj
	getOK(t, f.ts, "/boards/"+f.board+"/cards?fields=name,idList", &slim)
	want := obj{"id": f.card["build"], "name": "Build order sets", "idList": f.list["Backlog"]}
	if diff := cmp.Diff(want, slim[0]); diff != "" {
		t.Errorf("fields=name,idList (-want +got):\n%s", diff)
	}
	if r := get(t, f.ts, "/boards/"+f.board+"/cards?fields=name,colour"); r.status != 400 || r.text() != "invalid value for fields" {
		t.Errorf("unknown field: %d %q", r.status, r.text())
	}
}

func TestCustomFieldItems(t *testing.T) {
	f := seed(t, Options{})
	var fields []obj
	getOK(t, f.ts, "/boards/"+f.board+"/customFields", &fields)
	if got := names(fields); !cmp.Equal(got, []string{"Planned Cost", "Go-Live Date", "Approved", "Likelihood", "Owner"}) {
		t.Fatalf("custom fields %v", got)
	}
	fieldID := map[string]string{}
	for _, fd := range fields {
		fieldID[fd["name"].(string)] = fd["id"].(string)
		if fd["idModel"] != f.board || fd["modelType"] != "board" || fd["fieldGroup"] == "" {
			t.Errorf("field %v", fd)
		}
	}
	types := map[string]string{}
	for _, fd := range fields {
		types[fd["name"].(string)] = fd["type"].(string)
	}
	if diff := cmp.Diff(map[string]string{"Planned Cost": "number", "Go-Live Date": "date", "Approved": "checkbox", "Likelihood": "list", "Owner": "text"}, types); diff != "" {
		t.Errorf("types (-want +got):\n%s", diff)
	}
	likelihood := fields[3]
	opts := likelihood["options"].([]any)
	if len(opts) != 5 {
		t.Fatalf("Likelihood options %v", opts)
	}
	four := opts[3].(obj)
	if four["value"].(obj)["text"] != "4" || four["idCustomField"] != fieldID["Likelihood"] || four["color"] == nil || four["pos"] == nil {
		t.Errorf("option 4 = %v", four)
	}

	var cards []obj
	getOK(t, f.ts, "/boards/"+f.board+"/cards?customFieldItems=true", &cards)
	byField := func(card obj) map[string]obj {
		out := map[string]obj{}
		for _, it := range card["customFieldItems"].([]any) {
			item := it.(obj)
			if item["modelType"] != "card" || item["idModel"] != card["id"] || !validID(item["id"].(string)) {
				t.Errorf("item %v", item)
			}
			out[item["idCustomField"].(string)] = item
		}
		return out
	}
	build, golive, vendor := byField(cards[0]), byField(cards[1]), byField(cards[2])
	// Numbers are strings in Trello's custom field values.
	if diff := cmp.Diff(obj{"number": "12.5"}, build[fieldID["Planned Cost"]]["value"]); diff != "" {
		t.Errorf("number value (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(obj{"text": "Alice Example"}, build[fieldID["Owner"]]["value"]); diff != "" {
		t.Errorf("text value (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(obj{"date": "2026-12-01T15:00:00.000Z"}, golive[fieldID["Go-Live Date"]]["value"]); diff != "" {
		t.Errorf("date value (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(obj{"checked": "true"}, golive[fieldID["Approved"]]["value"]); diff != "" {
		t.Errorf("checkbox value (-want +got):\n%s", diff)
	}
	li := golive[fieldID["Likelihood"]]
	if li["idValue"] != four["id"] || li["value"] != nil {
		t.Errorf("list item %v: want idValue %v and no value", li, four["id"])
	}
	if len(vendor) != 0 {
		t.Errorf("a card without values has items %v", vendor)
	}
	// The same items on the card's own endpoint.
	var items []obj
	getOK(t, f.ts, "/cards/"+f.card["golive"]+"/customFieldItems", &items)
	if len(items) != 3 {
		t.Errorf("cards/{id}/customFieldItems: %v", items)
	}
}

func TestCardExtras(t *testing.T) {
	f := seed(t, Options{})
	var cards []obj
	getOK(t, f.ts, "/boards/"+f.board+"/cards?checklists=all&members=true", &cards)
	build, vendor := cards[0], cards[2]
	lists := build["checklists"].([]any)
	if len(lists) != 1 {
		t.Fatalf("checklists %v", lists)
	}
	cl := lists[0].(obj)
	items := cl["checkItems"].([]any)
	var states []string
	for _, it := range items {
		states = append(states, it.(obj)["state"].(string))
	}
	if diff := cmp.Diff([]string{"complete", "incomplete", "incomplete", "incomplete"}, states); diff != "" {
		t.Errorf("check item states (-want +got):\n%s", diff)
	}
	if cl["idCard"] != f.card["build"] || cl["id"] != build["idChecklists"].([]any)[0] {
		t.Errorf("checklist %v", cl)
	}
	var members []string
	for _, m := range vendor["members"].([]any) {
		members = append(members, m.(obj)["fullName"].(string))
	}
	if diff := cmp.Diff([]string{"Alice Example", "Bob Example"}, members); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	var own []obj
	getOK(t, f.ts, "/cards/"+f.card["build"]+"/checklists", &own)
	if len(own) != 1 || own[0]["id"] != cl["id"] {
		t.Errorf("cards/{id}/checklists = %v", own)
	}
	if r := get(t, f.ts, "/boards/"+f.board+"/cards?checklists=some"); r.status != 400 {
		t.Errorf("checklists=some: %d", r.status)
	}
}

func TestCardPaging(t *testing.T) {
	f := seed(t, Options{})
	// Seven more cards, a minute apart, on top of the fixture's five.
	for i := range 7 {
		f.clk.Advance(time.Minute)
		f.card[string(rune('A'+i))] = f.s.AddCard(f.board, Card{Name: "Task " + string(rune('A'+i)), IDList: f.list["Backlog"]})
	}
	all := f.s.Cards(f.board)
	var allIDs []string
	for _, c := range all {
		allIDs = append(allIDs, c.ID)
	}
	if len(allIDs) != 12 || !slices.IsSorted(allIDs) {
		t.Fatalf("seeded ids %v", allIDs)
	}
	newestFirst := slices.Clone(allIDs)
	slices.Reverse(newestFirst)

	path := "/boards/" + f.board + "/cards/all?limit=5"
	var page []obj
	getOK(t, f.ts, path, &page)
	if diff := cmp.Diff(newestFirst[:5], idsOf(page)); diff != "" {
		t.Errorf("first page: the newest five, newest first (-want +got):\n%s", diff)
	}
	// Walk back with before = the smallest id of the page until a short page.
	var seen []string
	before := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		q := path
		if before != "" {
			q += "&before=" + before
		}
		getOK(t, f.ts, q, &page)
		got := idsOf(page)
		seen = append(seen, got...)
		if len(got) < 5 {
			break
		}
		before = slices.Min(got)
	}
	sort.Strings(seen)
	if diff := cmp.Diff(allIDs, seen); diff != "" {
		t.Errorf("paged cards (-want +got):\n%s", diff)
	}

	// since takes the cards after an id; with limit, the newest of them.
	getOK(t, f.ts, "/boards/"+f.board+"/cards/all?since="+allIDs[8], &page)
	if diff := cmp.Diff([]string{allIDs[11], allIDs[10], allIDs[9]}, idsOf(page)); diff != "" {
		t.Errorf("since (-want +got):\n%s", diff)
	}
	getOK(t, f.ts, "/boards/"+f.board+"/cards/all?since="+allIDs[2]+"&before="+allIDs[6]+"&limit=2", &page)
	if diff := cmp.Diff([]string{allIDs[5], allIDs[4]}, idsOf(page)); diff != "" {
		t.Errorf("since+before+limit (-want +got):\n%s", diff)
	}
	// A date stands for the ids of its second: the fixture's cards were
	// made at t0+1m … t0+5m, so before t0+3m leaves the first two.
	getOK(t, f.ts, "/boards/"+f.board+"/cards/all?before="+url.QueryEscape(t0.Add(3*time.Minute).Format(time.RFC3339)), &page)
	if diff := cmp.Diff([]string{f.card["golive"], f.card["build"]}, idsOf(page)); diff != "" {
		t.Errorf("before a date (-want +got):\n%s", diff)
	}
	getOK(t, f.ts, "/boards/"+f.board+"/cards/all?since=2026-11-20T09:11:00.000Z", &page)
	if diff := cmp.Diff([]string{f.card["G"], f.card["F"]}, idsOf(page)); diff != "" {
		t.Errorf("since a date (-want +got):\n%s", diff)
	}
	// The filter still applies: the default (visible) drops the archived card.
	getOK(t, f.ts, "/boards/"+f.board+"/cards?since="+f.card["golive"]+"&before="+f.card["A"], &page)
	if diff := cmp.Diff([]string{f.card["vendor"]}, idsOf(page)); diff != "" {
		t.Errorf("paged visible cards (-want +got):\n%s", diff)
	}

	for _, q := range []string{"limit=0", "limit=1001", "limit=ten", "before=yesterday", "since=5f00"} {
		r := get(t, f.ts, "/boards/"+f.board+"/cards?"+q)
		param, _, _ := strings.Cut(q, "=")
		if r.status != 400 || r.text() != "invalid value for "+param {
			t.Errorf("%s: %d %q", q, r.status, r.text())
		}
	}
	getOK(t, f.ts, "/boards/"+f.board+"/cards/all?limit=1000", &page)
	if len(page) != 12 {
		t.Errorf("limit=1000 gave %d cards", len(page))
	}
}

func TestLists(t *testing.T) {
	f := seed(t, Options{})
	var lists []obj
	getOK(t, f.ts, "/boards/"+f.board+"/lists", &lists)
	if diff := cmp.Diff([]string{"Backlog", "Doing", "Done"}, names(lists)); diff != "" {
		t.Errorf("open lists (-want +got):\n%s", diff)
	}
	l := lists[0]
	if l["id"] != f.list["Backlog"] || l["closed"] != false || l["idBoard"] != f.board || l["pos"] == nil {
		t.Errorf("list %v", l)
	}
	getOK(t, f.ts, "/boards/"+f.board+"/lists?filter=all", &lists)
	if diff := cmp.Diff([]string{"Backlog", "Doing", "Done", "Parking"}, names(lists)); diff != "" {
		t.Errorf("all lists (-want +got):\n%s", diff)
	}
	getOK(t, f.ts, "/boards/"+f.board+"/lists/closed", &lists)
	if diff := cmp.Diff([]string{"Parking"}, names(lists)); diff != "" {
		t.Errorf("closed lists (-want +got):\n%s", diff)
	}
	if r := get(t, f.ts, "/boards/"+f.board+"/lists?filter=visible"); r.status != 400 {
		t.Errorf("filter=visible on lists: %d", r.status)
	}
	if f.s.ListID(f.board, "Doing") != f.list["Doing"] || f.s.ListID(f.board, "Nowhere") != "" {
		t.Error("ListID")
	}
}

func TestLabelsAndMembers(t *testing.T) {
	f := seed(t, Options{})
	var labels []obj
	getOK(t, f.ts, "/boards/"+f.board+"/labels", &labels)
	want := []obj{
		{"id": f.label["Milestone"], "idBoard": f.board, "name": "Milestone", "color": "purple"},
		{"id": f.label["Risk"], "idBoard": f.board, "name": "Risk", "color": "red"},
	}
	if diff := cmp.Diff(want, labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}

	r := send(t, f.ts, http.MethodPost, "/labels", url.Values{"idBoard": {f.board}, "name": {"Interfaces"}, "color": {"sky"}})
	var made obj
	decode(t, r, &made)
	if r.status != 200 || made["name"] != "Interfaces" || made["color"] != "sky" || made["idBoard"] != f.board {
		t.Errorf("POST /labels: %d %v", r.status, made)
	}
	r = sendForm(t, f.ts, http.MethodPost, "/boards/"+f.board+"/labels", url.Values{"name": {"No colour"}, "color": {"null"}})
	decode(t, r, &made)
	if r.status != 200 || made["name"] != "No colour" || made["color"] != nil {
		t.Errorf("POST /boards/{id}/labels: %d %v", r.status, made)
	}
	if r := send(t, f.ts, http.MethodPost, "/labels", url.Values{"idBoard": {f.board}, "name": {"x"}, "color": {"teal"}}); r.status != 400 || r.text() != "invalid value for color" {
		t.Errorf("bad colour: %d %q", r.status, r.text())
	}
	if r := send(t, f.ts, http.MethodPost, "/labels", url.Values{"name": {"x"}, "color": {"red"}}); r.status != 400 || r.text() != "invalid value for idBoard" {
		t.Errorf("no board: %d %q", r.status, r.text())
	}
	// Trello returns 50 labels unless limit asks for more.
	for i := range 50 {
		f.s.AddLabel(f.board, "Area "+string(rune('a'+i%26))+string(rune('a'+i/26)), "green")
	}
	getOK(t, f.ts, "/boards/"+f.board+"/labels", &labels)
	if len(labels) != 50 {
		t.Errorf("default labels page: %d, want 50", len(labels))
	}
	getOK(t, f.ts, "/boards/"+f.board+"/labels?limit=1000", &labels)
	if len(labels) != 54 {
		t.Errorf("limit=1000: %d labels, want 54", len(labels))
	}
	if r := get(t, f.ts, "/boards/"+f.board+"/labels?limit=1001"); r.status != 400 {
		t.Errorf("limit=1001: %d", r.status)
	}

	var members []obj
	getOK(t, f.ts, "/boards/"+f.board+"/members", &members)
	wantMembers := []obj{
		{"id": f.alice, "fullName": "Alice Example", "username": "aliceexample"},
		{"id": f.bob, "fullName": "Bob Example", "username": "bobexample"},
	}
	if diff := cmp.Diff(wantMembers, members); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	// One person keeps one id across boards.
	other := f.s.AddBoard("Other")
	if id := f.s.AddMember(other, "Alice Example", "aliceexample"); id != f.alice {
		t.Errorf("Alice on a second board has id %s, want %s", id, f.alice)
	}
}

func TestGetCard(t *testing.T) {
	f := seed(t, Options{})
	var c obj
	getOK(t, f.ts, "/cards/"+f.card["golive"]+"?customFieldItems=true&board=true&list=true", &c)
	if c["name"] != "Go-live" || c["due"] != "2026-12-01T15:00:00.000Z" || len(c["customFieldItems"].([]any)) != 3 {
		t.Errorf("card %v", c)
	}
	if c["board"].(obj)["name"] != "EHR Pilot" || c["list"].(obj)["name"] != "Doing" {
		t.Errorf("board %v list %v", c["board"], c["list"])
	}
	getOK(t, f.ts, "/cards/"+f.card["archived"], &c)
	if c["closed"] != true {
		t.Errorf("archived card closed = %v", c["closed"])
	}
}

func TestPutCard(t *testing.T) {
	f := seed(t, Options{})
	id := f.card["build"]
	f.clk.Advance(time.Hour)
	r := send(t, f.ts, http.MethodPut, "/cards/"+id, url.Values{
		"name": {"Build order sets v2"}, "desc": {"All clinics"}, "due": {"2026-12-03T17:00:00.000Z"},
		"dueComplete": {"true"}, "idList": {f.list["Done"]}, "idLabels": {f.label["Milestone"] + "," + f.label["Risk"]},
	})
	var c obj
	decode(t, r, &c)
	if r.status != 200 || c["name"] != "Build order sets v2" || c["idList"] != f.list["Done"] || c["dueComplete"] != true ||
		c["due"] != "2026-12-03T17:00:00.000Z" || c["dateLastActivity"] != "2026-11-20T10:05:00.000Z" {
		t.Fatalf("PUT: %d %v", r.status, c)
	}
	got, _ := f.s.Card(id)
	want := Card{
		ID: id, Name: "Build order sets v2", Desc: "All clinics", IDList: f.list["Done"],
		Labels: []string{f.label["Milestone"], f.label["Risk"]}, Members: []string{f.alice},
		Due:         ptr(time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)),
		DueComplete: true, Custom: map[string]string{"Planned Cost": "12.5", "Owner": "Alice Example"},
		CheckItems: 4, CheckItemsChecked: 1, DateLastActivity: t0.Add(time.Hour + 5*time.Minute),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("card after PUT (-want +got):\n%s", diff)
	}

	// A form body, clearing the due date and archiving.
	r = sendForm(t, f.ts, http.MethodPut, "/cards/"+id, url.Values{"due": {"null"}, "closed": {"true"}})
	decode(t, r, &c)
	if r.status != 200 || c["due"] != nil || c["closed"] != true {
		t.Errorf("form PUT: %d %v", r.status, c)
	}
	// A JSON body.
	r = do(t, f.ts, http.MethodPut, "/cards/"+id, authHeader, strings.NewReader(`{"closed":false,"idLabels":[]}`), "application/json")
	decode(t, r, &c)
	if r.status != 200 || c["closed"] != false || len(c["idLabels"].([]any)) != 0 {
		t.Errorf("JSON PUT: %d %v", r.status, c)
	}

	other := f.s.AddBoard("Other")
	foreign := f.s.AddList(other, "Elsewhere")
	for _, bad := range []url.Values{
		{"idList": {foreign}}, {"idList": {"nope"}}, {"due": {"next tuesday"}}, {"dueComplete": {"maybe"}},
		{"idLabels": {"5f0000007a3c51e0d2ffffff"}}, {"name": {""}}, {"pos": {"middle"}},
	} {
		r := send(t, f.ts, http.MethodPut, "/cards/"+id, bad)
		for k := range bad {
			if r.status != 400 || r.text() != "invalid value for "+k {
				t.Errorf("PUT %v: %d %q", bad, r.status, r.text())
			}
		}
	}
}

func TestPostAndDeleteCard(t *testing.T) {
	f := seed(t, Options{})
	r := send(t, f.ts, http.MethodPost, "/cards", url.Values{
		"idList": {f.list["Backlog"]}, "name": {"Train super-users"}, "desc": {"Two sessions"},
		"due": {"2026-12-10"}, "idLabels": {f.label["Risk"]}, "pos": {"top"},
	})
	var c obj
	decode(t, r, &c)
	if r.status != 200 || c["name"] != "Train super-users" || c["idBoard"] != f.board || c["due"] != "2026-12-10T00:00:00.000Z" ||
		c["idShort"] != float64(6) {
		t.Fatalf("POST /cards: %d %v", r.status, c)
	}
	id := c["id"].(string)
	var backlog []obj
	getOK(t, f.ts, "/lists/"+f.list["Backlog"]+"/cards", &backlog)
	if diff := cmp.Diff([]string{id, f.card["build"]}, idsOf(backlog)); diff != "" {
		t.Errorf("pos=top puts it first (-want +got):\n%s", diff)
	}
	if r := send(t, f.ts, http.MethodPost, "/cards", url.Values{"name": {"Orphan"}}); r.status != 400 || r.text() != "invalid value for idList" {
		t.Errorf("POST without idList: %d %q", r.status, r.text())
	}

	r = send(t, f.ts, http.MethodDelete, "/cards/"+id, nil)
	if r.status != 200 || strings.TrimSpace(r.text()) != `{"limits":{}}` {
		t.Errorf("DELETE: %d %q", r.status, r.text())
	}
	if r := get(t, f.ts, "/cards/"+id); r.status != 404 || r.text() != MsgNotFound {
		t.Errorf("GET a deleted card: %d %q", r.status, r.text())
	}
	if _, ok := f.s.Card(id); ok {
		t.Error("Card finds a deleted card")
	}
}

// The cached encoding writes the fields of cardOrder; it must name every
// field a card has, and fields= must accept each of them.
func TestCardOrderCoversCardJSON(t *testing.T) {
	f := seed(t, Options{})
	f.s.mu.Lock()
	m := f.s.cardJSON(f.s.cards[f.card["build"]])
	f.s.mu.Unlock()
	var keys, known []string
	for k := range m {
		keys = append(keys, k)
	}
	for k := range cardFields {
		known = append(known, k)
	}
	order := slices.Clone(cardOrder)
	slices.Sort(keys)
	slices.Sort(order)
	slices.Sort(known)
	if diff := cmp.Diff(keys, order); diff != "" {
		t.Errorf("cardOrder vs cardJSON keys (-json +order):\n%s", diff)
	}
	if diff := cmp.Diff(keys, known); diff != "" {
		t.Errorf("cardFields vs cardJSON keys (-json +fields):\n%s", diff)
	}
	// The list endpoint (cached encoding) and the card endpoint (a map)
	// agree.
	var fromList []obj
	getOK(t, f.ts, "/boards/"+f.board+"/cards?customFieldItems=true", &fromList)
	var one obj
	getOK(t, f.ts, "/cards/"+f.card["build"]+"?customFieldItems=true", &one)
	if diff := cmp.Diff(one, fromList[0]); diff != "" {
		t.Errorf("card from the list vs the card endpoint (-card +list):\n%s", diff)
	}
	// A change shows through the cache.
	if err := f.s.UpdateCard(f.card["build"], func(c *Card) { c.Name = "Renamed" }); err != nil {
		t.Fatal(err)
	}
	getOK(t, f.ts, "/boards/"+f.board+"/cards?fields=name", &fromList)
	if fromList[0]["name"] != "Renamed" {
		t.Errorf("after a rename the list says %v", fromList[0]["name"])
	}
}

// TestWarmChangesNoAnswer: a board read after Warm is the board read
// without it, card for card; a card changed after Warm is read as changed.
func TestWarmChangesNoAnswer(t *testing.T) {
	now := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	read := func(warm bool) (string, string) {
		s, ts, _ := start(t, Options{})
		board := s.Generate("Portal", 40, 7, now)
		if warm {
			s.Warm()
		}
		path := "/boards/" + board + "/cards/all?customFieldItems=true"
		before := get(t, ts, path).text()
		id := s.Cards(board)[3].ID
		if err := s.UpdateCard(id, func(c *Card) { c.Name = "Renamed after the cache was filled" }); err != nil {
			t.Fatal(err)
		}
		return before, get(t, ts, path).text()
	}
	cold, coldAfter := read(false)
	warm, warmAfter := read(true)
	if cold != warm || coldAfter != warmAfter {
		t.Error("a warmed board reads differently from a cold one")
	}
	if !strings.Contains(warmAfter, "Renamed after the cache was filled") {
		t.Error("a card changed after Warm is read as it was")
	}
}

// TestBoardNestedResources: lists, labels, members and custom fields asked
// for with the board are what their own endpoints answer, under the
// nested parameters' names.
func TestBoardNestedResources(t *testing.T) {
	s, ts, _ := start(t, Options{})
	board := s.Generate("Portal", 30, 3, t0)
	b := "/boards/" + board
	var nested map[string]any
	getOK(t, ts, b+"?fields=name&lists=all&list_fields=id,name,closed&labels=all&label_fields=id,name,color&labels_limit=1000"+
		"&members=all&member_fields=id,fullName,username&customFields=true", &nested)
	for key, path := range map[string]string{
		"lists":        b + "/lists?filter=all&fields=id,name,closed",
		"labels":       b + "/labels?fields=id,name,color&limit=1000",
		"members":      b + "/members?fields=id,fullName,username",
		"customFields": b + "/customFields",
	} {
		var own []any
		getOK(t, ts, path, &own)
		if len(own) == 0 {
			t.Errorf("%s: the generated board has none", path)
		}
		if diff := cmp.Diff(own, nested[key]); diff != "" {
			t.Errorf("nested %s differ from %s (-own +nested):\n%s", key, path, diff)
		}
	}
	if nested["name"] != "Portal" {
		t.Errorf("board name %v, want Portal", nested["name"])
	}
	var plain map[string]any
	getOK(t, ts, b+"?fields=name", &plain)
	for _, key := range []string{"lists", "labels", "members", "customFields"} {
		if _, ok := plain[key]; ok {
			t.Errorf("%s sent without being asked for", key)
		}
	}
	if r := get(t, ts, b+"?labels=some"); r.status != http.StatusBadRequest {
		t.Errorf("labels=some answered %d, want 400", r.status)
	}
}
