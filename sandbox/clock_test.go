package sandbox

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestClockAndSleeps(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	c := NewClock(t0)
	c.Advance(90 * time.Minute)
	if got := c.Now(); !got.Equal(t0.Add(90 * time.Minute)) {
		t.Errorf("after Advance: %s", got)
	}
	c.Set(t0)
	if !c.Now().Equal(t0) {
		t.Errorf("after Set: %s", c.Now())
	}
	var s Sleeps
	_ = s.Sleep(context.Background(), 2*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Sleep(ctx, time.Second); err == nil {
		t.Errorf("Sleep on a cancelled context returned nil")
	}
	if got := s.Waits(); !slices.Equal(got, []time.Duration{2 * time.Second, time.Second}) {
		t.Errorf("waits %v", got)
	}
}
