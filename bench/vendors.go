package main

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pmsync/pmsync/connectors/asana"
	"github.com/pmsync/pmsync/connectors/smartsheet"
	"github.com/pmsync/pmsync/connectors/trello"
	"github.com/pmsync/pmsync/sandbox/asanasim"
	"github.com/pmsync/pmsync/sandbox/jirasim"
	"github.com/pmsync/pmsync/sandbox/smartsheetsim"
	"github.com/pmsync/pmsync/sandbox/trellosim"
)

// The simulators' credentials. They only open the simulators.
const (
	jiraEmail       = "bench@hospital.example"
	jiraToken       = "bench-jira-token"
	asanaToken      = "bench-asana-token"
	smartsheetToken = "bench-smartsheet-token"
	trelloKey       = "0123456789abcdef0123456789abcdef"
	// trelloBatch is the most GET URLs one Trello batch request carries.
	trelloBatch = 10
	trelloToken = "bench-trello-token"
)

// unthrottled lifts a connection's rate limit far above what loopback can
// reach, so that the limiter does not hide pmsync's own cost; what the
// vendor's real limit would cost is reported beside it (vendorRate).
const unthrottled = "rate_limit: { per_minute: 6000000, burst: 1000 }"

// knownVendors are the vendors the benchmark knows, in the default order.
func knownVendors() []string { return []string{"jira", "asana", "smartsheet", "trello"} }

// simClock is the simulators' clock. It stands still until the benchmark
// moves it, so that every run sees the same timeline of changes whatever
// the day and however long the syncs take.
type simClock struct{ ns atomic.Int64 }

func (c *simClock) Now() time.Time  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *simClock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// call is one request a simulator received, as the floor replays it.
type call struct {
	Method string `json:"method"`
	Path   string `json:"path"` // relative to the vendor's base URL
	Query  string `json:"query,omitempty"`
	Body   []byte `json:"body,omitempty"`
}

// paging says how the floor carries a pagination token from one answer
// into the next request.
type paging string

const (
	pagingNone  paging = ""      // requests are replayed verbatim (Smartsheet's page=N)
	pagingJira  paging = "jira"  // nextPageToken in the answer and in the next POST body
	pagingAsana paging = "asana" // next_page.offset in the answer, offset in the next query
	// pagingTrello: the answer is an array of cards, and the next request
	// asks for the cards before the oldest id in it.
	pagingTrello paging = "trello"
)

// vendorRate is a connector's default request budget against the real
// service: what a sync's request count costs in wall time there.
type vendorRate struct {
	perSecond float64
	burst     int
}

// minTime is the least wall time n requests take under the rate: the
// burst goes at once, the rest at the steady rate.
func (r vendorRate) minTime(n int64) time.Duration {
	extra := n - int64(r.burst)
	if extra <= 0 || r.perSecond <= 0 {
		return 0
	}
	return time.Duration(float64(extra) / r.perSecond * float64(time.Second))
}

// vendor is one simulator loaded with a generated program, and what the
// benchmark needs to know to drive it.
type vendor struct {
	name string
	// pageMax is the most full records one request can return; 0 means the
	// API can return the whole set in one request.
	pageMax int
	// minimum, when set, replaces minRequests for a sync in which changed
	// of the items records changed (all of them for a full sync).
	minimum func(changed, items int) int
	rate    vendorRate
	paging  paging
	baseURL string
	// connection is the YAML of the connection (indented list item) and
	// scope the flow mapping of the source's scope.
	connection, scope string
	// env holds the secrets the connection's *_env keys name; auth is the
	// header the floor sends, built from the same values.
	env  map[string]string
	auth string
	// calls returns the requests received since reset, oldest first; data
	// reports whether a call fetched records (the floor replays those).
	calls func() []call
	reset func()
	data  func(call) bool
	// change modifies items at the given indexes (0 ≤ i < n), moving the
	// clock from → to across them so that each change has its own time.
	change func(clock *simClock, idx []int, from, to time.Time) error
	close  func()
}

// newVendor starts a simulator holding n generated items.
func newVendor(name string, n int, seed int64, clock *simClock, t0 time.Time) (*vendor, error) {
	switch name {
	case "jira":
		return newJira(n, seed, clock, t0), nil
	case "asana":
		return newAsana(n, seed, clock, t0), nil
	case "smartsheet":
		return newSmartsheet(n, seed, clock, t0)
	case "trello":
		return newTrello(n, seed, clock, t0)
	}
	return nil, fmt.Errorf("unknown vendor %q (known: %s)", name, strings.Join(knownVendors(), ", "))
}

// spread returns k indexes spread evenly over [0, n).
func spread(n, k int) []int {
	k = min(k, n)
	out := make([]int, k)
	for j := range out {
		out[j] = j * n / k
	}
	return out
}

// stepTime is the time of change j of k between from and to.
func stepTime(from, to time.Time, j, k int) time.Time {
	return from.Add(time.Duration(int64(to.Sub(from)) * int64(j) / int64(k)))
}

func newJira(n int, seed int64, clock *simClock, t0 time.Time) *vendor {
	srv := jirasim.New(jirasim.Options{Flavor: jirasim.Cloud, Email: jiraEmail, Token: jiraToken, TimeZone: "America/New_York", Now: clock.Now})
	ts := srv.Start()
	srv.Add(jirasim.Generate("EHR", n, seed, t0)...)
	return &vendor{
		name:    "jira",
		pageMax: 100, // search/jql with a field list
		// connectors/jira.New's Cloud default: 10 requests/s, burst 20.
		rate:    vendorRate{perSecond: 10, burst: 20},
		paging:  pagingJira,
		baseURL: ts.URL,
		connection: `  - name: jira
    kind: jira
    base_url: "` + ts.URL + `"
    flavor: cloud
    ` + unthrottled + `
    auth: { email_env: BENCH_JIRA_EMAIL, token_env: BENCH_JIRA_TOKEN }
`,
		scope: `{ project: EHR }`,
		env:   map[string]string{"BENCH_JIRA_EMAIL": jiraEmail, "BENCH_JIRA_TOKEN": jiraToken},
		auth:  "Basic " + base64.StdEncoding.EncodeToString([]byte(jiraEmail+":"+jiraToken)),
		calls: func() []call {
			var out []call
			for _, c := range srv.Calls() {
				out = append(out, call{Method: c.Method, Path: c.Path, Query: c.Query.Encode(), Body: c.Body})
			}
			return out
		},
		reset: srv.ResetCalls,
		data: func(c call) bool {
			return strings.HasSuffix(c.Path, "/search/jql") || strings.HasSuffix(c.Path, "/search")
		},
		change: func(clock *simClock, idx []int, from, to time.Time) error {
			for j, i := range idx {
				clock.Set(stepTime(from, to, j, len(idx)))
				key := "EHR-" + strconv.Itoa(i+1) // Generate numbers keys from 1 in order
				err := srv.Update(key, func(is *jirasim.Issue) {
					cost := 250.0
					if is.ActualCost != nil {
						cost += *is.ActualCost
					}
					is.ActualCost = &cost
				})
				if err != nil {
					return fmt.Errorf("change jira issue %s: %w", key, err)
				}
			}
			return nil
		},
		close: ts.Close,
	}
}

func newAsana(n int, seed int64, clock *simClock, t0 time.Time) *vendor {
	srv := asanasim.New(asanasim.Options{Token: asanaToken, Now: clock.Now})
	ts := srv.Start()
	project := srv.Generate("Telehealth Launch", n, seed, t0)
	perMinute := float64(asana.DefaultPerMinute)
	return &vendor{
		name:    "asana",
		pageMax: 100, // GET /tasks limit
		// connectors/asana.New's default: DefaultPerMinute, a two-second burst.
		rate:    vendorRate{perSecond: perMinute / 60, burst: max(1, int(perMinute/30))},
		paging:  pagingAsana,
		baseURL: ts.URL + asanasim.BasePath,
		connection: `  - name: asana
    kind: asana
    base_url: "` + ts.URL + asanasim.BasePath + `"
    ` + unthrottled + `
    auth: { token_env: BENCH_ASANA_TOKEN }
`,
		scope: `{ project: "` + project + `" }`,
		env:   map[string]string{"BENCH_ASANA_TOKEN": asanaToken},
		auth:  "Bearer " + asanaToken,
		calls: func() []call {
			var out []call
			for _, c := range srv.Calls() {
				out = append(out, call{Method: c.Method, Path: c.Path, Query: c.Query.Encode()})
			}
			return out
		},
		reset: srv.ResetCalls,
		data:  func(c call) bool { return c.Method == "GET" && c.Path == "/tasks" },
		change: func(clock *simClock, idx []int, from, to time.Time) error {
			tasks := srv.Tasks(project)
			for j, i := range idx {
				clock.Set(stepTime(from, to, j, len(idx)))
				gid := tasks[i].GID
				err := srv.UpdateTask(gid, func(t *asanasim.Task) {
					cost, _ := t.Custom[asanasim.FieldActualCost].(float64)
					t.Custom[asanasim.FieldActualCost] = cost + 250
				})
				if err != nil {
					return fmt.Errorf("change asana task %s: %w", gid, err)
				}
			}
			return nil
		},
		close: ts.Close,
	}
}

func newSmartsheet(n int, seed int64, clock *simClock, t0 time.Time) (*vendor, error) {
	srv := smartsheetsim.New(smartsheetsim.Options{Token: smartsheetToken, Now: clock.Now})
	ts := srv.Start()
	sheet := srv.Generate("PACS Viewer Integration", n, seed, t0)
	if got := len(srv.RowIDs(sheet)); got != n {
		ts.Close()
		return nil, fmt.Errorf("generate smartsheet sheet: got %d rows, want %d", got, n)
	}
	perMinute := float64(smartsheet.DefaultRatePerMinute)
	return &vendor{
		name:    "smartsheet",
		pageMax: 0, // GET /sheets/{id} without paging returns every row
		// connectors/smartsheet.New's default: the documented 300/min, a
		// tenth of it as burst.
		rate:    vendorRate{perSecond: perMinute / 60, burst: max(1, int(perMinute/10))},
		paging:  pagingNone,
		baseURL: smartsheetsim.BaseURL(ts),
		connection: `  - name: smartsheet
    kind: smartsheet
    base_url: "` + smartsheetsim.BaseURL(ts) + `"
    ` + unthrottled + `
    auth: { token_env: BENCH_SMARTSHEET_TOKEN }
`,
		scope: `{ sheet: "` + strconv.FormatInt(sheet, 10) + `" }`,
		env:   map[string]string{"BENCH_SMARTSHEET_TOKEN": smartsheetToken},
		auth:  "Bearer " + smartsheetToken,
		calls: func() []call {
			var out []call
			for _, c := range srv.Calls() {
				out = append(out, call{Method: c.Method, Path: c.Path, Query: c.Query})
			}
			return out
		},
		reset: srv.ResetCalls,
		data:  func(c call) bool { return c.Method == "GET" && strings.HasPrefix(c.Path, "/sheets/") },
		change: func(clock *simClock, idx []int, from, to time.Time) error {
			rows := srv.RowIDs(sheet)
			for j, i := range idx {
				clock.Set(stepTime(from, to, j, len(idx)))
				if err := srv.UpdateRow(sheet, rows[i], map[string]any{"Actual Cost": float64(1000 + 25*j)}); err != nil {
					return fmt.Errorf("change smartsheet row %d: %w", rows[i], err)
				}
			}
			return nil
		},
		close: ts.Close,
	}, nil
}

func newTrello(n int, seed int64, clock *simClock, t0 time.Time) (*vendor, error) {
	// The simulator enforces Trello's limits unless told otherwise; the
	// benchmark lifts them on both sides, as it does for the other tools.
	srv := trellosim.New(trellosim.Options{Key: trelloKey, Token: trelloToken, Now: clock.Now, TokenLimit: 1 << 30, KeyLimit: 1 << 30})
	ts := srv.Start()
	board := srv.Generate("Patient Portal", n, seed, t0)
	// The simulator encodes a card on its first read and keeps it: without
	// this the full sync would pay for encoding every card and the floor,
	// which reads after it, for none.
	srv.Warm()
	cards := srv.Cards(board)
	if len(cards) != n {
		ts.Close()
		return nil, fmt.Errorf("generate trello board: got %d cards, want %d", len(cards), n)
	}
	ids := make([]string, len(cards))
	for i, c := range cards {
		ids[i] = c.ID
	}
	steady := trello.DefaultTokenLimit - trello.DefaultTokenLimit/10
	var from atomic.Int64 // the requests before it were made before the last reset
	return &vendor{
		name:    "trello",
		pageMax: trello.MaxPageLimit, // GET /boards/{id}/cards limit
		// connectors/trello.New's default token budget: a tenth of the
		// 100 requests per 10 s as burst, the rest spread over the window.
		rate: vendorRate{perSecond: float64(steady) / trello.RateWindow.Seconds(), burst: trello.DefaultTokenLimit / 10},
		// Trello has no filter that returns only the changed cards: the
		// board's actions say which changed, then each card is read on its
		// own (a batch request carries at most 10) or the whole board is
		// read again, whichever takes fewer requests. Its pages say nothing
		// of what follows, so a walk ends with a page shorter than the
		// limit: n items take n/limit + 1 pages.
		minimum: func(changed, items int) int {
			pages := func(n int) int { return n/trello.MaxPageLimit + 1 }
			if changed >= items {
				return pages(items)
			}
			if changed == 0 {
				return 1
			}
			return pages(changed) + min(minRequests(changed, trelloBatch), pages(items))
		},
		paging:  pagingTrello,
		baseURL: trellosim.BaseURL(ts),
		connection: `  - name: trello
    kind: trello
    base_url: "` + trellosim.BaseURL(ts) + `"
    token_limit: 1000000
    key_limit: 1000000
    auth: { key_env: BENCH_TRELLO_KEY, token_env: BENCH_TRELLO_TOKEN }
`,
		scope: `{ board: "` + board + `" }`,
		env:   map[string]string{"BENCH_TRELLO_KEY": trelloKey, "BENCH_TRELLO_TOKEN": trelloToken},
		auth:  `OAuth oauth_consumer_key="` + trelloKey + `", oauth_token="` + trelloToken + `"`,
		calls: func() []call {
			var out []call
			for _, r := range srv.Requests()[from.Load():] {
				out = append(out, call{Method: r.Method, Path: r.Path, Query: r.Query.Encode()})
			}
			return out
		},
		reset: func() { from.Store(int64(srv.RequestCount())) },
		data: func(c call) bool {
			return c.Method == "GET" && strings.HasPrefix(c.Path, "/boards/") && strings.HasSuffix(c.Path, "/cards/all")
		},
		change: func(clock *simClock, idx []int, from, to time.Time) error {
			for j, i := range idx {
				clock.Set(stepTime(from, to, j, len(idx)))
				err := srv.UpdateCard(ids[i], func(c *trellosim.Card) {
					cost, _ := strconv.ParseFloat(c.Custom["Actual Cost"], 64)
					if c.Custom == nil {
						c.Custom = map[string]string{}
					}
					c.Custom["Actual Cost"] = strconv.FormatFloat(cost+250, 'f', -1, 64)
				})
				if err != nil {
					return fmt.Errorf("change trello card %s: %w", ids[i], err)
				}
			}
			return nil
		},
		close: ts.Close,
	}, nil
}

// configYAML is the pmsync configuration of one vendor's source: one
// program fed by the simulator, stored where database (the YAML value of
// the database key) says.
func (v *vendor) configYAML(database string, t0 time.Time) string {
	return `database: ` + database + `
timezone: UTC
log: { level: warn }
connections:
` + v.connection + `programs:
  - id: bench
    name: Benchmark program
    start: "` + t0.AddDate(0, 0, -150).Format(time.DateOnly) + `"
    end: "` + t0.AddDate(0, 0, 210).Format(time.DateOnly) + `"
    budget: { planned: 2500000, currency: USD }
    sources:
      - { name: ` + v.name + `, connection: ` + v.name + `, scope: ` + v.scope + ` }
`
}

// endpoint names a call's endpoint for the request breakdown: the method and
// the path with ids replaced, so that pages of one endpoint count together.
func endpoint(c call) string {
	parts := strings.Split(c.Path, "/")
	for i, p := range parts {
		if _, err := strconv.ParseInt(p, 10, 64); err == nil && len(p) > 3 {
			parts[i] = "{id}"
		}
		if _, err := hex.DecodeString(p); err == nil && len(p) == 24 { // a Trello id
			parts[i] = "{id}"
		}
	}
	e := c.Method + " " + strings.Join(parts, "/")
	if q, err := url.ParseQuery(c.Query); err == nil {
		// The variants of the sheet GET cost very differently.
		switch {
		case q.Has("ifVersionAfter") && q.Has("rowsModifiedSince"):
			e += "?ifVersionAfter&rowsModifiedSince"
		case q.Has("ifVersionAfter"):
			e += "?ifVersionAfter"
		case q.Has("columnIds"):
			e += "?columnIds"
		case q.Has("modified_since"):
			e += "?modified_since"
		}
	}
	return e
}

// minRequests is the fewest requests that can return items records from an
// API serving at most pageMax per request (0: all in one); asking whether
// anything changed costs one request even when nothing did.
func minRequests(items, pageMax int) int {
	if items <= 0 || pageMax <= 0 {
		return 1
	}
	return (items + pageMax - 1) / pageMax
}
