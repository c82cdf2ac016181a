package sqlite

import (
	"context"
	"errors"
	"github.com/pmsync/pmsync/store"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestEnqueueOnce(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
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
					err = db.MarkDelivered(ctx, id, "rcpt", at)
				case "failed":
					err = db.MarkFailed(ctx, id, "boom", at)
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
			"delivered": db.MarkDelivered(ctx, 7, "r", t0),
			"failed":    db.MarkFailed(ctx, 7, "e", t0),
		} {
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s of an unknown push: error %v, want ErrNotFound", name, err)
			}
		}
	})
}

func TestPushPayloadRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
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

func TestClaimPush(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
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
		{t0, true},                       // pending: claimed
		{t0.Add(time.Minute), false},     // another sender within the lease: refused
		{t0.Add(11 * time.Minute), true}, // the first sender died: the lease ran out
	}
	for i, s := range steps {
		got, err := db.ClaimPush(ctx, id, s.at, 10*time.Minute)
		if err != nil || got != s.want {
			t.Fatalf("claim %d at %s = %v, %v; want %v", i, s.at, got, err, s.want)
		}
	}
	if err := db.MarkDelivered(ctx, id, "r", t0.Add(12*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, err := db.ClaimPush(ctx, id, t0.Add(time.Hour), time.Minute); err != nil || got {
		t.Errorf("a delivered push was claimed again: %v, %v", got, err)
	}
}

func TestSupersedePushLeavesAClaimedPushAlone(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	t0 := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	for _, v := range []string{"v1", "v2"} {
		if _, err := db.Enqueue(ctx, "jira:issue=PMO-1", "ehr", v, []byte("{}"), t0); err != nil {
			t.Fatal(err)
		}
	}
	pending, _ := db.PendingPushes(ctx, "")
	v1, v2 := pending[0].ID, pending[1].ID
	if ok, _ := db.ClaimPush(ctx, v1, t0, 10*time.Minute); !ok {
		t.Fatal("could not claim v1")
	}
	if ok, err := db.SupersedePush(ctx, v1, "superseded", t0.Add(time.Minute), 10*time.Minute); err != nil || ok {
		t.Errorf("superseded a push another process is sending: %v %v", ok, err)
	}
	if ok, err := db.SupersedePush(ctx, v1, "superseded", t0.Add(11*time.Minute), 10*time.Minute); err != nil || !ok {
		t.Errorf("could not supersede a push whose sender died: %v %v", ok, err)
	}
	if ok, err := db.SupersedePush(ctx, v2, "superseded", t0, 10*time.Minute); err != nil || !ok {
		t.Errorf("could not supersede a pending push: %v %v", ok, err)
	}
}

func TestPushesNewestFirstByProgram(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	queue := []struct{ target, program, version string }{
		{"smartsheet", "ehr", "v1"},
		{"asana", "tele", "v1"},
		{"smartsheet", "ehr", "v2"},
		{"jira", "ehr", "v2"},
	}
	ids := map[string]int64{}
	for i, q := range queue {
		if _, err := db.Enqueue(ctx, q.target, q.program, q.version, []byte("{}"), t0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	pending, err := db.PendingPushes(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pending {
		ids[p.Target+"/"+p.Program+"/"+p.Version] = p.ID
	}
	if err := db.MarkDelivered(ctx, ids["smartsheet/ehr/v1"], "row 7", t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.MarkFailed(ctx, ids["jira/ehr/v2"], "jira answered 503", t0.Add(11*time.Minute)); err != nil {
		t.Fatal(err)
	}

	type row struct{ Target, Version, Status, Receipt, LastError string }
	rows := func(ps []store.Push) []row {
		var out []row
		for _, p := range ps {
			if p.Payload != nil {
				t.Errorf("push %d carries its payload", p.ID)
			}
			out = append(out, row{p.Target, p.Version, p.Status, p.Receipt, p.LastError})
		}
		return out
	}
	got, err := db.Pushes(ctx, "ehr", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []row{
		{"jira", "v2", store.PushFailed, "", "jira answered 503"},
		{"smartsheet", "v2", store.PushPending, "", ""},
		{"smartsheet", "v1", store.PushDelivered, "row 7", ""},
	}
	if diff := cmp.Diff(want, rows(got)); diff != "" {
		t.Errorf("Pushes(ehr) (-want +got):\n%s", diff)
	}
	got, err = db.Pushes(ctx, "ehr", 1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[:1], rows(got)); diff != "" {
		t.Errorf("Pushes(ehr, 1) (-want +got):\n%s", diff)
	}
	got, err = db.Pushes(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].Program != "ehr" || got[1].Program != "ehr" || got[2].Program != "tele" {
		t.Errorf("Pushes(all) = %+v, want the four pushes newest first", rows(got))
	}
	got, err = db.Pushes(ctx, "pacs", 0)
	if err != nil || len(got) != 0 {
		t.Errorf("Pushes(pacs) = %v, %v; want none", got, err)
	}
}
