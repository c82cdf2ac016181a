package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pmsync/pmsync/sandbox"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox/jirasim"
)

const (
	testEmail = "pmo.integration@example.org"
	testToken = "tok-8Qz1-secret-api-token"
)

// env is a simulator on loopback and a connector pointed at it.
type env struct {
	sim    *jirasim.Server
	url    string
	clock  *sandbox.Clock
	sleeps *sandbox.Sleeps
	conn   *Connector
	flavor jirasim.Flavor
	opts   envOpts
	sent   int64 // conn.Requests() when the simulator's calls were last reset
}

type envOpts struct {
	flavor   jirasim.Flavor
	zone     string
	issues   int
	maxPage  int
	badToken bool
	overlap  time.Duration                   // Params.Overlap
	log      io.Writer                       // Params.Log's output; nil discards
	wrap     func(http.Handler) http.Handler // sits between the connector and the simulator
	cloudID  string                          // serve the API under /ex/jira/{cloudID} too
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	if o.flavor == "" {
		o.flavor = jirasim.Cloud
	}
	clk := sandbox.NewClock(t0)
	sim := jirasim.New(jirasim.Options{
		Flavor: o.flavor, Email: testEmail, Token: testToken,
		TimeZone: o.zone, Now: clk.Now, MaxResults: o.maxPage, CloudID: o.cloudID,
	})
	var ts *httptest.Server
	if o.wrap != nil {
		ts = httptest.NewServer(o.wrap(sim))
	} else {
		ts = sim.Start()
	}
	t.Cleanup(ts.Close)
	if o.issues > 0 {
		sim.Add(jirasim.Generate("EHR", o.issues, 7, t0)...)
	}
	e := &env{sim: sim, url: ts.URL, clock: clk, sleeps: &sandbox.Sleeps{}, flavor: o.flavor, opts: o}
	token := testToken
	if o.badToken {
		token = "wrong-" + testToken
	}
	e.conn = e.connect(t, token)
	return e
}

func (e *env) connect(t *testing.T, token string) *Connector {
	t.Helper()
	p := connectors.Params{
		Name: "jira", Kind: Kind, BaseURL: e.url, Options: Options{Flavor: string(e.flavor)},
		Credentials: connectors.Credentials{Token: pmsync.Secret(token)},
		Sleep:       e.sleeps.Sleep, Now: e.clock.Now, Overlap: e.opts.overlap,
	}
	if e.opts.log != nil {
		p.Log = zerolog.New(e.opts.log)
	}
	if e.flavor == jirasim.Cloud {
		p.Credentials.Email = testEmail
	}
	c, err := New(p)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// resetCalls forgets the simulator's recorded calls.
func (e *env) resetCalls() {
	e.sim.ResetCalls()
	e.sent = e.conn.Requests()
}

// calls returns the simulator's recorded calls once it has recorded every
// request the connector sent: the simulator records a call after writing
// its answer, so the last one can trail the client by a moment.
func (e *env) calls(t *testing.T) []jirasim.Call {
	t.Helper()
	want := int(e.conn.Requests() - e.sent)
	deadline := time.Now().Add(2 * time.Second)
	calls := e.sim.Calls()
	for len(calls) < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
		calls = e.sim.Calls()
	}
	return calls
}

func (e *env) searchPath() string {
	if e.flavor == jirasim.DataCenter {
		return "/rest/api/2/search"
	}
	return "/rest/api/3/search/jql"
}

// pull runs a Pull and returns its pages.
func (e *env) pull(t *testing.T, scope connectors.Scope, cur connectors.Cursor) []connectors.Page {
	t.Helper()
	var pages []connectors.Page
	err := e.conn.Pull(context.Background(), scope, cur, func(p connectors.Page) error {
		pages = append(pages, p)
		return nil
	})
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	return pages
}

// idsOf lists the record ids of pages in order, failing on a duplicate.
func idsOf(t *testing.T, pages []connectors.Page) []string {
	t.Helper()
	seen := map[string]bool{}
	var ids []string
	for _, p := range pages {
		for _, r := range p.Records {
			if seen[r.ExternalID] {
				t.Errorf("issue %s delivered twice", r.ExternalID)
			}
			seen[r.ExternalID] = true
			ids = append(ids, r.ExternalID)
		}
	}
	return ids
}

// countCalls counts recorded requests by "METHOD path".
func countCalls(calls []jirasim.Call) map[string]int {
	out := map[string]int{}
	for _, c := range calls {
		out[c.Method+" "+c.Path]++
	}
	return out
}

var projectScope = connectors.Scope{Source: "jira-ehr", Config: Scope{Project: "EHR"}}

func TestPullFullThenIncremental(t *testing.T) {
	for _, flavor := range []jirasim.Flavor{jirasim.Cloud, jirasim.DataCenter} {
		t.Run(string(flavor), func(t *testing.T) {
			e := newEnv(t, envOpts{flavor: flavor, zone: "Australia/Sydney", issues: 1000})

			pages := e.pull(t, projectScope, "")
			if len(pages) < 10 {
				t.Errorf("full pull of 1000 issues came in %d pages, want at least 10", len(pages))
			}
			got := idsOf(t, pages)
			var want []string
			latest := time.Time{}
			for _, is := range e.sim.Issues() {
				want = append(want, is.ID)
				if is.Updated.After(latest) {
					latest = is.Updated
				}
			}
			if diff := cmp.Diff(sorted(want), sorted(got)); diff != "" {
				t.Fatalf("full pull ids (-sim +pulled):\n%s", diff)
			}
			// 1 field catalog (go-jira's v2 path on both flavors) + 10
			// search pages; no /myself on a Cloud full pull. Data Center
			// proves its walk: /myself for the zone of the created-since
			// query, which lists the issues created during the walk, and a
			// count of the scope.
			wantCalls := map[string]int{"GET /rest/api/2/field": 1, "POST " + e.searchPath(): 10}
			if flavor == jirasim.DataCenter {
				wantCalls = map[string]int{"GET /rest/api/2/field": 1, "GET /rest/api/2/myself": 1, "POST " + e.searchPath(): 12}
			}
			if diff := cmp.Diff(wantCalls, countCalls(e.calls(t))); diff != "" {
				t.Errorf("full pull requests (-want +got):\n%s", diff)
			}
			for i, p := range pages {
				if flavor == jirasim.DataCenter && i < len(pages)-1 {
					// Id order says nothing of update times: until the last
					// page, a page keeps the cursor the pull started from.
					if p.Next != "" {
						t.Errorf("page %d cursor %s, want the starting cursor (empty)", i, p.Next)
					}
					continue
				}
				since, err := decodeCursor(p.Next)
				if err != nil {
					t.Fatalf("page %d cursor: %v", i, err)
				}
				for _, r := range p.Records {
					if r.UpdatedAt.After(since) {
						t.Errorf("page %d: record %s updated %v after the page cursor %v", i, r.ExternalID, r.UpdatedAt, since)
					}
				}
			}
			cur := pages[len(pages)-1].Next
			if since, _ := decodeCursor(cur); !since.Equal(latest) {
				t.Errorf("final cursor at %v, want the latest update %v", since, latest)
			}

			// An hour later (far past the 5-minute overlap) five issues change.
			e.clock.Advance(time.Hour)
			all := e.sim.Issues()
			var changed []string
			for _, is := range []jirasim.Issue{all[3], all[250], all[500], all[777], all[999]} {
				if err := e.sim.Update(is.Key, func(i *jirasim.Issue) { i.Summary += " (re-planned)" }); err != nil {
					t.Fatal(err)
				}
				changed = append(changed, is.ID)
			}
			// Issues untouched but updated within the overlap before the
			// cursor come back too: Jira reads the literal at minute precision.
			from := latest.Add(-DefaultOverlap).Truncate(time.Minute)
			wantInc := append([]string(nil), changed...)
			for _, is := range all {
				if !is.Updated.Before(from) && !slices.Contains(changed, is.ID) {
					wantInc = append(wantInc, is.ID)
				}
			}
			e.resetCalls()
			inc := e.pull(t, projectScope, cur)
			if diff := cmp.Diff(sorted(wantInc), sorted(idsOf(t, inc))); diff != "" {
				t.Errorf("incremental pull ids (-want +got):\n%s", diff)
			}
			// The field catalog is an hour old, so it is read again, and so
			// is the user's zone (on Cloud read for the first time: a full
			// pull writes no date literal; on Data Center the full walk's
			// proof read it an hour ago).
			wantCalls = map[string]int{"GET /rest/api/2/field": 1, "GET /rest/api/2/myself": 1, "POST " + e.searchPath(): 1}
			if diff := cmp.Diff(wantCalls, countCalls(e.calls(t))); diff != "" {
				t.Errorf("incremental pull requests (-want +got):\n%s", diff)
			}
			if since, _ := decodeCursor(inc[len(inc)-1].Next); !since.Equal(t0.Add(time.Hour)) {
				t.Errorf("incremental cursor at %v, want %v", since, t0.Add(time.Hour))
			}
		})
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestSearchRequestShape checks what a search asks for: the template's
// system fields and the custom fields resolved by name (their ids differ
// between Cloud and Data Center), never descriptions or comments.
func TestSearchRequestShape(t *testing.T) {
	system := []string{"summary", "status", "issuetype", "assignee", "priority", "duedate", "updated", "created", "labels", "resolution", "resolutiondate", "parent"}
	for _, tc := range []struct {
		flavor jirasim.Flavor
		custom []string // Start date, Planned Cost, Actual Cost, Likelihood, Impact
	}{
		{jirasim.Cloud, []string{"customfield_10015", "customfield_10050", "customfield_10051", "customfield_10052", "customfield_10053"}},
		{jirasim.DataCenter, []string{"customfield_10100", "customfield_10101", "customfield_10102", "customfield_10103", "customfield_10104"}},
	} {
		t.Run(string(tc.flavor), func(t *testing.T) {
			e := newEnv(t, envOpts{flavor: tc.flavor, issues: 3})
			scope := connectors.Scope{Source: "s", Config: Scope{JQL: "project = EHR ORDER BY rank"}, Fields: []string{"Planned Cost", "No Such Field"}}
			e.pull(t, scope, "")
			var body struct {
				JQL        string   `json:"jql"`
				MaxResults int      `json:"maxResults"`
				Fields     []string `json:"fields"`
				StartAt    *int     `json:"startAt"`
			}
			for _, c := range e.calls(t) {
				if c.Path == e.searchPath() {
					if err := json.Unmarshal(c.Body, &body); err != nil {
						t.Fatal(err)
					}
					break // the first page's request
				}
			}
			if diff := cmp.Diff(append(slices.Clone(system), tc.custom...), body.Fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			want := "(project = EHR) ORDER BY updated ASC, id ASC"
			if tc.flavor == jirasim.DataCenter {
				want = "(project = EHR) ORDER BY key ASC"
			}
			if body.JQL != want {
				t.Errorf("jql = %q, want %q", body.JQL, want)
			}
			if body.MaxResults != 100 {
				t.Errorf("maxResults = %d, want 100", body.MaxResults)
			}
			if (body.StartAt != nil) != (tc.flavor == jirasim.DataCenter) {
				t.Errorf("startAt sent = %v, want only on Data Center", body.StartAt != nil)
			}
		})
	}
}

func TestRecordsCarryCustomFieldsByName(t *testing.T) {
	for _, flavor := range []jirasim.Flavor{jirasim.Cloud, jirasim.DataCenter} {
		t.Run(string(flavor), func(t *testing.T) {
			e := newEnv(t, envOpts{flavor: flavor})
			planned, actual := 125000.0, 98000.5
			e.sim.Add(
				jirasim.Issue{ID: "20001", Key: "EHR-1", Type: "Risk", Summary: "Vendor delay", Description: "PHI: patient 123",
					Status: "In Progress", Likelihood: "4", Impact: "5", Labels: []string{"vendor"}, Assignee: "Ana Lima",
					Updated: time.Date(2026, 2, 1, 8, 30, 0, 0, time.UTC)},
				jirasim.Issue{ID: "20002", Key: "EHR-2", Type: "Milestone", Summary: "Go-live", Status: "Done", Resolution: "Done",
					Due: "2026-06-30", Start: "2026-01-05", PlannedCost: &planned, ActualCost: &actual,
					Updated: time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)},
			)
			pages := e.pull(t, projectScope, "")
			recs := map[string]pmsync.Record{}
			for _, p := range pages {
				for _, r := range p.Records {
					recs[r.ExternalID] = r
				}
			}
			for _, tc := range []struct {
				id      string
				url     string
				updated time.Time
				custom  map[string]any
				summary string
			}{
				{"20001", e.url + "/browse/EHR-1", time.Date(2026, 2, 1, 8, 30, 0, 0, time.UTC),
					map[string]any{"Start date": nil, "Planned Cost": nil, "Actual Cost": nil, "Likelihood": "4", "Impact": "5"}, "Vendor delay"},
				{"20002", e.url + "/browse/EHR-2", time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC),
					map[string]any{"Start date": "2026-01-05", "Planned Cost": 125000.0, "Actual Cost": 98000.5, "Likelihood": nil, "Impact": nil}, "Go-live"},
			} {
				r, ok := recs[tc.id]
				if !ok {
					t.Fatalf("issue %s not pulled", tc.id)
				}
				if r.URL != tc.url || !r.UpdatedAt.Equal(tc.updated) || r.Source != "jira-ehr" {
					t.Errorf("issue %s: url %q updated %v source %q; want %q %v jira-ehr", tc.id, r.URL, r.UpdatedAt, r.Source, tc.url, tc.updated)
				}
				if diff := cmp.Diff(tc.custom, r.Data["custom"]); diff != "" {
					t.Errorf("issue %s custom (-want +got):\n%s", tc.id, diff)
				}
				fields, _ := r.Data["fields"].(map[string]any)
				if fields["summary"] != tc.summary {
					t.Errorf("issue %s summary = %v, want %q", tc.id, fields["summary"], tc.summary)
				}
				for k := range fields {
					if k == "description" || k == "comment" || strings.HasPrefix(k, "customfield_") {
						t.Errorf("issue %s: fields still hold %q", tc.id, k)
					}
				}
			}
		})
	}
}

// TestCloudNeverUsesRemovedSearch proves the simulator answers the removed
// search API with 410, as Jira Cloud does, and that the connector never
// calls it.
func TestCloudNeverUsesRemovedSearch(t *testing.T) {
	e := newEnv(t, envOpts{issues: 150})
	req, err := http.NewRequest(http.MethodPost, e.url+"/rest/api/3/search", strings.NewReader(`{"jql":"project = EHR"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(testEmail, testToken)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Fatalf("POST /rest/api/3/search answered %d, want 410", resp.StatusCode)
	}
	e.resetCalls()

	ctx := context.Background()
	if err := e.conn.Check(ctx); err != nil {
		t.Fatal(err)
	}
	pages := e.pull(t, projectScope, "")
	e.pull(t, projectScope, pages[len(pages)-1].Next)
	if _, err := e.conn.ListIDs(ctx, projectScope); err != nil {
		t.Fatal(err)
	}
	for _, c := range e.calls(t) {
		if c.Path == "/rest/api/3/search" || c.Path == "/rest/api/2/search" {
			t.Errorf("connector called the removed %s %s", c.Method, c.Path)
		}
	}
	if n := countCalls(e.calls(t))["POST /rest/api/3/search/jql"]; n == 0 {
		t.Errorf("connector never called /rest/api/3/search/jql")
	}
}

// TestDataCenterHonoursSmallerPages checks the requests of a walk by key
// on a server that serves 40 issues a page: every page starts at 0 and
// asks for the issues after the last key read. jirasim.Generate keys the
// issues EHR-1 … EHR-200, so the 40th is EHR-40. After the walk come the
// proof's two requests: the issues created since the walk began, and the
// count of the scope.
func TestDataCenterHonoursSmallerPages(t *testing.T) {
	e := newEnv(t, envOpts{flavor: jirasim.DataCenter, issues: 200, maxPage: 40})
	pages := e.pull(t, projectScope, "")
	if got := len(idsOf(t, pages)); got != 200 {
		t.Fatalf("pulled %d issues, want 200", got)
	}
	var starts, sizes []int
	var jqls []string
	for _, c := range e.calls(t) {
		if c.Path != "/rest/api/2/search" {
			continue
		}
		var body struct {
			StartAt, MaxResults int
			JQL                 string
		}
		if err := json.Unmarshal(c.Body, &body); err != nil {
			t.Fatal(err)
		}
		starts = append(starts, body.StartAt)
		sizes = append(sizes, body.MaxResults)
		jqls = append(jqls, body.JQL)
	}
	if diff := cmp.Diff([]int{0, 0, 0, 0, 0, 0, 0}, starts); diff != "" {
		t.Errorf("startAt sequence (-want +got):\n%s", diff)
	}
	// The id-only proof query asks for 1000 and the count for none.
	if diff := cmp.Diff([]int{100, 40, 40, 40, 40, 1000, 0}, sizes); diff != "" {
		t.Errorf("maxResults sequence (-want +got):\n%s", diff)
	}
	wantJQL := []string{
		`(project = "EHR") ORDER BY key ASC`,
		`(project = "EHR") AND (project != "EHR" OR key > "EHR-40") ORDER BY key ASC`,
		`(project = "EHR") AND (project != "EHR" OR key > "EHR-80") ORDER BY key ASC`,
		`(project = "EHR") AND (project != "EHR" OR key > "EHR-120") ORDER BY key ASC`,
		`(project = "EHR") AND (project != "EHR" OR key > "EHR-160") ORDER BY key ASC`,
		// t0 is 09:00 UTC, 04:00 in the user's New York; less a minute.
		`(project = "EHR") AND created >= "2026/03/02 03:59" ORDER BY key ASC`,
		`(project = "EHR")`,
	}
	if diff := cmp.Diff(wantJQL, jqls); diff != "" {
		t.Errorf("jql sequence (-want +got):\n%s", diff)
	}
}

// TestIncrementalLiteralInUserZone checks the JQL literal on the wire and
// that the simulator, reading it in the user's zone, draws the line where
// the hand computation says: since 2026-03-01T00:00Z minus 5 minutes is
// 2026-02-28T23:55Z, which is 2026-03-01 10:55 in Sydney (UTC+11).
func TestIncrementalLiteralInUserZone(t *testing.T) {
	e := newEnv(t, envOpts{zone: "Australia/Sydney"})
	e.sim.Add(
		jirasim.Issue{ID: "30001", Project: "EHR", Summary: "just before", Updated: time.Date(2026, 2, 28, 23, 54, 59, 0, time.UTC)},
		jirasim.Issue{ID: "30002", Project: "EHR", Summary: "on the line", Updated: time.Date(2026, 2, 28, 23, 55, 0, 0, time.UTC)},
		jirasim.Issue{ID: "30003", Project: "EHR", Summary: "after", Updated: time.Date(2026, 3, 1, 0, 30, 0, 0, time.UTC)},
	)
	pages := e.pull(t, projectScope, `{"v":1,"since":"2026-03-01T00:00:00Z"}`)
	if diff := cmp.Diff([]string{"30002", "30003"}, idsOf(t, pages)); diff != "" {
		t.Errorf("incremental ids (-want +got):\n%s", diff)
	}
	if want, got := `(project = "EHR") AND updated >= "2026/03/01 10:55" ORDER BY updated ASC, id ASC`, e.lastJQL(t); got != want {
		t.Errorf("jql = %q, want %q", got, want)
	}
}

// lastJQL is the JQL of the last search the simulator received.
func (e *env) lastJQL(t *testing.T) string {
	t.Helper()
	var body struct{ JQL string }
	for _, c := range e.calls(t) {
		if c.Path == e.searchPath() {
			_ = json.Unmarshal(c.Body, &body)
		}
	}
	return body.JQL
}

// A user who moves their time zone west would have the next literal read
// hours later than meant, and the updates of those hours skipped for good:
// the zone is read again once it is an hour old.
func TestIncrementalFollowsAChangedUserZone(t *testing.T) {
	e := newEnv(t, envOpts{zone: "America/New_York"})
	e.sim.Add(jirasim.Issue{ID: "30001", Project: "EHR", Summary: "first", Updated: t0})
	cur := e.pull(t, projectScope, "")[0].Next
	e.pull(t, projectScope, cur) // reads the zone: New York
	if err := e.sim.SetTimeZone("Pacific/Honolulu"); err != nil {
		t.Fatal(err)
	}
	// Two hours on, an issue changes an hour after the cursor. Read in
	// Honolulu, a literal written in New York's 04:00 would mean 14:00Z,
	// after the change at 10:00Z.
	e.clock.Advance(2 * time.Hour)
	e.sim.Add(jirasim.Issue{ID: "30002", Project: "EHR", Summary: "changed", Updated: t0.Add(time.Hour)})
	e.resetCalls()
	pages := e.pull(t, projectScope, cur)
	if got := idsOf(t, pages); !slices.Contains(got, "30002") {
		t.Errorf("incremental ids %v: the issue changed after the cursor is missing", got)
	}
	// The cursor is 09:00Z less the 5-minute overlap: 22:55 the day before
	// in Honolulu (UTC-10).
	if want, got := `(project = "EHR") AND updated >= "2026/03/01 22:55" ORDER BY updated ASC, id ASC`, e.lastJQL(t); got != want {
		t.Errorf("jql = %q, want %q", got, want)
	}
}

// A zone that cannot be read again is kept: the pull goes on in the zone
// of an hour ago. Check asks /myself every time and fails when it cannot.
func TestZoneRefreshFailureKeepsTheLastZone(t *testing.T) {
	e := newEnv(t, envOpts{zone: "America/New_York", issues: 3})
	cur := e.pull(t, projectScope, "")[0].Next
	e.pull(t, projectScope, cur) // reads the zone
	e.clock.Advance(2 * time.Hour)
	e.sim.Inject(jirasim.Fault{Path: "/rest/api/2/myself", Status: http.StatusServiceUnavailable, Times: -1})
	e.resetCalls()
	if _, err := e.conn.fetchZone(context.Background()); err != nil {
		t.Fatalf("zone refresh with /myself failing: %v, want the last zone kept", err)
	}
	pages := e.pull(t, projectScope, cur)
	if len(pages) == 0 {
		t.Fatal("no pages")
	}
	calls := countCalls(e.calls(t))
	if calls["GET /rest/api/2/myself"] == 0 || calls["POST "+e.searchPath()] != 1 {
		t.Errorf("calls %v: want /myself tried and the search made all the same", calls)
	}
	if err := e.conn.Check(context.Background()); err == nil || connectors.StatusOf(err) != http.StatusServiceUnavailable {
		t.Errorf("Check with /myself failing = %v, want the 503", err)
	}

	// A zone read a moment ago does not spare Check its request.
	f := newEnv(t, envOpts{zone: "America/New_York"})
	if err := f.conn.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.sim.Inject(jirasim.Fault{Path: "/rest/api/2/myself", Status: http.StatusUnauthorized, Times: -1})
	if err := f.conn.Check(context.Background()); connectors.StatusOf(err) != http.StatusUnauthorized {
		t.Errorf("second Check with the token refused = %v, want the 401", err)
	}
}

func TestRetriesAndErrors(t *testing.T) {
	t.Run("429 waits out Retry-After", func(t *testing.T) {
		e := newEnv(t, envOpts{issues: 250})
		e.sim.Inject(jirasim.Fault{Method: http.MethodPost, Path: e.searchPath(), Status: 429, Header: map[string]string{"Retry-After": "2"}})
		if got := len(idsOf(t, e.pull(t, projectScope, ""))); got != 250 {
			t.Errorf("pulled %d issues, want 250", got)
		}
		if !slices.Contains(e.sleeps.Waits(), 2*time.Second) {
			t.Errorf("no 2s wait recorded; waits: %v", e.sleeps.Waits())
		}
		if n := countCalls(e.calls(t))["POST "+e.searchPath()]; n != 4 {
			t.Errorf("%d search requests, want 3 pages + 1 retry", n)
		}
	})
	t.Run("500 twice then success", func(t *testing.T) {
		e := newEnv(t, envOpts{issues: 250})
		e.sim.Inject(jirasim.Fault{Method: http.MethodPost, Path: e.searchPath(), Status: 500, Times: 2})
		if got := len(idsOf(t, e.pull(t, projectScope, ""))); got != 250 {
			t.Errorf("pulled %d issues, want 250", got)
		}
		if n := countCalls(e.calls(t))["POST "+e.searchPath()]; n != 5 {
			t.Errorf("%d search requests, want 3 pages + 2 retries", n)
		}
	})
	t.Run("malformed page names the path", func(t *testing.T) {
		e := newEnv(t, envOpts{issues: 250})
		e.sim.Inject(jirasim.Fault{Method: http.MethodPost, Path: e.searchPath(), Malformed: true})
		err := e.conn.Pull(context.Background(), projectScope, "", func(connectors.Page) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "/rest/api/3/search/jql") || !strings.Contains(err.Error(), "decode") {
			t.Errorf("Pull of a malformed page = %v, want a decode error naming /rest/api/3/search/jql", err)
		}
	})
	t.Run("cancel stops within one page", func(t *testing.T) {
		e := newEnv(t, envOpts{issues: 500})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pages := 0
		err := e.conn.Pull(ctx, projectScope, "", func(connectors.Page) error {
			pages++
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) || pages != 1 {
			t.Errorf("Pull after cancel = %v after %d pages, want context.Canceled after 1", err, pages)
		}
		if n := countCalls(e.calls(t))["POST "+e.searchPath()]; n != 1 {
			t.Errorf("%d search requests after cancel, want 1", n)
		}
	})
	t.Run("callback error stops the walk", func(t *testing.T) {
		e := newEnv(t, envOpts{issues: 500})
		boom := errors.New("disk full")
		pages := 0
		err := e.conn.Pull(context.Background(), projectScope, "", func(connectors.Page) error { pages++; return boom })
		if !errors.Is(err, boom) || pages != 1 || !strings.Contains(err.Error(), "handle page 1") {
			t.Errorf("Pull = %v after %d pages, want the callback's error wrapped after 1", err, pages)
		}
	})
	t.Run("unreadable cursor", func(t *testing.T) {
		e := newEnv(t, envOpts{issues: 1})
		err := e.conn.Pull(context.Background(), projectScope, "garbage", func(connectors.Page) error { return nil })
		if !errors.Is(err, connectors.ErrCursorInvalid) {
			t.Errorf("Pull with a garbage cursor = %v, want ErrCursorInvalid", err)
		}
	})
	for _, flavor := range []jirasim.Flavor{jirasim.Cloud, jirasim.DataCenter} {
		t.Run("401 "+string(flavor), func(t *testing.T) {
			e := newEnv(t, envOpts{flavor: flavor, issues: 1, badToken: true})
			hint := "check the email and API token"
			if flavor == jirasim.DataCenter {
				hint = "check the personal access token"
			}
			checkErr := e.conn.Check(context.Background())
			pullErr := e.conn.Pull(context.Background(), projectScope, "", func(connectors.Page) error { return nil })
			for what, err := range map[string]error{"Check": checkErr, "Pull": pullErr} {
				want := `jira connection "jira": authentication failed (HTTP 401): ` + hint
				if err == nil || !strings.HasPrefix(err.Error(), want) {
					t.Errorf("%s = %v, want prefix %q", what, err, want)
					continue
				}
				if connectors.StatusOf(err) != 401 {
					t.Errorf("%s: StatusOf = %d, want 401", what, connectors.StatusOf(err))
				}
				if strings.Contains(err.Error(), testToken) {
					t.Errorf("%s error contains the token: %v", what, err)
				}
			}
		})
	}
}

func TestListIDs(t *testing.T) {
	for _, tc := range []struct {
		flavor   jirasim.Flavor
		issues   int
		requests int
		pageSize int
	}{
		{jirasim.Cloud, 6000, 2, 5000}, // 5000 + 1000
		// 1000 + 1000 + 500, then the proof: created since the walk
		// began (none) and the count.
		{jirasim.DataCenter, 2500, 5, 1000},
	} {
		t.Run(string(tc.flavor), func(t *testing.T) {
			e := newEnv(t, envOpts{flavor: tc.flavor, issues: tc.issues})
			ids, err := e.conn.ListIDs(context.Background(), projectScope)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, is := range e.sim.Issues() {
				want = append(want, is.ID)
			}
			if diff := cmp.Diff(sorted(want), sorted(ids)); diff != "" {
				t.Fatalf("ListIDs (-sim +got):\n%s", diff)
			}
			calls := e.calls(t)
			if n := countCalls(calls)["POST "+e.searchPath()]; n != tc.requests {
				t.Errorf("%d search requests, want %d", n, tc.requests)
			}
			var body struct {
				MaxResults int      `json:"maxResults"`
				Fields     []string `json:"fields"`
			}
			first := slices.IndexFunc(calls, func(c jirasim.Call) bool { return c.Path == e.searchPath() })
			if err := json.Unmarshal(calls[first].Body, &body); err != nil {
				t.Fatal(err)
			}
			if body.MaxResults != tc.pageSize || !slices.Equal(body.Fields, []string{"id"}) {
				t.Errorf("id search asked maxResults %d fields %v, want %d [id]", body.MaxResults, body.Fields, tc.pageSize)
			}

			gone := e.sim.Issues()[42]
			if err := e.sim.Delete(gone.Key); err != nil {
				t.Fatal(err)
			}
			ids, err = e.conn.ListIDs(context.Background(), projectScope)
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != tc.issues-1 || slices.Contains(ids, gone.ID) {
				t.Errorf("after deleting %s ListIDs has %d ids (deleted present: %v), want %d without it",
					gone.ID, len(ids), slices.Contains(ids, gone.ID), tc.issues-1)
			}
		})
	}
}

func TestPushCommentsOncePerVersion(t *testing.T) {
	for _, flavor := range []jirasim.Flavor{jirasim.Cloud, jirasim.DataCenter} {
		t.Run(string(flavor), func(t *testing.T) {
			e := newEnv(t, envOpts{flavor: flavor})
			e.sim.Add(jirasim.Issue{Key: "PMO-7", Summary: "EHR Upgrade status"})
			ctx := context.Background()
			target := connectors.Target{Key: "issue=PMO-7", Config: Target{Issue: "PMO-7"}}
			r := redRollup()

			first, err := e.conn.Push(ctx, target, []pmsync.Rollup{r})
			if err != nil {
				t.Fatal(err)
			}
			if len(first) != 1 || first[0].Existing || first[0].ID == "" || first[0].Program != "ehr-upgrade" {
				t.Fatalf("first push receipts = %+v, want one new comment for ehr-upgrade", first)
			}
			if want := e.url + "/browse/PMO-7?focusedCommentId=" + first[0].ID; first[0].URL != want {
				t.Errorf("receipt url = %q, want %q", first[0].URL, want)
			}
			comments := e.sim.Comments("PMO-7")
			if len(comments) != 1 {
				t.Fatalf("issue has %d comments after the push, want 1", len(comments))
			}
			for _, want := range []string{"EHR Upgrade: RED as of 2026-11-26", "Progress: 40.0% (120 of 300 done)", "pmsync rollup ehr-upgrade 0a1b2c3d4e5f"} {
				if !strings.Contains(comments[0], want) {
					t.Errorf("comment lacks %q:\n%s", want, comments[0])
				}
			}

			e.resetCalls()
			again, err := e.conn.Push(ctx, target, []pmsync.Rollup{r})
			if err != nil {
				t.Fatal(err)
			}
			if len(again) != 1 || !again[0].Existing || again[0].ID != first[0].ID {
				t.Errorf("retried push receipts = %+v, want the existing comment %s", again, first[0].ID)
			}
			if n := len(e.sim.Comments("PMO-7")); n != 1 {
				t.Errorf("issue has %d comments after the retried push, want 1", n)
			}
			for _, c := range e.calls(t) {
				if c.Method == http.MethodPost {
					t.Errorf("retried push sent %s %s", c.Method, c.Path)
				}
			}
		})
	}
}

// TestPushReadsCommentsNewestFirst puts a program's last marker under 150
// comments people wrote since, two pages deep when read newest first, and
// then pushes twice: the first push must find the old marker on the second
// page and stop there, the second must find its own on the first page and
// read no further.
func TestPushReadsCommentsNewestFirst(t *testing.T) {
	e := newEnv(t, envOpts{flavor: jirasim.DataCenter})
	e.sim.Add(jirasim.Issue{Key: "PMO-1", Summary: "status"})
	ctx := context.Background()
	target := connectors.Target{Key: "issue=PMO-1", Config: Target{Issue: "PMO-1"}}
	v1, v2 := redRollup(), redRollup()
	v1.Version, v2.Version = "v001", "v002"
	if _, err := e.conn.Push(ctx, target, []pmsync.Rollup{v1}); err != nil {
		t.Fatal(err)
	}
	for i := range 150 {
		e.clock.Advance(time.Minute)
		if err := e.sim.AddComment("PMO-1", fmt.Sprintf("note %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	e.resetCalls()
	got, err := e.conn.Push(ctx, target, []pmsync.Rollup{v2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Existing {
		t.Fatalf("push of a new version = %+v, want it posted", got)
	}
	want := map[string]int{
		"GET /rest/api/2/issue/PMO-1":          1, // the target as Jira names it
		"GET /rest/api/2/issue/PMO-1/comment":  2, // 100 notes, then 50 notes and v001
		"POST /rest/api/2/issue/PMO-1/comment": 1,
	}
	if diff := cmp.Diff(want, countCalls(e.calls(t))); diff != "" {
		t.Errorf("requests of the first push (-want +got):\n%s", diff)
	}
	for _, c := range e.calls(t) {
		if c.Method == http.MethodGet && strings.HasSuffix(c.Path, "/comment") && c.Query.Get("orderBy") != "-created" {
			t.Errorf("comments read with orderBy %q, want -created", c.Query.Get("orderBy"))
		}
	}
	e.resetCalls()
	again, err := e.conn.Push(ctx, target, []pmsync.Rollup{v2})
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || !again[0].Existing || again[0].ID != got[0].ID {
		t.Errorf("second push = %+v, want the existing comment %s", again, got[0].ID)
	}
	want = map[string]int{"GET /rest/api/2/issue/PMO-1": 1, "GET /rest/api/2/issue/PMO-1/comment": 1}
	if diff := cmp.Diff(want, countCalls(e.calls(t))); diff != "" {
		t.Errorf("requests of the second push (-want +got):\n%s", diff)
	}
	if n := len(e.sim.Comments("PMO-1")); n != 152 {
		t.Errorf("issue has %d comments, want 152 (two rollups, 150 notes)", n)
	}
}

func TestRegistered(t *testing.T) {
	spec, err := connectors.Default.Lookup(Kind)
	if err != nil {
		t.Fatal(err)
	}
	if spec.DefaultMapping != "jira-default" || len(spec.DefaultMappingYAML) == 0 ||
		!slices.Equal(spec.AuthKeys, []string{"email?", "token"}) || spec.Scope == nil || spec.Target == nil || spec.Options == nil {
		t.Errorf("registered spec = %+v", spec)
	}
	c, err := connectors.Default.New(connectors.Params{Name: "jira", Kind: Kind, BaseURL: "https://acme.atlassian.net",
		Credentials: connectors.Credentials{Email: "a@b.org", Token: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	jc, ok := c.(*Connector)
	if !ok || jc.Flavor() != Cloud {
		t.Fatalf("connectors.New gave %T (flavor %v), want a cloud *Connector", c, jc.Flavor())
	}
	var _ interface {
		connectors.Lister
		connectors.Pusher
		connectors.Checker
		connectors.RequestCounter
	} = jc
	if _, err := connectors.Default.New(connectors.Params{Name: "jira", Kind: Kind, BaseURL: "https://acme.atlassian.net",
		Credentials: connectors.Credentials{Token: "t"}}); err == nil {
		t.Errorf("connectors.New accepted a cloud connection without email")
	}
}

// limiterCalls records what the HTTP client asks the shared limiters for.
type limiterCalls struct {
	mu    sync.Mutex
	calls []limiterCall
}

type limiterCall struct {
	Key   string
	Limit rate.Limit
	Burst int
}

func (l *limiterCalls) Limiter(key string, limit rate.Limit, burst int) *rate.Limiter {
	l.mu.Lock()
	l.calls = append(l.calls, limiterCall{key, limit, burst})
	l.mu.Unlock()
	return rate.NewLimiter(limit, burst)
}

func TestRateLimits(t *testing.T) {
	keys := map[string]string{}
	for _, tc := range []struct {
		name      string
		flavor    string
		email     string
		token     string
		override  connectors.RateLimit
		wantLimit rate.Limit
		wantBurst int
	}{
		{"cloud default", "cloud", "a@b.org", "tok-one", connectors.RateLimit{}, 10, 20},
		{"datacenter default", "datacenter", "", "tok-one", connectors.RateLimit{}, 20, 20},
		{"override", "cloud", "a@b.org", "tok-one", connectors.RateLimit{PerMinute: 120, Burst: 3}, 2, 3},
		{"other token", "cloud", "a@b.org", "tok-two", connectors.RateLimit{}, 10, 20},
	} {
		lim := &limiterCalls{}
		p := connectors.Params{Name: "jira", Kind: Kind, BaseURL: "https://jira.example.org", Options: Options{Flavor: tc.flavor},
			Credentials: connectors.Credentials{Email: pmsync.Secret(tc.email), Token: pmsync.Secret(tc.token)},
			RateLimit:   tc.override, Limiters: lim}
		for range 2 {
			if _, err := New(p); err != nil {
				t.Fatal(err)
			}
		}
		if len(lim.calls) != 2 {
			t.Fatalf("%s: %d limiter requests, want 2", tc.name, len(lim.calls))
		}
		a, b := lim.calls[0], lim.calls[1]
		if a.Key != b.Key || a.Limit != tc.wantLimit || a.Burst != tc.wantBurst {
			t.Errorf("%s: limiters %+v and %+v, want one shared key at %v/s burst %d", tc.name, a, b, tc.wantLimit, tc.wantBurst)
		}
		if strings.Contains(a.Key, tc.token) {
			t.Errorf("%s: limiter key %q contains the token", tc.name, a.Key)
		}
		keys[tc.name] = a.Key
	}
	if keys["cloud default"] != keys["override"] || keys["cloud default"] == keys["other token"] {
		t.Errorf("limiter keys %v: want one key per credential", keys)
	}
}

func TestRequestsCounts(t *testing.T) {
	e := newEnv(t, envOpts{issues: 10})
	if err := e.conn.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.pull(t, projectScope, "")
	// myself, field, one search page.
	if got := e.conn.Requests(); got != 3 || int(got) != len(e.calls(t)) {
		t.Errorf("Requests = %d, simulator saw %d, want 3", got, len(e.calls(t)))
	}
}
