package jira

import (
	"net/http"
	"testing"
	"time"

	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/connectortest"
	"github.com/pmsync/pmsync/sandbox/jirasim"
)

// TestContract runs the contract every connector meets against both
// flavors of the simulator.
func TestContract(t *testing.T) {
	for _, flavor := range []jirasim.Flavor{jirasim.Cloud, jirasim.DataCenter} {
		t.Run(string(flavor), func(t *testing.T) {
			connectortest.Run(t, connectortest.Harness{
				Records: 250,
				New: func(t *testing.T, badAuth bool) (connectors.Connector, connectors.Scope, connectortest.Fake) {
					e := newEnv(t, envOpts{flavor: flavor, issues: 250, badToken: badAuth})
					return e.conn, projectScope, contractFake{e}
				},
			})
		})
	}
}

// contractFake drives the simulator for the contract test.
type contractFake struct{ e *env }

func (f contractFake) Change(t *testing.T, k int) []string {
	t.Helper()
	// An hour is far past the connector's overlap.
	f.e.clock.Advance(time.Hour)
	issues := f.e.sim.Issues()
	var ids []string
	for i := range k {
		is := issues[(i*37)%len(issues)]
		if err := f.e.sim.Update(is.Key, func(i *jirasim.Issue) { i.Status = "In Progress" }); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, is.ID)
	}
	return ids
}

func (f contractFake) Delete(t *testing.T) string {
	t.Helper()
	is := f.e.sim.Issues()[1]
	if err := f.e.sim.Delete(is.Key); err != nil {
		t.Fatal(err)
	}
	return is.ID
}

func (f contractFake) Fail(t *testing.T, status, times int) {
	fault := jirasim.Fault{Method: http.MethodPost, Path: f.e.searchPath(), Status: status, Times: times}
	if status == http.StatusTooManyRequests {
		fault.Header = map[string]string{"Retry-After": "1"}
	}
	f.e.sim.Inject(fault)
}

func (f contractFake) Malformed(t *testing.T) {
	f.e.sim.Inject(jirasim.Fault{Method: http.MethodPost, Path: f.e.searchPath(), Malformed: true})
}

func (f contractFake) Secret() string { return testToken }
