package mapping

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pmsync/pmsync"
)

func TestTextOf(t *testing.T) {
	tests := []struct {
		in   any
		want string
		ok   bool
	}{
		{"EHR-1", "EHR-1", true},
		{10001.0, "10001", true},
		{1.5, "1.5", true},
		{1e21, "1000000000000000000000", true},
		{-0.25, "-0.25", true},
		{7, "7", true},
		{int64(-3), "-3", true},
		{json.Number("12.50"), "12.50", true},
		{true, "true", true},
		{time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC), "2026-01-05T10:00:00Z", true},
		{[]any{"a"}, "", false},
		{map[string]any{"a": 1.0}, "", false},
		{nil, "", false},
	}
	for _, tt := range tests {
		got, ok := textOf(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("textOf(%#v) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestToDate(t *testing.T) {
	tests := []struct {
		in     any
		format string
		want   pmsync.Date
		err    string
	}{
		{"2026-01-05", "", "2026-01-05", ""},
		{" 2026-01-05 ", "", "2026-01-05", ""},
		{"2026-01-05T10:00:00Z", "", "2026-01-05", ""},
		{"2026-01-05T23:30:00-05:00", "", "2026-01-05", ""},
		{"2026-01-05T23:30:00.000-0500", "", "2026-01-05", ""},
		{"2026-01-05T00:30:00.000+1300", "", "2026-01-05", ""},
		{"2026-01-05T00:00:00", "", "2026-01-05", ""},
		{"2026-01-05 14:00:00", "", "2026-01-05", ""},
		{"2026-01-05T10:00:00.123456789Z", "", "2026-01-05", ""},
		{"05/01/2026", "02/01/2006", "2026-01-05", ""},
		{"2026-01-05", "02/01/2006", "2026-01-05", ""},
		{"Jan 5, 2026", "Jan 2, 2006", "2026-01-05", ""},
		{time.Date(2026, 1, 5, 23, 0, 0, 0, time.FixedZone("x", -5*3600)), "", "2026-01-05", ""},
		{nil, "", "", ""},
		{"", "", "", ""},
		{"31/02/2026", "", "", "is not a date"},
		{"31/02/2026", "02/01/2006", "", "is not a date"},
		{"2026-02-30", "", "", "is not a date"},
		{"2026-01-05Tnoon", "", "", "is not a date"},
		{"tomorrow", "", "", "is not a date"},
		{20260105.0, "", "", "is not a date"},
		{true, "", "", "is not a date"},
	}
	for _, tt := range tests {
		got, err := toDate(tt.in, tt.format)
		if errText(err) != tt.err || got != tt.want {
			t.Errorf("toDate(%#v, %q) = %q, %v; want %q, %q", tt.in, tt.format, got, err, tt.want, tt.err)
		}
	}
}

func TestToTime(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	tests := []struct {
		in     any
		format string
		want   time.Time
		err    string
	}{
		{"2026-01-05T10:00:00Z", "", utc(2026, 1, 5, 10, 0, 0, 0), ""},
		{"2026-01-05T10:00:00.5+02:00", "", utc(2026, 1, 5, 8, 0, 0, 500000000), ""},
		{"2026-01-05T10:00:00.000+0000", "", utc(2026, 1, 5, 10, 0, 0, 0), ""},
		{"2026-01-05T22:15:30.250-0500", "", utc(2026, 1, 6, 3, 15, 30, 250000000), ""},
		{"2026-01-05T10:00:00", "", utc(2026, 1, 5, 10, 0, 0, 0), ""},
		{"2026-01-05", "", utc(2026, 1, 5, 0, 0, 0, 0), ""},
		{"05.01.2026 13:45", "02.01.2006 15:04", utc(2026, 1, 5, 13, 45, 0, 0), ""},
		{time.Date(2026, 1, 5, 10, 0, 0, 0, time.FixedZone("x", 3600)), "", utc(2026, 1, 5, 9, 0, 0, 0), ""},
		{nil, "", time.Time{}, ""},
		{"", "", time.Time{}, ""},
		{"5 Jan 2026", "", time.Time{}, "is not a timestamp"},
		{1767607200.0, "", time.Time{}, "is not a timestamp"},
	}
	for _, tt := range tests {
		got, err := toTime(tt.in, tt.format)
		if errText(err) != tt.err || !got.Equal(tt.want) {
			t.Errorf("toTime(%#v, %q) = %v, %v; want %v, %q", tt.in, tt.format, got, err, tt.want, tt.err)
		}
		if err == nil && !got.IsZero() && got.Location() != time.UTC {
			t.Errorf("toTime(%#v) location = %v, want UTC", tt.in, got.Location())
		}
	}
}

func TestNumberOf(t *testing.T) {
	tests := []struct {
		in   any
		want float64
		ok   bool
	}{
		{12.5, 12.5, true},
		{3, 3, true},
		{int64(-4), -4, true},
		{json.Number("1200.50"), 1200.5, true},
		{"1200", 1200, true},
		{" 12 ", 12, true},
		{"$1,200.50", 1200.5, true},
		{"1,234,567", 1234567, true},
		{"€ 3.5", 3.5, true},
		{"3.5 €", 3.5, true},
		{"£-7", -7, true},
		{"-$5", -5, true},
		{"+4", 4, true},
		{"45%", 45, true},
		{"1e3", 1000, true},
		{"0.45", 0.45, true},
		{"1,5", 0, false},
		{"12,34.5", 0, false},
		{",100", 0, false},
		{"1,000,00", 0, false},
		{"abc", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"0x10", 0, false},
		{"1_000", 0, false},
		{"--5", 0, false},
		{"", 0, false},
		{"$", 0, false},
		{"4 - High", 0, false},
		{true, 0, false},
		{nil, 0, false},
		{[]any{1.0}, 0, false},
	}
	for _, tt := range tests {
		got, ok := numberOf(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("numberOf(%#v) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestToNumber(t *testing.T) {
	tests := []struct {
		in    any
		scale float64
		want  *float64
		err   string
	}{
		{0.45, 100, ptr(45), ""},
		{0.07, 100, ptr(7), ""},
		{"0.333", 100, ptr(33.3), ""},
		{1200.0, 0, ptr(1200), ""},
		{"$1,200.50", 0, ptr(1200.5), ""},
		{0.0, 0, ptr(0), ""},
		{nil, 100, nil, ""},
		{"", 0, nil, ""},
		{"n/a", 0, nil, "is not a number"},
		{false, 0, nil, "is not a number"},
	}
	for _, tt := range tests {
		got, err := toNumber(tt.in, tt.scale)
		if errText(err) != tt.err || !cmp.Equal(got, tt.want) {
			t.Errorf("toNumber(%#v, %v) = %v, %v; want %v, %q", tt.in, tt.scale, deref(got), err, deref(tt.want), tt.err)
		}
	}
}

func TestToScore(t *testing.T) {
	tests := []struct {
		in   any
		want int
		err  string
	}{
		{3.0, 3, ""},
		{5, 5, ""},
		{"3", 3, ""},
		{" 2 ", 2, ""},
		{"4 - High", 4, ""},
		{"1. Rare", 1, ""},
		{"5-Severe", 5, ""},
		{json.Number("2"), 2, ""},
		{nil, 0, ""},
		{"", 0, ""},
		{7.0, 0, "is outside 1..5"},
		{"7", 0, "is outside 1..5"},
		{"10 - Extreme", 0, "is outside 1..5"},
		{0.0, 0, "is outside 1..5"},
		{3.5, 0, "is not a whole number 1..5"},
		{"4.5 - High", 0, "is not a whole number 1..5"},
		{"High", 0, "is not a whole number 1..5"},
		{"4a", 0, "is not a whole number 1..5"},
		{true, 0, "is not a whole number 1..5"},
	}
	for _, tt := range tests {
		got, err := toScore(tt.in)
		if errText(err) != tt.err || got != tt.want {
			t.Errorf("toScore(%#v) = %d, %v; want %d, %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestToLabels(t *testing.T) {
	tests := []struct {
		in   any
		want []string
		err  string
	}{
		{[]any{"go-live", "nursing"}, []string{"go-live", "nursing"}, ""},
		{[]any{map[string]any{"name": "Milestone", "color": "green"}, map[string]any{"name": "Risk"}}, []string{"Milestone", "Risk"}, ""},
		{"a, b,,c ", []string{"a", "b", "c"}, ""},
		{[]string{"x", " ", "y"}, []string{"x", "y"}, ""},
		{[]any{"a", nil, 3.0}, []string{"a", "3"}, ""},
		{"single", []string{"single"}, ""},
		{"", nil, ""},
		{nil, nil, ""},
		{[]any{}, nil, ""},
		{[]any{map[string]any{"color": "red"}}, nil, "is a list of objects without a name"},
		{[]any{[]any{"nested"}}, nil, "is not a list of labels"},
		{map[string]any{"name": "x"}, nil, "is not a list of labels"},
	}
	for _, tt := range tests {
		got, err := toLabels(tt.in)
		if errText(err) != tt.err || !cmp.Equal(got, tt.want) {
			t.Errorf("toLabels(%#v) = %#v, %v; want %#v, %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestToField(t *testing.T) {
	tests := []struct {
		in    any
		scale float64
		want  any
		err   string
	}{
		{"Clinical", 0, "Clinical", ""},
		{12.5, 0, 12.5, ""},
		{3, 0, 3.0, ""},
		{true, 0, true, ""},
		{json.Number("7"), 0, 7.0, ""},
		{nil, 0, nil, ""},
		{[]any{"a", 2, false}, 0, []any{"a", 2.0, false}, ""},
		{[]string{"a", "b"}, 0, []any{"a", "b"}, ""},
		{time.Date(2026, 1, 5, 10, 0, 0, 0, time.FixedZone("x", 3600)), 0, "2026-01-05T09:00:00Z", ""},
		{"0.5", 100, 50.0, ""},
		{"much", 100, nil, "is not a number"},
		{map[string]any{"value": "x"}, 0, nil, "is an object: map one of its keys, or names(list, key) for a list"},
		{[]any{map[string]any{"name": "x"}}, 0, nil, "is an object: map one of its keys, or names(list, key) for a list"},
		{[]any{[]any{"x"}}, 0, nil, "is a nested list"},
	}
	for _, tt := range tests {
		got, err := toField(tt.in, tt.scale)
		if errText(err) != tt.err || !cmp.Equal(got, tt.want) {
			t.Errorf("toField(%#v, %v) = %#v, %v; want %#v, %q", tt.in, tt.scale, got, err, tt.want, tt.err)
		}
	}
}

func TestToKindAndState(t *testing.T) {
	kinds := []struct {
		in   any
		want pmsync.Kind
		err  string
	}{
		{"risk", pmsync.KindRisk, ""},
		{"Milestone", pmsync.KindMilestone, ""},
		{" TASK ", pmsync.KindTask, ""},
		{"epic", "", "is not one of task, milestone, risk"},
		{nil, "", "no kind (give the rule a default)"},
		{[]any{"risk"}, "", "is not a single value"},
	}
	for _, tt := range kinds {
		got, err := toKind(tt.in)
		if errText(err) != tt.err || got != tt.want {
			t.Errorf("toKind(%#v) = %q, %v; want %q, %q", tt.in, got, err, tt.want, tt.err)
		}
	}
	states := []struct {
		in   any
		want pmsync.State
		err  string
	}{
		{"in_progress", pmsync.StateInProgress, ""},
		{"Done", pmsync.StateDone, ""},
		{"CANCELLED", pmsync.StateCancelled, ""},
		{"In Progress", "", "is not one of todo, in_progress, blocked, done, cancelled"},
		{"", "", "no state (give the rule a default)"},
	}
	for _, tt := range states {
		got, err := toState(tt.in)
		if errText(err) != tt.err || got != tt.want {
			t.Errorf("toState(%#v) = %q, %v; want %q, %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}
