package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/sandbox/jirasim"
	"github.com/pmsync/pmsync/store"
)

// The prune schedule applies the configured retention (here the default:
// sync runs for 90 days) under the prune lease, so that one replica prunes
// at a time, and counts what it removed in /metrics.
func TestPruneAppliesTheRetentionUnderALease(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 100)
	seed(e.sim, 10, e.clock.Now())
	reg := prometheus.NewRegistry()
	eng, err := engine.New(e.cfg, e.db, engine.Options{Log: zerolog.Nop(), Now: e.clock.Now, Metrics: engine.NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := eng.Sync(ctx, engine.SyncOptions{}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Hour)
	}
	// Runs at T, T+1h and T+2h; now T+90 days+30 minutes: the first is past
	// the 90 days.
	e.clock.Advance(90*24*time.Hour - 3*time.Hour + 30*time.Minute)
	if p, ran, err := eng.Prune(ctx); err != nil || !ran || p != (store.Pruned{SyncRuns: 1}) {
		t.Fatalf("Prune after 90 days = %+v, %v, %v; want the oldest run pruned", p, ran, err)
	}
	e.clock.Advance(30 * 24 * time.Hour)
	// Another replica is pruning: this one leaves it alone.
	if _, got, err := e.db.AcquireLease(ctx, "prune", "other-host/1/beef", e.clock.Now(), time.Hour); err != nil || !got {
		t.Fatal(got, err)
	}
	if p, ran, err := eng.Prune(ctx); err != nil || ran || p != (store.Pruned{}) {
		t.Errorf("Prune with another replica holding the lease = %+v, %v, %v; want skipped", p, ran, err)
	}
	if err := e.db.ReleaseLease(ctx, "prune", "other-host/1/beef"); err != nil {
		t.Fatal(err)
	}
	// The newest run stays, whatever its age: it says when the source
	// last synced.
	if p, ran, err := eng.Prune(ctx); err != nil || !ran || p != (store.Pruned{SyncRuns: 1}) {
		t.Errorf("Prune after 120 days = %+v, %v, %v; want one more run pruned and the newest kept", p, ran, err)
	}
	runs, err := e.db.Runs(ctx, "ehr-jira", 0)
	if err != nil || len(runs) != 1 {
		t.Errorf("%d runs left (%v), want the newest", len(runs), err)
	}
	if v, ok := metricValue(t, reg, "pmsync_pruned_rows_total", map[string]string{"kind": "sync_runs"}); !ok || v != 2 {
		t.Errorf("pmsync_pruned_rows_total{kind=sync_runs} = %v, want 2", v)
	}
}
