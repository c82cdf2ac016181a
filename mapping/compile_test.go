package mapping

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pmsync/pmsync"
)

func TestCompileReportsEveryProblem(t *testing.T) {
	spec, err := Parse("bad", []byte(`
kind: { path: fields.type, expr: 'x' }
title: { path: 'fields..summary' }
owner: {}
status: { path: fields.status.name, scale: 100 }
state:
  expr: 'fields.status?.name =='
  map: { Done: finished, Open: todo }
due: { path: fields.duedate, format: dd/mm/yyyy }
labels: { path: labels, format: "2006-01-02" }
likelihood: { path: custom.Likelihood, map: { Low: "1", High: "9" } }
impact: { value: 8 }
percent_complete: { path: pc, default: lots }
fields:
  team: { expr: 'names(' }
  cost: { path: 'custom["Cost"]', scale: 0.001 }
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	_, err = Compile("bad", spec, nil)
	if err == nil {
		t.Fatal("Compile succeeded, want errors")
	}
	want := []string{
		"mapping bad: kind: has path and expr: give exactly one of path, expr or value",
		"mapping bad: title.path: empty key at offset 7",
		"mapping bad: owner: needs one of path, expr or value",
		"mapping bad: status.scale: applies only to numbers (percent_complete, planned_cost, actual_cost and fields)",
		"mapping bad: state.expr: unexpected token EOF (1:22)",
		"mapping bad: due.format: \"dd/mm/yyyy\" is not a Go time layout holding a date (write 02/01/2006, not dd/mm/yyyy)",
		`mapping bad: percent_complete.default: "lots" is not a number`,
		`mapping bad: likelihood.map: "9" for "High" is outside 1..5`,
		"mapping bad: impact.value: 8 is outside 1..5",
		"mapping bad: labels.format: applies only to dates (start, due, done_at, updated_at)",
		"mapping bad: fields.team.expr: unexpected token EOF (1:6)",
	}
	if diff := cmp.Diff(want, messages(t, err)); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestCompileChecksKindAndStateTargets(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "state map target and default",
			src:  "kind: { value: task }\ntitle: { value: t }\nstate: { path: s, map: { Open: todo, Review: reviewing }, default: later }\n",
			want: []string{
				`mapping m: state.map: "reviewing" for "Review" is not one of todo, in_progress, blocked, done, cancelled`,
				`mapping m: state.default: "later" is not one of todo, in_progress, blocked, done, cancelled`,
			},
		},
		{
			name: "kind map target and constant",
			src:  "kind: { path: t, map: { Epic: epic } }\ntitle: { value: t }\nstate: { value: finished }\n",
			want: []string{
				`mapping m: kind.map: "epic" for "Epic" is not one of task, milestone, risk`,
				`mapping m: state.value: "finished" is not one of todo, in_progress, blocked, done, cancelled`,
			},
		},
		{
			name: "map keys that differ only in case",
			src:  "kind: { value: task }\ntitle: { value: t }\nstate: { path: s, map: { Done: done, DONE: cancelled } }\n",
			want: []string{
				`mapping m: state.map: keys "DONE" and "Done" differ only in letter case but map to "cancelled" and "done"`,
			},
		},
		{
			name: "missing required targets",
			src:  "owner: { path: o }\n",
			want: []string{
				"mapping m: kind: no rule: every rule set needs kind, title and state",
				"mapping m: title: no rule: every rule set needs kind, title and state",
				"mapping m: state: no rule: every rule set needs kind, title and state",
			},
		},
		{
			name: "empty and null fields",
			src:  base + "fields:\n  \"\": { path: a }\n  team:\n",
			want: []string{
				"mapping m: fields: a field name is empty",
				"mapping m: fields.team: no rule",
			},
		},
		{
			name: "infinite scale",
			src:  base + "planned_cost: { path: c, scale: .inf }\n",
			want: []string{"mapping m: planned_cost.scale: is not a finite number"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := Parse("m", []byte(tt.src))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			_, err = Compile("m", spec, nil)
			if err == nil {
				t.Fatal("Compile succeeded, want errors")
			}
			if diff := cmp.Diff(tt.want, messages(t, err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompileAcceptsCaseEquivalentMapKeys(t *testing.T) {
	// Two spellings mapping to the same value are harmless.
	s := compileYAML(t, "m", "kind: { value: task }\ntitle: { value: t }\nstate: { path: s, map: { Done: done, DONE: done } }\n")
	it, err := s.Map(rec(map[string]any{"s": "done"}))
	if err != nil {
		t.Fatalf("Map: %v", err)
	}
	if it.State != pmsync.StateDone {
		t.Errorf("State = %q, want done", it.State)
	}
}

func TestExtends(t *testing.T) {
	specs := map[string]string{
		"vendor-default": `
kind: { value: task }
title: { path: name }
owner: { path: assignee }
state: { path: status, map: { Open: todo, Closed: done } }
fields:
  team: { path: team }
  area: { path: area }
`,
		"pmo": `
extends: vendor-default
owner: { path: lead }
fields:
  area: { path: region }
`,
		"site": `
extends: pmo
title: { path: summary }
fields:
  site: { value: "North" }
`,
		"loop-a": "extends: loop-b\n",
		"loop-b": "extends: loop-c\n",
		"loop-c": "extends: loop-a\n",
		"self":   "extends: self\nkind: { value: task }\n",
		"orphan": "extends: nowhere\nkind: { value: task }\ntitle: { path: '' }\n",
		"broken-base": `
kind: { value: task }
title: { path: name }
state: { value: todo }
owner: { path: 'a..b' }
`,
		"uses-broken":  "extends: broken-base\n",
		"fixes-broken": "extends: broken-base\nowner: { path: a.b }\n",
	}
	lookup := func(name string) (Spec, bool) {
		src, ok := specs[name]
		if !ok {
			return Spec{}, false
		}
		s, err := Parse(name, []byte(src))
		if err != nil {
			t.Fatalf("Parse(%s): %v", name, err)
		}
		return s, true
	}
	compile := func(name string) (*Set, error) {
		spec, _ := lookup(name)
		return Compile(name, spec, lookup)
	}

	t.Run("override", func(t *testing.T) {
		s, err := compile("site")
		if err != nil {
			t.Fatalf("Compile: %v", err)
		}
		if s.Name() != "site" {
			t.Errorf("Name() = %q, want site", s.Name())
		}
		got, err := s.Map(rec(map[string]any{
			"name": "from vendor", "summary": "from site", "assignee": "Ann", "lead": "Bo",
			"status": "Closed", "team": "Core", "area": "A1", "region": "East",
		}))
		if err != nil {
			t.Fatalf("Map: %v", err)
		}
		want := pmsync.Item{
			Source: "test", ExternalID: "T-1", URL: "https://tracker.example.test/T-1",
			Kind: pmsync.KindTask, Title: "from site", Owner: "Bo", State: pmsync.StateDone,
			UpdatedAt: rec(nil).UpdatedAt,
			Fields:    map[string]any{"team": "Core", "area": "East", "site": "North"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Map (-want +got):\n%s", diff)
		}
	})

	errTests := []struct {
		name string
		want []string
	}{
		{"loop-a", []string{"mapping loop-c: extends: cycle: loop-a -> loop-b -> loop-c -> loop-a"}},
		{"self", []string{"mapping self: extends: cycle: self -> self"}},
		{"orphan", []string{`mapping orphan: extends: unknown mapping "nowhere"`, "mapping orphan: title: needs one of path, expr or value"}},
		{"uses-broken", []string{"mapping broken-base: owner.path: empty key at offset 2"}},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compile(tt.name)
			if err == nil {
				t.Fatal("Compile succeeded, want an error")
			}
			if diff := cmp.Diff(tt.want, messages(t, err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("override hides a broken base rule", func(t *testing.T) {
		if _, err := compile("fixes-broken"); err != nil {
			t.Errorf("Compile: %v", err)
		}
	})

	t.Run("nil lookup", func(t *testing.T) {
		spec, _ := lookup("pmo")
		_, err := Compile("pmo", spec, nil)
		var e *Error
		if !errors.As(err, &e) || e.Path != "extends" || e.Mapping != "pmo" {
			t.Errorf("Compile with nil lookup = %v, want an extends *Error", err)
		}
	})
}
