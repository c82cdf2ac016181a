package asana

import (
	"context"
	"github.com/pmsync/pmsync/sandbox"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox/asanasim"
)

const token = "asana-pat-1/1205000000000000:0123456789abcdef"

// t0 is "now" for every test: the fake's clock starts here.
var t0 = time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)

// fixture is a fake Asana with one generated project and a connector on it.
type fixture struct {
	sim     *asanasim.Server
	ts      *httptest.Server
	clock   *sandbox.Clock
	sleep   *sandbox.Sleeps
	project string
	c       *Connector
	scope   connectors.Scope
}

type fixtureOpts struct {
	tasks   int
	badAuth bool
	params  func(*connectors.Params)
}

func newFixture(t *testing.T, o fixtureOpts) *fixture {
	t.Helper()
	f := &fixture{clock: sandbox.NewClock(t0), sleep: &sandbox.Sleeps{}}
	f.sim = asanasim.New(asanasim.Options{Token: token, Now: f.clock.Now})
	f.project = f.sim.Generate("Telehealth Launch", o.tasks, 7, t0)
	f.ts = f.sim.Start()
	t.Cleanup(f.ts.Close)
	p := connectors.Params{
		Name:        "asana",
		Kind:        Kind,
		BaseURL:     f.ts.URL + asanasim.BasePath,
		Credentials: connectors.Credentials{Token: token},
		// Fast enough that the limiter never makes a test wait; the
		// limiter test sets its own.
		RateLimit: connectors.RateLimit{PerMinute: 600000, Burst: 1000},
		Now:       f.clock.Now,
		Sleep:     f.sleep.Sleep,
	}
	if o.badAuth {
		p.Credentials.Token = "wrong-token-value"
	}
	if o.params != nil {
		o.params(&p)
	}
	c, err := New(p)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.c = c
	f.scope = connectors.Scope{Source: "telehealth-asana", Config: Scope{Project: f.project}}
	return f
}

// pull runs one Pull and returns its pages.
func (f *fixture) pull(t *testing.T, cur connectors.Cursor) []connectors.Page {
	t.Helper()
	var pages []connectors.Page
	err := f.c.Pull(context.Background(), f.scope, cur, func(p connectors.Page) error {
		pages = append(pages, p)
		return nil
	})
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if len(pages) == 0 {
		t.Fatal("Pull delivered no page")
	}
	return pages
}

func recordIDs(pages []connectors.Page) []string {
	var out []string
	for _, p := range pages {
		for _, r := range p.Records {
			out = append(out, r.ExternalID)
		}
	}
	return out
}

func taskGIDs(ts []asanasim.Task) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.GID
	}
	return out
}

// calls counts the fake's requests by method and path.
func (f *fixture) calls(method, path string) []asanasim.Call {
	var out []asanasim.Call
	for _, c := range f.sim.Calls() {
		if c.Method == method && c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

func ptr(f float64) *float64 { return &f }

// rollup is a hand-built rollup for push tests.
func rollup(version string, health pmsync.HealthStatus) pmsync.Rollup {
	return pmsync.Rollup{
		ID:      "telehealth",
		Name:    "Telehealth Launch",
		AsOf:    "2026-11-26",
		Version: version,
		Health:  pmsync.Health{Status: health, Reasons: []string{"1 milestone late: Pilot go-live: Family Medicine (due 2026-11-02)"}},
		Progress: pmsync.Progress{
			Done: 85, Total: 200, Percent: 42.5,
		},
		Milestones: pmsync.MilestoneCounts{Total: 8, Done: 3, Late: 1, DueSoon: 1},
		Risks:      pmsync.RiskCounts{Open: 9, RedFlags: 2},
		Budget: pmsync.Budget{
			Currency: "USD", Planned: 250000, Actual: 98000.5,
			BurnPercent: ptr(39.2), ElapsedPercent: ptr(50), VariancePoints: ptr(-10.8),
		},
		Late:     []pmsync.ItemRef{{Title: "Pilot go-live: Family Medicine", Due: "2026-11-02"}},
		RedFlags: []pmsync.ItemRef{{Title: "Video vendor misses BAA signature date", Score: 20}, {Title: "Interface engine upgrade slips", Score: 16}},
		Changes:  []string{"health amber → red", "progress 40.0% → 42.5% (+2.5 points)"},
	}
}

// target is the push target of a project gid.
func target(project string) connectors.Target {
	return connectors.Target{Key: "project=" + project, Config: Target{Project: project}}
}
