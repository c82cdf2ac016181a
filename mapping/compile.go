package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"github.com/pmsync/pmsync"
	"go.yaml.in/yaml/v3"
)

// source says where a compiled rule's raw value comes from.
type source int

const (
	srcPath source = iota
	srcExpr
	srcValue
)

// rule is a compiled Rule, ready to be applied to any number of records.
type rule struct {
	target target
	field  string // "state", "fields.team": names the field in errors and misses
	name   string // the key inside `fields` for tField

	src        source
	path       path
	fromRecord bool // the path starts at `record`, not at the record's data
	prog       *vm.Program
	value      any

	hasMap   bool
	exact    map[string]string
	folded   map[string]string // keys trimmed and lower-cased
	def      string
	required bool
	scale    float64
	format   string
}

// Set is a compiled rule set. It is safe for concurrent use.
type Set struct {
	name   string
	rules  []*rule // fixed targets, in target order
	fields []*rule // `fields` entries, by name
	// exprRecord says that some expression reads `record`; when none does,
	// the record's data serves as the env as it is, with no copy.
	exprRecord  bool
	scratch     sync.Pool // *evaluation
	fingerprint string
	// redactors are the redaction rules applied to every item, in order.
	redactors []*redactor
}

// Name returns the name the set was compiled under.
func (s *Set) Name() string { return s.name }

// Compile compiles spec, resolving `extends` through lookup (which may be
// nil when nothing is extended). It reports every problem it finds, joined,
// each an *Error naming the set the faulty rule came from and its key path.
func Compile(name string, spec Spec, lookup func(name string) (Spec, bool)) (*Set, error) {
	chain, errs := resolveChain(name, spec, lookup)

	// Merge from the base outwards so that each set overrides what it
	// extends, remembering where each rule came from for error messages.
	type origin struct {
		rule *Rule
		from string
	}
	fixed := make([]origin, tField)
	fields := map[string]origin{}
	for i := len(chain) - 1; i >= 0; i-- {
		link := chain[i]
		for _, nr := range link.spec.targets() {
			if nr.rule != nil {
				fixed[nr.target] = origin{nr.rule, link.name}
			}
		}
		for k, r := range link.spec.Fields {
			fields[k] = origin{r, link.name}
		}
	}

	s := &Set{name: name}
	// A broken extends chain means the merged set is incomplete, so missing
	// required rules would only be noise.
	complete := len(errs) == 0
	for _, nr := range spec.targets() {
		o := fixed[nr.target]
		if o.rule == nil {
			if complete && (nr.target == tKind || nr.target == tTitle || nr.target == tState) {
				errs = append(errs, &Error{Mapping: name, Path: nr.name, Err: errors.New("no rule: every rule set needs kind, title and state")})
			}
			continue
		}
		r, rerrs := compileRule(o.from, nr.target, nr.name, "", o.rule)
		errs = append(errs, rerrs...)
		if r != nil {
			s.rules = append(s.rules, r)
		}
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		o := fields[k]
		if strings.TrimSpace(k) == "" {
			errs = append(errs, &Error{Mapping: o.from, Path: "fields", Err: errors.New("a field name is empty")})
			continue
		}
		if o.rule == nil {
			errs = append(errs, &Error{Mapping: o.from, Path: "fields." + k, Err: errors.New("no rule")})
			continue
		}
		r, rerrs := compileRule(o.from, tField, "fields."+k, k, o.rule)
		errs = append(errs, rerrs...)
		if r != nil {
			s.fields = append(s.fields, r)
		}
	}
	if complete {
		var (
			list *[]Redaction
			from = name
		)
		for _, l := range chain {
			if l.spec.Redact != nil {
				list, from = l.spec.Redact, l.name
				break
			}
		}
		rs, rerrs := compileRedactions(from, list)
		errs = append(errs, rerrs...)
		s.redactors = rs
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, r := range slices.Concat(s.rules, s.fields) {
		if r.src == srcExpr && readsRecord(r.prog) {
			s.exprRecord = true
		}
	}
	s.scratch.New = func() any { return &evaluation{set: s} }
	s.fingerprint = fingerprint(chain)
	return s, nil
}

// fingerprint hashes the specs of an extends chain: two sets with the same
// fingerprint map every record alike.
func fingerprint(chain []link) string {
	h := sha256.New()
	for _, l := range chain {
		// YAML holds whatever the spec was decoded from (JSON cannot hold a
		// map with non-string keys or a NaN), and prints no addresses.
		b, err := yaml.Marshal(l.spec)
		if err != nil {
			b = []byte(err.Error())
		}
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// Fingerprint identifies what the set does (its rules, including those it
// extends), so that a change of mapping can be noticed between runs.
func (s *Set) Fingerprint() string { return s.fingerprint }

// link is one set in an extends chain.
type link struct {
	name string
	spec Spec
}

// resolveChain follows `extends` from spec to the set that extends nothing.
func resolveChain(name string, spec Spec, lookup func(string) (Spec, bool)) ([]link, []error) {
	chain := []link{{name, spec}}
	for cur := chain[0]; cur.spec.Extends != ""; cur = chain[len(chain)-1] {
		base := cur.spec.Extends
		for _, l := range chain {
			if l.name == base {
				names := make([]string, 0, len(chain)+1)
				for _, l := range chain {
					names = append(names, l.name)
				}
				names = append(names, base)
				return chain, []error{&Error{Mapping: cur.name, Path: "extends", Err: fmt.Errorf("cycle: %s", strings.Join(names, " -> "))}}
			}
		}
		var (
			next Spec
			ok   bool
		)
		if lookup != nil {
			next, ok = lookup(base)
		}
		if !ok {
			return chain, []error{&Error{Mapping: cur.name, Path: "extends", Err: fmt.Errorf("unknown mapping %q", base)}}
		}
		chain = append(chain, link{base, next})
	}
	return chain, nil
}

// compileRule compiles one rule and checks everything that can be checked
// before a record is seen. from names the set the rule was written in.
func compileRule(from string, t target, field, name string, in *Rule) (*rule, []error) {
	var errs []error
	fail := func(key string, err error) {
		p := field
		if key != "" {
			p += "." + key
		}
		errs = append(errs, &Error{Mapping: from, Path: p, Err: err})
	}
	r := &rule{target: t, field: field, name: name, def: in.Default, required: in.Required, scale: in.Scale, format: in.Format}
	typ := t.valueType()

	var given []string
	if in.Path != "" {
		given = append(given, "path")
	}
	if in.Expr != "" {
		given = append(given, "expr")
	}
	if in.Value != nil {
		given = append(given, "value")
	}
	switch len(given) {
	case 0:
		fail("", errors.New("needs one of path, expr or value"))
	case 1:
	default:
		fail("", fmt.Errorf("has %s: give exactly one of path, expr or value", strings.Join(given, " and ")))
	}

	if in.Path != "" {
		r.src = srcPath
		p, err := parsePath(in.Path)
		if err != nil {
			fail("path", err)
		} else if len(p) > 0 && !p[0].isIndex && p[0].key == "record" {
			r.path, r.fromRecord = p[1:], true
		} else {
			r.path = p
		}
	}
	if in.Expr != "" {
		r.src = srcExpr
		prog, err := expr.Compile(in.Expr, exprOptions()...)
		if err != nil {
			fail("expr", oneLine(err))
		}
		r.prog = prog
	}
	if in.Value != nil {
		r.src = srcValue
		r.value = constant(in.Value)
	}

	if in.Scale != 0 {
		switch {
		case !typ.takesScale():
			fail("scale", errors.New("applies only to numbers (percent_complete, planned_cost, actual_cost and fields)"))
		case math.IsNaN(in.Scale) || math.IsInf(in.Scale, 0):
			fail("scale", errors.New("is not a finite number"))
		}
	}
	if in.Format != "" {
		switch {
		case !typ.takesFormat():
			fail("format", errors.New("applies only to dates (start, due, done_at, updated_at)"))
		case !holdsDate(in.Format):
			fail("format", fmt.Errorf("%q is not a Go time layout holding a date (write 02/01/2006, not dd/mm/yyyy)", in.Format))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}

	// Map targets, the default and a constant go through the same
	// conversion as record values, so that a typo such as `map: {Done: finished}`
	// on state fails here rather than on every record.
	if len(in.Map) > 0 {
		r.hasMap = true
		r.exact = in.Map
		r.folded = make(map[string]string, len(in.Map))
		keys := make([]string, 0, len(in.Map))
		for k := range in.Map {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		firstKey := map[string]string{}
		for _, k := range keys {
			v := in.Map[k]
			fk := strings.ToLower(strings.TrimSpace(k))
			if prev, dup := firstKey[fk]; dup && in.Map[prev] != v {
				fail("map", fmt.Errorf("keys %q and %q differ only in letter case but map to %q and %q", prev, k, in.Map[prev], v))
				continue
			}
			firstKey[fk] = k
			r.folded[fk] = v
			if v == "" {
				continue
			}
			if err := r.check(v); err != nil {
				fail("map", fmt.Errorf("%q for %q %w", v, k, err))
			}
		}
	}
	if in.Default != "" {
		if err := r.check(in.Default); err != nil {
			fail("default", fmt.Errorf("%q %w", in.Default, err))
		}
	}
	if r.src == srcValue && !r.hasMap && !isEmpty(r.value) {
		if err := r.check(r.value); err != nil {
			fail("value", fmt.Errorf("%s %w", show(r.value), err))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return r, nil
}

// check converts v as a record value would be, into a throwaway item.
func (r *rule) check(v any) error {
	var it pmsync.Item
	return r.apply(&it, v)
}

// constant normalizes a YAML constant to what decoded JSON would hold:
// integers become float64, and a YAML timestamp becomes the string it was
// written as.
func constant(v any) any {
	switch c := v.(type) {
	case int:
		return float64(c)
	case int64:
		return float64(c)
	case uint64:
		return float64(c)
	case time.Time:
		if c.Equal(c.Truncate(24*time.Hour)) && c.Location() == time.UTC {
			return c.Format(pmsync.DateLayout)
		}
		return c.Format(time.RFC3339Nano)
	case []any:
		out := make([]any, len(c))
		for i, e := range c {
			out[i] = constant(e)
		}
		return out
	}
	return v
}

// holdsDate reports whether layout round-trips a date, catching layouts
// written in another notation that Go would take as literal text.
func holdsDate(layout string) bool {
	ref := time.Date(2026, time.March, 17, 0, 0, 0, 0, time.UTC)
	t, err := time.Parse(layout, ref.Format(layout))
	return err == nil && t.Year() == 2026 && t.Month() == time.March && t.Day() == 17
}

// oneLine drops the source snippet expr appends to its errors, which spans
// several lines and would break log lines and table cells.
func oneLine(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		// expr counts columns from 0; people count from 1.
		return &exprError{msg: fmt.Sprintf("%s (%d:%d)", fe.Message, fe.Line, fe.Column+1), err: err}
	}
	return err
}

// exprError is an expr error shown on one line.
type exprError struct {
	msg string
	err error
}

func (e *exprError) Error() string { return e.msg }
func (e *exprError) Unwrap() error { return e.err }

// readsRecord reports whether an expression refers to `record` (or to the
// whole env), which is built per record only when some rule needs it.
func readsRecord(prog *vm.Program) bool {
	if prog == nil {
		return false
	}
	v := &identFinder{names: []string{"record", "$env"}}
	node := prog.Node()
	ast.Walk(&node, v)
	return v.found
}

type identFinder struct {
	names []string
	found bool
}

func (f *identFinder) Visit(node *ast.Node) {
	if id, ok := (*node).(*ast.IdentifierNode); ok && slices.Contains(f.names, id.Value) {
		f.found = true
	}
}
