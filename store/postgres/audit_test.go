package postgres

import (
	"context"
	"testing"

	"github.com/pmsync/pmsync/store"
)

// TestAuditOutlivesTheOutbox: the audit refers to no outbox row, so the
// outbox's history can be pruned and the deliveries stay listed. (The
// audit's behaviour itself is in the storage contract suite.)
func TestAuditOutlivesTheOutbox(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	if ok, err := db.Enqueue(ctx, "sheet:rollup", "ehr", "v1", []byte("{}"), t0); err != nil || !ok {
		t.Fatalf("Enqueue = %v, %v", ok, err)
	}
	pending, err := db.PendingPushes(ctx, "")
	if err != nil || len(pending) != 1 {
		t.Fatalf("PendingPushes = %v, %v", pending, err)
	}
	if err := db.MarkDelivered(ctx, pending[0].ID, store.PushOutcome{At: t0, Receipt: "row 1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, "DELETE FROM outbox"); err != nil {
		t.Fatalf("the outbox cannot be pruned under the audit: %v", err)
	}
	got, err := db.Deliveries(ctx, store.DeliveryFilter{})
	if err != nil || len(got) != 1 || got[0].Receipt != "row 1" {
		t.Errorf("Deliveries after pruning the outbox = %+v, %v; want the one delivery", got, err)
	}
}
