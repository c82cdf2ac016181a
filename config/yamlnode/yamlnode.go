// Package yamlnode decodes YAML nodes into Go values strictly and reports
// every problem at the node it concerns: line, column and key path come
// from the parsed nodes themselves, never from a decoder's message text.
// config decodes the whole file with it, and each connector decodes its own
// blocks (connection options, scope, push target) with a Block.
package yamlnode

import (
	"encoding"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with a document, at a key path.
type Problem struct {
	Line, Column int // 0 when the problem has no place in the file
	Path         string
	Msg          string
}

func (p Problem) String() string {
	switch {
	case p.Path != "" && p.Line > 0:
		return fmt.Sprintf("%d: %s: %s", p.Line, p.Path, p.Msg)
	case p.Line > 0:
		return fmt.Sprintf("%d: %s", p.Line, p.Msg)
	case p.Path != "":
		return p.Path + ": " + p.Msg
	}
	return p.Msg
}

// maxDepth bounds nesting (and alias expansion) so that a hostile document
// cannot recurse without end.
const maxDepth = 64

// Decode decodes n into the value v points to. Unknown keys, duplicate keys
// and values of the wrong type are problems; the rest of the document is
// still decoded, so that one run reports everything. path is the key path
// of n ("" for the document root).
func Decode(n *yaml.Node, path string, v any) []Problem {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("yamlnode: Decode needs a non-nil pointer")
	}
	d := &decoder{}
	d.decode(n, path, rv.Elem(), 0, nil)
	return d.problems
}

// DecodeExcept decodes the mapping n into v like Decode, except that keys
// listed in skip are left alone (another decoder owns them) and keys that
// v does not know are returned as a mapping node of their own, in file
// order, instead of being problems. It returns nil when there are none.
func DecodeExcept(n *yaml.Node, path string, v any, skip ...string) (*yaml.Node, []Problem) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || deref(rv.Type()).Kind() != reflect.Struct {
		panic("yamlnode: DecodeExcept needs a pointer to a struct")
	}
	d := &decoder{}
	n = resolve(n)
	if n == nil || isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		d.typeProblem(n, path, rv.Elem().Type())
		return nil, d.problems
	}
	rest := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	d.decodeStruct(n, path, rv.Elem(), 0, func(k, val *yaml.Node) bool {
		if slices.Contains(skip, k.Value) {
			return true
		}
		rest.Content = append(rest.Content, k, val)
		return true
	})
	if len(rest.Content) == 0 {
		return nil, d.problems
	}
	return rest, d.problems
}

type decoder struct {
	problems []Problem
}

func (d *decoder) add(n *yaml.Node, path, format string, args ...any) {
	p := Problem{Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.problems = append(d.problems, p)
}

var (
	nodeType     = reflect.TypeFor[yaml.Node]()
	durationType = reflect.TypeFor[time.Duration]()
	textType     = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// resolve follows an alias and unwraps a document node.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil {
		switch {
		case n.Kind == yaml.DocumentNode && len(n.Content) > 0:
			n = n.Content[0]
		case n.Kind == yaml.DocumentNode:
			return nil
		case n.Kind == yaml.AliasNode:
			n = n.Alias
		default:
			return n
		}
	}
	return nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// unknownFunc is told about keys a struct does not have; it reports whether
// the key was taken care of (otherwise it is a problem).
type unknownFunc func(key, value *yaml.Node) bool

func (d *decoder) decode(n *yaml.Node, path string, v reflect.Value, depth int, unknown unknownFunc) {
	if depth > maxDepth {
		d.add(n, path, "nested too deeply")
		return
	}
	n = resolve(n)
	if n == nil {
		return
	}
	t := v.Type()
	if t == nodeType {
		v.Set(reflect.ValueOf(*n))
		return
	}
	if t.Kind() == reflect.Pointer {
		if isNull(n) {
			v.Set(reflect.Zero(t))
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.decode(n, path, v.Elem(), depth+1, unknown)
		return
	}
	if reflect.PointerTo(t).Implements(textType) && n.Kind == yaml.ScalarNode {
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.add(n, path, "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.add(n, path, "cannot read this value: %v", strings.TrimPrefix(err.Error(), "yaml: "))
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.Struct:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.typeProblem(n, path, t)
			return
		}
		d.decodeStruct(n, path, v, depth, unknown)
	case reflect.Map:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.typeProblem(n, path, t)
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		d.eachPair(n, path, depth, func(k, val *yaml.Node, p string) {
			if k.Kind != yaml.ScalarNode {
				d.add(k, path, "a key must be plain text")
				return
			}
			kv := reflect.New(t.Key()).Elem()
			if t.Key().Kind() != reflect.String {
				d.add(k, p, "unsupported key type")
				return
			}
			kv.SetString(k.Value)
			ev := reflect.New(t.Elem()).Elem()
			if old := v.MapIndex(kv); old.IsValid() {
				ev.Set(old) // a merge key's value, overridden key by key
			}
			d.decode(val, p, ev, depth+1, nil)
			v.SetMapIndex(kv, ev)
		})
	case reflect.Slice:
		if isNull(n) {
			v.Set(reflect.Zero(t))
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.typeProblem(n, path, t)
			return
		}
		out := reflect.MakeSlice(t, 0, len(n.Content))
		for i, item := range n.Content {
			ev := reflect.New(t.Elem()).Elem()
			ip := fmt.Sprintf("%s[%d]", path, i)
			if r := resolve(item); r != nil && isNull(r) && deref(t.Elem()).Kind() == reflect.Struct && deref(t.Elem()) != nodeType {
				d.add(r, ip, "empty list item; expected a mapping")
			}
			d.decode(item, ip, ev, depth+1, nil)
			out = reflect.Append(out, ev)
		}
		v.Set(out)
	default:
		d.scalar(n, path, v)
	}
}

// eachPair calls f for every key of a mapping, merge keys (<<) expanded
// first so that the mapping's own keys override them, and reports keys
// given twice.
func (d *decoder) eachPair(n *yaml.Node, path string, depth int, f func(k, v *yaml.Node, p string)) {
	seen := map[string]int{}
	var walk func(m *yaml.Node, own bool, depth int)
	walk = func(m *yaml.Node, own bool, depth int) {
		if depth > maxDepth {
			d.add(m, path, "nested too deeply")
			return
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
				continue
			}
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if own && k.Kind == yaml.ScalarNode {
				if first, dup := seen[k.Value]; dup {
					d.add(k, p, "duplicate key (first set on line %d)", first)
					continue
				}
				seen[k.Value] = k.Line
			}
			f(k, v, p)
		}
	}
	// Merged mappings first, then the mapping's own keys over them.
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value != "<<" || k.ShortTag() != "!!merge" {
			continue
		}
		v = resolve(v)
		switch {
		case v != nil && v.Kind == yaml.MappingNode:
			walk(v, false, depth+1)
		case v != nil && v.Kind == yaml.SequenceNode:
			for _, m := range v.Content {
				if m = resolve(m); m != nil && m.Kind == yaml.MappingNode {
					walk(m, false, depth+1)
				} else {
					d.add(k, path, "a merge key takes a mapping or a list of mappings")
				}
			}
		default:
			d.add(k, path, "a merge key takes a mapping or a list of mappings")
		}
	}
	walk(n, true, depth)
}

func (d *decoder) decodeStruct(n *yaml.Node, path string, v reflect.Value, depth int, unknown unknownFunc) {
	fields := structFields(v.Type())
	d.eachPair(n, path, depth, func(k, val *yaml.Node, p string) {
		if k.Kind != yaml.ScalarNode {
			d.add(k, path, "a key must be plain text")
			return
		}
		idx, ok := fields[k.Value]
		if !ok {
			if unknown != nil && unknown(k, val) {
				return
			}
			d.add(k, p, "%s", UnknownKey(k.Value, Keys(v.Type())))
			return
		}
		d.decode(val, p, v.FieldByIndex(idx), depth+1, nil)
	})
}

// scalar decodes a scalar into a basic type.
func (d *decoder) scalar(n *yaml.Node, path string, v reflect.Value) {
	t := v.Type()
	if n.Kind != yaml.ScalarNode {
		d.typeProblem(n, path, t)
		return
	}
	if isNull(n) {
		v.Set(reflect.Zero(t))
		return
	}
	if t == durationType {
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			d.typeProblem(n, path, t)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	if t.Kind() == reflect.String {
		v.SetString(n.Value)
		return
	}
	ptr := reflect.New(t)
	if err := n.Decode(ptr.Interface()); err != nil {
		d.typeProblem(n, path, t)
		return
	}
	v.Set(ptr.Elem())
}

func (d *decoder) typeProblem(n *yaml.Node, path string, t reflect.Type) {
	d.add(n, path, "expected %s, got %s", Describe(t), Shown(n))
}

// Describe says in words what a value of type t looks like.
func Describe(t reflect.Type) string {
	t = deref(t)
	if t == durationType {
		return "a duration such as 90s, 5m or 1h30m"
	}
	switch t.Kind() {
	case reflect.String:
		return "text"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

// Shown describes a node's value for a message: scalars quoted (and cut
// short), collections by their shape.
func Shown(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	v := n.Value
	if utf8.RuneCountInString(v) > 40 {
		v = string([]rune(v)[:40]) + "…"
	}
	return strconv.Quote(v)
}

// UnknownKey explains an unknown key given the keys known where it stands:
// a literal secret is pointed to its _env/_file keys, a typo to the nearest
// known key.
func UnknownKey(key string, known []string) string {
	if slices.Contains(known, key+"_env") {
		return fmt.Sprintf("unknown key; secrets are read from %s_env or %s_file", key, key)
	}
	best, bestDist := "", 3
	for _, k := range known {
		if d := Distance(key, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	switch {
	case best != "":
		return fmt.Sprintf("unknown key; did you mean %q?", best)
	case len(known) > 0:
		return "unknown key; known keys: " + strings.Join(known, ", ")
	}
	return "unknown key"
}

// Distance is the Levenshtein distance between a and b.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// Keys lists the YAML keys of a struct type, in field order.
func Keys(t reflect.Type) []string {
	t = deref(t)
	if t == nil || t.Kind() != reflect.Struct || t == nodeType {
		return nil
	}
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, inline, ok := yamlName(f)
		switch {
		case !ok:
		case inline:
			keys = append(keys, Keys(f.Type)...)
		default:
			keys = append(keys, name)
		}
	}
	return keys
}

// structFields maps the YAML keys of a struct type to their field indexes.
func structFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, inline, ok := yamlName(f)
		switch {
		case !ok:
		case inline && deref(f.Type).Kind() == reflect.Struct && f.Type.Kind() == reflect.Struct:
			for k, idx := range structFields(f.Type) {
				out[k] = append([]int{i}, idx...)
			}
		default:
			out[name] = []int{i}
		}
	}
	return out
}

// yamlName reads a field's key the way the YAML library does.
func yamlName(f reflect.StructField) (name string, inline, ok bool) {
	if !f.IsExported() {
		return "", false, false
	}
	tag := f.Tag.Get("yaml")
	if tag == "-" {
		return "", false, false
	}
	name, flags, _ := strings.Cut(tag, ",")
	inline = slices.Contains(strings.Split(flags, ","), "inline")
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, inline, true
}
