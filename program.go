package pmsync

import (
	"encoding/json"
	"time"
)

// Program is the executive unit declared in the config: dates, budget and
// the sources that feed it.
type Program struct {
	ID   string
	Name string
	// Portfolio groups programs in the rollup; Owner is the executive
	// sponsor. Both are optional.
	Portfolio string
	Owner     string
	Start     Date
	End       Date
	Budget    *float64 // planned budget; nil means Σ planned_cost of the items
	Currency  string
	Sources   []string // source names
}

// Rules are the rollup thresholds. DefaultRules holds the documented defaults.
type Rules struct {
	DueSoonDays        int     // a milestone due within this many days is "due soon"
	RedFlagScore       int     // an open risk with likelihood × impact ≥ this is a red flag
	RedFlagsForRed     int     // this many red flags make the program red
	VarianceRedPoints  float64 // burn variance above this is red
	VarianceAmberPoint float64 // burn variance above this is amber
	StaleAfter         time.Duration
	// Health holds the rules that colour a program; nil lists are the
	// defaults (DefaultRed, DefaultAmber).
	Health HealthRules
}

// DefaultRules returns the rollup semantics documented in the README.
func DefaultRules() Rules {
	return Rules{
		DueSoonDays:        14,
		RedFlagScore:       15,
		RedFlagsForRed:     2,
		VarianceRedPoints:  15,
		VarianceAmberPoint: 5,
		StaleAfter:         2 * time.Hour,
	}
}

// SourceStatus is what the store knows of one source's syncing.
type SourceStatus struct {
	Source      string    `json:"source"`
	Connection  string    `json:"connection"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Stale       bool      `json:"stale"`
	// Quarantined counts records that failed to map and wait for a fix
	// (`pmsync quarantine` lists them with the reason).
	Quarantined int `json:"quarantined"`
	// Failures counts the source's failed syncs in a row (0 once one
	// succeeds).
	Failures int `json:"failures,omitempty"`
	// Breaker is BreakerOpen while the schedule leaves a source that keeps
	// failing alone (until RetryAt), and BreakerHalfOpen once its next sync
	// is the probe that decides; "" while the source syncs normally.
	Breaker string    `json:"breaker,omitempty"`
	RetryAt time.Time `json:"retry_at,omitzero"`
}

// The states of a source's circuit breaker besides closed (its syncs run
// on schedule), which SourceStatus leaves empty.
const (
	BreakerOpen     = "open"
	BreakerHalfOpen = "half_open"
)

// MarshalJSON keeps last_success in the document as null for a source that
// never synced, since it is a core key of the rollup schema.
func (s SourceStatus) MarshalJSON() ([]byte, error) {
	var last *time.Time
	if !s.LastSuccess.IsZero() {
		// Seconds are precision enough, and what every other time of the
		// document carries.
		t := s.LastSuccess.UTC().Truncate(time.Second)
		last = &t
	}
	return json.Marshal(struct {
		Source      string     `json:"source"`
		Connection  string     `json:"connection"`
		LastSuccess *time.Time `json:"last_success"`
		LastError   string     `json:"last_error,omitempty"`
		Stale       bool       `json:"stale"`
		Quarantined int        `json:"quarantined"`
		Failures    int        `json:"failures,omitempty"`
		Breaker     string     `json:"breaker,omitempty"`
		RetryAt     time.Time  `json:"retry_at,omitzero"`
	}{s.Source, s.Connection, last, s.LastError, s.Stale, s.Quarantined, s.Failures, s.Breaker, s.RetryAt.UTC().Truncate(time.Second)})
}
