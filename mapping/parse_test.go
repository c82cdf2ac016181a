package mapping

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// example is the documented rule set format, key for key.
const example = `# one rule set
extends: jira-default
kind:      { expr: 'fields.issuetype.name == "Milestone" ? "milestone" : fields.issuetype.name == "Risk" ? "risk" : "task"' }
title:     { path: fields.summary, required: true }
status:    { path: fields.status.name }
state:
  expr: 'fields.status?.name == "Blocked" ? "blocked" : fields.status?.statusCategory?.key'
  map: { new: todo, indeterminate: in_progress, done: done }
  default: todo
owner:     { path: fields.assignee.displayName }
due:       { path: fields.duedate, format: "02/01/2006" }
start:     { path: 'custom["Start date"]' }
planned_cost: { path: 'custom["Planned Cost"]' }
percent_complete: { path: 'cells["% Complete"]', scale: 100 }
likelihood: { path: custom.Likelihood.value }
labels:    { path: fields.labels }
priority:  { value: 3 }
fields:
  team: { path: 'custom["Team"].value' }
`

func TestParse(t *testing.T) {
	got, err := Parse("jira-custom", []byte(example))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := Spec{
		Extends: "jira-default",
		Kind:    &Rule{Expr: `fields.issuetype.name == "Milestone" ? "milestone" : fields.issuetype.name == "Risk" ? "risk" : "task"`},
		Title:   &Rule{Path: "fields.summary", Required: true},
		Status:  &Rule{Path: "fields.status.name"},
		State: &Rule{
			Expr:    `fields.status?.name == "Blocked" ? "blocked" : fields.status?.statusCategory?.key`,
			Map:     map[string]string{"new": "todo", "indeterminate": "in_progress", "done": "done"},
			Default: "todo",
		},
		Owner:           &Rule{Path: "fields.assignee.displayName"},
		Due:             &Rule{Path: "fields.duedate", Format: "02/01/2006"},
		Start:           &Rule{Path: `custom["Start date"]`},
		PlannedCost:     &Rule{Path: `custom["Planned Cost"]`},
		PercentComplete: &Rule{Path: `cells["% Complete"]`, Scale: 100},
		Likelihood:      &Rule{Path: "custom.Likelihood.value"},
		Labels:          &Rule{Path: "fields.labels"},
		Priority:        &Rule{Value: 3},
		Fields:          map[string]*Rule{"team": {Path: `custom["Team"].value`}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // one message per *Error, in order
	}{
		{
			name: "unknown target",
			src:  "kind: { value: task }\ntitle: { path: fields.summary }\ncolour: { path: x }\n",
			want: []string{"mapping m: line 3: field colour not found"},
		},
		{
			name: "unknown rule key",
			src:  "kind: { value: task }\n\ntitle: { path: fields.summary, requird: true }\n",
			want: []string{"mapping m: line 3: field requird not found"},
		},
		{
			name: "several problems at once",
			src:  "title: { path: a, scale: lots }\nfoo: 1\nfields:\n  team: 3\n",
			want: []string{
				"mapping m: line 1: cannot unmarshal !!str `lots` into float64",
				"mapping m: line 2: field foo not found",
				"mapping m: line 4: cannot unmarshal !!int `3` into a rule",
			},
		},
		{
			name: "duplicate key",
			src:  "title: { path: a }\ntitle: { path: b }\n",
			want: []string{`mapping m: line 2: mapping key "title" already defined at line 1`},
		},
		{
			name: "syntax",
			src:  "kind: [\n",
			want: []string{"mapping m: line 1: did not find expected node content"},
		},
		{
			name: "empty",
			src:  "# nothing here\n",
			want: []string{"mapping m: the document is empty"},
		},
		{
			name: "two documents",
			src:  "kind: { value: task }\n---\nkind: { value: risk }\n",
			want: []string{"mapping m: more than one YAML document; a file holds one rule set"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("m", []byte(tt.src))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			got := messages(t, err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// messages flattens a joined error into its *Error messages, failing the test
// when a part is not an *Error.
func messages(t *testing.T, err error) []string {
	t.Helper()
	var parts []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		parts = j.Unwrap()
	} else {
		parts = []error{err}
	}
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		var e *Error
		if !errors.As(p, &e) {
			t.Errorf("%T %q is not an *Error", p, p)
		}
		out = append(out, p.Error())
	}
	return out
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Mapping: "jira-custom", Path: "state.expr", Err: errors.New("unexpected token EOF (1:5)")}, "mapping jira-custom: state.expr: unexpected token EOF (1:5)"},
		{&Error{Mapping: "jira-default", Err: errors.New("line 12: field foo not found")}, "mapping jira-default: line 12: field foo not found"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		if !strings.Contains(tt.want, errors.Unwrap(tt.err).Error()) {
			t.Errorf("Unwrap lost the cause of %q", tt.want)
		}
	}
	fe := &FieldError{Field: "due", Value: `"31/02/2026"`, Err: errors.New("is not a date")}
	if got, want := fe.Error(), `due: "31/02/2026" is not a date`; got != want {
		t.Errorf("FieldError.Error() = %q, want %q", got, want)
	}
	fe = &FieldError{Field: "state", Err: errors.New("no state (give the rule a default)")}
	if got, want := fe.Error(), `state: no state (give the rule a default)`; got != want {
		t.Errorf("FieldError.Error() = %q, want %q", got, want)
	}
}
