package trello

import (
	"testing"
	"time"

	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/connectortest"
	"github.com/pmsync/pmsync/sandbox/trellosim"
)

// contractFake drives the Trello simulator for the shared contract test.
type contractFake struct {
	f      *simFixture
	secret string
}

func (cf *contractFake) Change(t *testing.T, k int) []string {
	t.Helper()
	cf.f.clock.Advance(time.Hour)
	var ids []string
	for _, c := range cf.f.sim.Cards(cf.f.board)[:k] {
		if err := cf.f.sim.UpdateCard(c.ID, func(c *trellosim.Card) { c.Name += " (rescheduled)" }); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	return ids
}

func (cf *contractFake) Delete(t *testing.T) string {
	t.Helper()
	cf.f.clock.Advance(time.Hour)
	id := cf.f.sim.Cards(cf.f.board)[1].ID
	if err := cf.f.sim.DeleteCard(id); err != nil {
		t.Fatal(err)
	}
	return id
}

func (cf *contractFake) Fail(t *testing.T, status, times int) {
	cf.f.sim.Inject(trellosim.Fault{Path: "/boards/" + cf.f.board + "/cards", Status: status, Times: times})
}

func (cf *contractFake) Malformed(t *testing.T) {
	cf.f.sim.Inject(trellosim.Fault{Path: "/boards/" + cf.f.board + "/cards", Malformed: true})
}

func (cf *contractFake) Secret() string { return cf.secret }

func TestContract(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		Records: 250,
		New: func(t *testing.T, badAuth bool) (connectors.Connector, connectors.Scope, connectortest.Fake) {
			f := newSim(t, simOpts{cards: 250, badAuth: badAuth})
			f.c.PageRecords = 100
			f.c.CardsPageSize = 100
			return f.c, f.scope, &contractFake{f: f, secret: testToken}
		},
	})
}
