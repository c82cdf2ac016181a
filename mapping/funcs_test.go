package mapping

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pmsync/pmsync"
)

func TestFnDateAndNum(t *testing.T) {
	dates := []struct {
		in   any
		want any
	}{
		{"2026-01-05T10:00:00.000+0000", "2026-01-05"},
		{"2026-01-05", "2026-01-05"},
		{"soon", nil},
		{"", nil},
		{nil, nil},
		{12.0, nil},
	}
	for _, tt := range dates {
		got, err := fnDate(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("date(%#v) = %#v, %v; want %#v", tt.in, got, err, tt.want)
		}
	}
	nums := []struct {
		in   any
		want any
	}{
		{"$1,200.50", 1200.5},
		{" 7 ", 7.0},
		{3, 3.0},
		{"n/a", nil},
		{nil, nil},
		{true, nil},
	}
	for _, tt := range nums {
		got, err := fnNum(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("num(%#v) = %#v, %v; want %#v", tt.in, got, err, tt.want)
		}
	}
}

func TestFnNames(t *testing.T) {
	tests := []struct {
		list any
		key  string
		want []any
	}{
		{[]any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}, "name", []any{"a", "b"}},
		{[]any{map[string]any{"name": "a"}, "x", nil, map[string]any{"id": 1.0}, map[string]any{"name": nil}}, "name", []any{"a"}},
		{[]map[string]any{{"gid": "1"}, {"gid": "2"}}, "gid", []any{"1", "2"}},
		{nil, "name", []any{}},
		{"not a list", "name", []any{}},
	}
	for _, tt := range tests {
		got, err := fnNames(tt.list, tt.key)
		if err != nil || !cmp.Equal(got, any(tt.want)) {
			t.Errorf("names(%#v, %q) = %#v, %v; want %#v", tt.list, tt.key, got, err, tt.want)
		}
	}
}

func TestFnHas(t *testing.T) {
	tests := []struct {
		list, value any
		want        bool
	}{
		{[]any{"Milestone", "Risk"}, "risk", true},
		{[]any{"Milestone"}, "risks", false},
		{[]string{"Go-Live"}, "go-live", true},
		{[]string{"a"}, "b", false},
		{[]any{1.0, 2.0}, 2, true},
		{[]any{1.0, 2.0}, "2", false},
		{[]any{"2"}, 2.0, false},
		{[]any{true}, true, true},
		{[]any{false}, true, false},
		{[]any{nil}, nil, true},
		{[]any{map[string]any{"a": 1.0}}, map[string]any{"a": 1.0}, false},
		{[]any{[]any{"x"}}, []any{"x"}, false},
		{"Risk", "RISK", true},
		{nil, "x", false},
	}
	for _, tt := range tests {
		got, err := fnHas(tt.list, tt.value)
		if err != nil || got != tt.want {
			t.Errorf("has(%#v, %#v) = %v, %v; want %v", tt.list, tt.value, got, err, tt.want)
		}
	}
}

func TestConstants(t *testing.T) {
	s := compileYAML(t, "m", `
kind: { value: milestone }
title: { value: 2026 }
state: { value: Done }
due: { value: 2026-06-30 }
done_at: { value: 2026-06-30T17:00:00+02:00 }
planned_cost: { value: 250000 }
likelihood: { value: 2 }
labels: { value: [board, 7] }
fields:
  phase: { value: 3 }
  ratio: { value: 0.5 }
  go: { value: true }
  steps: { value: [1, two] }
`)
	got, err := s.Map(rec(nil))
	if err != nil {
		t.Fatalf("Map: %v", err)
	}
	want := pmsync.Item{
		Source: "test", ExternalID: "T-1", URL: "https://tracker.example.test/T-1",
		Kind: pmsync.KindMilestone, Title: "2026", State: pmsync.StateDone,
		Due:         "2026-06-30",
		DoneAt:      time.Date(2026, 6, 30, 15, 0, 0, 0, time.UTC),
		UpdatedAt:   time.Date(2026, 2, 1, 8, 30, 0, 0, time.UTC),
		PlannedCost: ptr(250000),
		Likelihood:  2,
		Labels:      []string{"board", "7"},
		Fields:      map[string]any{"phase": 3.0, "ratio": 0.5, "go": true, "steps": []any{1.0, "two"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Map (-want +got):\n%s", diff)
	}
}

func TestWholeEnvExpression(t *testing.T) {
	// $env reads the env as a whole, so it must see `record` too.
	s := compileYAML(t, "m", base+"owner: { expr: '$env.record.id + \"/\" + $env[\"key\"]' }\n")
	it, err := s.Map(rec(map[string]any{"key": "K-9"}))
	if err != nil {
		t.Fatalf("Map: %v", err)
	}
	if it.Owner != "T-1/K-9" {
		t.Errorf("owner = %q, want T-1/K-9", it.Owner)
	}
}

func TestExpressionErrorKeepsCause(t *testing.T) {
	spec, err := Parse("m", []byte(base+"owner: { expr: '1 +' }\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	_, err = Compile("m", spec, nil)
	var ee *exprError
	if !errors.As(err, &ee) || errors.Unwrap(ee) == nil {
		t.Fatalf("Compile error %v does not keep expr's error", err)
	}
}
