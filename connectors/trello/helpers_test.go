package trello

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox"
)

// Credentials of every test. Long and distinct, so that a leak into a URL
// or an error text cannot hide behind a common word.
const (
	testKey   = "3f9c2a7d41e8b6c05d7e9a1b2c3d4e5f"
	testToken = "ATTA9d1e5c7b3a2f4e6d8c0b9a7f5e3d1c2b4a6f8e0d9c7b5a3f1e2d4c6b8a0f9e7d5"
)

// wantAuth is the only form in which the credentials may travel.
const wantAuth = `OAuth oauth_consumer_key="` + testKey + `", oauth_token="` + testToken + `"`

// The recorded board (testdata/*.json).
const (
	recBoard = "6a1d4a10c3e9b2a4d5f60001"
	cardMS   = "6b005397c3e9b2a4d5f60101" // milestone, in Milestones
	cardRisk = "6b005397c3e9b2a4d5f60102" // open risk
	cardArch = "6b005397c3e9b2a4d5f60103" // archived risk
	cardTask = "6b005397c3e9b2a4d5f60104" // task in Doing
	cardDone = "6b005397c3e9b2a4d5f60105" // archived, done task
	cardPark = "6b005397c3e9b2a4d5f60106" // in an archived list
	cardGone = "6b005397c3e9b2a4d5f60107" // deleted (actions.json)
)

// t0 is "now" for every test.
var t0 = time.Date(2026, 11, 26, 7, 10, 0, 0, time.UTC)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// answer is one canned response.
type answer struct {
	status int
	file   string // under testdata
	body   string // when file is ""
}

// recorded is an httptest server that serves the recorded responses of
// testdata/ for the recorded board, checking the credentials on every
// request. Paths are registered without the /1 prefix; a queue of answers
// for a path is used up before its default.
type recorded struct {
	t  *testing.T
	ts *httptest.Server

	mu       sync.Mutex
	queue    map[string][]answer // "GET /boards/x/actions" → next answers
	defaults map[string]answer
	reqs     []*http.Request
}

func newRecorded(t *testing.T) *recorded {
	t.Helper()
	r := &recorded{t: t, queue: map[string][]answer{}, defaults: map[string]answer{}}
	b := "/boards/" + recBoard
	for path, file := range map[string]string{
		b + "/actions": "actions.json", b + "/lists": "lists.json", b + "/labels": "labels.json",
		b + "/members": "members.json", b + "/customFields": "customFields.json", b + "/cards/all": "cards.json",
		"/members/me": "members_me.json",
	} {
		r.defaults["GET "+path] = answer{status: 200, file: file}
	}
	// The board with its definitions as nested resources, made of the
	// recorded answers of their own endpoints.
	r.defaults["GET "+b] = answer{status: 200, body: `{"id":"` + recBoard + `","lists":` + string(readFile(t, "lists.json")) +
		`,"labels":` + string(readFile(t, "labels.json")) + `,"members":` + string(readFile(t, "members.json")) +
		`,"customFields":` + string(readFile(t, "customFields.json")) + `}`}
	r.ts = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.ts.Close)
	return r
}

// then queues answers for method and path.
func (r *recorded) then(method, path string, as ...answer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queue[method+" "+path] = append(r.queue[method+" "+path], as...)
}

func (r *recorded) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.mu.Unlock()
	if got := req.Header.Get("Authorization"); got != wantAuth {
		r.t.Errorf("%s %s: Authorization header %q, want the OAuth form of the key and token", req.Method, req.URL.Path, got)
	}
	if strings.Contains(req.URL.RawQuery, testKey) || strings.Contains(req.URL.RawQuery, testToken) ||
		req.URL.Query().Has("key") || req.URL.Query().Has("token") {
		r.t.Errorf("%s %s: credentials in the query string", req.Method, req.URL.Path)
	}
	path, ok := strings.CutPrefix(req.URL.Path, "/1")
	if !ok {
		http.Error(w, "no such path", http.StatusNotFound)
		return
	}
	k := req.Method + " " + path
	if k == "GET /boards/"+recBoard {
		// The board is only asked for with every definition nested.
		q := req.URL.Query()
		for key, want := range map[string]string{"lists": "all", "labels": "all", "labels_limit": "1000", "members": "all", "customFields": "true"} {
			if q.Get(key) != want {
				r.t.Errorf("GET %s: %s=%q, want %q", path, key, q.Get(key), want)
			}
		}
	}
	r.mu.Lock()
	a, queued := answer{}, false
	if q := r.queue[k]; len(q) > 0 {
		a, queued = q[0], true
		r.queue[k] = q[1:]
	}
	r.mu.Unlock()
	if !queued {
		var found bool
		if a, found = r.defaults[k]; !found {
			if id, isCard := strings.CutPrefix(path, "/cards/"); isCard && req.Method == http.MethodGet {
				r.serveCard(w, id)
				return
			}
			http.Error(w, "Cannot "+k, http.StatusNotFound)
			return
		}
	}
	body := []byte(a.body)
	if a.file != "" {
		body = readFile(r.t, a.file)
	}
	if strings.HasSuffix(path, "/actions") && a.status == http.StatusOK {
		body = r.since(body, req.URL.Query().Get("since"))
	}
	ct := "text/plain; charset=utf-8"
	if len(body) > 0 && (body[0] == '{' || body[0] == '[') {
		ct = "application/json; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(a.status)
	_, _ = w.Write(body)
}

// since keeps the recorded actions created from the second since names
// on, as Trello compares ids, whose first 8 hex digits are that second.
func (r *recorded) since(body []byte, since string) []byte {
	if since == "" {
		return body
	}
	from, err := time.Parse(time.RFC3339, since)
	if err != nil {
		r.t.Errorf("since %q is not RFC 3339", since)
		return body
	}
	var acts []map[string]any
	if err := json.Unmarshal(body, &acts); err != nil {
		return body
	}
	kept := []map[string]any{}
	for _, a := range acts {
		id, _ := a["id"].(string)
		if !idTime(id).Before(from) {
			kept = append(kept, a)
		}
	}
	out, _ := json.Marshal(kept)
	return out
}

// serveCard answers GET /cards/{id} with the card from cards.json, or
// Trello's 404 text.
func (r *recorded) serveCard(w http.ResponseWriter, id string) {
	var cards []map[string]any
	if err := json.Unmarshal(readFile(r.t, "cards.json"), &cards); err != nil {
		r.t.Fatal(err)
	}
	for _, c := range cards {
		if c["id"] == id {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_ = json.NewEncoder(w).Encode(c)
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write(readFile(r.t, "error_404.txt"))
}

// requests returns "METHOD /path" of every request so far.
func (r *recorded) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.reqs))
	for i, q := range r.reqs {
		out[i] = q.Method + " " + strings.TrimPrefix(q.URL.Path, "/1")
	}
	return out
}

// queries returns the query of every request to path, in order.
func (r *recorded) queries(path string) []map[string][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string][]string
	for _, q := range r.reqs {
		if strings.TrimPrefix(q.URL.Path, "/1") == path {
			out = append(out, q.URL.Query())
		}
	}
	return out
}

// newConnector builds a connector for baseURL with test credentials,
// budgets too large to wait on, and a Sleep that only records.
func newConnector(t *testing.T, baseURL string, edit func(*connectors.Params)) (*Connector, *sandbox.Sleeps, *sandbox.Clock) {
	t.Helper()
	sleeps, clock := &sandbox.Sleeps{}, sandbox.NewClock(t0)
	p := connectors.Params{
		Name:        "trello-test",
		Kind:        Kind,
		BaseURL:     baseURL,
		Options:     Options{TokenLimit: 1_000_000, KeyLimit: 1_000_000},
		Credentials: connectors.Credentials{Key: testKey, Token: testToken},
		Now:         clock.Now,
		Sleep:       sleeps.Sleep,
	}
	if edit != nil {
		edit(&p)
	}
	c, err := New(p)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, sleeps, clock
}

func recScope(fields ...string) connectors.Scope {
	return connectors.Scope{Source: "pacs-trello", Fields: fields, Config: Scope{Board: recBoard}}
}

// pullPages runs one Pull and returns its pages.
func pullPages(t *testing.T, c *Connector, scope connectors.Scope, cur connectors.Cursor) []connectors.Page {
	t.Helper()
	var pages []connectors.Page
	if err := c.Pull(context.Background(), scope, cur, func(p connectors.Page) error {
		pages = append(pages, p)
		return nil
	}); err != nil {
		t.Fatalf("Pull: %v", err)
	}
	return pages
}

// lastCursor is the cursor a pull ends with ("" when it sent no page).
func lastCursor(pages []connectors.Page) connectors.Cursor {
	if len(pages) == 0 {
		return ""
	}
	return pages[len(pages)-1].Next
}

func decodeCursor(t *testing.T, c connectors.Cursor) cursor {
	t.Helper()
	var cur cursor
	if err := json.Unmarshal([]byte(c), &cur); err != nil {
		t.Fatalf("cursor %q: %v", c, err)
	}
	return cur
}
