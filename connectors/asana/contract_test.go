package asana

import (
	"testing"
	"time"

	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/connectortest"
	"github.com/pmsync/pmsync/sandbox/asanasim"
)

// contractFake drives the Asana fake for the shared contract test.
type contractFake struct {
	f      *fixture
	secret string
}

func (cf *contractFake) Change(t *testing.T, k int) []string {
	t.Helper()
	// Past the overlap, so that only the changed tasks are newer than the
	// incremental pull's modified_since.
	cf.f.clock.Advance(DefaultOverlap + time.Hour)
	var ids []string
	for _, tk := range cf.f.sim.Tasks(cf.f.project)[:k] {
		if err := cf.f.sim.UpdateTask(tk.GID, func(t *asanasim.Task) { t.Name += " (rescheduled)" }); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tk.GID)
	}
	return ids
}

func (cf *contractFake) Delete(t *testing.T) string {
	t.Helper()
	gid := cf.f.sim.Tasks(cf.f.project)[1].GID
	if err := cf.f.sim.DeleteTask(gid); err != nil {
		t.Fatal(err)
	}
	return gid
}

func (cf *contractFake) Fail(t *testing.T, status, times int) {
	cf.f.sim.Inject(asanasim.Fault{Path: "/tasks", Status: status, Times: times, RetryAfter: 2})
}

func (cf *contractFake) Malformed(t *testing.T) {
	cf.f.sim.Inject(asanasim.Fault{Path: "/tasks", Status: 200})
}

func (cf *contractFake) Secret() string { return cf.secret }

func TestContract(t *testing.T) {
	connectortest.Run(t, connectortest.Harness{
		Records: 250,
		New: func(t *testing.T, badAuth bool) (connectors.Connector, connectors.Scope, connectortest.Fake) {
			f := newFixture(t, fixtureOpts{tasks: 250, badAuth: badAuth})
			secret := token
			if badAuth {
				secret = "wrong-token-value"
			}
			return f.c, f.scope, &contractFake{f: f, secret: secret}
		},
	})
}
