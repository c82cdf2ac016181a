package web

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/store"
)

const token = "s3cr3t-T0ken-9f2c71"

// newYork is the fixture's configured zone: 06:55 UTC on 2026-11-26 is
// 01:55 there (EST, UTC−5).
var newYork = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	return loc
}()

// now is the fixture's clock: 07:05 UTC, ten minutes after the EHR sync.
var now = time.Date(2026, 11, 26, 7, 5, 0, 0, time.UTC)

// fakeEngine serves a fixed report and the data around it, and records
// what it was asked for.
type fakeEngine struct {
	rep      pmsync.Report
	programs []pmsync.Program
	sources  []engine.SourceReport
	items    map[string][]pmsync.Item
	next     engine.Schedule
	err      error // returned by every read

	mu   sync.Mutex
	opts []engine.RollupOptions
}

func (f *fakeEngine) Rollup(_ context.Context, opts engine.RollupOptions) (pmsync.Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opts = append(f.opts, opts)
	if f.err != nil {
		return pmsync.Report{}, f.err
	}
	rep := f.rep
	if len(opts.Programs) > 0 {
		rep.Programs = nil
		for _, id := range opts.Programs {
			found := false
			for _, r := range f.rep.Programs {
				if r.ID == id {
					rep.Programs = append(rep.Programs, r)
					found = true
				}
			}
			if !found {
				return pmsync.Report{}, fmt.Errorf("%w %q (programs: [ehr-upgrade pacs telehealth])", engine.ErrNoSuchProgram, id)
			}
		}
	}
	return rep, nil
}

func (f *fakeEngine) calls() []engine.RollupOptions {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]engine.RollupOptions(nil), f.opts...)
}

func (f *fakeEngine) Programs() []pmsync.Program   { return f.programs }
func (f *fakeEngine) Location() *time.Location     { return newYork }
func (f *fakeEngine) NextRuns() engine.Schedule    { return f.next }
func (f *fakeEngine) RulesFor(string) pmsync.Rules { return pmsync.DefaultRules() }

func (f *fakeEngine) SourceReports(_ context.Context, runs, quarantined int) ([]engine.SourceReport, error) {
	if f.err != nil {
		return nil, f.err
	}
	out := make([]engine.SourceReport, len(f.sources))
	for i, s := range f.sources {
		s.Runs = s.Runs[:min(runs, len(s.Runs))]
		s.Quarantine = s.Quarantine[:min(quarantined, len(s.Quarantine))]
		out[i] = s
	}
	return out, nil
}

func (f *fakeEngine) ProgramItems(_ context.Context, program string, flt engine.ItemFilter) ([]pmsync.Item, error) {
	if f.err != nil {
		return nil, f.err
	}
	var out []pmsync.Item
	for _, it := range f.items[program] {
		if (len(flt.Kinds) == 0 || contains(flt.Kinds, it.Kind)) && (len(flt.States) == 0 || contains(flt.States, it.State)) {
			out = append(out, it)
		}
	}
	return out, nil
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// fakeHistory serves snapshots and push audit entries per program, newest
// first as the store does.
type fakeHistory struct {
	snaps  map[string][]store.Snapshot
	audit  map[string][]store.Delivery
	err    error
	filter []store.DeliveryFilter
}

func (f *fakeHistory) Snapshots(_ context.Context, program string, limit int) ([]store.Snapshot, error) {
	s := f.snaps[program]
	return s[:min(limit, len(s))], f.err
}

func (f *fakeHistory) Deliveries(_ context.Context, flt store.DeliveryFilter) ([]store.Delivery, error) {
	f.filter = append(f.filter, flt)
	d := f.audit[flt.Program]
	return d[:min(flt.Limit, len(d))], f.err
}

func f64(f float64) *float64 { return &f }

const evilTitle = `<script>alert(1)</script> cutover`

// fixture is a hand-built portfolio of three programs: EHR red (a late
// milestone with a hostile title and URL, a red flag, overspent), PACS
// amber, Telehealth green; listed in an order that is not the ranking.
func fixture() pmsync.Report {
	return pmsync.NewReport("2026-11-26", time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC),
		[]pmsync.Rollup{
			{
				ID: "telehealth", Name: "Telehealth Launch", AsOf: "2026-11-26", Version: "b71e04a9c3d2",
				Health:     pmsync.Health{Status: pmsync.Green, Reasons: []string{"no late milestones, no red-flag risks, budget on track"}},
				Progress:   pmsync.Progress{Done: 45, Total: 60, Percent: 75},
				Milestones: pmsync.MilestoneCounts{Total: 4, Done: 3},
				Risks:      pmsync.RiskCounts{Open: 2},
				Items:      pmsync.ItemCounts{Live: 64},
				Sources: []pmsync.SourceStatus{
					{Source: "asana-telehealth", Connection: "asana", LastSuccess: time.Date(2026, 11, 26, 6, 50, 0, 0, time.UTC)},
				},
				Late: []pmsync.ItemRef{}, DueSoon: []pmsync.ItemRef{}, RedFlags: []pmsync.ItemRef{}, Changes: []string{},
			},
			{
				ID: "ehr-upgrade", Name: "EHR Upgrade", AsOf: "2026-11-26", Version: "3f9a1c2b7d4e",
				Health: pmsync.Health{Status: pmsync.Red, Reasons: []string{
					"1 milestone late: " + evilTitle + " (due 2026-11-20)",
					"budget burn 62.0% vs 45.0% of time elapsed (+17.0 points)",
				}},
				Progress:   pmsync.Progress{Done: 120, Total: 300, Percent: 40},
				Milestones: pmsync.MilestoneCounts{Total: 8, Done: 3, Late: 1, DueSoon: 1, AtRisk: 1, Slipped: 1, SlipDays: 14},
				Risks:      pmsync.RiskCounts{Open: 10, RedFlags: 1},
				Budget: pmsync.Budget{Currency: "USD", Planned: 2500000, Actual: 1550000.25,
					BurnPercent: f64(62), ElapsedPercent: f64(45), VariancePoints: f64(17), Forecast: f64(3875000.63)},
				Items: pmsync.ItemCounts{Live: 320, Deleted: 2},
				Sources: []pmsync.SourceStatus{
					{Source: "jira-ehr", Connection: "jira", LastSuccess: time.Date(2026, 11, 26, 6, 55, 0, 0, time.UTC)},
					{Source: "smartsheet-budget", Connection: "smartsheet", LastSuccess: time.Date(2026, 11, 25, 22, 10, 0, 0, time.UTC), Stale: true, Quarantined: 3},
					{Source: "trello-training", Connection: "trello", Stale: true},
				},
				Late: []pmsync.ItemRef{
					{Source: "jira-ehr", ExternalID: "EHR-101", Title: evilTitle, URL: "javascript:alert(2)", Due: "2026-11-20", Owner: "Dana Whitfield"},
				},
				DueSoon: []pmsync.ItemRef{
					{Source: "jira-ehr", ExternalID: "EHR-130", Title: "Pharmacy cutover plan signed off", Due: "2026-12-03"},
				},
				RedFlags: []pmsync.ItemRef{
					{Source: "jira-ehr", ExternalID: "EHR-205", Title: "Interface engine vendor delay", URL: "https://acme.atlassian.net/browse/EHR-205", Score: 20, Owner: "Sam Okafor"},
				},
				RiskMatrix: pmsync.RiskMatrix{Cells: []pmsync.RiskCell{
					{Likelihood: 4, Impact: 5, Risks: 1}, {Likelihood: 3, Impact: 3, Risks: 6}, {Likelihood: 1, Impact: 2, Risks: 2},
				}, Unrated: 1},
				Changes: []string{"health amber → red"},
				// The next milestones: the due-soon one moved from its
				// baseline by 14 days and has a forecast.
				NextMilestones: []pmsync.Milestone{
					{ItemRef: pmsync.ItemRef{Source: "jira-ehr", ExternalID: "EHR-130", Title: "Pharmacy cutover plan signed off", Due: "2026-12-03"},
						State: pmsync.MilestoneAtRisk, Baseline: "2026-11-19", SlipDays: 14, Forecast: &pmsync.Forecast{P50: "2026-12-01", P85: "2026-12-10", Remaining: 6}},
					{ItemRef: pmsync.ItemRef{Source: "jira-ehr", ExternalID: "EHR-140", Title: "Training complete", Due: "2027-01-15"},
						State: pmsync.MilestoneOnTrack, Baseline: "2027-01-15"},
				},
				Slips: []pmsync.Slip{{ItemRef: pmsync.ItemRef{Source: "jira-ehr", ExternalID: "EHR-130", Title: "Pharmacy cutover plan signed off", Due: "2026-12-03"},
					Baseline: "2026-11-19", BaselineFrom: "first_seen", Days: 14}},
				Trend: pmsync.Trend{Since: "2026-11-12", Points: []pmsync.TrendPoint{
					{AsOf: "2026-11-12", Done: 90, Total: 300, Progress: f64(30), LateMilestones: 0, RedFlags: 0, Actual: 1000000},
					{AsOf: "2026-11-19", Done: 105, Total: 300, Progress: f64(35), LateMilestones: 0, RedFlags: 2, Actual: 1300000},
					{AsOf: "2026-11-26", Done: 120, Total: 300, Progress: f64(40), LateMilestones: 1, RedFlags: 1, Actual: 1550000.25},
				}},
			},
			{
				ID: "pacs", Name: "PACS Viewer Integration", AsOf: "2026-11-26", Version: "0c1d2e3f4a5b",
				Health:     pmsync.Health{Status: pmsync.Amber, Reasons: []string{"budget burn 36.3% vs 32.9% of time elapsed (+3.4 points)"}},
				Progress:   pmsync.Progress{Done: 32, Total: 128, Percent: 25},
				Milestones: pmsync.MilestoneCounts{Total: 15, Done: 4},
				Risks:      pmsync.RiskCounts{Open: 8},
				Budget: pmsync.Budget{Currency: "USD", Planned: 1200000, Actual: 435410,
					BurnPercent: f64(36.28), ElapsedPercent: f64(32.9), VariancePoints: f64(3.38)},
				Items:   pmsync.ItemCounts{Live: 150},
				Sources: []pmsync.SourceStatus{{Source: "pacs-smartsheet", Connection: "smartsheet", LastSuccess: time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)}},
				Late:    []pmsync.ItemRef{}, DueSoon: []pmsync.ItemRef{}, RedFlags: []pmsync.ItemRef{},
			},
		})
}

func fixtureEngine() *fakeEngine {
	budget := 2500000.0
	return &fakeEngine{
		rep: fixture(),
		programs: []pmsync.Program{
			{ID: "telehealth", Name: "Telehealth Launch", Sources: []string{"asana-telehealth"}},
			{ID: "ehr-upgrade", Name: "EHR Upgrade", Start: "2026-01-05", End: "2026-12-18", Budget: &budget, Currency: "USD",
				Sources: []string{"jira-ehr", "smartsheet-budget", "trello-training"}},
			{ID: "pacs", Name: "PACS Viewer Integration", Sources: []string{"pacs-smartsheet"}},
		},
		next: engine.Schedule{
			Sync:      time.Date(2026, 11, 26, 7, 15, 0, 0, newYork),
			Rollup:    time.Date(2026, 11, 27, 7, 0, 0, 0, newYork),
			Deletions: time.Date(2026, 11, 26, 8, 0, 0, 0, newYork),
		},
		sources: []engine.SourceReport{
			{Source: "jira-ehr", Program: "ehr-upgrade", Connection: "jira", Kind: "jira",
				LastSuccess: time.Date(2026, 11, 26, 6, 55, 0, 0, time.UTC),
				Runs: []store.Run{
					{ID: 7, Source: "jira-ehr", Started: time.Date(2026, 11, 26, 6, 54, 58, 0, time.UTC), Finished: time.Date(2026, 11, 26, 6, 55, 0, 0, time.UTC),
						Status: store.RunOK, Requests: 4, Seen: 240, Changed: 12, Quarantined: 1},
					{ID: 3, Source: "jira-ehr", Started: time.Date(2026, 11, 26, 6, 40, 0, 0, time.UTC), Finished: time.Date(2026, 11, 26, 6, 40, 3, 0, time.UTC),
						Status: store.RunFailed, Requests: 6, Error: "jira: GET /rest/api/3/search/jql: 503 Service Unavailable"},
				},
				Quarantined: 2,
				Quarantine: []store.Quarantined{
					{Source: "jira-ehr", ExternalID: "EHR-77", Reason: `likelihood: "9" is outside 1..5`, At: time.Date(2026, 11, 26, 6, 55, 0, 0, time.UTC), FirstSeen: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)},
					{Source: "jira-ehr", ExternalID: "EHR-78", Reason: `state: status "Parked" maps to no state`, At: time.Date(2026, 11, 26, 6, 55, 0, 0, time.UTC), FirstSeen: time.Date(2026, 11, 26, 6, 55, 0, 0, time.UTC)},
				},
				NextSync: time.Date(2026, 11, 26, 7, 15, 0, 0, newYork), NextDeletions: time.Date(2026, 11, 26, 8, 0, 0, 0, newYork),
				Waits: engine.Waits{Count: 3, Total: 7500 * time.Millisecond, Last: time.Date(2026, 11, 26, 6, 54, 59, 0, time.UTC)},
				// Held by another replica until 07:08, three minutes after now.
				Lease: &store.Lease{Name: "sync:conn:jira", Holder: "replica-b/4026531836/41/9c2e", Token: 7, Expires: time.Date(2026, 11, 26, 7, 8, 0, 0, time.UTC)}},
			{Source: "trello-training", Program: "ehr-upgrade", Connection: "trello", Kind: "trello",
				NextSync: time.Date(2026, 11, 26, 7, 15, 0, 0, newYork)},
		},
		items: map[string][]pmsync.Item{
			"ehr-upgrade": {
				{Source: "jira-ehr", ExternalID: "EHR-1", Kind: pmsync.KindTask, State: pmsync.StateDone, Title: "Build ADT feed"},
				{Source: "jira-ehr", ExternalID: "EHR-2", Kind: pmsync.KindTask, State: pmsync.StateInProgress, Title: "Build lab feed"},
				{Source: "jira-ehr", ExternalID: "EHR-101", Kind: pmsync.KindMilestone, State: pmsync.StateTodo, Title: evilTitle, Due: "2026-11-20"},
				{Source: "jira-ehr", ExternalID: "EHR-205", Kind: pmsync.KindRisk, State: pmsync.StateTodo, Title: "Interface engine vendor delay", Likelihood: 4, Impact: 5},
			},
		},
	}
}

type env struct {
	srv  *Server
	eng  *fakeEngine
	hist *fakeHistory
	logs *bytes.Buffer
}

func newEnv(t *testing.T, o Options) env {
	t.Helper()
	eng := fixtureEngine()
	// Two earlier rollups of EHR (newest first, as the store returns
	// them): progress 30 % then 35 %, spent 1.0M then 1.3M.
	hist := &fakeHistory{snaps: map[string][]store.Snapshot{
		"ehr-upgrade": {
			{Program: "ehr-upgrade", AsOf: "2026-11-19", Version: "v2", At: time.Date(2026, 11, 19, 12, 0, 0, 0, time.UTC),
				Rollup: pmsync.Rollup{AsOf: "2026-11-19", Health: pmsync.Health{Status: pmsync.Amber}, Progress: pmsync.Progress{Done: 105, Total: 300, Percent: 35},
					Milestones: pmsync.MilestoneCounts{Late: 0}, Risks: pmsync.RiskCounts{Open: 9, RedFlags: 2}, Budget: pmsync.Budget{Actual: 1300000, BurnPercent: f64(52)}}},
			{Program: "ehr-upgrade", AsOf: "2026-11-12", Version: "v1", At: time.Date(2026, 11, 12, 12, 0, 0, 0, time.UTC),
				Rollup: pmsync.Rollup{AsOf: "2026-11-12", Health: pmsync.Health{Status: pmsync.Green}, Progress: pmsync.Progress{Done: 90, Total: 300, Percent: 30},
					Risks: pmsync.RiskCounts{Open: 8, RedFlags: 0}, Budget: pmsync.Budget{Actual: 1000000, BurnPercent: f64(40)}}},
		},
	}}
	hist.audit = map[string][]store.Delivery{
		"ehr-upgrade": {
			{ID: 12, PushID: 9, Target: "jira:issue=PMO-1", Program: "ehr-upgrade", Version: "3f9a1c2b7d4e", Attempt: 1,
				PushOutcome: store.PushOutcome{Outcome: store.DeliveryDelivered, At: time.Date(2026, 11, 26, 7, 0, 2, 0, time.UTC),
					PayloadHash: "9b1f", Receipt: "https://acme.atlassian.net/browse/PMO-1?focusedCommentId=10001"}},
			{ID: 11, PushID: 8, Target: "smartsheet:sheet=42", Program: "ehr-upgrade", Version: "3f9a1c2b7d4e", Attempt: 2,
				PushOutcome: store.PushOutcome{Outcome: store.DeliveryFailed, At: time.Date(2026, 11, 26, 7, 1, 0, 0, time.UTC),
					PayloadHash: "9b1f", Error: "smartsheet: 429 rate limited"}},
		},
	}
	logs := &bytes.Buffer{}
	o.Log = zerolog.New(logs)
	if o.Now == nil {
		o.Now = func() time.Time { return now }
	}
	srv, err := New(eng, hist, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return env{srv: srv, eng: eng, hist: hist, logs: logs}
}

func (e env) get(t *testing.T, target, authorization string) *httptest.ResponseRecorder {
	t.Helper()
	return e.do(t, http.MethodGet, target, authorization)
}

func (e env) do(t *testing.T, method, target, authorization string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec
}

// page fetches an HTML page, expecting 200, and checks what every page
// must hold: no script, no inline style (the CSP forbids both), the
// configured zone named once and no other.
func (e env) page(t *testing.T, target string) string {
	t.Helper()
	rec := e.get(t, target, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200; body:\n%s", target, rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("GET %s: Content-Type = %q", target, ct)
	}
	body := rec.Body.String()
	lower := strings.ToLower(body)
	for _, bad := range []string{"<script", "javascript:", " style=", "<style", " onclick=", " onload="} {
		if strings.Contains(lower, bad) {
			t.Errorf("GET %s: the page contains %q", target, bad)
		}
	}
	if n := strings.Count(body, "America/New_York"); n != 1 {
		t.Errorf("GET %s names the time zone %d times, want once", target, n)
	}
	if m := regexp.MustCompile(` UTC|T[0-9:]{8}Z|\+00:00`).FindString(body); m != "" {
		t.Errorf("GET %s shows a time in UTC (%q)", target, m)
	}
	return body
}

func wantAll(t *testing.T, what, body string, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// order checks that the strings appear in body in the order given.
func order(t *testing.T, what, body string, in ...string) {
	t.Helper()
	at := -1
	for _, s := range in {
		i := strings.Index(body, s)
		if i < 0 {
			t.Errorf("%s lacks %q", what, s)
			return
		}
		if i < at {
			t.Errorf("%s: %q comes before the strings listed ahead of it", what, s)
		}
		at = i
	}
}

func TestPortfolioPage(t *testing.T) {
	e := newEnv(t, Options{Version: "v1.2.3"})
	body := e.page(t, "/")
	wantAll(t, "portfolio", body, []string{
		"<title>Portfolio — pmsync</title>",
		"As of <strong>2026-11-26</strong>",
		// 07:00 UTC is 02:00 in New York.
		`computed <time datetime="2026-11-26T02:00:00-05:00">2026-11-26 02:00</time>`,
		"pmsync v1.2.3",
		// The summary band, worked out from the fixture: 1 red, 1 amber,
		// 1 green; 120+45+32 = 197 of 300+60+128 = 488 done = 40.37 %.
		"1 red · 1 amber · 1 green",
		`aria-label="Health of 3 programs: 1 red, 1 amber, 1 green"`,
		"40.4%", "197 of 488 tasks and milestones done",
		`<div class="tile" id="sum-late">`, `<p class="big">1</p>`, "1 more due soon · 1 at risk · 1 slipped",
		"of 20 open risks",
		// Budget: USD 2.5M + 1.2M planned, 1,550,000.25 + 435,410 spent:
		// burn 1,985,410.25 / 3,700,000 = 53.66 %; elapsed weighted by
		// plan (2.5M·45 + 1.2M·32.9) / 3.7M = 41.08 %; variance +12.58.
		"1,985,410 USD of 3,700,000 USD spent · variance &#43;12.6 points",
		`aria-label="Budget burned 53.7% against time elapsed 41.1%"`,
		// Cards: the health word is always written beside the colour.
		`<span class="badge red">RED</span>`, `<span class="badge amber">AMBER</span>`, `<span class="badge green">GREEN</span>`,
		`<a href="/programs/ehr-upgrade">EHR Upgrade</a>`,
		"<li>1 milestone late: &lt;script&gt;alert(1)&lt;/script&gt; cutover (due 2026-11-20)</li>",
		// A javascript: URL from a source is neutralised by html/template.
		`<a href="#ZgotmplZ">&lt;script&gt;alert(1)&lt;/script&gt; cutover</a> <span class="when">due 2026-11-20</span>`,
		`Pharmacy cutover plan signed off <span class="when">due 2026-12-03</span>`,
		`<a href="https://acme.atlassian.net/browse/EHR-205">Interface engine vendor delay</a> <span class="when">score 20</span>`,
		"1 of 10 open", "1 late · 1 due soon", "3 of 8 done · 1 at risk · 1 slipped",
		"1,550,000 USD of 2,500,000 USD · variance &#43;17.0 points",
		"forecast at completion 3,875,001 USD",
		"forecast at completion unknown",
		// Freshness in New York time: 06:55 UTC is 01:55, ten minutes before
		// the clock; 22:10 UTC the day before is 17:10.
		`jira-ehr (jira): synced <time datetime="2026-11-26T01:55:00-05:00">2026-11-26 01:55</time>, 10 min ago`,
		`smartsheet-budget (smartsheet): synced <time datetime="2026-11-25T17:10:00-05:00">2026-11-25 17:10</time>, 8 h ago <strong class="stale">STALE</strong> · 3 quarantined`,
		`trello-training (trello): never synced <strong class="stale">STALE</strong>`,
	})
	// Ranked by need of attention: red, then amber, then green, whatever
	// the report's order.
	order(t, "portfolio ranking", body,
		`<span class="rank">1.</span> <a href="/programs/ehr-upgrade">`,
		`<span class="rank">2.</span> <a href="/programs/pacs">`,
		`<span class="rank">3.</span> <a href="/programs/telehealth">`)
	if want := []engine.RollupOptions{{}}; !cmp.Equal(want, e.eng.calls()) {
		t.Errorf("rollup calls = %+v, want one for every program", e.eng.calls())
	}
}

func TestPortfolioGroups(t *testing.T) {
	e := newEnv(t, Options{})
	rep := fixture()
	rep.Programs[1].Portfolio, rep.Programs[1].Owner = "Clinical", "Dana Whitfield"
	rep.Programs[2].Portfolio = "Clinical"
	e.eng.rep = pmsync.NewReport(rep.AsOf, rep.GeneratedAt, rep.Programs)
	body := e.page(t, "/")
	// Clinical holds EHR (red, 1 late, 1 red flag) and PACS (amber); the
	// telehealth program names no portfolio.
	wantAll(t, "portfolio groups", body, []string{
		`<tr><th scope="row">(no portfolio)</th><td class="num">1</td><td>0 red · 0 amber · 1 green</td><td class="num">75.0%</td><td class="num">0</td><td class="num">0</td>`,
		`<tr><th scope="row">Clinical</th><td class="num">2</td><td>1 red · 1 amber · 0 green</td>`,
		`<td class="num">1</td><td class="num">1</td><td>53.7% vs 41.1%</td></tr>`,
		"<p class=\"sub\">Clinical portfolio · sponsor Dana Whitfield</p>",
	})
	if body := newEnv(t, Options{}).page(t, "/"); strings.Contains(body, "By portfolio") {
		t.Errorf("a portfolio whose programs name no portfolio shows groups")
	}
}

func TestPortfolioWithoutPrograms(t *testing.T) {
	e := newEnv(t, Options{})
	e.eng.rep = pmsync.Report{Schema: pmsync.Schema, AsOf: "2026-11-26", Programs: []pmsync.Rollup{}}
	body := e.page(t, "/")
	wantAll(t, "empty portfolio", body, []string{"No programs are configured.", "0 red · 0 amber · 0 green", "no work yet", "No budgets."})
}

func TestProgramPage(t *testing.T) {
	e := newEnv(t, Options{})
	body := e.page(t, "/programs/ehr-upgrade")
	wantAll(t, "program page", body, []string{
		"<title>EHR Upgrade — pmsync</title>",
		`EHR Upgrade <span class="badge red">RED</span>`,
		"2026-01-05 to 2026-12-18 · planned budget 2,500,000 USD",
		"Since the previous rollup: health amber → red.",
		// The timeline names each milestone and writes its status.
		`aria-label="Milestone timeline: 3 milestones, 1 moved from their baseline due date; today is 2026-11-26"`,
		`<title>&lt;script&gt;alert(1)&lt;/script&gt; cutover: late, due 2026-11-20</title>`,
		`<title>Pharmacy cutover plan signed off: at risk, due 2026-12-03 (baseline 2026-11-19, moved +14 days); forecast p50 2026-12-01, p85 2026-12-10</title>`,
		`<title>Training complete: on track, due 2027-01-15</title>`,
		`class="val">late</text>`, `class="val">at risk, +14 d</text>`, `class="val">on track</text>`,
		`<line class="fc" `,
		"1 due within 14 days · 1 at risk · 1 slipped (14 days in all) · 3 of 8 done",
		"<h3>Milestones at risk (forecast p85 after the due date): 1</h3>", "<h3>Slipped milestones (due later than their baseline): 1</h3>",
		`<a href="/programs/ehr-upgrade/explain">Every figure of the rollup with the items behind it</a>`,
		`today 2026-11-26</text>`,
		// The burn chart: 1.0M, 1.3M, then 1,550,000 now.
		`aria-label="Budget burn over time: 1,550,000 USD of 2,500,000 USD planned spent by 2026-11-26; the plan is a straight line from 2026-01-05 to 2026-12-18; forecast at completion 3,875,001 USD"`,
		// The risk matrix: the fixture's cells, likelihood 5 on top.
		"10 open risks by likelihood (rows) and impact (columns); 1 without a rating",
		`<td class="z-red" title="likelihood 4 × impact 5 = score 20 (red flag): 1 risk">1</td>`,
		`<td class="z-watch" title="likelihood 3 × impact 3 = score 9 (watch): 6 risks">6</td>`,
		`<td class="z-low" title="likelihood 1 × impact 2 = score 2 (low): 2 risks">2</td>`,
		`<td class="z-red" title="likelihood 5 × impact 5 = score 25 (red flag): 0 risks"><span class="zero" aria-label="none">·</span></td>`,
		"red flag: score ≥ 15",
		// The red-flag list.
		`<tr class="flag"><td><a href="https://acme.atlassian.net/browse/EHR-205">Interface engine vendor delay</a></td><td class="num">20</td><td>Sam Okafor</td><td>jira-ehr EHR-205</td></tr>`,
		// Trends with labelled axes: progress 30, 35, 40 %.
		`aria-label="Progress (done share of work) from 2026-11-12 to 2026-11-26: 30% then, 40% now"`,
		`aria-label="Late milestones from 2026-11-12 to 2026-11-26: 0 then, 1 now"`,
		`aria-label="Red-flag risks from 2026-11-12 to 2026-11-26: 0 then, 1 now"`,
		"as-of date</text>",
		// Items behind the figures.
		"<h3>Late milestones: 1</h3>", "<h3>Milestones due within 14 days: 1</h3>", "<h3>Red-flag risks (score ≥ 15): 1</h3>",
		// Pushes from the audit, times in New York.
		`jira:issue=PMO-1<br><span class="sub">version 3f9a1c2b7d4e</span></td><td><span class="outcome delivered">delivered</span></td><td><time datetime="2026-11-26T02:00:02-05:00">2026-11-26 02:00</time></td><td><a href="https://acme.atlassian.net/browse/PMO-1?focusedCommentId=10001">open</a></td>`,
		`<span class="outcome failed">failed</span> (attempt 2)<br><span class="sub">smartsheet: 429 rate limited</span>`,
		`<a href="/">Portfolio</a> › EHR Upgrade`,
	})
	if got := e.eng.calls(); len(got) != 1 || !cmp.Equal(got[0].Programs, []string{"ehr-upgrade"}) {
		t.Errorf("rollup calls = %+v, want one for ehr-upgrade", got)
	}
	if want := []store.DeliveryFilter{{Program: "ehr-upgrade", Limit: 20}}; !cmp.Equal(want, e.hist.filter) {
		t.Errorf("audit reads = %+v, want %+v", e.hist.filter, want)
	}
}

func TestProgramPageCharts(t *testing.T) {
	e := newEnv(t, Options{})
	body := e.page(t, "/programs/ehr-upgrade")
	// Every chart is well-formed SVG with a role, an accessible name and a
	// title.
	svgs := regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(body, -1)
	if len(svgs) < 7 {
		t.Fatalf("the program page has %d charts, want at least 7 (bars, timeline, burn, three trends)", len(svgs))
	}
	for _, s := range svgs {
		checkSVG(t, s)
	}
	// The burn chart's actual line, worked out by hand: x spans 2026-01-05
	// (day 20458) to 2026-12-18 (day 20805) over 58..424 px; the money axis
	// runs to the forecast, 3,875,000.63, rounded up to 5M, over 210..16
	// px. 2026-11-12 is day 20769: x = 58 + 311·366/347 = 386.0; 1.0M: y =
	// 210 − 194·0.2 = 171.2. 2026-11-19 (day 20776): x = 393.4; 1.3M: y =
	// 159.6. 2026-11-26 (day 20783): x = 400.8; 1,550,000.25: y = 149.9.
	if !strings.Contains(body, `<polyline points="386,171.2 393.4,159.6 400.8,149.9"/>`) {
		t.Errorf("burn chart lacks the hand-computed actual line; charts:\n%s", strings.Join(svgs, "\n"))
	}
}

// checkSVG parses an inline chart and checks its accessible name.
func checkSVG(t *testing.T, s string) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(s))
	var root *xml.StartElement
	titles := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Errorf("chart is not well-formed XML: %v\n%s", err, s)
			return
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == nil {
				c := se.Copy()
				root = &c
			}
			if se.Name.Local == "title" {
				titles++
			}
		}
	}
	attrs := map[string]string{}
	for _, a := range root.Attr {
		attrs[a.Name.Local] = a.Value
	}
	if attrs["role"] != "img" || attrs["aria-label"] == "" || titles == 0 {
		t.Errorf("chart lacks role=img, an aria-label or a <title>: %s", s[:min(len(s), 300)])
	}
}

func TestProgramPageWithoutHistoryOrDates(t *testing.T) {
	e := newEnv(t, Options{})
	body := e.page(t, "/programs/pacs")
	wantAll(t, "pacs page", body, []string{
		"No program dates: the burn cannot be charted over time.",
		`aria-label="Progress (done share of work) on 2026-11-26: 25%; one rollup so far, no trend yet"`,
		"Milestone timeline: 0 milestones", "No milestones to show.",
		"No open risk scores 15 or more.",
		"Nothing has been pushed for this program yet.",
		"8 open risks by likelihood (rows) and impact (columns)</caption>",
	})
}

func TestUnknownProgram(t *testing.T) {
	e := newEnv(t, Options{})
	for _, path := range []string{"/programs/nope", "/api/v1/programs/nope", "/api/v1/programs/nope/items", "/api/v1/programs/nope/history"} {
		rec := e.get(t, path, "")
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `no program &#34;nope&#34;`) && !strings.Contains(rec.Body.String(), `no program \"nope\"`) {
			t.Errorf("GET %s = %d %s, want 404 naming the program", path, rec.Code, rec.Body)
		}
	}
	for _, path := range []string{"/?program=nope", "/api/v1/rollup?program=nope", "/api/v1/portfolio?program=nope"} {
		rec := e.get(t, path, "")
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "nope") {
			t.Errorf("GET %s = %d %s, want 404 naming the program", path, rec.Code, rec.Body)
		}
	}
	if len(e.eng.calls()) != 3 {
		t.Errorf("an unknown program in a path reached the rollup: %+v", e.eng.calls())
	}
}

func TestSourcesPage(t *testing.T) {
	e := newEnv(t, Options{})
	body := e.page(t, "/sources")
	wantAll(t, "sources page", body, []string{
		"<title>Sources — pmsync</title>",
		`Next sync <time datetime="2026-11-26T07:15:00-05:00">2026-11-26 07:15</time>`,
		`next deletion check <time datetime="2026-11-26T08:00:00-05:00">2026-11-26 08:00</time>`,
		`next rollup and push <time datetime="2026-11-27T07:00:00-05:00">2026-11-27 07:00</time>`,
		`<a href="#runs-jira-ehr">jira-ehr</a><br><span class="sub">jira (jira)</span>`,
		`<a href="/programs/ehr-upgrade">ehr-upgrade</a>`,
		// The latest run: ok, 2 s, 240 seen, 12 changed, 1 quarantined.
		`<span class="outcome ok">ok</span><br><span class="sub"><time datetime="2026-11-26T01:54:58-05:00">2026-11-26 01:54</time> · 2s</span>`,
		`<td class="num">240 · 12 · 1 · 0</td>`,
		"3 waits, 7.5s in all",
		`<span class="outcome failed">failed</span><br><span class="sub">jira: GET /rest/api/3/search/jql: 503 Service Unavailable</span>`,
		"<h3>Quarantined records (2)</h3>",
		`<td>EHR-77</td><td>likelihood: &#34;9&#34; is outside 1..5</td><td><time datetime="2026-11-20T07:00:00-05:00">2026-11-20 07:00</time></td>`,
		"state: status &#34;Parked&#34; maps to no state",
		// trello-training never ran.
		"never synced", "no run yet", "none since start", "No run yet.", "None: every record mapped.",
	})
}

func TestRefresh(t *testing.T) {
	e := newEnv(t, Options{Refresh: 5 * time.Minute})
	for _, p := range []string{"/", "/programs/ehr-upgrade", "/sources"} {
		body := e.page(t, p)
		wantAll(t, p, body, []string{`<meta http-equiv="refresh" content="300">`, "this page reloads every 300 s"})
	}
	e = newEnv(t, Options{})
	if body := e.page(t, "/"); strings.Contains(body, "http-equiv") {
		t.Errorf("a page without a refresh interval reloads itself")
	}
}

func TestStylesheet(t *testing.T) {
	e := newEnv(t, Options{Token: token})
	rec := e.get(t, "/", "Bearer "+token)
	m := regexp.MustCompile(`<link rel="stylesheet" href="(/assets/pmsync-[0-9a-f]{12}\.css)">`).FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("the page links no stylesheet:\n%s", rec.Body)
	}
	// The stylesheet holds no data: it is served without the token, and
	// may be cached since its name changes with its content.
	css := e.get(t, m[1], "")
	if css.Code != http.StatusOK || css.Header().Get("Content-Type") != "text/css; charset=utf-8" {
		t.Fatalf("GET %s = %d %s", m[1], css.Code, css.Header().Get("Content-Type"))
	}
	if cc := css.Header().Get("Cache-Control"); !strings.Contains(cc, "max-age") {
		t.Errorf("stylesheet Cache-Control = %q, want it cacheable", cc)
	}
	wantAll(t, "stylesheet", css.Body.String(), []string{"@media print", "@page", "break-inside: avoid", "@media (max-width: 640px)", ":focus-visible"})
	if rec := e.get(t, "/assets/pmsync-000000000000.css", ""); rec.Code != http.StatusNotFound {
		t.Errorf("a stale stylesheet name = %d, want 404", rec.Code)
	}
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, rec.Body)
	}
	return v
}

func TestAPIRollup(t *testing.T) {
	e := newEnv(t, Options{})
	rec := e.get(t, "/api/v1/rollup", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/rollup = %d, want 200; body:\n%s", rec.Code, rec.Body)
	}
	got := decode[pmsync.Report](t, rec)
	// The document writes missing lists as [], which decode as empty.
	if diff := cmp.Diff(fixture(), got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("API report differs from the engine's (-want +got):\n%s", diff)
	}
}

func TestAPIPortfolio(t *testing.T) {
	e := newEnv(t, Options{})
	rec := e.get(t, "/api/v1/portfolio", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/portfolio = %d; body:\n%s", rec.Code, rec.Body)
	}
	doc := decode[map[string]any](t, rec)
	want := map[string]any{
		"schema": "pmsync.portfolio/v1", "as_of": "2026-11-26", "generated_at": "2026-11-26T07:00:00Z", "timezone": "America/New_York",
		"version": fixture().Version, "portfolios": []any{},
	}
	programs, _ := doc["programs"].([]any)
	portfolio, _ := doc["portfolio"].(map[string]any)
	delete(doc, "programs")
	delete(doc, "portfolio")
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("portfolio document (-want +got):\n%s", diff)
	}
	// The rollup's totals, worked out from the fixture: 120+45+32 of
	// 300+60+128 done; USD 1,550,000.25 + 435,410 of 2.5M + 1.2M, burn
	// 53.66 %, elapsed (2.5M·45 + 1.2M·32.9)/3.7M = 41.08 %.
	got := map[string]any{"health": portfolio["health"], "progress": portfolio["progress"], "burn": portfolio["budget"].(map[string]any)["burn_percent"],
		"elapsed": portfolio["budget"].(map[string]any)["elapsed_percent"], "actual": portfolio["budget"].(map[string]any)["actual"]}
	wantTotals := map[string]any{"health": map[string]any{"red": 1.0, "amber": 1.0, "green": 1.0},
		"progress": map[string]any{"done": 197.0, "total": 488.0, "percent": 40.37}, "burn": 53.66, "elapsed": 41.08, "actual": 1985410.25}
	if diff := cmp.Diff(wantTotals, got); diff != "" {
		t.Errorf("portfolio totals (-want +got):\n%s", diff)
	}
	var ranked []string
	for _, p := range programs {
		m := p.(map[string]any)
		ranked = append(ranked, fmt.Sprintf("%v %v %v", m["rank"], m["dashboard"], m["rollup"].(map[string]any)["id"]))
	}
	if diff := cmp.Diff([]string{"1 /programs/ehr-upgrade ehr-upgrade", "2 /programs/pacs pacs", "3 /programs/telehealth telehealth"}, ranked); diff != "" {
		t.Errorf("ranking (-want +got):\n%s", diff)
	}
	// Lists are [] rather than null, the risk matrix's too.
	tele := programs[2].(map[string]any)["rollup"].(map[string]any)
	if cells := tele["risk_matrix"].(map[string]any)["cells"]; cells == nil {
		t.Errorf("a program without rated risks has risk_matrix.cells null, want []")
	}
}

func TestAPIProgram(t *testing.T) {
	e := newEnv(t, Options{})
	rec := e.get(t, "/api/v1/programs/ehr-upgrade", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET = %d; body:\n%s", rec.Code, rec.Body)
	}
	type programDoc struct {
		Schema   string         `json:"schema"`
		Timezone string         `json:"timezone"`
		Program  map[string]any `json:"program"`
		Rules    map[string]any `json:"rules"`
		Rollup   pmsync.Rollup  `json:"rollup"`
		Pushes   []map[string]any
	}
	doc := decode[programDoc](t, rec)
	if doc.Schema != "pmsync.program/v1" || doc.Timezone != "America/New_York" {
		t.Errorf("schema %q, timezone %q", doc.Schema, doc.Timezone)
	}
	wantProgram := map[string]any{"id": "ehr-upgrade", "name": "EHR Upgrade", "start": "2026-01-05", "end": "2026-12-18", "budget": 2500000.0,
		"currency": "USD", "sources": []any{"jira-ehr", "smartsheet-budget", "trello-training"}}
	if diff := cmp.Diff(wantProgram, doc.Program); diff != "" {
		t.Errorf("program (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"due_soon_days": 14.0, "red_flag_score": 15.0}, doc.Rules); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(fixture().Programs[1], doc.Rollup, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("rollup (-want +got):\n%s", diff)
	}
	wantPushes := []map[string]any{
		{"target": "jira:issue=PMO-1", "version": "3f9a1c2b7d4e", "outcome": "delivered", "attempt": 1.0, "at": "2026-11-26T07:00:02Z",
			"receipt": "https://acme.atlassian.net/browse/PMO-1?focusedCommentId=10001", "payload_sha256": "9b1f"},
		{"target": "smartsheet:sheet=42", "version": "3f9a1c2b7d4e", "outcome": "failed", "attempt": 2.0, "at": "2026-11-26T07:01:00Z",
			"error": "smartsheet: 429 rate limited", "payload_sha256": "9b1f"},
	}
	if diff := cmp.Diff(wantPushes, doc.Pushes); diff != "" {
		t.Errorf("pushes (-want +got):\n%s", diff)
	}
}

func TestAPIItems(t *testing.T) {
	e := newEnv(t, Options{})
	ids := func(query string) []string {
		t.Helper()
		rec := e.get(t, "/api/v1/programs/ehr-upgrade/items"+query, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET items%s = %d %s", query, rec.Code, rec.Body)
		}
		doc := decode[apiItemsDoc](t, rec)
		if doc.Schema != "pmsync.items/v1" || doc.Program != "ehr-upgrade" {
			t.Errorf("items%s: schema %q program %q", query, doc.Schema, doc.Program)
		}
		out := []string{fmt.Sprintf("total=%d", doc.Total)}
		for _, it := range doc.Items {
			out = append(out, it.ExternalID)
		}
		return out
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"total=4", "EHR-1", "EHR-2", "EHR-101", "EHR-205"}},
		{"?kind=task", []string{"total=2", "EHR-1", "EHR-2"}},
		{"?kind=milestone,risk", []string{"total=2", "EHR-101", "EHR-205"}},
		{"?kind=milestone&kind=risk", []string{"total=2", "EHR-101", "EHR-205"}},
		{"?kind=task&state=done", []string{"total=1", "EHR-1"}},
		{"?state=blocked", []string{"total=0"}},
		{"?limit=2", []string{"total=4", "EHR-1", "EHR-2"}},
		{"?limit=2&offset=3", []string{"total=4", "EHR-205"}},
		{"?offset=9", []string{"total=4"}},
	} {
		if got := ids(tc.query); !cmp.Equal(tc.want, got) {
			t.Errorf("items%s = %v, want %v", tc.query, got, tc.want)
		}
	}
	for query, want := range map[string]string{
		"?kind=epic":        `kind \"epic\" is not one of task, milestone, risk`,
		"?state=open":       `state \"open\" is not one of todo, in_progress, blocked, done, cancelled`,
		"?limit=-1":         `limit \"-1\" is not a whole number`,
		"?limit=10001":      "limit 10001 is above the most allowed, 10000",
		"?offset=x":         `offset \"x\" is not a whole number`,
		"?kind=task,bogus":  `kind \"bogus\"`,
		"?state=done&kind=": "", // an empty kind is no filter
	} {
		rec := e.get(t, "/api/v1/programs/ehr-upgrade/items"+query, "")
		if want == "" {
			if rec.Code != http.StatusOK {
				t.Errorf("items%s = %d, want 200", query, rec.Code)
			}
			continue
		}
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("items%s = %d %s, want 400 saying %s", query, rec.Code, rec.Body, want)
		}
	}
}

func TestAPIHistory(t *testing.T) {
	e := newEnv(t, Options{})
	rec := e.get(t, "/api/v1/programs/ehr-upgrade/history", "")
	doc := decode[map[string]any](t, rec)
	want := map[string]any{
		"schema": "pmsync.history/v1", "program": "ehr-upgrade", "timezone": "America/New_York",
		"points": []any{
			map[string]any{"as_of": "2026-11-12", "at": "2026-11-12T12:00:00Z", "version": "v1", "health": "green", "progress_percent": 30.0,
				"done": 90.0, "total": 300.0, "late_milestones": 0.0, "due_soon_milestones": 0.0, "open_risks": 8.0, "red_flag_risks": 0.0,
				"actual": 1000000.0, "burn_percent": 40.0, "elapsed_percent": nil, "variance_points": nil},
			map[string]any{"as_of": "2026-11-19", "at": "2026-11-19T12:00:00Z", "version": "v2", "health": "amber", "progress_percent": 35.0,
				"done": 105.0, "total": 300.0, "late_milestones": 0.0, "due_soon_milestones": 0.0, "open_risks": 9.0, "red_flag_risks": 2.0,
				"actual": 1300000.0, "burn_percent": 52.0, "elapsed_percent": nil, "variance_points": nil},
		},
	}
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	rec = e.get(t, "/api/v1/programs/ehr-upgrade/history?limit=1", "")
	if pts := decode[apiHistoryDoc](t, rec).Points; len(pts) != 1 || pts[0].Version != "v2" {
		t.Errorf("history?limit=1 = %+v, want the newest point only", pts)
	}
	if rec := e.get(t, "/api/v1/programs/ehr-upgrade/history?limit=1001", ""); rec.Code != http.StatusBadRequest {
		t.Errorf("history?limit=1001 = %d, want 400", rec.Code)
	}
	rec = e.get(t, "/api/v1/programs/pacs/history", "")
	if pts := decode[apiHistoryDoc](t, rec).Points; pts == nil || len(pts) != 0 {
		t.Errorf("history of a program without snapshots = %#v, want []", pts)
	}
}

func TestAPISources(t *testing.T) {
	e := newEnv(t, Options{})
	rec := e.get(t, "/api/v1/sources", "")
	doc := decode[map[string]any](t, rec)
	sources := doc["sources"].([]any)
	delete(doc, "sources")
	want := map[string]any{"schema": "pmsync.sources/v1", "timezone": "America/New_York",
		"next": map[string]any{"sync": "2026-11-26T12:15:00Z", "rollup": "2026-11-27T12:00:00Z", "deletions": "2026-11-26T13:00:00Z"}}
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("sources document (-want +got):\n%s", diff)
	}
	wantJira := map[string]any{
		"source": "jira-ehr", "program": "ehr-upgrade", "connection": "jira", "kind": "jira",
		"last_success": "2026-11-26T06:55:00Z", "stale": false, "next_sync": "2026-11-26T12:15:00Z",
		"runs": []any{
			map[string]any{"id": 7.0, "full": false, "started": "2026-11-26T06:54:58Z", "finished": "2026-11-26T06:55:00Z", "status": "ok",
				"requests": 4.0, "seen": 240.0, "changed": 12.0, "quarantined": 1.0, "deleted": 0.0},
			map[string]any{"id": 3.0, "full": false, "started": "2026-11-26T06:40:00Z", "finished": "2026-11-26T06:40:03Z", "status": "failed",
				"requests": 6.0, "seen": 0.0, "changed": 0.0, "quarantined": 0.0, "deleted": 0.0, "error": "jira: GET /rest/api/3/search/jql: 503 Service Unavailable"},
		},
		"quarantined": 2.0,
		"quarantine": []any{
			map[string]any{"external_id": "EHR-77", "reason": `likelihood: "9" is outside 1..5`, "first_seen": "2026-11-20T12:00:00Z", "last_seen": "2026-11-26T06:55:00Z"},
			map[string]any{"external_id": "EHR-78", "reason": `state: status "Parked" maps to no state`, "first_seen": "2026-11-26T06:55:00Z", "last_seen": "2026-11-26T06:55:00Z"},
		},
		"waits": map[string]any{"count": 3.0, "seconds": 7.5, "last": "2026-11-26T06:54:59Z"},
		"lease": map[string]any{"holder": "replica-b/4026531836/41/9c2e", "token": 7.0, "expires": "2026-11-26T07:08:00Z", "held": true},
	}
	if diff := cmp.Diff(wantJira, sources[0]); diff != "" {
		t.Errorf("jira-ehr (-want +got):\n%s", diff)
	}
	trello := sources[1].(map[string]any)
	if trello["last_success"] != nil || trello["stale"] != true || len(trello["runs"].([]any)) != 0 || len(trello["quarantine"].([]any)) != 0 || trello["lease"] != nil {
		t.Errorf("a source that never ran = %v, want last_success and lease null, stale, empty lists", trello)
	}
}

func TestInternalErrorsStayInTheLog(t *testing.T) {
	secret := errors.New("open /var/lib/pmsync/pmsync.db: database disk image is malformed")
	paths := []string{"/", "/programs/ehr-upgrade", "/sources", "/api/v1/rollup", "/api/v1/portfolio",
		"/api/v1/programs/ehr-upgrade", "/api/v1/programs/ehr-upgrade/items", "/api/v1/sources"}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			e := newEnv(t, Options{})
			e.eng.err = secret
			rec := e.get(t, p, "")
			if rec.Code != http.StatusInternalServerError {
				t.Errorf("GET %s with a failing engine = %d, want 500", p, rec.Code)
			}
			body := rec.Body.String()
			if strings.Contains(body, "malformed") || strings.Contains(body, "/var/lib") || strings.Contains(body, "EHR Upgrade") {
				t.Errorf("GET %s sent the internal error or a page to the browser:\n%s", p, body)
			}
			ref := regexp.MustCompile(`reference ([0-9a-f]{8})`).FindStringSubmatch(body)
			if ref == nil {
				t.Fatalf("GET %s: the answer gives no reference into the log:\n%s", p, body)
			}
			if !strings.Contains(e.logs.String(), ref[1]) || !strings.Contains(e.logs.String(), "malformed") {
				t.Errorf("the log lacks the error under reference %s:\n%s", ref[1], e.logs)
			}
		})
	}
	t.Run("history", func(t *testing.T) {
		e := newEnv(t, Options{})
		e.hist.err = errors.New("database is locked")
		for _, p := range []string{"/programs/ehr-upgrade", "/api/v1/programs/ehr-upgrade/history"} {
			if rec := e.get(t, p, ""); rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "locked") {
				t.Errorf("GET %s with failing history = %d %s, want a 500 without the cause", p, rec.Code, rec.Body)
			}
		}
	})
}

func TestProgramFilter(t *testing.T) {
	tests := []struct {
		query string
		want  []string
	}{
		{"", nil},
		{"?program=ehr-upgrade", []string{"ehr-upgrade"}},
		{"?program=ehr-upgrade&program=telehealth", []string{"ehr-upgrade", "telehealth"}},
		{"?program=", nil},
		{"?program=&program=telehealth", []string{"telehealth"}},
	}
	for _, path := range []string{"/", "/api/v1/rollup", "/api/v1/portfolio"} {
		for _, tt := range tests {
			t.Run(path+tt.query, func(t *testing.T) {
				e := newEnv(t, Options{})
				if rec := e.get(t, path+tt.query, ""); rec.Code != http.StatusOK {
					t.Fatalf("GET %s%s = %d", path, tt.query, rec.Code)
				}
				want := []engine.RollupOptions{{Programs: tt.want}}
				if diff := cmp.Diff(want, e.eng.calls()); diff != "" {
					t.Errorf("rollup options (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	notReady := errors.New("open /var/lib/pmsync/pmsync.db: database is locked")
	tests := []struct {
		name     string
		path     string
		ready    error
		wantCode int
		wantBody string
	}{
		{"healthz", "/healthz", nil, http.StatusOK, "ok\n"},
		{"healthz while not ready", "/healthz", notReady, http.StatusOK, "ok\n"},
		{"readyz", "/readyz", nil, http.StatusOK, "ready\n"},
		{"readyz not ready", "/readyz", notReady, http.StatusServiceUnavailable, "not ready\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotCtx bool
			e := newEnv(t, Options{Token: token, Ready: func(ctx context.Context) error {
				gotCtx = ctx != nil
				return tt.ready
			}})
			// No Authorization header: probes do not carry the token.
			rec := e.get(t, tt.path, "")
			if rec.Code != tt.wantCode || rec.Body.String() != tt.wantBody {
				t.Errorf("GET %s = %d %q, want %d %q", tt.path, rec.Code, rec.Body, tt.wantCode, tt.wantBody)
			}
			if tt.path == "/readyz" && !gotCtx {
				t.Errorf("Ready was not called with a context")
			}
			if tt.ready != nil && tt.path == "/readyz" && !strings.Contains(e.logs.String(), "database is locked") {
				t.Errorf("the readiness failure was not logged: %s", e.logs)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	pulls := prometheus.NewCounter(prometheus.CounterOpts{Name: "pmsync_test_pulls_total", Help: "Pulls in this test."})
	reg.MustRegister(pulls)
	pulls.Add(3)
	e := newEnv(t, Options{Gatherer: reg})
	rec := e.get(t, "/metrics", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	if !strings.Contains(rec.Body.String(), "pmsync_test_pulls_total 3\n") {
		t.Errorf("metrics lack the gatherer's counter:\n%s", rec.Body)
	}
}

// guarded are the routes that need the token when one is configured.
var guarded = []string{
	"/", "/?program=ehr-upgrade", "/programs/ehr-upgrade", "/sources",
	"/api/v1/rollup", "/api/v1/portfolio", "/api/v1/programs/ehr-upgrade", "/api/v1/programs/ehr-upgrade/items?kind=risk",
	"/api/v1/programs/ehr-upgrade/history", "/api/v1/sources", "/metrics",
}

func TestAuth(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "pmsync_test_total", Help: "A test counter."}))
	e := newEnv(t, Options{Token: token, Gatherer: reg})
	headers := []struct {
		name, value string
		ok          bool
	}{
		{"none", "", false},
		{"bearer", "Bearer " + token, true},
		{"lowercase scheme", "bearer " + token, true},
		{"wrong token", "Bearer not-the-token", false},
		{"token prefix", "Bearer " + token[:len(token)-1], false},
		{"token with suffix", "Bearer " + token + "x", false},
		{"no scheme", token, false},
		{"basic scheme", "Basic " + token, false},
		{"empty bearer", "Bearer ", false},
	}
	type route struct {
		path   string
		public bool
	}
	var paths []route
	for _, p := range guarded {
		paths = append(paths, route{p, false})
	}
	paths = append(paths, route{"/healthz", true}, route{"/readyz", true}, route{e.srv.cssPath, true})
	for _, p := range paths {
		for _, h := range headers {
			t.Run(p.path+"/"+h.name, func(t *testing.T) {
				rec := e.get(t, p.path, h.value)
				wantCode := http.StatusUnauthorized
				if p.public || h.ok {
					wantCode = http.StatusOK
				}
				if rec.Code != wantCode {
					t.Errorf("GET %s with %s authorization = %d, want %d", p.path, h.name, rec.Code, wantCode)
				}
				if wantCode == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
					t.Errorf("401 without WWW-Authenticate")
				}
				if strings.Contains(rec.Body.String(), token) {
					t.Errorf("GET %s response body contains the token", p.path)
				}
				for k, vs := range rec.Header() {
					for _, v := range vs {
						if strings.Contains(v, token) {
							t.Errorf("GET %s header %s contains the token", p.path, k)
						}
					}
				}
			})
		}
	}
	if strings.Contains(e.logs.String(), token) {
		t.Errorf("the token was logged: %s", e.logs)
	}
}

func TestNotFound(t *testing.T) {
	e := newEnv(t, Options{Token: token})
	for _, path := range []string{"/nope", "/index.html", "/api/v1/rollup/extra", "/api/v2/rollup", "/api/", "/healthz/x", "/programs/", "/programs/ehr-upgrade/x", "/assets/"} {
		for _, auth := range []string{"", "Bearer " + token} {
			rec := e.get(t, path, auth)
			if rec.Code != http.StatusNotFound {
				t.Errorf("GET %s (authorization %t) = %d, want 404", path, auth != "", rec.Code)
			}
			if strings.Contains(rec.Body.String(), token) {
				t.Errorf("GET %s response body contains the token", path)
			}
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t, Options{Token: token})
	for _, path := range guarded {
		rec := e.do(t, http.MethodPost, path, "Bearer "+token)
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST %s = %d, want 405", path, rec.Code)
		}
	}
	if n := len(e.eng.calls()); n != 0 {
		t.Errorf("a POST reached the engine %d times", n)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, Options{Token: token, Ready: func(context.Context) error { return errors.New("down") }})
	want := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	}
	requests := []struct{ path, auth string }{
		{"/", ""}, // 401
		{"/healthz", ""},
		{"/readyz", ""}, // 503
		{"/nope", ""},   // 404
		{"/programs/nope", "Bearer " + token},
	}
	for _, p := range guarded {
		requests = append(requests, struct{ path, auth string }{p, "Bearer " + token})
	}
	for _, r := range requests {
		rec := e.get(t, r.path, r.auth)
		for k, v := range want {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("GET %s (%d): %s = %q, want %q", r.path, rec.Code, k, got, v)
			}
		}
	}
}
