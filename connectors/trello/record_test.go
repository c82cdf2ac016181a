package trello

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
)

func recordsByID(pages []connectors.Page) map[string]pmsync.Record {
	out := map[string]pmsync.Record{}
	for _, p := range pages {
		for _, r := range p.Records {
			out[r.ExternalID] = r
		}
	}
	return out
}

// A full pull of the recorded board hands mappings every card, open and
// archived, with lists, labels, members and custom fields by name. The
// expected values are the ones written in testdata/cards.json and the
// definition files.
func TestFullPullOfRecordedBoard(t *testing.T) {
	srv := newRecorded(t)
	c, _, _ := newConnector(t, srv.ts.URL+"/1", nil)
	pages := pullPages(t, c, recScope(), "")
	if len(pages) != 1 {
		t.Fatalf("got %d pages, want 1 (6 cards fit one page)", len(pages))
	}
	p := pages[0]
	all := []string{cardMS, cardRisk, cardArch, cardTask, cardDone, cardPark}
	if !p.HasLive || !sameSet(p.Live, all) {
		t.Errorf("live list %v (HasLive %v), want every card of cards.json, archived ones included", p.Live, p.HasLive)
	}
	if len(p.Deleted) != 0 {
		t.Errorf("a full pull reported deletions %v", p.Deleted)
	}
	recs := recordsByID(pages)
	if len(recs) != len(all) {
		t.Fatalf("got %d records, want %d", len(recs), len(all))
	}

	ms := recs[cardMS]
	want := map[string]any{
		"id": cardMS, "name": "Integrated testing sign-off", "idShort": 257.0, "shortLink": "Hq3KbT7w",
		"url": "https://trello.com/c/Hq3KbT7w/257-integrated-testing-sign-off", "shortUrl": "https://trello.com/c/Hq3KbT7w",
		"closed": false, "due": "2026-12-04T17:00:00.000Z", "dueComplete": false, "start": nil,
		"dateLastActivity": "2026-11-25T16:30:00.000Z", "idList": "6a1d4a10c3e9b2a4d5f60016",
		"list": "Milestones", "list_closed": false, "labels": []any{"Milestone"}, "members": []any{"Priya Raman"},
		"custom": map[string]any{
			"Planned Cost": "48000", "Go-Live Date": "2027-01-15T14:00:00.000Z", "Vendor Sign-off": true,
		},
		"checkItems": 4.0, "checkItemsChecked": 3.0, "checklist_percent": 75.0,
	}
	if d := cmp.Diff(want, ms.Data); d != "" {
		t.Errorf("milestone card data (-want +got):\n%s", d)
	}
	if ms.Source != "pacs-trello" || ms.URL != want["url"] || !ms.UpdatedAt.Equal(time.Date(2026, 11, 25, 16, 30, 0, 0, time.UTC)) {
		t.Errorf("milestone record source %q url %q updated %v", ms.Source, ms.URL, ms.UpdatedAt)
	}

	risk := recs[cardRisk].Data
	wantCustom := map[string]any{"Likelihood": "4", "Impact": "5", "Owner": "Dr. Elena Ruiz", "Vendor Sign-off": false}
	if d := cmp.Diff(wantCustom, risk["custom"]); d != "" {
		t.Errorf("risk custom fields (list options as their text, checkbox as bool) (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]any{"Risk", "Interfaces"}, risk["labels"]); d != "" {
		t.Errorf("risk labels (-want +got):\n%s", d)
	}
	if _, ok := risk["checklist_percent"]; ok {
		t.Errorf("a card without checklist items has checklist_percent %v", risk["checklist_percent"])
	}

	task := recs[cardTask].Data
	if d := cmp.Diff(map[string]any{"Planned Cost": "12000.50", "Actual Cost": "13250.75"}, task["custom"]); d != "" {
		t.Errorf("numbers stay the text Trello sends (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]any{"Interfaces"}, task["labels"]); d != "" {
		t.Errorf("a colour-only label has no name to map (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]any{"Marcus Bell", "Priya Raman"}, task["members"]); d != "" {
		t.Errorf("members keep the card's order (-want +got):\n%s", d)
	}
	if task["start"] != "2026-11-16T14:00:00.000Z" {
		t.Errorf("start = %v", task["start"])
	}
	if arch := recs[cardArch].Data; arch["closed"] != true || arch["list"] != "Risks" {
		t.Errorf("archived risk: closed %v list %v", arch["closed"], arch["list"])
	}
	if park := recs[cardPark].Data; park["list"] != "Parking lot" || park["list_closed"] != true {
		t.Errorf("card in an archived list: list %v list_closed %v", park["list"], park["list_closed"])
	}
	for id, r := range recs {
		for _, k := range []string{"desc", "fields", "badges", "customFieldItems"} {
			if _, ok := r.Data[k]; ok {
				t.Errorf("card %s: record carries %q, which no mapping asked for", id, k)
			}
		}
	}

	// What was asked: open and archived cards with custom field items,
	// the fields the record needs and no description.
	qs := srv.queries("/boards/" + recBoard + "/cards/all")
	if len(qs) != 1 {
		t.Fatalf("cards read %d times, want once", len(qs))
	}
	fields := strings.Split(qs[0]["fields"][0], ",")
	if slices.Contains(fields, "desc") || !slices.Contains(fields, "dateLastActivity") || qs[0]["customFieldItems"][0] != "true" {
		t.Errorf("cards query %v", qs[0])
	}

	if q := srv.queries("/boards/" + recBoard + "/actions"); len(q) != 1 || q[0]["limit"][0] != "100" || q[0]["since"] != nil {
		t.Errorf("a full read asks for the newest actions once, limit 100, no since: %v", q)
	}

	// The cursor starts from the newest action of actions.json (07:05:00)
	// less the overlap, and remembers the actions from there on.
	cur := decodeCursor(t, p.Next)
	if cur.Board != recBoard || cur.Since != "2026-11-26T07:03:00Z" {
		t.Errorf("cursor board %q since %q, want %s and 2026-11-26T07:03:00Z", cur.Board, cur.Since, recBoard)
	}
	if d := cmp.Diff([]string{"6b07d9e0c3e9b2a4d5f60202", "6b07da1cc3e9b2a4d5f60203"}, cur.Seen); d != "" {
		t.Errorf("cursor seen (-want +got):\n%s", d)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// incrementalCursor is a cursor from before the actions of actions.json.
func incrementalCursor() connectors.Cursor {
	return cursor{V: cursorVersion, Board: recBoard, Since: "2026-11-26T07:00:00Z", Full: "2026-11-26T06:00:00Z"}.encode()
}

// An incremental pull reads the recorded actions: the deleted card is
// reported in the page that carries the cursor, the two changed cards are
// read one by one, and a second pull that gets the same actions back costs
// that one request and sends no page.
func TestIncrementalPullOfRecordedActions(t *testing.T) {
	srv := newRecorded(t)
	c, _, _ := newConnector(t, srv.ts.URL+"/1", nil)
	pages := pullPages(t, c, recScope(), incrementalCursor())
	if len(pages) != 1 {
		t.Fatalf("got %d pages, want 1", len(pages))
	}
	p := pages[0]
	if d := cmp.Diff([]string{cardGone}, p.Deleted); d != "" {
		t.Errorf("deleted (-want +got):\n%s", d)
	}
	if p.HasLive {
		t.Errorf("an incremental pull of two cards claims the full live list")
	}
	if got := slices.Sorted(func(yield func(string) bool) {
		for _, r := range p.Records {
			yield(r.ExternalID)
		}
	}); !slices.Equal(got, []string{cardRisk, cardArch}) {
		t.Errorf("records %v, want the updated risk and the archived one", got)
	}
	if arch := recordsByID(pages)[cardArch].Data; arch["closed"] != true {
		t.Errorf("archived card read back with closed %v", arch["closed"])
	}
	b := "/boards/" + recBoard
	want := []string{"GET " + b + "/actions", "GET " + b, "GET /cards/" + cardArch, "GET /cards/" + cardRisk}
	if d := cmp.Diff(want, srv.requests()); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
	q := srv.queries(b + "/actions")[0]
	if q["since"][0] != "2026-11-26T07:00:00Z" || q["limit"][0] != "1000" || !strings.Contains(q["filter"][0], "deleteCard") {
		t.Errorf("actions query %v", q)
	}

	before := len(srv.requests())
	again := pullPages(t, c, recScope(), p.Next)
	if len(again) != 0 || len(srv.requests())-before != 1 {
		t.Errorf("a pull that finds only handled actions sent %d pages and %d requests, want 0 and 1", len(again), len(srv.requests())-before)
	}
}

// An empty page of actions means nothing changed: one request, no page.
func TestNothingChangedCostsOneRequest(t *testing.T) {
	srv := newRecorded(t)
	srv.then("GET", "/boards/"+recBoard+"/actions", answer{status: 200, file: "actions_empty.json"})
	c, _, _ := newConnector(t, srv.ts.URL+"/1", nil)
	if pages := pullPages(t, c, recScope(), incrementalCursor()); len(pages) != 0 {
		t.Errorf("got %d pages", len(pages))
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// More changed cards than CardByCard are read with the board, which also
// lists every live card.
func TestManyChangesReadTheBoard(t *testing.T) {
	srv := newRecorded(t)
	c, _, _ := newConnector(t, srv.ts.URL+"/1", nil)
	c.CardByCard = 1
	pages := pullPages(t, c, recScope(), incrementalCursor())
	p := pages[len(pages)-1]
	if !p.HasLive || len(recordsByID(pages)) != 6 || !slices.Equal(p.Deleted, []string{cardGone}) {
		t.Errorf("HasLive %v, %d records, deleted %v; want the whole board and the deleted card", p.HasLive, len(recordsByID(pages)), p.Deleted)
	}
	if cur := decodeCursor(t, p.Next); cur.Full != t0.Format(time.RFC3339) {
		t.Errorf("a whole-board read is a full read: cursor full %q, want %s", cur.Full, t0.Format(time.RFC3339))
	}
}

// A renamed list changes the record of every card in it: the board is read.
func TestListRenameReadsTheBoard(t *testing.T) {
	srv := newRecorded(t)
	srv.then("GET", "/boards/"+recBoard+"/actions", answer{status: 200, body: `[{"id":"6b07da1cc3e9b2a4d5f60299",
		"idMemberCreator":"6a1d4a10c3e9b2a4d5f60031","type":"updateList","date":"2026-11-26T07:05:00.000Z",
		"data":{"list":{"id":"6a1d4a10c3e9b2a4d5f60012","name":"In Progress"},"old":{"name":"Doing"},
		"board":{"id":"` + recBoard + `","name":"PACS Viewer Integration","shortLink":"Vq2dTn8L"}}}]`})
	c, _, _ := newConnector(t, srv.ts.URL+"/1", nil)
	pages := pullPages(t, c, recScope(), incrementalCursor())
	if len(pages) != 1 || !pages[0].HasLive || len(pages[0].Records) != 6 {
		t.Errorf("after a list rename: %d pages, want the whole board with its live list", len(pages))
	}
}

// A card the actions name but Trello no longer has (404) is deleted.
func TestChangedCardGoneIsDeleted(t *testing.T) {
	srv := newRecorded(t)
	srv.then("GET", "/cards/"+cardRisk, answer{status: 404, file: "error_404.txt"})
	c, _, _ := newConnector(t, srv.ts.URL+"/1", nil)
	pages := pullPages(t, c, recScope(), incrementalCursor())
	if !sameSet(pages[0].Deleted, []string{cardGone, cardRisk}) {
		t.Errorf("deleted %v, want the deleted card and the one that answered 404", pages[0].Deleted)
	}
}

// Optional card fields are fetched only when the mapping reads them.
func TestFieldsOnDemand(t *testing.T) {
	srv := newRecorded(t)
	c, _, _ := newConnector(t, srv.ts.URL+"/1", nil)
	pages := pullPages(t, c, recScope("desc", "Planned Cost", "Budget Code"), "")
	q := srv.queries("/boards/" + recBoard + "/cards/all")[0]
	if !slices.Contains(strings.Split(q["fields"][0], ","), "desc") {
		t.Errorf("cards query fields %q lacks desc, which the mapping reads", q["fields"][0])
	}
	fields, ok := recordsByID(pages)[cardMS].Data["fields"].(map[string]any)
	if _, has := fields["desc"]; !ok || !has {
		t.Errorf("record fields = %v, want a desc key", recordsByID(pages)[cardMS].Data["fields"])
	}
}

// Rate-limit answers carry Trello's code and are waited out for the
// budgets' 10-second window, since Trello sends no Retry-After.
func TestRateLimitBodies(t *testing.T) {
	for _, tc := range []struct{ file, code string }{
		{"rate_limit_token.json", CodeTokenLimit},
		{"rate_limit_key.json", CodeKeyLimit},
	} {
		t.Run(tc.code, func(t *testing.T) {
			srv := newRecorded(t)
			srv.then("GET", "/boards/"+recBoard+"/actions", answer{status: 429, file: tc.file})
			c, sleeps, _ := newConnector(t, srv.ts.URL+"/1", nil)
			if pages := pullPages(t, c, recScope(), incrementalCursor()); len(pages) != 1 {
				t.Fatalf("after one 429 the pull sent %d pages", len(pages))
			}
			if !slices.Contains(sleeps.Waits(), RateWindow) {
				t.Errorf("waits %v, want the %s window", sleeps.Waits(), RateWindow)
			}

			// A limit that does not lift is an APIError with the code.
			srv = newRecorded(t)
			for range 10 {
				srv.then("GET", "/boards/"+recBoard+"/actions", answer{status: 429, file: tc.file})
			}
			c, _, _ = newConnector(t, srv.ts.URL+"/1", nil)
			err := c.Pull(context.Background(), recScope(), incrementalCursor(), func(connectors.Page) error { return nil })
			var ae *connectors.APIError
			if !errors.As(err, &ae) || ae.Status != 429 || ae.Code != tc.code || ae.Message != "Rate limit exceeded" {
				t.Fatalf("Pull = %v, want an APIError 429 with code %s", err, tc.code)
			}
			assertNoSecret(t, err)
		})
	}
}

func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if s := err.Error(); strings.Contains(s, testKey) || strings.Contains(s, testToken) {
		t.Errorf("error text holds a credential: %s", s)
	}
}

// Trello's plain-text 401 is an APIError with its text and no credential.
func TestUnauthorizedRecorded(t *testing.T) {
	srv := newRecorded(t)
	srv.then("GET", "/boards/"+recBoard+"/actions", answer{status: 401, file: "error_401.txt"})
	c, _, _ := newConnector(t, srv.ts.URL+"/1", nil)
	err := c.Pull(context.Background(), recScope(), "", func(connectors.Page) error { return nil })
	var ae *connectors.APIError
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Message != "invalid token" {
		t.Fatalf("Pull = %v, want an APIError 401 \"invalid token\"", err)
	}
	assertNoSecret(t, err)
	if len(srv.requests()) != 1 {
		t.Errorf("a 401 was retried: %v", srv.requests())
	}
}

// 5xx answers are retried; a body that is not JSON fails the pull.
func TestServerErrorsAndMalformedJSON(t *testing.T) {
	srv := newRecorded(t)
	b := "/boards/" + recBoard
	srv.then("GET", b+"/cards/all", answer{status: 502, body: "Bad Gateway"}, answer{status: 503, body: "Service Unavailable"})
	c, _, _ := newConnector(t, srv.ts.URL+"/1", nil)
	if pages := pullPages(t, c, recScope(), ""); len(recordsByID(pages)) != 6 {
		t.Errorf("after two 5xx the pull returned %d records", len(recordsByID(pages)))
	}

	srv = newRecorded(t)
	srv.then("GET", b+"/cards/all", answer{status: 200, body: `[{"id":"6b005397c3e9b2a4d5f60101","name":"Integrated te`})
	c, _, _ = newConnector(t, srv.ts.URL+"/1", nil)
	pages := 0
	err := c.Pull(context.Background(), recScope(), "", func(connectors.Page) error { pages++; return nil })
	if err == nil || pages != 0 {
		t.Fatalf("Pull of a cut-off body = %v after %d pages, want an error and no page", err, pages)
	}
	if !strings.Contains(err.Error(), recBoard) {
		t.Errorf("error %q does not name the board", err)
	}
}

// A cursor that is not ours, or another board's, is invalid.
func TestCursorInvalid(t *testing.T) {
	srv := newRecorded(t)
	c, _, _ := newConnector(t, srv.ts.URL+"/1", nil)
	for _, cur := range []connectors.Cursor{
		"\x00not-a-cursor", `{"v":1}`, `{"v":2,"board":"` + recBoard + `","full":"2026-11-26T06:00:00Z"}`,
		cursor{V: 1, Board: "6a1d4a10c3e9b2a4d5f60999", Full: "2026-11-26T06:00:00Z"}.encode(),
		`{"v":1,"board":"` + recBoard + `","full":"2026-11-26T06:00:00Z","seen":["x"]}`,
		`{"v":1,"board":"` + recBoard + `","full":"yesterday"}`,
	} {
		err := c.Pull(context.Background(), recScope(), cur, func(connectors.Page) error { return nil })
		if !errors.Is(err, connectors.ErrCursorInvalid) {
			t.Errorf("cursor %q: Pull = %v, want ErrCursorInvalid", cur, err)
		}
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("invalid cursors sent %d requests", n)
	}
}

// Cancelling between pages stops the pull after the page in hand.
func TestCancelStopsBetweenPages(t *testing.T) {
	srv := newRecorded(t)
	c, _, _ := newConnector(t, srv.ts.URL+"/1", nil)
	c.PageRecords = 2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pages := 0
	err := c.Pull(ctx, recScope(), "", func(connectors.Page) error { pages++; cancel(); return nil })
	if !errors.Is(err, context.Canceled) || pages != 1 {
		t.Errorf("Pull = %v after %d pages, want context.Canceled after 1", err, pages)
	}
}

// Check reads the member the token belongs to.
func TestCheckRecorded(t *testing.T) {
	srv := newRecorded(t)
	c, _, _ := newConnector(t, srv.ts.URL+"/1", nil)
	if err := c.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	srv.then("GET", "/members/me", answer{status: 401, file: "error_401.txt"})
	err := c.Check(context.Background())
	if connectors.StatusOf(err) != 401 {
		t.Errorf("Check with a revoked token = %v", err)
	}
	assertNoSecret(t, err)
}

// ParseError reads each recorded error body.
func TestParseErrorRecorded(t *testing.T) {
	for _, tc := range []struct {
		status     int
		file       string
		code, msg  string
		retryAfter time.Duration
	}{
		{429, "rate_limit_token.json", CodeTokenLimit, "Rate limit exceeded", RateWindow},
		{429, "rate_limit_key.json", CodeKeyLimit, "Rate limit exceeded", RateWindow},
		{400, "error_400.json", "ERROR", "invalid value for idList", 0},
		{401, "error_401.txt", "", "invalid token", 0},
		{404, "error_404.txt", "", "The requested resource was not found.", 0},
	} {
		info := ParseError(tc.status, http.Header{}, readFile(t, tc.file))
		if info.Code != tc.code || info.Message != tc.msg || info.RetryAfter != tc.retryAfter {
			t.Errorf("%s: got %+v, want code %q message %q retry after %s", tc.file, info, tc.code, tc.msg, tc.retryAfter)
		}
	}
	html := ParseError(502, http.Header{"Content-Type": {"text/html"}}, []byte("<html><body>Bad gateway</body></html>"))
	if html.Message != "" {
		t.Errorf("an HTML page became message %q", html.Message)
	}
}
