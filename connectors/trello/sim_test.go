package trello

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/trellosim"
)

// simFixture is a simulated Trello with a connector on it.
type simFixture struct {
	sim    *trellosim.Server
	ts     *httptest.Server
	clock  *sandbox.Clock
	sleeps *sandbox.Sleeps
	c      *Connector
	board  string
	scope  connectors.Scope
}

type simOpts struct {
	cards   int // generated cards; 0 leaves the board to the test
	sim     trellosim.Options
	params  func(*connectors.Params)
	badAuth bool
}

func newSim(t *testing.T, o simOpts) *simFixture {
	t.Helper()
	f := &simFixture{clock: sandbox.NewClock(t0), sleeps: &sandbox.Sleeps{}}
	so := o.sim
	so.Key, so.Token, so.Now = testKey, testToken, f.clock.Now
	f.sim = trellosim.New(so)
	if o.cards > 0 {
		f.board = f.sim.Generate("Patient Portal Go-Live", o.cards, 11, t0)
	} else {
		f.board = f.sim.AddBoard("Patient Portal Go-Live")
	}
	f.ts = f.sim.Start()
	t.Cleanup(f.ts.Close)
	p := connectors.Params{
		Name:        "trello-sim",
		Kind:        Kind,
		BaseURL:     trellosim.BaseURL(f.ts),
		Options:     Options{TokenLimit: 1_000_000, KeyLimit: 1_000_000},
		Credentials: connectors.Credentials{Key: testKey, Token: testToken},
		Now:         f.clock.Now,
		// Waiting moves the simulator's clock, so that its rate-limit
		// windows pass as the client waits.
		Sleep: func(ctx context.Context, d time.Duration) error {
			f.clock.Advance(d)
			return f.sleeps.Sleep(ctx, d)
		},
	}
	if o.badAuth {
		p.Credentials.Token = "ATTAwrong0wrong0wrong0wrong0wrong0wrong0wrong0"
	}
	if o.params != nil {
		o.params(&p)
	}
	c, err := New(p)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.c = c
	f.scope = connectors.Scope{Source: "portal-trello", Config: Scope{Board: f.board}}
	return f
}

func (f *simFixture) pull(t *testing.T, cur connectors.Cursor) []connectors.Page {
	t.Helper()
	return pullPages(t, f.c, f.scope, cur)
}

// requestsSince returns the simulator's requests from index n on.
func (f *simFixture) requestsSince(n int) []trellosim.Request {
	return f.sim.Requests()[n:]
}

func cardIDs(cards []trellosim.Card) []string {
	out := make([]string, len(cards))
	for i, c := range cards {
		out[i] = c.ID
	}
	return out
}

// 1,000 cards come once each, open and archived, and the last page lists
// them all as live.
func TestSimThousandCardsOnce(t *testing.T) {
	f := newSim(t, simOpts{cards: 1000})
	pages := f.pull(t, "")
	seen := map[string]int{}
	for _, p := range pages {
		for _, r := range p.Records {
			seen[r.ExternalID]++
		}
	}
	want := cardIDs(f.sim.Cards(f.board))
	if len(want) != 1000 {
		t.Fatalf("the simulator holds %d cards, want 1000", len(want))
	}
	for _, id := range want {
		if seen[id] != 1 {
			t.Errorf("card %s delivered %d times", id, seen[id])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d distinct records, want %d", len(seen), len(want))
	}
	last := pages[len(pages)-1]
	if !last.HasLive || !sameSet(last.Live, want) {
		t.Errorf("last page HasLive %v with %d live ids, want all %d", last.HasLive, len(last.Live), len(want))
	}
	for _, p := range pages[:len(pages)-1] {
		if p.HasLive || p.Next != "" {
			t.Errorf("an intermediate page carries the live list or a new cursor")
		}
	}
	var archived int
	for _, c := range f.sim.Cards(f.board) {
		if c.Closed {
			archived++
		}
	}
	if archived == 0 {
		t.Errorf("the generated board has no archived card; the test does not cover them")
	}
	for _, r := range f.sim.Requests() {
		if r.CredsInQuery || !r.CredsInHeader {
			t.Errorf("%s %s: credentials in query %v, in header %v", r.Method, r.Path, r.CredsInQuery, r.CredsInHeader)
		}
		for k, vs := range r.Query {
			for _, v := range vs {
				if strings.Contains(v, testKey) || strings.Contains(v, testToken) {
					t.Errorf("%s %s: query %s holds a credential", r.Method, r.Path, k)
				}
			}
		}
	}
}

// With nothing changed, an incremental pull costs at most two small
// requests and sends no page.
func TestSimNoChangeIsCheap(t *testing.T) {
	f := newSim(t, simOpts{cards: 300})
	cur := lastCursor(f.pull(t, ""))
	f.clock.Advance(15 * time.Minute)
	n := f.sim.RequestCount()
	if pages := f.pull(t, cur); len(pages) != 0 {
		t.Errorf("no-change pull sent %d pages", len(pages))
	}
	reqs := f.requestsSince(n)
	if len(reqs) == 0 || len(reqs) > 2 {
		t.Fatalf("no-change pull made %d requests, want 1 or 2", len(reqs))
	}
	for _, r := range reqs {
		if r.Method != http.MethodGet || r.Path != "/boards/"+f.board+"/actions" || r.Query.Get("since") == "" {
			t.Errorf("no-change pull asked %s %s?%v; want only the board's actions since the cursor", r.Method, r.Path, r.Query)
		}
	}
}

// Changes since the cursor are picked up: edited and new cards come back,
// an archived risk stays live with closed set, a deleted card is in
// Page.Deleted of the page that carries the cursor.
func TestSimIncrementalChanges(t *testing.T) {
	f := newSim(t, simOpts{cards: 200})
	cur := lastCursor(f.pull(t, ""))
	f.clock.Advance(time.Hour)

	cards := f.sim.Cards(f.board)
	risksList := f.sim.ListID(f.board, "Risks")
	var risk, gone, renamed string
	for _, c := range cards {
		switch {
		case risk == "" && c.IDList == risksList && !c.Closed:
			risk = c.ID
		case gone == "" && c.IDList != risksList:
			gone = c.ID
		case renamed == "" && c.IDList != risksList:
			renamed = c.ID
		}
	}
	if err := f.sim.ArchiveCard(risk); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.DeleteCard(gone); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.UpdateCard(renamed, func(c *trellosim.Card) { c.Name = "Reschedule the cutover rehearsal" }); err != nil {
		t.Fatal(err)
	}
	added := f.sim.AddCard(f.board, trellosim.Card{Name: "Confirm downtime procedures with the ED", IDList: f.sim.ListID(f.board, "Backlog")})

	pages := f.pull(t, cur)
	last := pages[len(pages)-1]
	if !slices.Equal(last.Deleted, []string{gone}) {
		t.Errorf("deleted %v, want [%s]", last.Deleted, gone)
	}
	recs := recordsByID(pages)
	if !sameSet(keys(recs), []string{risk, renamed, added}) {
		t.Errorf("records %v, want the archived risk, the renamed card and the new one", keys(recs))
	}
	if r := recs[risk].Data; r["closed"] != true || r["list"] != "Risks" {
		t.Errorf("archived risk: closed %v list %v", r["closed"], r["list"])
	}
	if r := recs[renamed].Data; r["name"] != "Reschedule the cutover rehearsal" {
		t.Errorf("renamed card name %v", r["name"])
	}
	if slices.Contains(last.Deleted, risk) {
		t.Errorf("the archived card was reported deleted")
	}
	if last.Next == cur || last.Next == "" {
		t.Errorf("the cursor did not move")
	}
	// And nothing twice: the next pull is quiet.
	n := f.sim.RequestCount()
	if again := f.pull(t, last.Next); len(again) != 0 || f.sim.RequestCount()-n > 2 {
		t.Errorf("the pull after the changes sent %d pages in %d requests", len(again), f.sim.RequestCount()-n)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A burst of actions longer than a page is followed with before= back to
// the cursor: the card deleted first, on the oldest page, is reported.
func TestSimActionBurstIsPaged(t *testing.T) {
	f := newSim(t, simOpts{cards: 120, sim: trellosim.Options{ActionsPageMax: 5}})
	f.c.ActionsPageSize = 5
	f.c.CardByCard = 100
	cur := lastCursor(f.pull(t, ""))
	f.clock.Advance(time.Hour)

	cards := f.sim.Cards(f.board)
	gone := cards[0].ID
	if err := f.sim.DeleteCard(gone); err != nil {
		t.Fatal(err)
	}
	var changed []string
	for i, c := range cards[1:24] {
		f.clock.Advance(time.Second)
		if err := f.sim.UpdateCard(c.ID, func(c *trellosim.Card) { c.Name += " (rescheduled)" }); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		changed = append(changed, c.ID)
	}
	n := f.sim.RequestCount()
	pages := f.pull(t, cur)
	last := pages[len(pages)-1]
	if !slices.Equal(last.Deleted, []string{gone}) {
		t.Errorf("deleted %v, want the card deleted before the 23 updates (%s)", last.Deleted, gone)
	}
	if !sameSet(keys(recordsByID(pages)), changed) {
		t.Errorf("got %d changed records, want the %d updated cards", len(recordsByID(pages)), len(changed))
	}
	var paged int
	for _, r := range f.requestsSince(n) {
		if r.Path == "/boards/"+f.board+"/actions" {
			if r.Query.Get("limit") != "5" {
				t.Errorf("actions asked with limit %q", r.Query.Get("limit"))
			}
			if r.Query.Get("before") != "" {
				paged++
			}
		}
	}
	if paged < 4 {
		t.Errorf("%d actions requests went back with before=, want at least 4 for 24 actions in pages of 5", paged)
	}
}

// The 429 answers of both budgets are waited out for the 10-second window
// and the pull completes.
func TestSimRateLimited(t *testing.T) {
	for _, tc := range []struct {
		name string
		sim  trellosim.Options
	}{
		{"token", trellosim.Options{TokenLimit: 2}},
		{"key", trellosim.Options{KeyLimit: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSim(t, simOpts{cards: 50, sim: tc.sim})
			pages := f.pull(t, "")
			if len(recordsByID(pages)) != 50 {
				t.Errorf("got %d records, want 50", len(recordsByID(pages)))
			}
			var limited int
			for _, r := range f.sim.Requests() {
				if r.Status == http.StatusTooManyRequests {
					limited++
				}
			}
			if limited == 0 {
				t.Fatalf("the simulator refused nothing; the test does not exercise a 429")
			}
			if !slices.Contains(f.sleeps.Waits(), RateWindow) {
				t.Errorf("waits %v, want the 10 s window after a 429", f.sleeps.Waits())
			}
		})
	}
}

// The client's own buckets keep it under both budgets: past the burst,
// requests wait.
func TestSimClientBudgets(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"token", Options{TokenLimit: 20, KeyLimit: 1_000_000}},
		{"key", Options{TokenLimit: 1_000_000, KeyLimit: 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSim(t, simOpts{params: func(p *connectors.Params) { p.Options = tc.opts }})
			for range 6 {
				if err := f.c.Check(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			var waited int
			for _, d := range f.sleeps.Waits() {
				if d > 0 {
					waited++
				}
			}
			// A budget of 20 per 10 s is a burst of 2 and 1.8 a second.
			if waited < 3 {
				t.Errorf("6 requests on a budget of 20/10s waited %d times (%v), want at least 3", waited, f.sleeps.Waits())
			}
		})
	}
	limit := DefaultTokenLimit
	r, burst := rateBudget(limit)
	if float64(burst)+float64(r)*RateWindow.Seconds() > float64(limit)+1e-9 {
		t.Errorf("budget %d: burst %d + rate %v over 10 s exceeds it", limit, burst, r)
	}
}

// dropFirst is a RoundTripper that lets the first request matching method
// and path reach the server, then loses the answer: the write happens, the
// client sees a broken connection.
type dropFirst struct {
	next   http.RoundTripper
	method string
	path   string // suffix of the URL path

	mu      sync.Mutex
	dropped int
}

var errLost = errors.New("connection reset by peer")

func (d *dropFirst) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := d.next.RoundTrip(req)
	if err != nil || req.Method != d.method || !strings.HasSuffix(req.URL.Path, d.path) {
		return resp, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dropped > 0 {
		return resp, err
	}
	d.dropped++
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return nil, errLost
}
