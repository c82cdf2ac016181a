package all_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
	_ "github.com/pmsync/pmsync/connectors/all"
	"github.com/pmsync/pmsync/connectors/connectortest"
	"github.com/pmsync/pmsync/sandbox"
)

// profile is how the contract test meets one connector kind: a simulator
// seeded with some records, the YAML a user would write for a connection
// to it and a source on it, and the fake that drives the simulator.
type profile struct {
	name    string // sub-test name; the kind when it has one profile
	records int
	// start starts the simulator with records records on clk. conn holds
	// the connection's keys besides name and kind (YAML lines), scope the
	// source's scope (YAML flow mapping), env the secrets they name.
	start func(t *testing.T, clk *sandbox.Clock, records int) (conn, scope string, env map[string]string, fake fake)
}

// fake is connectortest.Fake without Secret, which the harness knows.
type fake interface {
	Change(t *testing.T, k int) []string
	Delete(t *testing.T) string
	Fail(t *testing.T, status, times int)
	Malformed(t *testing.T)
}

// profiles holds every kind's profiles; each kind's file adds its own.
var profiles = map[string][]profile{}

// t0 is when every simulator's clock starts.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// TestEveryKindMeetsTheContract runs the shared connector contract for
// every registered kind, so that a new connector cannot skip it: a kind
// without a profile fails here. Each connector is built the way the daemon
// builds it, from YAML through config and the kind's own Spec.
func TestEveryKindMeetsTheContract(t *testing.T) {
	kinds := connectors.Default.Kinds()
	if len(kinds) == 0 {
		t.Fatal("no connector kinds are registered")
	}
	for _, kind := range kinds {
		ps := profiles[kind]
		if len(ps) == 0 {
			t.Errorf("connector kind %s has no contract profile in connectors/all", kind)
			continue
		}
		for _, p := range ps {
			t.Run(p.name, func(t *testing.T) {
				connectortest.Run(t, connectortest.Harness{
					Records: p.records,
					New: func(t *testing.T, badAuth bool) (connectors.Connector, connectors.Scope, connectortest.Fake) {
						return build(t, kind, p, badAuth)
					},
				})
			})
		}
	}
}

// build starts a profile's simulator and builds its connector and scope
// through config, as the daemon does.
func build(t *testing.T, kind string, p profile, badAuth bool) (connectors.Connector, connectors.Scope, connectortest.Fake) {
	t.Helper()
	clk := sandbox.NewClock(t0)
	conn, scope, env, f := p.start(t, clk, p.records)
	var secret string
	for k, v := range env {
		if strings.HasSuffix(k, "_TOKEN") {
			secret = v
			if badAuth {
				env[k] = "wrong-" + v
				secret = env[k]
			}
		}
	}
	text := fmt.Sprintf(`connections:
  - name: contract
    kind: %s
%s
    rate_limit: { per_minute: 600000, burst: 1000 }
programs:
  - id: contract
    sources:
      - { name: contract/src, connection: contract, scope: %s }
`, kind, indent(conn, "    "), scope)
	cfg, err := config.Parse("contract.yaml", []byte(text), connectors.Default, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatalf("config for %s does not load:\n%s\n%v", kind, text, err)
	}
	params, err := cfg.Params("contract")
	if err != nil {
		t.Fatal(err)
	}
	params.Now = clk.Now
	params.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	c, err := cfg.Registry().New(params)
	if err != nil {
		t.Fatalf("build %s connector: %v", kind, err)
	}
	return c, cfg.Sources()[0].Scope, withSecret{f, secret}
}

type withSecret struct {
	fake
	secret string
}

func (w withSecret) Secret() string { return w.secret }

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = prefix + strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n")
}
