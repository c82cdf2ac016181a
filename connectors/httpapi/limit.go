package httpapi

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiters implements connectors.RateLimiters: one token bucket per key,
// created on first use and shared by every client that asks for the same key.
// The zero value is not usable; call NewLimiters.
type Limiters struct {
	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// NewLimiters returns an empty set of buckets.
func NewLimiters() *Limiters {
	return &Limiters{limiters: map[string]*rate.Limiter{}}
}

// Limiter returns the bucket for key, creating it with limit and burst on
// first use. A later caller asking for a lower limit or burst lowers the
// shared bucket: connections sharing a credential share its budget, and the
// smallest budget anyone configured is the one that is safe for all. A limit
// of zero or less means unlimited and a burst below one means one.
func (l *Limiters) Limiter(key string, limit rate.Limit, burst int) *rate.Limiter {
	if limit <= 0 {
		limit = rate.Inf
	}
	burst = max(burst, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.limiters[key]
	if !ok {
		lim = rate.NewLimiter(limit, burst)
		l.limiters[key] = lim
		return lim
	}
	if limit < lim.Limit() {
		lim.SetLimit(limit)
	}
	if burst < lim.Burst() {
		lim.SetBurst(burst)
	}
	return lim
}

// waitTurn takes one token from the client's bucket. It reserves instead of
// calling Limiter.Wait so that the wait goes through the injected Sleep:
// tests then see rate-limit waits without spending real time, and a
// cancelled context gives the token back.
func (c *Client) waitTurn(ctx context.Context) error {
	if c.lim == nil {
		return nil
	}
	now := time.Now()
	res := c.lim.ReserveN(now, 1)
	if !res.OK() {
		return fmt.Errorf("rate limiter refuses a single request (burst %d)", c.lim.Burst())
	}
	d := res.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	if deadline, ok := ctx.Deadline(); ok && now.Add(d).After(deadline) {
		res.CancelAt(now)
		return fmt.Errorf("rate limit wait of %s would pass the deadline: %w", d.Round(time.Millisecond), context.DeadlineExceeded)
	}
	if err := c.sleep(ctx, d); err != nil {
		res.CancelAt(time.Now())
		return err
	}
	return nil
}

// pause empties the shared bucket so that the next token is d away, which
// makes every client using the credential slow down after a 429, not only the
// one that received it. It takes tokens in chunks of the burst because a
// single reservation may not exceed it. Tokens already owed by an earlier
// pause count, so two clients hit by the same 429 do not double the wait.
func (c *Client) pause(d time.Duration) {
	if c.lim == nil || d <= 0 {
		return
	}
	r := c.lim.Limit()
	if r == rate.Inf || r <= 0 {
		return
	}
	burst := c.lim.Burst()
	now := time.Now()
	// After taking need tokens the bucket holds 1 - d·r, so a one-token
	// reservation waits d.
	need := c.lim.TokensAt(now) - 1 + d.Seconds()*float64(r)
	for need > 0 {
		n := min(burst, int(math.Ceil(need)))
		if !c.lim.ReserveN(now, n).OK() {
			return
		}
		need -= float64(n)
	}
}
