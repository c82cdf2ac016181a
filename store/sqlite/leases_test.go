package sqlite

import (
	"context"
	"testing"
	"time"
)

func TestLeases(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	t0 := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	steps := []struct {
		holder string
		at     time.Duration
		want   bool
	}{
		{"daemon", 0, true},               // free
		{"cli", time.Minute, false},       // held by the daemon
		{"daemon", 4 * time.Minute, true}, // renewed by its holder, now until 9m
		{"cli", 8 * time.Minute, false},   // still held
		{"cli", 10 * time.Minute, true},   // the daemon's lease ran out
	}
	for i, s := range steps {
		got, err := db.AcquireLease(ctx, "sync:ehr", s.holder, t0.Add(s.at), 5*time.Minute)
		if err != nil || got != s.want {
			t.Fatalf("step %d: %s at +%s = %v, %v; want %v", i, s.holder, s.at, got, err, s.want)
		}
	}
	if err := db.ReleaseLease(ctx, "sync:ehr", "daemon"); err != nil { // not the holder: no effect
		t.Fatal(err)
	}
	if got, _ := db.AcquireLease(ctx, "sync:ehr", "daemon", t0.Add(11*time.Minute), 5*time.Minute); got {
		t.Errorf("a release by a non-holder freed the lease")
	}
	if err := db.ReleaseLease(ctx, "sync:ehr", "cli"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.AcquireLease(ctx, "sync:ehr", "daemon", t0.Add(11*time.Minute), 5*time.Minute); !got {
		t.Errorf("the released lease could not be taken")
	}
}

func TestTakeOverLease(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	t0 := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	if got, _ := db.AcquireLease(ctx, "sync:a", "dead", t0, time.Hour); !got {
		t.Fatal("could not take a free lease")
	}
	if h, ok, err := db.LeaseHolder(ctx, "sync:a"); err != nil || !ok || h != "dead" {
		t.Fatalf("holder %q %v %v", h, ok, err)
	}
	if got, _ := db.TakeOverLease(ctx, "sync:a", "someone-else", "me", t0, time.Hour); got {
		t.Errorf("took over from a holder who does not hold it")
	}
	if got, _ := db.TakeOverLease(ctx, "sync:a", "dead", "me", t0, time.Hour); !got {
		t.Errorf("could not take over from the dead holder")
	}
	if h, _, _ := db.LeaseHolder(ctx, "sync:a"); h != "me" {
		t.Errorf("holder %q, want me", h)
	}
}
