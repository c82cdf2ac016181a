package mapping

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		in   string
		want path
	}{
		{"fields.assignee.displayName", path{{key: "fields"}, {key: "assignee"}, {key: "displayName"}}},
		{`custom["Planned Cost"]`, path{{key: "custom"}, {key: "Planned Cost"}}},
		{`cells['% Complete']`, path{{key: "cells"}, {key: "% Complete"}}},
		{"labels[0]", path{{key: "labels"}, {key: "0", index: 0, isIndex: true}}},
		{"labels[-1]", path{{key: "labels"}, {key: "-1", index: -1, isIndex: true}}},
		{`custom["Team"].value`, path{{key: "custom"}, {key: "Team"}, {key: "value"}}},
		{`a["say \"hi\""]`, path{{key: "a"}, {key: `say "hi"`}}},
		{`a['it\'s']`, path{{key: "a"}, {key: "it's"}}},
		{`["% Complete"]`, path{{key: "% Complete"}}},
		{"fields.components[1].name", path{{key: "fields"}, {key: "components"}, {key: "1", index: 1, isIndex: true}, {key: "name"}}},
		{"customfield_10015", path{{key: "customfield_10015"}}},
		{"a[0][1]", path{{key: "a"}, {key: "0", isIndex: true}, {key: "1", index: 1, isIndex: true}}},
	}
	for _, tt := range tests {
		got, err := parsePath(tt.in)
		if err != nil {
			t.Errorf("parsePath(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(segment{})); diff != "" {
			t.Errorf("parsePath(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParsePathErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "path is empty"},
		{"a..b", "empty key at offset 2"},
		{".a", "empty key at offset 0"},
		{"a.", "path ends with a dot"},
		{"a[", "unclosed [ at offset 1"},
		{"a[0", "unclosed [ at offset 1"},
		{`a["x`, "unterminated quoted key"},
		{`a["x"`, "expected ] after quoted key"},
		{"a[x]", "[x] at offset 1 is neither an index nor a quoted key"},
		{"a[0]b", `unexpected 'b' at offset 4 after ]`},
		{"Start date", `unexpected ' ' at offset 5`},
		{"fields.status?.name", `unexpected '?' at offset 13`},
	}
	for _, tt := range tests {
		_, err := parsePath(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parsePath(%q) error = %v, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestWalk(t *testing.T) {
	data := map[string]any{
		"fields": map[string]any{
			"assignee": nil,
			"status":   map[string]any{"name": "Done"},
			"labels":   []any{"a", "b", "c"},
		},
		"custom":  map[string]any{"Planned Cost": 1200.0, "10": "ten"},
		"strings": []string{"x", "y"},
		"smap":    map[string]string{"k": "v"},
		"objs":    []map[string]any{{"name": "first"}},
	}
	tests := []struct {
		path string
		want any
	}{
		{"fields.status.name", "Done"},
		{"fields.assignee.displayName", nil},
		{"fields.missing.deeper.still", nil},
		{"nothing", nil},
		{`custom["Planned Cost"]`, 1200.0},
		{"custom[10]", "ten"},
		{"fields.labels[0]", "a"},
		{"fields.labels[2]", "c"},
		{"fields.labels[-1]", "c"},
		{"fields.labels[3]", nil},
		{"fields.labels[-4]", nil},
		{"fields.labels.name", nil},
		{"fields.status[0]", nil},
		{"strings[1]", "y"},
		{"smap.k", "v"},
		{"smap.z", nil},
		{"objs[0].name", "first"},
		{"fields.status.name.deeper", nil},
	}
	for _, tt := range tests {
		p, err := parsePath(tt.path)
		if err != nil {
			t.Fatalf("parsePath(%q): %v", tt.path, err)
		}
		if got := p.walk(data); !cmp.Equal(got, tt.want) {
			t.Errorf("walk(%q) = %#v, want %#v", tt.path, got, tt.want)
		}
	}
}

func TestWalkReflectFallback(t *testing.T) {
	type names map[string]int
	data := map[string]any{"counts": names{"open": 3}, "arr": [2]string{"p", "q"}}
	tests := []struct {
		path string
		want any
	}{
		{"counts.open", 3},
		{"counts.closed", nil},
		{"arr[1]", "q"},
	}
	for _, tt := range tests {
		p, err := parsePath(tt.path)
		if err != nil {
			t.Fatalf("parsePath(%q): %v", tt.path, err)
		}
		if got := p.walk(data); !cmp.Equal(got, tt.want) {
			t.Errorf("walk(%q) = %#v, want %#v", tt.path, got, tt.want)
		}
	}
}
