package engine

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
)

// The breaker's waits, worked out by hand for failures 3, cooldown 5m,
// max_cooldown 1h: closed for two failures, then 5, 10, 20, 40 minutes,
// then the cap.
func TestBreakerWaits(t *testing.T) {
	p := config.Breaker{Failures: 3, Cooldown: 5 * time.Minute, MaxCooldown: time.Hour}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	want := []time.Duration{0, 0, 5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute, time.Hour, time.Hour}
	var b breaker
	for i, w := range want {
		b = b.failed(p, errors.New("HTTP 503"), now)
		got := time.Duration(0)
		if !b.RetryAt.IsZero() {
			got = b.RetryAt.Sub(now)
		}
		if got != w || b.Failures != i+1 {
			t.Errorf("failure %d: wait %s (failures %d), want %s", i+1, got, b.Failures, w)
		}
		if w > 0 && b.state(now) != pmsync.BreakerOpen || w > 0 && b.state(b.RetryAt) != pmsync.BreakerHalfOpen {
			t.Errorf("failure %d: states %q now and %q at the retry time, want open then half_open", i+1, b.state(now), b.state(b.RetryAt))
		}
	}
}

// A vendor's Retry-After is honoured before the breaker would open, and a
// shorter one does not shorten the cooldown.
func TestBreakerHonoursRetryAfter(t *testing.T) {
	p := config.Breaker{Failures: 3, Cooldown: 5 * time.Minute, MaxCooldown: time.Hour}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	limited := fmt.Errorf("pull: %w", &connectors.APIError{Vendor: "x", Status: 429, RetryAfter: 2 * time.Hour})
	b := breaker{}.failed(p, limited, now)
	if b.RetryAt != now.Add(2*time.Hour) || b.state(now) != pmsync.BreakerOpen {
		t.Errorf("after one 429 asking for 2h: retry at %s (%s), want %s", b.RetryAt, b.state(now), now.Add(2*time.Hour))
	}
	short := &connectors.APIError{Vendor: "x", Status: 429, RetryAfter: time.Minute}
	b = breaker{Failures: 2}.failed(p, short, now)
	if b.RetryAt != now.Add(5*time.Minute) {
		t.Errorf("third failure with a 1m Retry-After: retry at %s, want the 5m cooldown", b.RetryAt)
	}
}
