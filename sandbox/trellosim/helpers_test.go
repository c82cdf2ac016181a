package trellosim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testKey   = "0123456789abcdef0123456789abcdef"
	testToken = "ATTAtest-token-for-the-simulator"
)

var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// authHeader is the header a well-behaved client sends.
var authHeader = `OAuth oauth_consumer_key="` + testKey + `", oauth_token="` + testToken + `"`

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func start(t *testing.T, o Options) (*Server, *httptest.Server, *clock) {
	t.Helper()
	clk := &clock{t: t0}
	o.Key, o.Token = testKey, testToken
	if o.Now == nil {
		o.Now = clk.Now
	}
	if o.TokenLimit == 0 {
		o.TokenLimit = 100000 // out of the way unless a test is about it
	}
	if o.KeyLimit == 0 {
		o.KeyLimit = 100000
	}
	s := New(o)
	ts := s.Start()
	t.Cleanup(ts.Close)
	return s, ts, clk
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) text() string { return string(r.body) }

// do sends a request with the given Authorization header ("" for none).
// path is relative to the API base and may carry a query.
func do(t *testing.T, ts *httptest.Server, method, path, auth string, body io.Reader, contentType string) response {
	t.Helper()
	req, err := http.NewRequest(method, BaseURL(ts)+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

func get(t *testing.T, ts *httptest.Server, path string) response {
	t.Helper()
	return do(t, ts, http.MethodGet, path, authHeader, nil, "")
}

// getOK fetches path and decodes its JSON into v, failing on any status
// but 200.
func getOK(t *testing.T, ts *httptest.Server, path string, v any) {
	t.Helper()
	r := get(t, ts, path)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.status, r.text())
	}
	decode(t, r, v)
}

func decode(t *testing.T, r response, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
}

// send writes params as a query string (method PUT/POST/DELETE).
func send(t *testing.T, ts *httptest.Server, method, path string, params url.Values) response {
	t.Helper()
	if len(params) > 0 {
		path += "?" + params.Encode()
	}
	return do(t, ts, method, path, authHeader, nil, "")
}

func sendForm(t *testing.T, ts *httptest.Server, method, path string, params url.Values) response {
	t.Helper()
	return do(t, ts, method, path, authHeader, strings.NewReader(params.Encode()), "application/x-www-form-urlencoded")
}

type obj = map[string]any

func idsOf(list []obj) []string {
	out := make([]string, len(list))
	for i, o := range list {
		out[i], _ = o["id"].(string)
	}
	return out
}

func names(list []obj) []string {
	out := make([]string, len(list))
	for i, o := range list {
		out[i], _ = o["name"].(string)
	}
	return out
}

func ptr(t time.Time) *time.Time { return &t }

// fixture is a small board seeded by hand; tests compare against it.
type fixture struct {
	s     *Server
	ts    *httptest.Server
	clk   *clock
	board string
	// lists and labels by name
	list  map[string]string
	label map[string]string
	alice string
	bob   string
	// cards by short name, in creation order: build, golive, vendor,
	// archived, parked
	card  map[string]string
	order []string
}

func seed(t *testing.T, o Options) *fixture {
	t.Helper()
	s, ts, clk := start(t, o)
	f := &fixture{s: s, ts: ts, clk: clk, list: map[string]string{}, label: map[string]string{}, card: map[string]string{}}
	f.board = s.AddBoard("EHR Pilot")
	for _, name := range []string{"Backlog", "Doing", "Done", "Parking"} {
		f.list[name] = s.AddList(f.board, name)
	}
	f.label["Milestone"] = s.AddLabel(f.board, "Milestone", "purple")
	f.label["Risk"] = s.AddLabel(f.board, "Risk", "red")
	f.alice = s.AddMember(f.board, "Alice Example", "aliceexample")
	f.bob = s.AddMember(f.board, "Bob Example", "bobexample")
	s.AddCustomField(f.board, "Planned Cost", "number")
	s.AddCustomField(f.board, "Go-Live Date", "date")
	s.AddCustomField(f.board, "Approved", "checkbox")
	s.AddCustomField(f.board, "Likelihood", "list", "1", "2", "3", "4", "5")
	s.AddCustomField(f.board, "Owner", "text")

	add := func(name string, c Card) {
		clk.Advance(time.Minute)
		f.card[name] = s.AddCard(f.board, c)
		f.order = append(f.order, name)
	}
	add("build", Card{
		Name: "Build order sets", Desc: "Cardiology first", IDList: f.list["Backlog"],
		Due:        ptr(time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC)),
		Custom:     map[string]string{"Planned Cost": "12.5", "Owner": "Alice Example"},
		CheckItems: 4, CheckItemsChecked: 1, Members: []string{f.alice},
	})
	add("golive", Card{
		Name: "Go-live", IDList: f.list["Doing"], Labels: []string{f.label["Milestone"]},
		Due:    ptr(time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)),
		Custom: map[string]string{"Go-Live Date": "2026-12-01T15:00:00Z", "Approved": "true", "Likelihood": "4"},
	})
	add("vendor", Card{
		Name: "Vendor delay", IDList: f.list["Done"], Labels: []string{f.label["Risk"]},
		Members: []string{f.alice, f.bob}, DueComplete: true,
	})
	add("archived", Card{Name: "Old pilot notes", IDList: f.list["Done"], Closed: true})
	add("parked", Card{Name: "Parked idea", IDList: f.list["Parking"]})
	s.mu.Lock()
	s.lists[f.list["Parking"]].closed = true // a closed (archived) list
	s.mu.Unlock()
	return f
}
