package mapping

import (
	"strings"

	"github.com/expr-lang/expr"
)

// exprOptions returns the options every expression is compiled with: an
// untyped map env where unknown names are nil (a vendor omits empty fields)
// and the functions documented in the package comment. Functions given here
// take precedence over expr's builtins of the same name, which is how date
// returns a plain ISO string instead of a time.Time.
func exprOptions() []expr.Option {
	return []expr.Option{
		expr.Env(map[string]any{}),
		expr.AllowUndefinedVariables(),
		expr.Function("date", fnDate, new(func(any) any)),
		expr.Function("num", fnNum, new(func(any) any)),
		expr.Function("names", fnNames, new(func(any, string) []any)),
		expr.Function("has", fnHas, new(func(any, any) bool)),
	}
}

// fnDate is date(x): the ISO date of a date or timestamp string, or nil when
// x is empty or not a date, so that `date(x) ?? "2026-01-01"` works.
func fnDate(params ...any) (any, error) {
	d, err := toDate(params[0], "")
	if err != nil || d == "" {
		return nil, nil
	}
	return string(d), nil
}

// fnNum is num(x): x as a float64, or nil when it is not a number.
func fnNum(params ...any) (any, error) {
	f, ok := numberOf(params[0])
	if !ok {
		return nil, nil
	}
	return f, nil
}

// fnNames is names(list, key): the key's value in each object of the list,
// skipping elements that are not objects or lack the key.
func fnNames(params ...any) (any, error) {
	key, _ := params[1].(string)
	var out []any
	switch list := params[0].(type) {
	case []any:
		out = make([]any, 0, len(list))
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				if v, ok := m[key]; ok && v != nil {
					out = append(out, v)
				}
			}
		}
	case []map[string]any:
		out = make([]any, 0, len(list))
		for _, m := range list {
			if v, ok := m[key]; ok && v != nil {
				out = append(out, v)
			}
		}
	default:
		out = []any{}
	}
	return out, nil
}

// fnHas is has(list, value): whether the list holds value, comparing text
// without regard to letter case and numbers by value. A single value in
// place of the list is compared as a list of one.
func fnHas(params ...any) (any, error) {
	want := params[1]
	switch list := params[0].(type) {
	case nil:
		return false, nil
	case []any:
		for _, e := range list {
			if same(e, want) {
				return true, nil
			}
		}
		return false, nil
	case []string:
		for _, e := range list {
			if same(e, want) {
				return true, nil
			}
		}
		return false, nil
	default:
		return same(list, want), nil
	}
}

// same compares two decoded values the way a person reading them would.
func same(a, b any) bool {
	if sa, ok := a.(string); ok {
		sb, ok := b.(string)
		return ok && strings.EqualFold(sa, sb)
	}
	if fa, ok := numberOf(a); ok {
		if _, isText := b.(string); isText {
			return false
		}
		fb, ok := numberOf(b)
		return ok && fa == fb
	}
	// Only scalars compare: == on two maps or lists would panic.
	switch x := a.(type) {
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	return false
}
