package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pmsync/pmsync/store"
)

var audit = []test{
	{"EveryOutcomeIsAudited", testEveryOutcomeIsAudited},
	{"SupersedeRefusedIsNotAudited", testSupersedeRefusedIsNotAudited},
	{"DeliveriesFilterAndPrune", testDeliveriesFilterAndPrune},
}

// The SHA-256 of the payloads the tests queue, computed outside the code
// under test (sha256sum).
const (
	hashEmptyObject = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" // {}
	hashEhr         = "ad65a28696c8b3dec0056562b2cd04337eb3aa80d4bf08d427cc476589638c9d" // {"id":"ehr"}
)

func queue(t *testing.T, db store.Store, target, program, version, payload string, at time.Time) int64 {
	t.Helper()
	ctx := context.Background()
	if ok, err := db.Enqueue(ctx, target, program, version, []byte(payload), at); err != nil || !ok {
		t.Fatalf("Enqueue = %v, %v", ok, err)
	}
	pending, err := db.PendingPushes(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pending {
		if p.Program == program && p.Version == version {
			return p.ID
		}
	}
	t.Fatalf("push %s/%s/%s not pending", target, program, version)
	return 0
}

func testEveryOutcomeIsAudited(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	id := queue(t, db, "sheet:rollup", "ehr", "v1", `{"id":"ehr"}`, t0)
	old := queue(t, db, "sheet:rollup", "pacs", "v0", `{}`, t0)
	claim := func(at time.Time) {
		t.Helper()
		if ok, err := db.ClaimPush(ctx, id, at, time.Minute); err != nil || !ok {
			t.Fatalf("ClaimPush = %v, %v", ok, err)
		}
	}
	claim(t0.Add(time.Minute))
	if err := db.MarkFailed(ctx, id, store.PushOutcome{At: t0.Add(2 * time.Minute), Error: "HTTP 503"}); err != nil {
		t.Fatal(err)
	}
	claim(t0.Add(3 * time.Minute))
	if err := db.MarkDelivered(ctx, id, store.PushOutcome{Outcome: store.DeliveryExisting, At: t0.Add(4 * time.Minute),
		PayloadHash: "0f0f", Payload: []byte(`{"sent":true}`), Receipt: "row 12"}); err != nil {
		t.Fatal(err)
	}
	// A refused move leaves no entry behind.
	if err := db.MarkDelivered(ctx, id, store.PushOutcome{At: t0.Add(5 * time.Minute)}); !errors.Is(err, store.ErrPushState) {
		t.Fatalf("second MarkDelivered = %v, want ErrPushState", err)
	}
	if err := db.MarkFailed(ctx, id, store.PushOutcome{At: t0.Add(5 * time.Minute), Error: "late"}); !errors.Is(err, store.ErrPushState) {
		t.Fatalf("MarkFailed after delivery = %v, want ErrPushState", err)
	}
	if ok, err := db.SupersedePush(ctx, old, store.PushOutcome{At: t0.Add(6 * time.Minute), Receipt: "superseded by v1"}, time.Minute); err != nil || !ok {
		t.Fatalf("SupersedePush = %v, %v", ok, err)
	}
	// An outcome that does not fit the move is refused, and not audited.
	if err := db.MarkDelivered(ctx, id, store.PushOutcome{Outcome: store.DeliveryFailed, At: t0}); err == nil {
		t.Error("MarkDelivered with outcome failed was accepted")
	}

	got, err := db.Deliveries(ctx, store.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Delivery{
		{PushID: old, Target: "sheet:rollup", Program: "pacs", Version: "v0", Attempt: 0, PushOutcome: store.PushOutcome{
			Outcome: store.DeliverySuperseded, At: t0.Add(6 * time.Minute), PayloadHash: hashEmptyObject, Receipt: "superseded by v1"}},
		{PushID: id, Target: "sheet:rollup", Program: "ehr", Version: "v1", Attempt: 2, PushOutcome: store.PushOutcome{
			Outcome: store.DeliveryExisting, At: t0.Add(4 * time.Minute), PayloadHash: "0f0f", Payload: []byte(`{"sent":true}`), Receipt: "row 12"}},
		{PushID: id, Target: "sheet:rollup", Program: "ehr", Version: "v1", Attempt: 1, PushOutcome: store.PushOutcome{
			Outcome: store.DeliveryFailed, At: t0.Add(2 * time.Minute), PayloadHash: hashEhr, Error: "HTTP 503"}},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(store.Delivery{}, "ID")); diff != "" {
		t.Errorf("Deliveries (-want +got):\n%s", diff)
	}
}

func testSupersedeRefusedIsNotAudited(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	id := queue(t, db, "t", "ehr", "v1", `{}`, t0)
	if ok, err := db.ClaimPush(ctx, id, t0, 10*time.Minute); err != nil || !ok {
		t.Fatalf("ClaimPush = %v, %v", ok, err)
	}
	if ok, err := db.SupersedePush(ctx, id, store.PushOutcome{At: t0.Add(time.Minute)}, 10*time.Minute); err != nil || ok {
		t.Fatalf("SupersedePush of a fresh claim = %v, %v; want left alone", ok, err)
	}
	if got, err := db.Deliveries(ctx, store.DeliveryFilter{}); err != nil || len(got) != 0 {
		t.Errorf("Deliveries = %v, %v; want none", got, err)
	}
}

func testDeliveriesFilterAndPrune(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	// Four deliveries an hour apart: ehr and pacs to two targets.
	type entry struct{ target, program string }
	entries := []entry{{"a", "ehr"}, {"b", "ehr"}, {"a", "pacs"}, {"b", "pacs"}}
	for i, e := range entries {
		at := t0.Add(time.Duration(i) * time.Hour)
		id := queue(t, db, e.target, e.program, "v1", `{}`, at)
		if err := db.MarkDelivered(ctx, id, store.PushOutcome{At: at}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		f    store.DeliveryFilter
		want []entry // newest first
	}{
		{"all", store.DeliveryFilter{}, []entry{{"b", "pacs"}, {"a", "pacs"}, {"b", "ehr"}, {"a", "ehr"}}},
		{"target", store.DeliveryFilter{Target: "a"}, []entry{{"a", "pacs"}, {"a", "ehr"}}},
		{"program", store.DeliveryFilter{Program: "ehr"}, []entry{{"b", "ehr"}, {"a", "ehr"}}},
		{"both", store.DeliveryFilter{Target: "b", Program: "pacs"}, []entry{{"b", "pacs"}}},
		{"since (inclusive)", store.DeliveryFilter{Since: t0.Add(2 * time.Hour)}, []entry{{"b", "pacs"}, {"a", "pacs"}}},
		{"until (exclusive)", store.DeliveryFilter{Until: t0.Add(time.Hour)}, []entry{{"a", "ehr"}}},
		{"limit keeps the newest", store.DeliveryFilter{Limit: 1}, []entry{{"b", "pacs"}}},
		{"outcome", store.DeliveryFilter{Outcome: store.DeliveryFailed}, nil},
		{"version", store.DeliveryFilter{Version: "v2"}, nil},
	}
	for _, tt := range tests {
		got, err := db.Deliveries(ctx, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		var gotE []entry
		for _, d := range got {
			gotE = append(gotE, entry{d.Target, d.Program})
		}
		if diff := cmp.Diff(tt.want, gotE, cmp.AllowUnexported(entry{})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	n, err := db.PruneDeliveries(ctx, t0.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PruneDeliveries = %d, %v; want 2", n, err)
	}
	left, err := db.Deliveries(ctx, store.DeliveryFilter{})
	if err != nil || len(left) != 2 || left[1].At != t0.Add(2*time.Hour) {
		t.Errorf("after pruning: %+v, %v; want the two newest", left, err)
	}
}
