package sqlite

import (
	"context"
	"errors"
	"github.com/pmsync/pmsync/store"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestPushStateMachine walks a push through MarkSending, which only this
// backend has (the contract's way to "sending" is ClaimPush), and reads
// the stored row, receipt included, which the contract does not expose.
func TestPushStateMachine(t *testing.T) {
	ctx := context.Background()
	type op struct {
		name    string // sending, delivered, failed
		wantErr error
	}
	tests := []struct {
		name         string
		ops          []op
		wantStatus   string
		wantAttempts int
		wantError    string
		wantReceipt  string
		pending      bool // still returned by PendingPushes
	}{
		{"new", nil, store.PushPending, 0, "", "", true},
		{"delivered first time", []op{{"sending", nil}, {"delivered", nil}}, store.PushDelivered, 1, "", "rcpt", false},
		{"retried after failure", []op{{"sending", nil}, {"failed", nil}, {"sending", nil}, {"delivered", nil}}, store.PushDelivered, 2, "", "rcpt", false},
		{"failed stays pending", []op{{"sending", nil}, {"failed", nil}}, store.PushFailed, 1, "boom", "", true},
		{"crash while sending is retried", []op{{"sending", nil}, {"sending", nil}}, store.PushSending, 2, "", "", true},
		{"closed without sending (superseded)", []op{{"delivered", nil}}, store.PushDelivered, 0, "", "rcpt", false},
		{"cannot send a delivered push", []op{{"sending", nil}, {"delivered", nil}, {"sending", store.ErrPushState}}, store.PushDelivered, 1, "", "rcpt", false},
		{"cannot fail a delivered push", []op{{"sending", nil}, {"delivered", nil}, {"failed", store.ErrPushState}}, store.PushDelivered, 1, "", "rcpt", false},
		{"cannot deliver twice", []op{{"sending", nil}, {"delivered", nil}, {"delivered", store.ErrPushState}}, store.PushDelivered, 1, "", "rcpt", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTest(t)
			if ok, err := db.Enqueue(ctx, "asana", "ehr", "v1", []byte("{}"), t0); err != nil || !ok {
				t.Fatalf("Enqueue = %v, %v", ok, err)
			}
			queued, err := db.PendingPushes(ctx, "asana")
			if err != nil || len(queued) != 1 {
				t.Fatalf("PendingPushes = %v, %v; want the one push", queued, err)
			}
			id := queued[0].ID
			last := t0
			for i, o := range tt.ops {
				at := t0.Add(time.Duration(i+1) * time.Minute)
				var err error
				switch o.name {
				case "sending":
					err = db.MarkSending(ctx, id, at)
				case "delivered":
					err = db.MarkDelivered(ctx, id, store.PushOutcome{Receipt: "rcpt", At: at})
				case "failed":
					err = db.MarkFailed(ctx, id, store.PushOutcome{Error: "boom", At: at})
				}
				if !errors.Is(err, o.wantErr) || (o.wantErr == nil) != (err == nil) {
					t.Fatalf("op %d %s: error %v, want %v", i, o.name, err, o.wantErr)
				}
				if err == nil {
					last = at
				}
			}
			var got *store.Push
			rows, err := db.read.QueryContext(ctx, "SELECT status, attempts, last_error, receipt, updated FROM outbox WHERE id = ?", id)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var p store.Push
				var updated string
				if err := rows.Scan(&p.Status, &p.Attempts, &p.LastError, &p.Receipt, &updated); err != nil {
					t.Fatal(err)
				}
				p.Updated, _ = time.Parse(time.RFC3339Nano, updated)
				got = &p
			}
			want := &store.Push{Status: tt.wantStatus, Attempts: tt.wantAttempts, LastError: tt.wantError, Receipt: tt.wantReceipt, Updated: last}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("push (-want +got):\n%s", diff)
			}
			pending, err := db.PendingPushes(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			if (len(pending) == 1) != tt.pending {
				t.Errorf("PendingPushes = %d pushes, want pending %v", len(pending), tt.pending)
			}
		})
	}
	t.Run("unknown id", func(t *testing.T) {
		db := openTest(t)
		for name, err := range map[string]error{
			"sending":   db.MarkSending(ctx, 7, t0),
			"delivered": db.MarkDelivered(ctx, 7, store.PushOutcome{Receipt: "r", At: t0}),
			"failed":    db.MarkFailed(ctx, 7, store.PushOutcome{Error: "e", At: t0}),
		} {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s of an unknown push: error %v, want ErrNotFound", name, err)
			}
		}
	})
}
