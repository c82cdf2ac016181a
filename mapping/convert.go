package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pmsync/pmsync"
)

// valueType says how a rule's result is converted for its target field.
type valueType int

const (
	typeText   valueType = iota // title, url, owner, priority, status, milestone, parent
	typeKind                    // kind
	typeState                   // state
	typeDate                    // start, due
	typeTime                    // done_at, updated_at
	typeNumber                  // percent_complete, planned_cost, actual_cost
	typeScore                   // likelihood, impact
	typeLabels                  // labels
	typeAny                     // fields.*
)

// takesScale reports whether `scale` means something for the type.
func (t valueType) takesScale() bool { return t == typeNumber || t == typeAny }

// takesFormat reports whether `format` means something for the type.
func (t valueType) takesFormat() bool { return t == typeDate || t == typeTime }

// jiraLayout is how Jira writes timestamps: milliseconds and a colon-less
// offset, which RFC 3339 parsing rejects.
const jiraLayout = "2006-01-02T15:04:05.999999999-0700"

// localLayout is a timestamp without a zone, as Smartsheet writes dates.
const localLayout = "2006-01-02T15:04:05.999999999"

// isEmpty reports whether v counts as "no value" for defaults and `required`.
func isEmpty(v any) bool {
	switch c := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(c) == ""
	case []any:
		return len(c) == 0
	case []string:
		return len(c) == 0
	case map[string]any:
		return len(c) == 0
	}
	return false
}

// textOf returns the string form of a scalar. Numbers are written without
// exponent or trailing zeros, so a Jira id decoded as 10001.0 reads "10001".
func textOf(v any) (string, bool) {
	switch c := v.(type) {
	case string:
		return c, true
	case float64:
		return formatFloat(c), true
	case int:
		return strconv.Itoa(c), true
	case int64:
		return strconv.FormatInt(c, 10), true
	case int32:
		return strconv.FormatInt(int64(c), 10), true
	case uint64:
		return strconv.FormatUint(c, 10), true
	case float32:
		return formatFloat(float64(c)), true
	case json.Number:
		return c.String(), true
	case bool:
		return strconv.FormatBool(c), true
	case time.Time:
		return c.Format(time.RFC3339Nano), true
	case pmsync.Date:
		return string(c), true
	}
	return "", false
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// show renders a value for an error message: short, quoted when text.
func show(v any) string {
	switch c := v.(type) {
	case nil:
		return "null"
	case string:
		const limit = 60
		if utf8.RuneCountInString(c) > limit {
			r := []rune(c)
			c = string(r[:limit]) + "…"
		}
		return strconv.Quote(c)
	case []any, []string:
		return "[…]"
	case map[string]any:
		return "{…}"
	}
	if s, ok := textOf(v); ok {
		return s
	}
	return fmt.Sprintf("%T", v)
}

// toText converts to the string form for text fields.
func toText(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	s, ok := textOf(v)
	if !ok {
		return "", errors.New("is not a single value")
	}
	return strings.TrimSpace(s), nil
}

// toKind converts to a pmsync.Kind, accepting any letter case.
func toKind(v any) (pmsync.Kind, error) {
	s, err := toText(v)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", errors.New("no kind (give the rule a default)")
	}
	k := pmsync.Kind(s)
	if !k.Valid() {
		k = pmsync.Kind(strings.ToLower(s))
	}
	if !k.Valid() {
		return "", errors.New("is not one of task, milestone, risk")
	}
	return k, nil
}

// toState converts to a pmsync.State, accepting any letter case.
func toState(v any) (pmsync.State, error) {
	s, err := toText(v)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", errors.New("no state (give the rule a default)")
	}
	st := pmsync.State(s)
	if !st.Valid() {
		st = pmsync.State(strings.ToLower(s))
	}
	if !st.Valid() {
		return "", errors.New("is not one of todo, in_progress, blocked, done, cancelled")
	}
	return st, nil
}

// parseTimestamp parses the timestamp forms vendors send, choosing the
// layout from the string's shape so that a record costs one parse, not a
// series of failed attempts. ok is false when s is none of them.
func parseTimestamp(s string) (time.Time, bool) {
	layout := pmsync.DateLayout
	if len(s) > 10 {
		if s[10] != 'T' && s[10] != ' ' {
			return time.Time{}, false
		}
		n := len(s)
		switch {
		case s[n-1] == 'Z' || s[n-1] == 'z':
			layout = time.RFC3339Nano
		case n >= 16 && s[n-3] == ':' && (s[n-6] == '+' || s[n-6] == '-'):
			layout = time.RFC3339Nano
		case n >= 15 && (s[n-5] == '+' || s[n-5] == '-'):
			layout = jiraLayout
		default:
			layout = localLayout
		}
		if s[10] == ' ' {
			b := []byte(s)
			b[10] = 'T'
			s = string(b)
		}
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// toDate converts to a calendar date, keeping the date as written: a Jira
// "2026-01-05T23:30:00.000-0500" is the 5th, not the 6th in UTC, because the
// person who typed it meant the 5th.
func toDate(v any, format string) (pmsync.Date, error) {
	switch c := v.(type) {
	case nil:
		return "", nil
	case time.Time:
		return pmsync.DateOf(c), nil
	case pmsync.Date:
		return c, nil
	case string:
		s := strings.TrimSpace(c)
		if s == "" {
			return "", nil
		}
		if format != "" {
			if t, err := time.Parse(format, s); err == nil {
				return pmsync.DateOf(t), nil
			}
		}
		if t, ok := parseTimestamp(s); ok {
			return pmsync.DateOf(t), nil
		}
	}
	return "", errors.New("is not a date")
}

// toTime converts to an instant in UTC. A value without a zone is taken as
// UTC, which is what Smartsheet's zone-less timestamps mean.
func toTime(v any, format string) (time.Time, error) {
	switch c := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return c.UTC(), nil
	case pmsync.Date:
		if c == "" {
			return time.Time{}, nil
		}
		return c.Time(), nil
	case string:
		s := strings.TrimSpace(c)
		if s == "" {
			return time.Time{}, nil
		}
		if format != "" {
			if t, err := time.Parse(format, s); err == nil {
				return t.UTC(), nil
			}
		}
		if t, ok := parseTimestamp(s); ok {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("is not a timestamp")
}

// numberOf converts a number or numeric string to float64; ok is false for
// anything else (including nil). Strings may carry thousands separators,
// surrounding spaces, currency symbols or a percent sign: "$1,200.50",
// " 12 ", "€ 3.5", "45%".
func numberOf(v any) (float64, bool) {
	var f float64
	switch c := v.(type) {
	case float64:
		f = c
	case int:
		f = float64(c)
	case int64:
		f = float64(c)
	case int32:
		f = float64(c)
	case uint64:
		f = float64(c)
	case float32:
		f = float64(c)
	case json.Number:
		var err error
		if f, err = c.Float64(); err != nil {
			return 0, false
		}
	case string:
		return parseNumber(c)
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// parseNumber is numberOf for strings.
func parseNumber(s string) (float64, bool) {
	s = strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.Is(unicode.Sc, r) || r == '%'
	})
	neg := false
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		neg = s[0] == '-'
		// A sign may stand before the currency symbol: "-$5".
		s = strings.TrimLeftFunc(s[1:], func(r rune) bool { return unicode.IsSpace(r) || unicode.Is(unicode.Sc, r) })
		if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
			return 0, false
		}
	}
	if s == "" {
		return 0, false
	}
	if strings.IndexByte(s, ',') >= 0 {
		var ok bool
		if s, ok = dropGrouping(s); !ok {
			return 0, false
		}
	}
	// ParseFloat would also take "Inf", "NaN", hex and underscores; a cell
	// holding those is not a number a PMO typed.
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '.':
		case (c == 'e' || c == 'E') && i > 0:
		case (c == '-' || c == '+') && i > 0 && (s[i-1] == 'e' || s[i-1] == 'E'):
		default:
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	if neg {
		f = -f
	}
	return f, true
}

// dropGrouping removes thousands separators, accepting them only in groups
// of three digits before the decimal point: "1,200.50" is 1200.5, but "1,5"
// (a decimal comma) is rejected rather than read as 15.
func dropGrouping(s string) (string, bool) {
	intPart, frac, hasFrac := strings.Cut(s, ".")
	groups := strings.Split(intPart, ",")
	if len(groups[0]) == 0 || len(groups[0]) > 3 {
		return "", false
	}
	for _, g := range groups[1:] {
		if len(g) != 3 {
			return "", false
		}
	}
	out := strings.Join(groups, "")
	if hasFrac {
		if strings.IndexByte(frac, ',') >= 0 {
			return "", false
		}
		out += "." + frac
	}
	return out, true
}

// toNumber converts for the optional number fields; nil and "" are unset.
func toNumber(v any, scale float64) (*float64, error) {
	if isEmpty(v) {
		return nil, nil
	}
	f, ok := numberOf(v)
	if !ok {
		return nil, errors.New("is not a number")
	}
	if scale != 0 {
		f = scaled(f, scale)
	}
	return &f, nil
}

// scaled multiplies and rounds to 12 significant digits: 0.45 × 100 is
// 45.00000000000001 in binary floating point, and a dashboard must show 45.
func scaled(f, scale float64) float64 {
	r, err := strconv.ParseFloat(strconv.FormatFloat(f*scale, 'g', 12, 64), 64)
	if err != nil {
		return f * scale
	}
	return r
}

// toScore converts a 1..5 likelihood or impact: a number, "3", or a select
// option label led by its digit such as "4 - High". nil and "" are 0 (unset).
func toScore(v any) (int, error) {
	if isEmpty(v) {
		return 0, nil
	}
	f, ok := numberOf(v)
	if !ok {
		s, isText := v.(string)
		if !isText {
			return 0, errors.New("is not a whole number 1..5")
		}
		s = strings.TrimSpace(s)
		n := 0
		for n < len(s) && s[n] >= '0' && s[n] <= '9' {
			n++
		}
		// "4 - High" and "4. High" qualify; "4.5" and "42abc" are not scores.
		if n == 0 || (n < len(s) && s[n] == '.' && n+1 < len(s) && s[n+1] >= '0' && s[n+1] <= '9') {
			return 0, errors.New("is not a whole number 1..5")
		}
		if n < len(s) && (unicode.IsLetter(rune(s[n])) || s[n] == '_') {
			return 0, errors.New("is not a whole number 1..5")
		}
		i, err := strconv.Atoi(s[:n])
		if err != nil {
			return 0, errors.New("is not a whole number 1..5")
		}
		f = float64(i)
	}
	if f != math.Trunc(f) {
		return 0, errors.New("is not a whole number 1..5")
	}
	if f < 1 || f > 5 {
		return 0, errors.New("is outside 1..5")
	}
	return int(f), nil
}

// toLabels converts a list of strings, a list of objects with a "name" (as
// Trello and Jira components send them) or a comma-separated string.
func toLabels(v any) ([]string, error) {
	switch c := v.(type) {
	case nil:
		return nil, nil
	case string:
		var out []string
		for part := range strings.SplitSeq(c, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
		return out, nil
	case []string:
		out := make([]string, 0, len(c))
		for _, s := range c {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return emptyNil(out), nil
	case []any:
		out := make([]string, 0, len(c))
		for _, e := range c {
			if m, ok := e.(map[string]any); ok {
				e = m["name"]
				if e == nil {
					return nil, errors.New("is a list of objects without a name")
				}
			}
			if e == nil {
				continue
			}
			s, ok := textOf(e)
			if !ok {
				return nil, errors.New("is not a list of labels")
			}
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return emptyNil(out), nil
	}
	if s, ok := textOf(v); ok {
		return toLabels(s)
	}
	return nil, errors.New("is not a list of labels")
}

func emptyNil(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// toField converts an extra mapped value. Scalars and lists of scalars are
// kept; objects are refused so that a mapping cannot store a vendor payload
// wholesale by accident (only what a rule names is kept). Integers become
// float64 so that a value reads the same whether it came from JSON or from an
// expression.
func toField(v any, scale float64) (any, error) {
	if scale != 0 && v != nil {
		f, ok := numberOf(v)
		if !ok {
			return nil, errors.New("is not a number")
		}
		return scaled(f, scale), nil
	}
	switch c := v.(type) {
	case []any:
		out := make([]any, len(c))
		for i, e := range c {
			s, err := fieldScalar(e)
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	case []string:
		out := make([]any, len(c))
		for i, e := range c {
			out[i] = e
		}
		return out, nil
	}
	return fieldScalar(v)
}

func fieldScalar(v any) (any, error) {
	switch c := v.(type) {
	case nil, string, bool, float64:
		return c, nil
	case time.Time:
		return c.UTC().Format(time.RFC3339Nano), nil
	case pmsync.Date:
		return string(c), nil
	case map[string]any:
		return nil, errors.New("is an object: map one of its keys, or names(list, key) for a list")
	case []any, []string:
		return nil, errors.New("is a nested list")
	}
	if f, ok := numberOf(v); ok {
		if _, isText := v.(string); !isText {
			return f, nil
		}
	}
	if s, ok := textOf(v); ok {
		return s, nil
	}
	return nil, fmt.Errorf("has unsupported type %T", v)
}
