package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/configs"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/jirasim"
)

// TestLogLinesAndMetrics: every log line names its connector once,
// durations carry their unit, each delivery is logged at info with its
// target, program, version and outcome, and /metrics has the quarantine
// gauge.
func TestLogLinesAndMetrics(t *testing.T) {
	ctx := context.Background()
	clk := sandbox.NewClock(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	demo, err := sandbox.Start(clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(demo.Close)
	text, err := demo.Config(configs.Demo, filepath.Join(t.TempDir(), "demo.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("demo.yaml", text, connectors.Default, demo.Lookup)
	if err != nil {
		t.Fatal(err)
	}
	// One Jira issue fails to map (a task with no summary), so that the
	// quarantine gauge has something to count.
	key := ""
	for _, is := range demo.Jira.Issues() {
		if is.Type == "Task" {
			key = is.Key
			break
		}
	}
	if err := demo.Jira.Update(key, func(i *jirasim.Issue) { i.Summary = "" }); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	db := openStore(t, cfg.Database)
	eng, err := engine.New(cfg, db, engine.Options{Log: zerolog.New(&logs).Level(zerolog.DebugLevel), Now: clk.Now, Metrics: engine.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	pushes, err := eng.Push(ctx, false)
	if err != nil {
		t.Fatal(err)
	}

	pushLines := 0
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if n := strings.Count(line, `"connector":`); n > 1 {
			t.Errorf("connector appears %d times: %s", n, line)
		}
		if strings.Contains(line, `"duration"`) {
			t.Errorf("a duration without its unit: %s", line)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		switch m["message"] {
		case "sync run":
			if _, ok := m["duration_ms"].(float64); !ok {
				t.Errorf("sync run line without duration_ms: %s", line)
			}
		case "push":
			pushLines++
			if m["level"] != "info" || m["target"] == "" || m["program"] == "" || m["version"] == "" || m["outcome"] != "delivered" {
				t.Errorf("push line lacks target, program, version or outcome: %s", line)
			}
		}
		if strings.Contains(line, "/rest/api") && !strings.Contains(line, `"connector":"jira"`) {
			t.Errorf("a Jira request line does not name its connector: %s", line)
		}
	}
	if pushLines != len(pushes) {
		t.Errorf("%d push lines for %d deliveries", pushLines, len(pushes))
	}
	if got := gauge(t, reg, "pmsync_quarantined_records", "ehr-jira"); got != 1 {
		t.Errorf("pmsync_quarantined_records{source=ehr-jira} = %v, want 1", got)
	}
}

// gauge reads one series of a gauge in reg.
func gauge(t *testing.T, reg *prometheus.Registry, name, source string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "source" && l.GetValue() == source {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{source=%q}", name, source)
	return 0
}

// TestDryRunAndConnectionSubsets: a dry-run push needs no connector, and
// an engine built for some connections syncs their sources only.
func TestDryRunAndConnectionSubsets(t *testing.T) {
	ctx := context.Background()
	p := startPortfolio(t)
	if _, err := p.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	ro, err := engine.New(p.eng.Config(), p.db, engine.Options{Log: zerolog.Nop(), Now: p.clock.Now, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, push := range p.eng.Config().Push {
		want += len(push.Programs)
	}
	res, err := ro.Push(ctx, true)
	if err != nil || len(res) != want || want == 0 {
		t.Fatalf("dry run without connectors: %d results, want %d, %v", len(res), want, err)
	}
	for _, r := range res {
		if r.Status != "dry-run" {
			t.Errorf("%s %s: %s, want dry-run", r.Target, r.Program, r.Status)
		}
	}
	if _, err := ro.Push(ctx, false); err == nil {
		t.Error("a real push without connectors succeeded")
	}

	only, err := engine.New(p.eng.Config(), p.db, engine.Options{Log: zerolog.Nop(), Now: p.clock.Now, Connections: []string{"asana"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := only.Connector("jira"); ok {
		t.Error("a jira connector was built for an engine of asana only")
	}
	results, err := only.Sync(ctx, engine.SyncOptions{Sources: []string{"telehealth-asana"}})
	if err != nil || len(results) != 1 || results[0].Status != "ok" {
		t.Errorf("sync of the asana source: %+v, %v", results, err)
	}
	// A source whose connector was not built fails with a reason, not a panic.
	results, err = only.Sync(ctx, engine.SyncOptions{Sources: []string{"ehr-jira"}})
	if err == nil || len(results) != 1 || !strings.Contains(results[0].Err.Error(), "connection jira was not set up") {
		t.Errorf("sync of a source without its connector: %+v, %v", results, err)
	}
}
