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
	// One delivery, audited now.
	if _, err := e.db.Enqueue(ctx, "tracker:issue=PMO-1", "ehr", "v1", []byte(`{}`), e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	pending, err := e.db.PendingPushes(ctx, "")
	if err != nil || len(pending) != 1 {
		t.Fatal(pending, err)
	}
	if ok, err := e.db.ClaimPush(ctx, pending[0].ID, e.clock.Now(), time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := e.db.MarkDelivered(ctx, pending[0].ID, store.PushOutcome{At: e.clock.Now(), Receipt: "comment 1"}); err != nil {
		t.Fatal(err)
	}
	// Runs at T, T+1h and T+2h, a delivery at T+3h; now T+90 days+90
	// minutes: the first two runs are past the 90 days, and the first stays
	// all the same (the source's first successful run); the delivered
	// outbox row is past its 30 days.
	e.clock.Advance(90*24*time.Hour - 3*time.Hour + 90*time.Minute)
	if p, ran, err := eng.Prune(ctx); err != nil || !ran || p != (engine.Pruned{Pruned: store.Pruned{SyncRuns: 1, Outbox: 1}}) {
		t.Fatalf("Prune after 90 days = %+v, %v, %v; want the middle run and the delivered push pruned", p, ran, err)
	}
	e.clock.Advance(30 * 24 * time.Hour)
	// Another replica is pruning: this one leaves it alone.
	if _, got, err := e.db.AcquireLease(ctx, "prune", "other-host/1/beef", e.clock.Now(), time.Hour); err != nil || !got {
		t.Fatal(got, err)
	}
	if p, ran, err := eng.Prune(ctx); err != nil || ran || p != (engine.Pruned{}) {
		t.Errorf("Prune with another replica holding the lease = %+v, %v, %v; want skipped", p, ran, err)
	}
	if err := e.db.ReleaseLease(ctx, "prune", "other-host/1/beef"); err != nil {
		t.Fatal(err)
	}
	// The newest run stays, whatever its age: it says when the source
	// last synced.
	// The newest run stays, whatever its age (it says when the source last
	// synced), and so does the first. The delivery is still in the audit,
	// kept six years by default.
	if p, ran, err := eng.Prune(ctx); err != nil || !ran || p != (engine.Pruned{Pruned: store.Pruned{}}) {
		t.Errorf("Prune after 120 days = %+v, %v, %v; want nothing more", p, ran, err)
	}
	runs, err := e.db.Runs(ctx, "ehr-jira", 0)
	if err != nil || len(runs) != 2 {
		t.Errorf("%d runs left (%v), want the first and the newest", len(runs), err)
	}
	if d, err := e.db.Deliveries(ctx, store.DeliveryFilter{}); err != nil || len(d) != 1 {
		t.Errorf("audit after 120 days: %d entries (%v), want the one delivery", len(d), err)
	}
	e.clock.Advance(6 * 365 * 24 * time.Hour)
	if p, _, err := eng.Prune(ctx); err != nil || p.Audit != 1 {
		t.Errorf("Prune after six years = %+v, %v; want the audit entry pruned", p, err)
	}
	if v, ok := metricValue(t, reg, "pmsync_pruned_rows_total", map[string]string{"kind": "sync_runs"}); !ok || v != 1 {
		t.Errorf("pmsync_pruned_rows_total{kind=sync_runs} = %v, want 1", v)
	}
	if v, ok := metricValue(t, reg, "pmsync_pruned_rows_total", map[string]string{"kind": "audit"}); !ok || v != 1 {
		t.Errorf("pmsync_pruned_rows_total{kind=audit} = %v, want 1", v)
	}
}
