package mapping

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// segment is one step of a path: a map key, or a list index when isIndex.
// An index applied to a map looks up its decimal form as a key, so that
// `custom[10]` reaches a key named "10".
type segment struct {
	key     string
	index   int
	isIndex bool
}

// path is a parsed field path. Parsing happens once at compile time; walking
// it per record is a loop of map look-ups and slice indexes.
type path []segment

// parsePath parses the dotted form with bracket steps:
// `fields.assignee.displayName`, `custom["Planned Cost"]`, `cells['% Complete']`,
// `labels[0]`, `labels[-1]` (the last element).
func parsePath(s string) (path, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("path is empty")
	}
	var p path
	i := 0
	expectKey := true // at the start or right after a dot
	for i < len(s) {
		c := s[i]
		switch {
		case c == '[':
			seg, n, err := parseBracket(s, i)
			if err != nil {
				return nil, err
			}
			p = append(p, seg)
			i = n
			expectKey = false
			if i < len(s) && s[i] != '.' && s[i] != '[' {
				return nil, fmt.Errorf("unexpected %q at offset %d after ]", s[i], i)
			}
		case c == '.':
			if expectKey {
				return nil, fmt.Errorf("empty key at offset %d", i)
			}
			i++
			if i == len(s) {
				return nil, errors.New("path ends with a dot")
			}
			expectKey = true
		default:
			if !expectKey {
				return nil, fmt.Errorf("unexpected %q at offset %d", c, i)
			}
			start := i
			for i < len(s) && s[i] != '.' && s[i] != '[' {
				if !keyByte(s[i]) {
					return nil, fmt.Errorf("unexpected %q at offset %d (quote keys with spaces or symbols: [\"%% Complete\"])", s[i], i)
				}
				i++
			}
			p = append(p, segment{key: s[start:i]})
			expectKey = false
		}
	}
	return p, nil
}

// keyByte reports whether c may appear in an unquoted key. Quotes, brackets
// and spaces are kept out so that a forgotten bracket is a compile error
// rather than a key that never matches.
func keyByte(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '"', '\'', ']', '(', ')', ',', '=', '!', '?', '&', '|', '+', '*', '/':
		return false
	}
	return true
}

// parseBracket parses the bracket step starting at s[i] == '[' and returns it
// with the offset just past the closing bracket.
func parseBracket(s string, i int) (segment, int, error) {
	open := i
	i++
	if i >= len(s) {
		return segment{}, 0, fmt.Errorf("unclosed [ at offset %d", open)
	}
	if q := s[i]; q == '"' || q == '\'' {
		var b strings.Builder
		i++
		for {
			if i >= len(s) {
				return segment{}, 0, fmt.Errorf("unterminated quoted key starting at offset %d", open+1)
			}
			c := s[i]
			if c == '\\' && i+1 < len(s) && (s[i+1] == q || s[i+1] == '\\') {
				b.WriteByte(s[i+1])
				i += 2
				continue
			}
			if c == q {
				i++
				break
			}
			b.WriteByte(c)
			i++
		}
		if i >= len(s) || s[i] != ']' {
			return segment{}, 0, fmt.Errorf("expected ] after quoted key at offset %d", i)
		}
		return segment{key: b.String()}, i + 1, nil
	}
	end := strings.IndexByte(s[i:], ']')
	if end < 0 {
		return segment{}, 0, fmt.Errorf("unclosed [ at offset %d", open)
	}
	text := strings.TrimSpace(s[i : i+end])
	n, err := strconv.Atoi(text)
	if err != nil {
		return segment{}, 0, fmt.Errorf("[%s] at offset %d is neither an index nor a quoted key", text, open)
	}
	return segment{key: text, index: n, isIndex: true}, i + end + 1, nil
}

// walk follows p from v. A missing key, an index out of range or a nil in
// the middle yields nil: vendors omit empty fields, and a mapping must not
// fail on that.
func (p path) walk(v any) any {
	for _, seg := range p {
		if v == nil {
			return nil
		}
		v = step(v, seg)
	}
	return v
}

// step applies one segment. The common decoded-JSON shapes are switched on
// directly; anything else a connector might add goes through reflect.
func step(v any, seg segment) any {
	switch c := v.(type) {
	case map[string]any:
		return c[seg.key]
	case []any:
		if i, ok := seg.at(len(c)); ok {
			return c[i]
		}
		return nil
	case map[string]string:
		if s, ok := c[seg.key]; ok {
			return s
		}
		return nil
	case []string:
		if i, ok := seg.at(len(c)); ok {
			return c[i]
		}
		return nil
	case []map[string]any:
		if i, ok := seg.at(len(c)); ok {
			return c[i]
		}
		return nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil
		}
		e := rv.MapIndex(reflect.ValueOf(seg.key).Convert(rv.Type().Key()))
		if !e.IsValid() {
			return nil
		}
		return e.Interface()
	case reflect.Slice, reflect.Array:
		if i, ok := seg.at(rv.Len()); ok {
			return rv.Index(i).Interface()
		}
	}
	return nil
}

// at resolves the segment to an index into a list of length n; negative
// indexes count from the end.
func (seg segment) at(n int) (int, bool) {
	if !seg.isIndex {
		return 0, false
	}
	i := seg.index
	if i < 0 {
		i += n
	}
	return i, i >= 0 && i < n
}
