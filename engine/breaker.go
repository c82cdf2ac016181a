package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/httpapi"
)

// ErrBackedOff is returned for a source the schedule leaves alone because
// its syncs keep failing: its circuit breaker is open.
var ErrBackedOff = errors.New("source backed off after repeated failures")

// breaker is the circuit breaker of one source. It is kept in the store's
// meta as well as in memory, so that `pmsync rollup`, a restarted daemon
// and the other replicas of a shared database see a source backed off, and
// a daemon restarting in a loop does not hammer a broken vendor.
type breaker struct {
	// Failures counts failed syncs in a row.
	Failures int `json:"failures"`
	// Opens counts how often the breaker opened since it last closed; each
	// opening doubles the cooldown.
	Opens int `json:"opens"`
	// RetryAt is when the schedule tries the source again; zero while the
	// breaker is closed.
	RetryAt   time.Time `json:"retry_at,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	Updated   time.Time `json:"updated"`
}

// state returns "" (closed), pmsync.BreakerOpen or pmsync.BreakerHalfOpen.
func (b breaker) state(now time.Time) string {
	switch {
	case b.RetryAt.IsZero():
		return ""
	case now.Before(b.RetryAt):
		return pmsync.BreakerOpen
	default:
		return pmsync.BreakerHalfOpen
	}
}

// failed records a failed sync. The breaker opens at the policy's number of
// failures in a row, for the cooldown doubled at every opening (a failed
// probe opens it again) up to the maximum. A wait the vendor asked for
// (Retry-After beyond what the client waits out itself) is honoured even
// before that.
func (b breaker) failed(p config.Breaker, err error, now time.Time) breaker {
	b.Failures++
	b.LastError = httpapi.Shorten(err.Error(), 300)
	b.Updated = now
	if b.Failures >= p.Failures {
		wait := p.Cooldown
		for range b.Opens {
			if wait >= p.MaxCooldown/2 {
				wait = p.MaxCooldown
				break
			}
			wait *= 2
		}
		b.Opens++
		b.RetryAt = now.Add(min(wait, p.MaxCooldown))
	}
	var api *connectors.APIError
	if errors.As(err, &api) && api.RetryAfter > 0 && now.Add(api.RetryAfter).After(b.RetryAt) {
		b.RetryAt = now.Add(api.RetryAfter)
	}
	return b
}

func breakerKey(source string) string { return "breaker:" + source }

// breakerPolicy is the configured breaker, with the defaults for a
// configuration built without them (Load always sets them).
func (e *Engine) breakerPolicy() config.Breaker {
	p := e.cfg.Sync.Breaker
	if p.Failures < 1 {
		p.Failures = config.DefaultBreakerFailures
	}
	if p.Cooldown <= 0 {
		p.Cooldown = config.DefaultBreakerCooldown
	}
	if p.MaxCooldown < p.Cooldown {
		p.MaxCooldown = max(p.Cooldown, config.DefaultBreakerMaxCooldown)
	}
	return p
}

// breakerOf returns the breaker of a source: the stored one when it is
// readable and at least as recent as the one in memory (another process
// may have synced the source since), else the one in memory.
func (e *Engine) breakerOf(ctx context.Context, source string) breaker {
	e.bmu.Lock()
	b := e.breakers[source]
	e.bmu.Unlock()
	v, ok, err := e.db.Meta(ctx, breakerKey(source))
	if err != nil || !ok {
		return b
	}
	var stored breaker
	if json.Unmarshal([]byte(v), &stored) != nil || stored.Updated.Before(b.Updated) {
		return b
	}
	return stored
}

// observeBreaker updates a source's breaker with the outcome of one sync
// and stores it. Only a sync that ran and failed counts against the
// source: a busy, stopped or backed-off one says nothing about it, and
// neither does one cut short by the daemon shutting down.
func (e *Engine) observeBreaker(ctx context.Context, res SourceResult, shutdown bool) breaker {
	b := e.breakerOf(ctx, res.Source)
	now := e.now()
	switch {
	case res.Status == "ok":
		if b.Failures == 0 && b.RetryAt.IsZero() {
			return b
		}
		if b.state(now) != "" {
			e.log.Info().Str("source", res.Source).Int("failures", b.Failures).Msg("source recovered, breaker closed")
		}
		b = breaker{Updated: now}
	case res.Status == "failed" && !shutdown:
		was := b.state(now)
		b = b.failed(e.breakerPolicy(), res.Err, now)
		if st := b.state(now); st == pmsync.BreakerOpen && was != pmsync.BreakerOpen {
			e.log.Warn().Str("source", res.Source).Int("failures", b.Failures).Time("retry_at", b.RetryAt).Msg("source keeps failing, backed off")
		}
	default:
		return b
	}
	e.bmu.Lock()
	e.breakers[res.Source] = b
	e.bmu.Unlock()
	e.metrics.observeBreaker(res.Source, b, now)
	doc, err := json.Marshal(b)
	if err == nil {
		err = e.db.SetMeta(ctx, breakerKey(res.Source), string(doc))
	}
	if err != nil {
		e.log.Warn().Str("source", res.Source).Str("err", err.Error()).Msg("breaker state not stored")
	}
	return b
}

// backedOff returns an error wrapping ErrBackedOff when a source's breaker
// is open, nil when the source may be tried (closed, or half-open: this
// sync is the probe).
func (e *Engine) backedOff(ctx context.Context, source string) error {
	b := e.breakerOf(ctx, source)
	now := e.now()
	e.metrics.observeBreaker(source, b, now)
	if b.state(now) != pmsync.BreakerOpen {
		return nil
	}
	return fmt.Errorf("%w: %d failed syncs in a row, next attempt at %s (last error: %s)",
		ErrBackedOff, b.Failures, b.RetryAt.UTC().Format(time.RFC3339), b.LastError)
}

// SourceHealth is what one process knows of one source's syncing, for
// readiness detail.
type SourceHealth struct {
	Source     string
	Connection string
	// Breaker is "" (closed), pmsync.BreakerOpen or pmsync.BreakerHalfOpen.
	Breaker  string
	Failures int
	RetryAt  time.Time
	// LastAttempt, LastStatus and LastError describe this process's latest
	// attempt, whatever stage it ended at (zero when it made none).
	LastAttempt time.Time
	LastStatus  string
	LastError   string
}

// Health reports every configured source's breaker and latest attempt.
func (e *Engine) Health(ctx context.Context) []SourceHealth {
	now := e.now()
	var out []SourceHealth
	for _, s := range e.cfg.Sources() {
		b := e.breakerOf(ctx, s.Name)
		h := SourceHealth{Source: s.Name, Connection: s.Connection.Name, Breaker: b.state(now), Failures: b.Failures, RetryAt: b.RetryAt, LastError: b.LastError}
		e.bmu.Lock()
		a, ok := e.attempts[s.Name]
		e.bmu.Unlock()
		if ok {
			h.LastAttempt, h.LastStatus = a.at, a.res.Status
			if a.res.Status == "failed" && a.res.Err != nil {
				h.LastError = httpapi.Shorten(a.res.Err.Error(), 300)
			}
		}
		out = append(out, h)
	}
	return out
}

// attempt is the latest sync attempt of a source in this process.
type attempt struct {
	at  time.Time
	res SourceResult
}
