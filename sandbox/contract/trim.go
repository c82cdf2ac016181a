package contract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Trim cuts an OpenAPI document (JSON or YAML) down to the paths a
// connector uses: those paths whole, every component they reach through
// $ref (transitively), the security schemes, the version, servers and
// global security. The vendors' documents run to megabytes; the cut keeps a
// repository copy reviewable while every schema a kept path names stays as
// the vendor wrote it. The result is indented JSON with sorted keys, so a
// refreshed copy diffs cleanly.
func Trim(doc []byte, paths []string) ([]byte, error) {
	root, err := decodeDoc(doc)
	if err != nil {
		return nil, err
	}
	allPaths, _ := root["paths"].(map[string]any)
	keptPaths := map[string]any{}
	for _, p := range paths {
		item, ok := allPaths[p]
		if !ok {
			return nil, fmt.Errorf("trim contract: path %q is not in the document", p)
		}
		keptPaths[p] = item
	}
	comps, _ := root["components"].(map[string]any)
	kept := map[string]map[string]any{}
	keep := func(ref string) error {
		rest, ok := strings.CutPrefix(ref, "#/components/")
		if !ok {
			return nil
		}
		kind, name, ok := componentOf(rest)
		if !ok {
			return fmt.Errorf("trim contract: malformed reference %q", ref)
		}
		if kept[kind] != nil && kept[kind][name] != nil {
			return nil
		}
		group, _ := comps[kind].(map[string]any)
		v, ok := group[name]
		if !ok {
			return fmt.Errorf("trim contract: reference %q names no component", ref)
		}
		if kept[kind] == nil {
			kept[kind] = map[string]any{}
		}
		kept[kind][name] = v
		return nil
	}
	// References into paths (#/paths/~1contacts/parameters/0) would keep
	// paths the cut drops: such values are copied in place of the
	// reference.
	for p, item := range keptPaths {
		v, err := inlineLocal(item, root, 0)
		if err != nil {
			return nil, err
		}
		keptPaths[p] = v
	}
	// Walk until no new component is reached.
	queue := []any{keptPaths, root["security"]}
	if ss, ok := comps["securitySchemes"].(map[string]any); ok {
		kept["securitySchemes"] = ss
	}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		var refs []string
		collectRefs(v, &refs)
		for _, ref := range refs {
			before := count(kept)
			if err := keep(ref); err != nil {
				return nil, err
			}
			if count(kept) > before {
				kind, name, _ := componentOf(strings.TrimPrefix(ref, "#/components/"))
				v, err := inlineLocal(kept[kind][name], root, 0)
				if err != nil {
					return nil, err
				}
				kept[kind][name] = v
				queue = append(queue, v)
			}
		}
	}
	out := map[string]any{"openapi": root["openapi"], "paths": keptPaths}
	if info, ok := root["info"].(map[string]any); ok {
		out["info"] = map[string]any{"title": info["title"], "version": info["version"]}
	}
	for _, k := range []string{"servers", "security"} {
		if v, ok := root[k]; ok {
			out[k] = v
		}
	}
	if len(kept) > 0 {
		c := map[string]any{}
		for k, v := range kept {
			c[k] = v
		}
		out["components"] = c
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("trim contract: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// inlineLocal returns v with every reference into the document outside
// components (#/paths/…) replaced by a copy of what it points at.
func inlineLocal(v any, root map[string]any, depth int) (any, error) {
	if depth > 64 {
		return nil, fmt.Errorf("trim contract: references nest too deep")
	}
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok && strings.HasPrefix(ref, "#/") && !strings.HasPrefix(ref, "#/components/") {
			target, err := pointer(root, ref)
			if err != nil {
				return nil, err
			}
			return inlineLocal(target, root, depth+1)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			w, err := inlineLocal(e, root, depth)
			if err != nil {
				return nil, err
			}
			out[k] = w
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			w, err := inlineLocal(e, root, depth)
			if err != nil {
				return nil, err
			}
			out[i] = w
		}
		return out, nil
	}
	return v, nil
}

// pointer resolves a local JSON pointer (#/a/b~1c/0) in the document.
func pointer(root map[string]any, ref string) (any, error) {
	var cur any = root
	for _, seg := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		// A pointer in a URI fragment is percent-encoded ({ as %7B).
		if u, err := url.PathUnescape(seg); err == nil {
			seg = u
		}
		seg = strings.NewReplacer("~1", "/", "~0", "~").Replace(seg)
		switch x := cur.(type) {
		case map[string]any:
			v, ok := x[seg]
			if !ok {
				return nil, fmt.Errorf("trim contract: reference %q: no %q", ref, seg)
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, fmt.Errorf("trim contract: reference %q: no item %q", ref, seg)
			}
			cur = x[i]
		default:
			return nil, fmt.Errorf("trim contract: reference %q goes through a scalar", ref)
		}
	}
	return cur, nil
}

// componentOf reads the component a reference names: its kind and name,
// whatever deeper pointer follows (a reference may point into a
// component, as #/components/schemas/Attachment/properties/createdAt).
func componentOf(ref string) (kind, name string, ok bool) {
	kind, rest, ok := strings.Cut(ref, "/")
	if !ok || rest == "" {
		return "", "", false
	}
	name, _, _ = strings.Cut(rest, "/")
	return kind, strings.NewReplacer("~1", "/", "~0", "~").Replace(name), true
}

func count(m map[string]map[string]any) int {
	n := 0
	for _, g := range m {
		n += len(g)
	}
	return n
}

// collectRefs appends every component reference under v: $ref values and
// the schema names of discriminator mappings.
func collectRefs(v any, refs *[]string) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			e := x[k]
			if s, ok := e.(string); ok && k == "$ref" {
				*refs = append(*refs, s)
				continue
			}
			if k == "mapping" {
				if m, ok := e.(map[string]any); ok {
					for _, t := range m {
						if s, ok := t.(string); ok && strings.HasPrefix(s, "#/components/") {
							*refs = append(*refs, s)
						}
					}
				}
			}
			collectRefs(e, refs)
		}
	case []any:
		for _, e := range x {
			collectRefs(e, refs)
		}
	}
}

// decodeDoc reads a JSON or YAML document into maps with string keys (YAML
// response codes such as 200 are integers to a YAML decoder).
func decodeDoc(doc []byte) (map[string]any, error) {
	trimmed := bytes.TrimSpace(doc)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var m map[string]any
		if err := json.Unmarshal(trimmed, &m); err != nil {
			return nil, fmt.Errorf("trim contract: decode json: %w", err)
		}
		return m, nil
	}
	var n yaml.Node
	if err := yaml.Unmarshal(doc, &n); err != nil {
		return nil, fmt.Errorf("trim contract: decode yaml: %w", err)
	}
	v, err := nodeValue(&n)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("trim contract: the document is not a mapping")
	}
	return m, nil
}

func nodeValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return nodeValue(n.Content[0])
	case yaml.AliasNode:
		return nodeValue(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := nodeValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeValue(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("trim contract: line %d: %w", n.Line, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("trim contract: line %d: unexpected yaml node", n.Line)
}
