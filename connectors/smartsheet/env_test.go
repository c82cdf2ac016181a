package smartsheet

import (
	"context"
	"github.com/pmsync/pmsync/sandbox"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox/smartsheetsim"
)

const secret = "tok-3x4mpl3-s3cr3t"

var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// env is a fake Smartsheet and a connector talking to it.
type env struct {
	sim    *smartsheetsim.Server
	ts     *httptest.Server
	clk    *sandbox.Clock
	conn   *Connector
	sleeps *sandbox.Sleeps
}

func newEnv(t *testing.T, p connectors.Params) *env {
	t.Helper()
	e := &env{clk: sandbox.NewClock(t0), sleeps: &sandbox.Sleeps{}}
	e.sim = smartsheetsim.New(smartsheetsim.Options{Token: secret, Now: e.clk.Now})
	e.ts = e.sim.Start()
	t.Cleanup(e.ts.Close)
	p.Kind = Kind
	if p.Name == "" {
		p.Name = "pmo-sheets"
	}
	p.BaseURL = smartsheetsim.BaseURL(e.ts)
	if p.Credentials.Token == "" {
		p.Credentials.Token = secret
	}
	p.Sleep = e.sleeps.Sleep
	p.Now = e.clk.Now
	c, err := New(p)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.conn = c
	return e
}

func scopeOf(id int64) connectors.Scope {
	return connectors.Scope{Source: "pacs-plan", Config: Scope{Sheet: itoa(id)}}
}

// store is a stand-in for the engine: it applies pages the way the engine
// promises to (records, deletions, live list and cursor of a page together)
// and counts what happened.
type store struct {
	items      map[string]pmsync.Record
	upserts    map[string]int
	tombstoned map[string]bool
	cursor     connectors.Cursor
	pages      []connectors.Page
}

func newStore() *store {
	return &store{items: map[string]pmsync.Record{}, upserts: map[string]int{}, tombstoned: map[string]bool{}}
}

func (s *store) page(p connectors.Page) error {
	s.pages = append(s.pages, p)
	for _, r := range p.Records {
		s.items[r.ExternalID] = r
		s.upserts[r.ExternalID]++
		delete(s.tombstoned, r.ExternalID)
	}
	for _, id := range p.Deleted {
		s.tombstoned[id] = true
	}
	if p.HasLive {
		live := map[string]bool{}
		for _, id := range p.Live {
			live[id] = true
		}
		for id := range s.items {
			if !live[id] {
				s.tombstoned[id] = true
			}
		}
	}
	if p.Next != "" {
		s.cursor = p.Next
	}
	return nil
}

// pull runs one pull into the store and returns the pages it delivered.
func (s *store) pull(t *testing.T, c *Connector, scope connectors.Scope) []connectors.Page {
	t.Helper()
	before := len(s.pages)
	if err := c.Pull(context.Background(), scope, s.cursor, s.page); err != nil {
		t.Fatalf("Pull: %v", err)
	}
	return s.pages[before:]
}

// sheetTarget is the push target of a rollup sheet.
func sheetTarget(id int64, options map[string]string) connectors.Target {
	return connectors.Target{Key: "sheet=" + itoa(id), Config: Target{Sheet: itoa(id), Options: options}}
}
