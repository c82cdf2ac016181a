package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/pmsync/pmsync/mapping"
)

// file is the YAML document as written. Push differs from the exported type
// because "programs" is either the word "all" or a list.
type file struct {
	Database    string                  `yaml:"database"`
	Timezone    string                  `yaml:"timezone"`
	Log         Log                     `yaml:"log"`
	HTTP        HTTP                    `yaml:"http"`
	Schedule    Schedule                `yaml:"schedule"`
	Sync        Sync                    `yaml:"sync"`
	Rules       Rules                   `yaml:"rules"`
	Connections []Connection            `yaml:"connections"`
	Programs    []Program               `yaml:"programs"`
	Mappings    map[string]mapping.Spec `yaml:"mappings"`
	Push        []filePush              `yaml:"push"`
}

type filePush struct {
	Connection string    `yaml:"connection"`
	Target     Target    `yaml:"target"`
	Programs   yaml.Node `yaml:"programs"`
}

// defaults is the document before the file is decoded over it, so that a
// key left out keeps its default.
func defaults() file {
	return file{
		Database: DefaultDatabase,
		Log:      Log{Level: "info", Format: "auto"},
		HTTP:     HTTP{Listen: DefaultListen},
		Schedule: Schedule{Sync: DefaultSync, Rollup: DefaultRollup, Deletions: DefaultDeletions},
		Sync:     Sync{Overlap: DefaultOverlap, RunTimeout: DefaultRunTimeout},
	}
}

// decode fills doc from data strictly and indexes the document's nodes. It
// reports false when the YAML cannot be read at all (a syntax error), in
// which case nothing more can be said about it.
func (l *loader) decode(data []byte, doc *file) bool {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		l.yamlError(err)
		return false
	}
	l.idx = newIndex(&root, reflect.TypeFor[file]())

	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(doc)
	var te *yaml.TypeError
	switch {
	case errors.Is(err, io.EOF):
		return true // an empty file: every key keeps its default
	case errors.As(err, &te):
		// The decoder goes on after a type error and returns what it could
		// decode, so validation still runs on the rest.
		for _, msg := range te.Errors {
			l.typeError(msg)
		}
		if len(root.Content) > 0 && (root.Content[0].Kind != yaml.MappingNode || duplicateKeys(root.Content[0])) {
			// Nothing was decoded (the document is not a mapping, or the
			// decoder gave up on it for a duplicate key): validating the
			// defaults would only mislead.
			return false
		}
	case err != nil:
		l.yamlError(err)
		return false
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		l.add(Problem{File: l.file, Line: next.Line, Msg: "a config file holds one YAML document; remove the second one"})
	}
	return true
}

// yamlError reports an error from the YAML parser ("yaml: line 3: …").
func (l *loader) yamlError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line, rest := cutLine(msg)
	l.add(Problem{File: l.file, Line: line, Msg: rest})
}

// cutLine splits "line 12: message" into 12 and "message".
func cutLine(msg string) (int, string) {
	head, rest, ok := strings.Cut(msg, ": ")
	if !ok || !strings.HasPrefix(head, "line ") {
		return 0, msg
	}
	n, err := strconv.Atoi(strings.TrimPrefix(head, "line "))
	if err != nil {
		return 0, msg
	}
	return n, rest
}

// typeError turns one of the decoder's messages into a Problem with a key
// path. The decoder only gives a line and a Go type, so the key is found in
// the node index by line and name (or value).
func (l *loader) typeError(msg string) {
	line, rest := cutLine(msg)
	p := Problem{File: l.file, Line: line, Msg: rest}
	switch {
	case strings.HasPrefix(rest, "field ") && strings.Contains(rest, " not found in type "):
		key, _, _ := strings.Cut(strings.TrimPrefix(rest, "field "), " not found in type ")
		if e := l.idx.findKey(line, key); e != nil {
			p.Path, p.Msg = e.path, unknownKey(key, e.parent)
		} else {
			p.Msg = fmt.Sprintf("unknown key %q", key)
		}
	case strings.HasPrefix(rest, "field ") && strings.Contains(rest, " already set in type "):
		key, _, _ := strings.Cut(strings.TrimPrefix(rest, "field "), " already set in type ")
		p.Msg = "duplicate key"
		if e := l.idx.findKey(line, key); e != nil {
			p.Path = e.path
			if first := l.idx.byPath[e.path]; first != nil && first.line() != line {
				p.Msg = fmt.Sprintf("duplicate key (first set on line %d)", first.line())
			}
		}
	case strings.HasPrefix(rest, "mapping key ") && strings.Contains(rest, " already defined at line "):
		quoted, firstLine, _ := strings.Cut(strings.TrimPrefix(rest, "mapping key "), " already defined at line ")
		key, err := strconv.Unquote(quoted)
		if err != nil {
			key = quoted
		}
		p.Msg = fmt.Sprintf("duplicate key (first set on line %s)", firstLine)
		if e := l.idx.findKey(line, key); e != nil {
			p.Path = e.path
		}
	case strings.HasPrefix(rest, "cannot unmarshal "):
		tag, value, goType := parseCannot(strings.TrimPrefix(rest, "cannot unmarshal "))
		if e := l.idx.findValue(line, tag, value); e != nil {
			p.Path, p.Line = e.path, e.line()
			p.Msg = fmt.Sprintf("expected %s, got %s", describe(e.typ, goType), shown(e.value))
		} else if goType == "config.file" {
			p.Msg = "expected a mapping of keys such as database, connections, programs"
		}
	}
	l.decodeErrs = append(l.decodeErrs, p.Path)
	l.add(p)
}

// parseCannot splits the decoder's "!!str `abc` into int" into its parts;
// value is "" for mappings and lists and may end in "..." when cut short.
func parseCannot(s string) (tag, value, goType string) {
	tag, rest, _ := strings.Cut(s, " ")
	if strings.HasPrefix(rest, "`") {
		value, rest, _ = strings.Cut(rest[1:], "` ")
	}
	goType = strings.TrimPrefix(rest, "into ")
	return tag, value, goType
}

// describe says in words what a key expects.
func describe(t reflect.Type, goType string) string {
	if t == nil {
		return goType
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "text"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if t == reflect.TypeFor[time.Duration]() {
			return "a duration such as 90s, 5m or 1h30m"
		}
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
	return goType
}

// shown describes a node's value for a message: scalars quoted (and cut
// short), collections by their shape.
func shown(n *yaml.Node) string {
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

// unknownKey explains an unknown key: literal secrets are pointed to their
// _env/_file keys, typos to the nearest known key.
func unknownKey(key string, parent reflect.Type) string {
	known := structKeys(parent)
	if slices.Contains(known, key+"_env") {
		return fmt.Sprintf("unknown key; secrets are read from %s_env or %s_file", key, key)
	}
	best, bestDist := "", 3
	for _, k := range known {
		if d := distance(key, k); d < bestDist {
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

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
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

// index locates every key and list item of the document by key path, with
// the Go type the decoder expects there.
type index struct {
	entries []*entry
	byPath  map[string]*entry // the first entry of each path
}

type entry struct {
	path   string
	key    *yaml.Node // nil for a list item
	value  *yaml.Node
	typ    reflect.Type // expected type of value; nil when not known
	parent reflect.Type // type of the mapping holding key
	used   bool         // already matched to a decoder message
}

func (e *entry) line() int {
	if e.key != nil {
		return e.key.Line
	}
	return e.value.Line
}

func newIndex(root *yaml.Node, t reflect.Type) *index {
	ix := &index{byPath: map[string]*entry{}}
	ix.walk(root, "", t)
	return ix
}

func (ix *index) walk(n *yaml.Node, path string, t reflect.Type) {
	t = deref(t)
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			ix.walk(n.Content[0], path, t)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.Value == "<<" {
				continue
			}
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			ct := childType(t, k.Value)
			ix.add(&entry{path: p, key: k, value: v, typ: ct, parent: t})
			ix.walk(v, p, ct)
		}
	case yaml.SequenceNode:
		var et reflect.Type
		if t != nil && t.Kind() == reflect.Slice {
			et = t.Elem()
		}
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			ix.add(&entry{path: p, value: item, typ: et})
			ix.walk(item, p, et)
		}
	}
}

func (ix *index) add(e *entry) {
	ix.entries = append(ix.entries, e)
	if _, ok := ix.byPath[e.path]; !ok {
		ix.byPath[e.path] = e
	}
}

// findKey returns the first unmatched entry whose key is name on line.
func (ix *index) findKey(line int, name string) *entry {
	for _, e := range ix.entries {
		if !e.used && e.key != nil && e.key.Line == line && e.key.Value == name {
			e.used = true
			return e
		}
	}
	return nil
}

// findValue returns the first unmatched entry whose value on line fits the
// decoder's description (tag and possibly cut-short value).
func (ix *index) findValue(line int, tag, value string) *entry {
	for _, e := range ix.entries {
		if e.used || e.value.Line != line {
			continue
		}
		var fits bool
		switch tag {
		case "!!map":
			fits = e.value.Kind == yaml.MappingNode
		case "!!seq":
			fits = e.value.Kind == yaml.SequenceNode
		default:
			short, cut := strings.CutSuffix(value, "...")
			fits = e.value.Kind == yaml.ScalarNode &&
				(e.value.Value == value || cut && strings.HasPrefix(e.value.Value, short))
		}
		if fits {
			e.used = true
			return e
		}
	}
	return nil
}

// line returns the line of path, or of its nearest ancestor present in the
// file (a missing key is reported where its parent is), or 0.
func (ix *index) line(path string) int {
	for {
		if e := ix.byPath[path]; e != nil {
			return e.line()
		}
		if path == "" {
			return 0
		}
		path = parentPath(path)
	}
}

// node returns the value node at path, or nil.
func (ix *index) node(path string) *yaml.Node {
	if e := ix.byPath[path]; e != nil {
		return e.value
	}
	return nil
}

// scalar returns the text of the scalar at path, or "".
func (ix *index) scalar(path string) string {
	if n := ix.node(path); n != nil && n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

// items returns, for the list at path, the position in the file of each
// element the decoder kept, and the positions of empty elements. The decoder
// silently drops elements it cannot turn into a struct (an empty item, a
// mapping with a duplicate key), so the n-th decoded element is not always
// the n-th in the file.
func (ix *index) items(path string) (kept, empty []int) {
	n := ix.node(path)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil, nil
	}
	for i, item := range n.Content {
		if item.Kind == yaml.AliasNode && item.Alias != nil {
			item = item.Alias
		}
		switch {
		case item.Kind == yaml.MappingNode && !duplicateKeys(item):
			kept = append(kept, i)
		case item.Kind == yaml.ScalarNode && item.ShortTag() == "!!null":
			empty = append(empty, i)
		}
	}
	return kept, empty
}

func duplicateKeys(n *yaml.Node) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if seen[k] {
			return true
		}
		seen[k] = true
	}
	return false
}

// parentPath strips the last key or index from a key path.
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// childType returns the type the decoder puts the value of key into, or nil.
func childType(t reflect.Type, key string) reflect.Type {
	switch {
	case t == nil || t == reflect.TypeFor[yaml.Node]():
		return nil
	case t.Kind() == reflect.Map:
		return t.Elem()
	case t.Kind() == reflect.Struct:
		if f, ok := structFields(t)[key]; ok {
			return f
		}
	}
	return nil
}

// structKeys lists the YAML keys of a struct type, in field order.
func structKeys(t reflect.Type) []string {
	t = deref(t)
	if t == nil || t.Kind() != reflect.Struct || t == reflect.TypeFor[yaml.Node]() {
		return nil
	}
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, inline, ok := yamlName(f)
		switch {
		case !ok:
		case inline:
			keys = append(keys, structKeys(f.Type)...)
		default:
			keys = append(keys, name)
		}
	}
	return keys
}

// structFields maps the YAML keys of a struct type to their field types.
func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, inline, ok := yamlName(f)
		switch {
		case !ok:
		case inline && deref(f.Type).Kind() == reflect.Struct:
			for k, v := range structFields(deref(f.Type)) {
				out[k] = v
			}
		default:
			out[name] = f.Type
		}
	}
	return out
}

// yamlName reads a field's key the way the YAML decoder does.
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
