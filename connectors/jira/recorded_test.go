package jira

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox"
)

// recorded is a fake Jira that answers each "METHOD path" from a queue of
// recorded answers (testdata/, see its README) and keeps the search bodies
// it was sent.
type recorded struct {
	t      *testing.T
	mu     sync.Mutex
	queue  map[string][]answer
	bodies []string
}

type answer struct {
	status int
	header map[string]string
	file   string // under testdata; "" for no body
}

func (f *recorded) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	k := r.Method + " " + r.URL.Path
	q := f.queue[k]
	if len(q) == 0 {
		f.mu.Unlock()
		f.t.Errorf("unexpected request %s", k)
		http.NotFound(w, r)
		return
	}
	a := q[0]
	if len(q) > 1 {
		f.queue[k] = q[1:]
	}
	if strings.Contains(r.URL.Path, "/search") {
		f.bodies = append(f.bodies, string(body))
	}
	f.mu.Unlock()
	for h, v := range a.header {
		w.Header().Set(h, v)
	}
	if a.file == "" {
		w.WriteHeader(a.status)
		return
	}
	b, err := os.ReadFile(filepath.Join("testdata", a.file))
	if err != nil {
		f.t.Fatal(err)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(a.status)
	_, _ = w.Write(b)
}

func ok(file string) answer { return answer{status: 200, file: file} }

// replay runs a connector of the flavor against the recorded answers.
func replay(t *testing.T, flavor Flavor, queue map[string][]answer) (*Connector, *recorded, *sandbox.Sleeps) {
	t.Helper()
	f := &recorded{t: t, queue: queue}
	ts := httptest.NewServer(f)
	t.Cleanup(ts.Close)
	// Waits are recorded, and pass on the connector's clock.
	sleeps, clk := &sandbox.Sleeps{}, sandbox.NewClock(t0)
	sleep := func(ctx context.Context, d time.Duration) error {
		clk.Advance(d)
		return sleeps.Sleep(ctx, d)
	}
	p := connectors.Params{Name: "jira", Kind: Kind, BaseURL: ts.URL, Options: Options{Flavor: string(flavor), SiteURL: "https://your-domain.atlassian.net"},
		Credentials: connectors.Credentials{Email: testEmail, Token: testToken}, Now: clk.Now, Sleep: sleep}
	c, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	return c, f, sleeps
}

// customNames are the custom fields of field_custom.json, by name.
var customNames = []string{"Planned Cost", "Actual Cost", "Start date", "Go-live window", "Impact", "Systems", "Site",
	"Clinical lead", "Reviewers", "Tags", "Vendor ticket", "Notes", "Runbook", "Approvals", "Team", "Release"}

func pullAll(c *Connector, scope connectors.Scope, cur connectors.Cursor) ([]connectors.Page, error) {
	var pages []connectors.Page
	err := c.Pull(context.Background(), scope, cur, func(p connectors.Page) error {
		pages = append(pages, p)
		return nil
	})
	return pages, err
}

// TestRecordedCloudPages decodes a page with a next token, then a page
// carrying every custom field type; the values a mapping sees are computed
// by hand from the recorded JSON.
func TestRecordedCloudPages(t *testing.T) {
	c, f, _ := replay(t, Cloud, map[string][]answer{
		"GET /rest/api/2/field":       {ok("field_custom.json")},
		"POST /rest/api/3/search/jql": {ok("search_jql_page.json"), ok("search_jql_custom_fields.json")},
	})
	scope := connectors.Scope{Source: "ed", Config: Scope{Project: "ED"}, Fields: customNames}
	pages, err := pullAll(c, scope, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 2 || len(pages[0].Records) != 2 || len(pages[1].Records) != 1 {
		t.Fatalf("pages %d, want 2 pages of 2 and 1 records", len(pages))
	}
	if !strings.Contains(f.bodies[1], `"nextPageToken":"CAEaAggD"`) {
		t.Errorf("second search %s does not carry the first page's token", f.bodies[1])
	}
	r0, r1 := pages[0].Records[0], pages[0].Records[1]
	if r0.ExternalID != "10002" || r0.URL != "https://your-domain.atlassian.net/browse/ED-1" ||
		!r0.UpdatedAt.Equal(time.Date(2026, 2, 27, 16, 5, 11, 0, time.UTC)) {
		t.Errorf("first record %s %s %v", r0.ExternalID, r0.URL, r0.UpdatedAt)
	}
	// -0500: 08:00 in New York is 13:00 UTC.
	if !r1.UpdatedAt.Equal(time.Date(2026, 2, 28, 13, 0, 0, 0, time.UTC)) {
		t.Errorf("second record updated %v, want 13:00 UTC", r1.UpdatedAt)
	}
	fields := r0.Data["fields"].(map[string]any)
	if _, ok := fields["description"]; ok {
		t.Error("the description reached the record")
	}
	if _, ok := fields["comment"]; ok {
		t.Error("the comments reached the record")
	}
	// The cursor after the first page is its newest update.
	if since, _ := decodeCursor(pages[0].Next); !since.Equal(r1.UpdatedAt) {
		t.Errorf("cursor %v, want %v", since, r1.UpdatedAt)
	}

	got := pages[1].Records[0].Data["custom"]
	want := map[string]any{
		"Planned Cost":   125000.5,
		"Actual Cost":    nil,
		"Start date":     "2026-03-01",
		"Go-live window": "2026-04-10T12:30:00Z", // 22:30 at +10:00
		"Impact":         "4",
		"Systems":        []any{"Epic", "PACS"},
		"Site":           "North Campus / Radiology",
		"Clinical lead":  "Dana Whitfield",
		"Reviewers":      []any{"Lee Okafor", "Sam Brandt"},
		"Tags":           []any{"go-live", "phi"},
		"Vendor ticket":  "INC-4471",
		"Notes":          "Line one\nLine two",
		"Runbook":        "https://wiki.example.org/runbook",
		"Approvals":      []any{"CAB"},
		"Team":           "pacs-team",
		"Release":        "2026.1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("custom values (-want +got):\n%s", diff)
	}
	var sent struct{ Fields []string }
	if err := json.Unmarshal([]byte(f.bodies[0]), &sent); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"customfield_10040", "customfield_10062", "customfield_10073"} {
		if !strings.Contains(strings.Join(sent.Fields, ","), id) {
			t.Errorf("search did not ask for %s: %v", id, sent.Fields)
		}
	}
}

// TestRecordedVendorExample decodes Atlassian's own example of a search/jql
// page verbatim. Its issue's updated is the number 1, which is no time:
// the pull must fail naming the issue and the value, not store a record
// whose cursor is meaningless.
func TestRecordedVendorExample(t *testing.T) {
	c, _, _ := replay(t, Cloud, map[string][]answer{
		"GET /rest/api/2/field":       {ok("field_custom.json")},
		"POST /rest/api/3/search/jql": {ok("search_jql_example.json")},
	})
	_, err := pullAll(c, connectors.Scope{Source: "ed", Config: Scope{Project: "ED"}}, "")
	if err == nil || !strings.Contains(err.Error(), "10002") || !strings.Contains(err.Error(), "ED-1") || !strings.Contains(err.Error(), "page 1") {
		t.Fatalf("the example page gave %v, want an error naming issue 10002 (ED-1) on page 1", err)
	}
}

// TestRecordedEmptyPage: a scope that matches nothing is one empty page,
// and the cursor stays where it was.
func TestRecordedEmptyPage(t *testing.T) {
	c, _, _ := replay(t, Cloud, map[string][]answer{
		"GET /rest/api/2/field":       {ok("field_custom.json")},
		"GET /rest/api/2/myself":      {ok("myself_example.json")},
		"POST /rest/api/3/search/jql": {ok("search_jql_empty.json")},
	})
	cur := encodeCursor(t0.Add(-time.Hour))
	pages, err := pullAll(c, connectors.Scope{Source: "ed", Config: Scope{Project: "ED"}}, cur)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 1 || len(pages[0].Records) != 0 || pages[0].Next != cur {
		t.Errorf("pages %+v, want one empty page keeping the cursor", pages)
	}
}

// TestRecordedZoneFromMyself: the vendor's /myself example names
// Australia/Sydney; an incremental query's date is written in that zone.
func TestRecordedZoneFromMyself(t *testing.T) {
	c, f, _ := replay(t, Cloud, map[string][]answer{
		"GET /rest/api/2/field":       {ok("field_custom.json")},
		"GET /rest/api/2/myself":      {ok("myself_example.json")},
		"POST /rest/api/3/search/jql": {ok("search_jql_empty.json")},
	})
	// 2026-03-02 09:00 UTC less the 5-minute overlap is 19:55 in Sydney (+11:00).
	if _, err := pullAll(c, connectors.Scope{Source: "ed", Config: Scope{Project: "ED"}}, encodeCursor(t0)); err != nil {
		t.Fatal(err)
	}
	var sent struct{ JQL string }
	if err := json.Unmarshal([]byte(f.bodies[0]), &sent); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sent.JQL, `updated >= "2026/03/02 19:55"`) {
		t.Errorf("incremental query %q, want the literal in Sydney time", sent.JQL)
	}
}

// TestRecordedErrors: Jira's error collection reaches the error text with
// the status; a 429 carrying Atlassian's documented headers is waited out
// for Retry-After and the search sent again.
func TestRecordedErrors(t *testing.T) {
	c, _, _ := replay(t, Cloud, map[string][]answer{
		"GET /rest/api/2/field":       {ok("field_custom.json")},
		"POST /rest/api/3/search/jql": {{status: 400, file: "error_400.json"}},
	})
	_, err := pullAll(c, connectors.Scope{Source: "ed", Config: Scope{JQL: "nosuchfield = 1"}}, "")
	if connectors.StatusOf(err) != 400 || !strings.Contains(err.Error(), "Field 'nosuchfield' does not exist") {
		t.Errorf("400: %v, want the status and Jira's message", err)
	}

	c, f, sleeps := replay(t, Cloud, map[string][]answer{
		"GET /rest/api/2/field": {ok("field_custom.json")},
		"POST /rest/api/3/search/jql": {
			{status: 429, header: map[string]string{"Retry-After": "3", "X-RateLimit-Reset": "2026-03-02T09:01Z", "RateLimit-Reason": "jira-burst-based"}},
			ok("search_jql_custom_fields.json"),
		},
	})
	pages, err := pullAll(c, connectors.Scope{Source: "ed", Config: Scope{Project: "ED"}}, "")
	if err != nil || len(pages) != 1 || len(pages[0].Records) != 1 {
		t.Fatalf("after a 429: %d pages, %v", len(pages), err)
	}
	if len(f.bodies) != 2 || f.bodies[0] != f.bodies[1] {
		t.Errorf("searches %q, want the same one twice", f.bodies)
	}
	// The retry waits Retry-After exactly. (The shared limiter, paused by
	// the 429 on the wall clock, may add its own wait when sleeps are
	// recorded rather than spent.)
	if w := sleeps.Waits(); len(w) == 0 || w[0] != 3*time.Second {
		t.Errorf("waits %v, want Retry-After's 3s first", w)
	}
}

// TestRecordedDataCenterPage decodes the startAt/total shape Data Center
// serves, and its vendor example, whose updated is the number 1.
func TestRecordedDataCenterPage(t *testing.T) {
	c, f, _ := replay(t, DataCenter, map[string][]answer{
		"GET /rest/api/2/field":  {ok("field_custom.json")},
		"GET /rest/api/2/myself": {ok("myself_example.json")},
		// The walk's one page (total 1), the issues created since it
		// began (the same page serves: the issue is not new, but the count
		// must then be 1), and the count.
		"POST /rest/api/2/search": {ok("dc_search_page.json"), ok("dc_search_page.json"), ok("dc_search_page.json")},
	})
	pages, err := pullAll(c, connectors.Scope{Source: "ed", Config: Scope{Project: "ED"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	var recs []pmsync.Record
	for _, p := range pages {
		recs = append(recs, p.Records...)
	}
	if len(recs) != 1 || recs[0].ExternalID != "10002" || recs[0].URL != "https://your-domain.atlassian.net/browse/ED-1" {
		t.Fatalf("records %+v", recs)
	}
	if since, _ := decodeCursor(pages[len(pages)-1].Next); since.IsZero() {
		t.Error("a proven walk left no cursor")
	}
	if len(f.bodies) != 3 || !strings.Contains(f.bodies[0], `"startAt":0`) {
		t.Errorf("searches %q", f.bodies)
	}

	c, _, _ = replay(t, DataCenter, map[string][]answer{
		"GET /rest/api/2/field":   {ok("field_custom.json")},
		"GET /rest/api/2/myself":  {ok("myself_example.json")},
		"POST /rest/api/2/search": {ok("search_example.json")},
	})
	if _, err := pullAll(c, connectors.Scope{Source: "ed", Config: Scope{Project: "ED"}}, ""); err == nil || !strings.Contains(err.Error(), "ED-1") {
		t.Errorf("the vendor's Data Center-shaped example: %v, want an error naming ED-1", err)
	}
}
