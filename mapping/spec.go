package mapping

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Rule says where one target field's value comes from and how it is cleaned
// up. Exactly one of Path, Expr and Value is set.
type Rule struct {
	// Path is a field path into the record: `fields.assignee.displayName`,
	// `custom["Planned Cost"]`, `labels[0]`, `record.id`.
	Path string `yaml:"path,omitempty"`
	// Expr is an expr-lang expression over the record (see the package doc).
	Expr string `yaml:"expr,omitempty"`
	// Value is a constant.
	Value any `yaml:"value,omitempty"`
	// Map replaces the result's string form: exact match first, then
	// without regard to letter case.
	Map map[string]string `yaml:"map,omitempty"`
	// Default is used when the result is empty, or when Map is given and
	// does not hold the result (see the package doc for kind and state).
	Default string `yaml:"default,omitempty"`
	// Required makes an empty result (after Default) an error.
	Required bool `yaml:"required,omitempty"`
	// Scale multiplies a number, e.g. 100 for a 0..1 percentage.
	Scale float64 `yaml:"scale,omitempty"`
	// Format is a Go time layout for date strings in an unusual form; the
	// standard forms are still accepted when it does not match.
	Format string `yaml:"format,omitempty"`
}

// Spec is one named rule set as written in YAML. Every target field has its
// own key; an absent key leaves the field unset (or inherited from Extends).
type Spec struct {
	// Extends names a set to start from; the rules given here override its.
	Extends         string           `yaml:"extends,omitempty"`
	Kind            *Rule            `yaml:"kind,omitempty"`
	Title           *Rule            `yaml:"title,omitempty"`
	URL             *Rule            `yaml:"url,omitempty"`
	Owner           *Rule            `yaml:"owner,omitempty"`
	Priority        *Rule            `yaml:"priority,omitempty"`
	Status          *Rule            `yaml:"status,omitempty"`
	State           *Rule            `yaml:"state,omitempty"`
	Start           *Rule            `yaml:"start,omitempty"`
	Due             *Rule            `yaml:"due,omitempty"`
	DoneAt          *Rule            `yaml:"done_at,omitempty"`
	UpdatedAt       *Rule            `yaml:"updated_at,omitempty"`
	PercentComplete *Rule            `yaml:"percent_complete,omitempty"`
	PlannedCost     *Rule            `yaml:"planned_cost,omitempty"`
	ActualCost      *Rule            `yaml:"actual_cost,omitempty"`
	Likelihood      *Rule            `yaml:"likelihood,omitempty"`
	Impact          *Rule            `yaml:"impact,omitempty"`
	Milestone       *Rule            `yaml:"milestone,omitempty"`
	Parent          *Rule            `yaml:"parent,omitempty"`
	Labels          *Rule            `yaml:"labels,omitempty"`
	Fields          map[string]*Rule `yaml:"fields,omitempty"`
	// Redact lists the redaction rules applied to the item's free text
	// before it is stored or pushed. Absent, the set inherits the list of
	// the set it extends, and at the bottom every built-in rule applies; an
	// empty list (`redact: []`) turns redaction off.
	Redact *[]Redaction `yaml:"redact,omitempty"`
}

// target identifies a fixed target field of an Item.
type target int

// The fixed targets in YAML order; tField is an entry of `fields`.
const (
	tKind target = iota
	tTitle
	tURL
	tOwner
	tPriority
	tStatus
	tState
	tStart
	tDue
	tDoneAt
	tUpdatedAt
	tPercentComplete
	tPlannedCost
	tActualCost
	tLikelihood
	tImpact
	tMilestone
	tParent
	tLabels
	tField
)

// valueType says how the target's value is converted.
func (t target) valueType() valueType {
	switch t {
	case tKind:
		return typeKind
	case tState:
		return typeState
	case tStart, tDue:
		return typeDate
	case tDoneAt, tUpdatedAt:
		return typeTime
	case tPercentComplete, tPlannedCost, tActualCost:
		return typeNumber
	case tLikelihood, tImpact:
		return typeScore
	case tLabels:
		return typeLabels
	case tField:
		return typeAny
	}
	return typeText
}

// namedRule pairs a rule with its target and YAML key.
type namedRule struct {
	target target
	name   string
	rule   *Rule
}

// targets lists the spec's fixed target rules in YAML order, indexed by
// target.
func (s *Spec) targets() []namedRule {
	return []namedRule{
		{tKind, "kind", s.Kind},
		{tTitle, "title", s.Title},
		{tURL, "url", s.URL},
		{tOwner, "owner", s.Owner},
		{tPriority, "priority", s.Priority},
		{tStatus, "status", s.Status},
		{tState, "state", s.State},
		{tStart, "start", s.Start},
		{tDue, "due", s.Due},
		{tDoneAt, "done_at", s.DoneAt},
		{tUpdatedAt, "updated_at", s.UpdatedAt},
		{tPercentComplete, "percent_complete", s.PercentComplete},
		{tPlannedCost, "planned_cost", s.PlannedCost},
		{tActualCost, "actual_cost", s.ActualCost},
		{tLikelihood, "likelihood", s.Likelihood},
		{tImpact, "impact", s.Impact},
		{tMilestone, "milestone", s.Milestone},
		{tParent, "parent", s.Parent},
		{tLabels, "labels", s.Labels},
	}
}

// Parse decodes one rule set from YAML, strictly: an unknown key, a
// duplicate key or a value of the wrong type is an error that carries its
// line number. Problems are reported together, each as an *Error.
func Parse(name string, data []byte) (Spec, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var s Spec
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return Spec{}, &Error{Mapping: name, Err: errors.New("the document is empty")}
		}
		return Spec{}, yamlError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return Spec{}, yamlError(name, err)
		}
		return Spec{}, &Error{Mapping: name, Err: errors.New("more than one YAML document; a file holds one rule set")}
	}
	return s, nil
}

// yamlError turns the decoder's messages into *Errors that read as
// "line 12: field foo not found", without the Go type names.
func yamlError(name string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return &Error{Mapping: name, Err: errors.New(strings.TrimPrefix(err.Error(), "yaml: "))}
	}
	// Go type names mean nothing to someone editing YAML.
	goTypes := strings.NewReplacer(
		"map[string]*mapping.Rule", "a map of rules",
		"[]mapping.Redaction", "a list of redaction rules",
		"mapping.Redaction", "a redaction rule",
		"map[string]string", "a map of strings",
		"*mapping.Rule", "a rule",
		"mapping.Rule", "a rule",
		"mapping.Spec", "a rule set",
	)
	errs := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		if i := strings.Index(msg, " in type "); i >= 0 {
			msg = msg[:i]
		}
		errs = append(errs, &Error{Mapping: name, Err: errors.New(goTypes.Replace(msg))})
	}
	return errors.Join(errs...)
}

// Error is a problem with a rule set, found while parsing or compiling it.
type Error struct {
	// Mapping names the rule set the problem is in.
	Mapping string
	// Path is the key path inside the set, e.g. "state.expr" or
	// "fields.team.path"; empty for YAML syntax errors, which carry a line.
	Path string
	// Err says what is wrong.
	Err error
}

// Error implements error: "mapping jira-custom: state.expr: <what is wrong>".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("mapping ")
	b.WriteString(e.Mapping)
	if e.Path != "" {
		b.WriteString(": ")
		b.WriteString(e.Path)
	}
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// FieldError is a record that could not be mapped: the field, the offending
// value and what is wrong with it.
type FieldError struct {
	// Field is the target field, e.g. "due" or "fields.team".
	Field string
	// Value is the offending value, short and quoted when text; empty when
	// there was no value.
	Value string
	// Err says what is wrong.
	Err error
}

// Error implements error: `due: "31/02/2026" is not a date`.
func (e *FieldError) Error() string {
	msg := ""
	if e.Err != nil {
		msg = e.Err.Error()
	}
	if e.Value == "" {
		return e.Field + ": " + msg
	}
	return e.Field + ": " + e.Value + " " + msg
}

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// Miss is a raw value that a rule's map did not hold, so that it fell to the
// rule's default or passed through unchanged.
type Miss struct {
	// Field is the target field, e.g. "state" or "fields.team".
	Field string
	// Value is the raw value's string form.
	Value string
	// Defaulted says that the rule's default took the value's place; when
	// false the value passed through unchanged.
	Defaulted bool
}
