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

var outbox = []test{
	{"EnqueueOnce", testEnqueueOnce},
	{"StateMachine", testPushStateMachine},
	{"PayloadRoundTrip", testPushPayload},
	{"ClaimPush", testClaimPush},
	{"SupersedePush", testSupersedePush},
}

func testEnqueueOnce(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	tests := []struct {
		target, program, version string
		want                     bool
	}{
		{"smartsheet", "ehr", "v1", true},
		{"smartsheet", "ehr", "v1", false},
		{"smartsheet", "ehr", "v2", true},
		{"asana", "ehr", "v1", true},
		{"smartsheet", "pacs", "v1", true},
		{"asana", "ehr", "v1", false},
	}
	for i, tt := range tests {
		got, err := db.Enqueue(ctx, tt.target, tt.program, tt.version, []byte(tt.program+tt.version), t0.Add(time.Duration(i)*time.Minute))
		if err != nil || got != tt.want {
			t.Errorf("Enqueue(%s, %s, %s) = %v, %v; want %v", tt.target, tt.program, tt.version, got, err, tt.want)
		}
	}
	push := func(target, program, version string, minute int) store.Push {
		at := t0.Add(time.Duration(minute) * time.Minute)
		return store.Push{Target: target, Program: program, Version: version, Payload: []byte(program + version),
			Status: store.PushPending, Created: at, Updated: at}
	}
	all := []store.Push{
		push("smartsheet", "ehr", "v1", 0),
		push("smartsheet", "ehr", "v2", 2),
		push("asana", "ehr", "v1", 3),
		push("smartsheet", "pacs", "v1", 4),
	}
	for _, tt := range []struct {
		target string
		want   []store.Push
	}{
		{"", all},
		{"asana", all[2:3]},
		{"smartsheet", []store.Push{all[0], all[1], all[3]}},
		{"trello", nil},
	} {
		got, err := db.PendingPushes(ctx, tt.target)
		if err != nil {
			t.Fatal(err)
		}
		// Ids are opaque: a refused Enqueue may use one up.
		if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(store.Push{}, "ID")); diff != "" {
			t.Errorf("PendingPushes(%q) (-want +got):\n%s", tt.target, diff)
		}
	}
	for _, bad := range [][3]string{{"", "ehr", "v1"}, {"asana", "", "v1"}, {"asana", "ehr", ""}} {
		if _, err := db.Enqueue(ctx, bad[0], bad[1], bad[2], nil, t0); err == nil {
			t.Errorf("Enqueue(%q) succeeded, want an error", bad)
		}
	}
}

// testPushStateMachine walks a push through claims, failures and
// deliveries. A claim is the only way to "sending"; a delivered push is
// final and leaves the pending list.
func testPushStateMachine(t *testing.T, open Opener) {
	ctx := context.Background()
	// Steps are a minute apart and a claim's lease is 30 s, so a claim
	// after a claim stands for a sender that died and is taken over.
	const lease = 30 * time.Second
	type op struct {
		name    string // claim, delivered, failed
		want    bool   // claim: whether it is granted
		wantErr error
	}
	tests := []struct {
		name         string
		ops          []op
		wantStatus   string // "" when delivered: no longer listed
		wantAttempts int
		wantError    string
	}{
		{"new", nil, store.PushPending, 0, ""},
		{"delivered first time", []op{{"claim", true, nil}, {"delivered", false, nil}}, "", 0, ""},
		{"retried after failure", []op{{"claim", true, nil}, {"failed", false, nil}, {"claim", true, nil}, {"delivered", false, nil}}, "", 0, ""},
		{"failed stays pending", []op{{"claim", true, nil}, {"failed", false, nil}}, store.PushFailed, 1, "boom"},
		{"failed twice", []op{{"claim", true, nil}, {"failed", false, nil}, {"claim", true, nil}, {"failed", false, nil}}, store.PushFailed, 2, "boom"},
		{"a crash while sending is taken over", []op{{"claim", true, nil}, {"claim", true, nil}}, store.PushSending, 2, ""},
		{"closed without sending (superseded)", []op{{"delivered", false, nil}}, "", 0, ""},
		{"a delivered push cannot be claimed", []op{{"claim", true, nil}, {"delivered", false, nil}, {"claim", false, nil}}, "", 0, ""},
		{"cannot fail a delivered push", []op{{"claim", true, nil}, {"delivered", false, nil}, {"failed", false, store.ErrPushState}}, "", 0, ""},
		{"cannot deliver twice", []op{{"claim", true, nil}, {"delivered", false, nil}, {"delivered", false, store.ErrPushState}}, "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := open(t)
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
				case "claim":
					var got bool
					got, err = db.ClaimPush(ctx, id, at, lease)
					if err == nil && got != o.want {
						t.Fatalf("op %d claim = %v, want %v", i, got, o.want)
					}
					if !got {
						at = last
					}
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
			pending, err := db.PendingPushes(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantStatus == "" {
				if len(pending) != 0 {
					t.Errorf("a delivered push is still pending: %+v", pending)
				}
				// Delivered is final.
				if err := db.MarkDelivered(ctx, id, store.PushOutcome{Receipt: "again", At: last.Add(time.Hour)}); !errors.Is(err, store.ErrPushState) {
					t.Errorf("MarkDelivered of a delivered push: %v, want ErrPushState", err)
				}
				if ok, err := db.ClaimPush(ctx, id, last.Add(time.Hour), lease); err != nil || ok {
					t.Errorf("ClaimPush of a delivered push = %v, %v; want false", ok, err)
				}
				return
			}
			want := []store.Push{{ID: id, Target: "asana", Program: "ehr", Version: "v1", Payload: []byte("{}"),
				Status: tt.wantStatus, Attempts: tt.wantAttempts, LastError: tt.wantError, Created: t0, Updated: last}}
			if diff := cmp.Diff(want, pending); diff != "" {
				t.Errorf("pending push (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("unknown id", func(t *testing.T) {
		db := open(t)
		for name, err := range map[string]error{
			"delivered": db.MarkDelivered(ctx, 7, store.PushOutcome{Receipt: "r", At: t0}),
			"failed":    db.MarkFailed(ctx, 7, store.PushOutcome{Error: "e", At: t0}),
		} {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s of an unknown push: error %v, want ErrNotFound", name, err)
			}
		}
		if ok, err := db.ClaimPush(ctx, 7, t0, lease); ok || err != nil {
			t.Errorf("ClaimPush of an unknown push = %v, %v; want false, nil", ok, err)
		}
	})
}

func testPushPayload(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	payloads := [][]byte{nil, {}, {0, 1, 2, 255}, []byte(`{"schema":"pmsync.rollup/v1"}`)}
	for i, p := range payloads {
		if _, err := db.Enqueue(ctx, "file", "ehr", string(rune('a'+i)), p, t0); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.PendingPushes(ctx, "file")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(payloads) {
		t.Fatalf("%d pushes, want %d", len(got), len(payloads))
	}
	for i, p := range got {
		if diff := cmp.Diff(payloads[i], p.Payload, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("payload %d (-want +got):\n%s", i, diff)
		}
	}
}

func testClaimPush(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	t0 := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	if _, err := db.Enqueue(ctx, "asana:project=1", "ehr", "v1", []byte("{}"), t0); err != nil {
		t.Fatal(err)
	}
	pending, _ := db.PendingPushes(ctx, "")
	id := pending[0].ID
	steps := []struct {
		at   time.Time
		want bool
	}{
		{t0, true},                        // pending: claimed
		{t0.Add(time.Minute), false},      // another sender within the lease: refused
		{t0.Add(10 * time.Minute), false}, // exactly at the end of the lease: still refused
		{t0.Add(11 * time.Minute), true},  // the first sender died: the lease ran out
	}
	for i, s := range steps {
		got, err := db.ClaimPush(ctx, id, s.at, 10*time.Minute)
		if err != nil || got != s.want {
			t.Fatalf("claim %d at %s = %v, %v; want %v", i, s.at, got, err, s.want)
		}
	}
	pending, _ = db.PendingPushes(ctx, "")
	if len(pending) != 1 || pending[0].Attempts != 2 || pending[0].Status != store.PushSending || !pending[0].Updated.Equal(t0.Add(11*time.Minute)) {
		t.Errorf("after two granted claims: %+v; want sending, 2 attempts, updated at the second", pending)
	}
	if err := db.MarkDelivered(ctx, id, store.PushOutcome{Receipt: "r", At: t0.Add(12 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if got, err := db.ClaimPush(ctx, id, t0.Add(time.Hour), time.Minute); err != nil || got {
		t.Errorf("a delivered push was claimed again: %v, %v", got, err)
	}
}

func testSupersedePush(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	t0 := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	for _, v := range []string{"v1", "v2", "v3"} {
		if _, err := db.Enqueue(ctx, "jira:issue=PMO-1", "ehr", v, []byte("{}"), t0); err != nil {
			t.Fatal(err)
		}
	}
	pending, _ := db.PendingPushes(ctx, "")
	v1, v2, v3 := pending[0].ID, pending[1].ID, pending[2].ID
	if ok, _ := db.ClaimPush(ctx, v1, t0, 10*time.Minute); !ok {
		t.Fatal("could not claim v1")
	}
	if ok, err := db.SupersedePush(ctx, v1, store.PushOutcome{Receipt: "superseded", At: t0.Add(time.Minute)}, 10*time.Minute); err != nil || ok {
		t.Errorf("superseded a push another process is sending: %v %v", ok, err)
	}
	if ok, err := db.SupersedePush(ctx, v1, store.PushOutcome{Receipt: "superseded", At: t0.Add(11 * time.Minute)}, 10*time.Minute); err != nil || !ok {
		t.Errorf("could not supersede a push whose sender died: %v %v", ok, err)
	}
	if ok, err := db.SupersedePush(ctx, v2, store.PushOutcome{Receipt: "superseded", At: t0}, 10*time.Minute); err != nil || !ok {
		t.Errorf("could not supersede a pending push: %v %v", ok, err)
	}
	if ok, err := db.SupersedePush(ctx, v2, store.PushOutcome{Receipt: "superseded", At: t0}, 10*time.Minute); err != nil || ok {
		t.Errorf("superseded a push twice: %v %v", ok, err)
	}
	// Superseded is delivered: final, out of the pending list.
	if err := db.MarkFailed(ctx, v1, store.PushOutcome{Error: "late failure", At: t0.Add(12 * time.Minute)}); !errors.Is(err, store.ErrPushState) {
		t.Errorf("MarkFailed of a superseded push: %v, want ErrPushState", err)
	}
	pending, err := db.PendingPushes(ctx, "")
	if err != nil || len(pending) != 1 || pending[0].ID != v3 {
		t.Errorf("pending after superseding v1 and v2 = %+v, %v; want only v3", pending, err)
	}
}
