// Package pmsync is the vocabulary of the service: the records connectors
// pull, the items mappings produce, the programs a PMO declares and the
// rollups computed from them. It imports nothing from this module; the rollup
// math in rollup.go is pure.
package pmsync

import (
	"fmt"
	"time"
)

// Kind says what an item is to the rollup.
type Kind string

// The kinds an item can have.
const (
	KindTask      Kind = "task"
	KindMilestone Kind = "milestone"
	KindRisk      Kind = "risk"
)

// Valid reports whether k is one of the known kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindTask, KindMilestone, KindRisk:
		return true
	}
	return false
}

// State is the normalized workflow state of an item.
type State string

// The normalized states.
const (
	StateTodo       State = "todo"
	StateInProgress State = "in_progress"
	StateBlocked    State = "blocked"
	StateDone       State = "done"
	StateCancelled  State = "cancelled"
)

// Valid reports whether s is one of the known states.
func (s State) Valid() bool {
	switch s {
	case StateTodo, StateInProgress, StateBlocked, StateDone, StateCancelled:
		return true
	}
	return false
}

// Closed reports whether no more work is expected (done or cancelled).
func (s State) Closed() bool { return s == StateDone || s == StateCancelled }

// Record is one source object as a mapping sees it: the vendor's JSON as
// decoded, plus the keys a connector adds so that mappings read alike across
// vendors (custom fields by name under "custom", Smartsheet cells under
// "cells", "section" and "list" names).
type Record struct {
	Source     string
	ExternalID string
	UpdatedAt  time.Time
	URL        string
	Data       map[string]any
}

// Item is one normalized source object. Only mapped values are kept: never
// the raw payload.
type Item struct {
	Source          string         `json:"source"`
	ExternalID      string         `json:"external_id"`
	Kind            Kind           `json:"kind"`
	Title           string         `json:"title"`
	URL             string         `json:"url,omitempty"`
	Owner           string         `json:"owner,omitempty"`
	Priority        string         `json:"priority,omitempty"`
	Status          string         `json:"status,omitempty"`
	State           State          `json:"state"`
	Start           Date           `json:"start,omitempty"`
	Due             Date           `json:"due,omitempty"`
	DoneAt          time.Time      `json:"done_at,omitzero"`
	UpdatedAt       time.Time      `json:"updated_at"`
	PercentComplete *float64       `json:"percent_complete,omitempty"`
	PlannedCost     *float64       `json:"planned_cost,omitempty"`
	ActualCost      *float64       `json:"actual_cost,omitempty"`
	Likelihood      int            `json:"likelihood,omitempty"`
	Impact          int            `json:"impact,omitempty"`
	Milestone       string         `json:"milestone,omitempty"`
	Parent          string         `json:"parent,omitempty"`
	Labels          []string       `json:"labels,omitempty"`
	Fields          map[string]any `json:"fields,omitempty"`
	// DeletedAt is set when the source no longer has the object (a tombstone).
	DeletedAt time.Time `json:"deleted_at,omitzero"`
}

// Deleted reports whether the item is a tombstone.
func (it Item) Deleted() bool { return !it.DeletedAt.IsZero() }

// Validate checks the invariants every stored item must meet.
func (it Item) Validate() error {
	switch {
	case it.Source == "":
		return fmt.Errorf("item has no source")
	case it.ExternalID == "":
		return fmt.Errorf("item has no external id")
	case !it.Kind.Valid():
		return fmt.Errorf("item %s: kind %q is not one of task, milestone, risk", it.ExternalID, it.Kind)
	case !it.State.Valid():
		return fmt.Errorf("item %s: state %q is not one of todo, in_progress, blocked, done, cancelled", it.ExternalID, it.State)
	case it.Likelihood < 0 || it.Likelihood > 5:
		return fmt.Errorf("item %s: likelihood %d is outside 1..5", it.ExternalID, it.Likelihood)
	case it.Impact < 0 || it.Impact > 5:
		return fmt.Errorf("item %s: impact %d is outside 1..5", it.ExternalID, it.Impact)
	case it.PercentComplete != nil && (*it.PercentComplete < 0 || *it.PercentComplete > 100):
		return fmt.Errorf("item %s: percent complete %g is outside 0..100", it.ExternalID, *it.PercentComplete)
	}
	return nil
}

// Secret is a credential read from the environment or a file. It prints and
// marshals as "<secret>" so that it cannot leak through logs or documents.
type Secret string

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "<secret>"
}

// GoString implements fmt.GoStringer so %#v does not leak it either.
func (s Secret) GoString() string { return s.String() }

// MarshalText implements encoding.TextMarshaler (JSON, YAML, logs).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret value, for the one place that must send it.
func (s Secret) Reveal() string { return string(s) }
