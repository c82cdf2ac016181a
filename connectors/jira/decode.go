package jira

import (
	"errors"
	"fmt"
	"math"

	"github.com/valyala/fastjson"

	"github.com/pmsync/pmsync/connectors"
)

// A search answer is parsed with fastjson, which validates the whole
// answer without building Go values for it, and only what the mapping and
// the connector read is then turned into the generic values records carry
// (maps, slices, strings, float64, bool, nil, as encoding/json makes them).
// An issue's fields are mostly objects the mapping reads one or two names
// of (a status's name and category, not its URLs and icons), and building
// every map and string of a 100-issue page was most of a sync's CPU time.

// keepTree says what of an issue's "fields" object is kept: a whole node
// keeps everything under it, else only the names in sub. A nil tree keeps
// everything.
type keepTree struct {
	whole bool
	sub   map[string]*keepTree
}

// keepFor is what a pull keeps of the fields: the paths the mapping reads
// under "fields" (scope.Paths), the custom fields it reads by name (whole:
// the connector normalizes them), and updated (the cursor). It is nil,
// keeping everything, unless the scope allows pruning.
func keepFor(scope connectors.Scope, sel selection) *keepTree {
	if !scope.Prune {
		return nil
	}
	root := &keepTree{sub: map[string]*keepTree{}}
	for _, p := range scope.Paths {
		if len(p) == 0 || p[0] != "fields" {
			continue
		}
		if len(p) == 1 {
			return nil // the mapping reads the fields whole
		}
		root.insert(p[1:])
	}
	root.insert([]string{"updated"})
	for _, fs := range sel.custom {
		for _, f := range fs {
			root.insert([]string{f.ID})
		}
	}
	return root
}

// insert keeps the value at p whole.
func (k *keepTree) insert(p []string) {
	node := k
	for _, name := range p {
		if node.whole {
			return
		}
		child := node.sub[name]
		if child == nil {
			child = &keepTree{sub: map[string]*keepTree{}}
			node.sub[name] = child
		}
		node = child
	}
	node.whole, node.sub = true, nil
}

// decodeSearch reads a search answer (Cloud's search/jql or Data Center's
// search), keeping of each issue's fields what keep names.
func decodeSearch(p *fastjson.Parser, body []byte, keep *keepTree) (searchResponse, error) {
	var resp searchResponse
	v, err := p.ParseBytes(body)
	if err != nil {
		return resp, fmt.Errorf("parse: %w", err)
	}
	if v.Type() != fastjson.TypeObject {
		return resp, fmt.Errorf("the answer is a JSON %s, not an object", v.Type())
	}
	resp.NextPageToken = string(v.GetStringBytes("nextPageToken"))
	resp.IsLast = v.GetBool("isLast")
	resp.StartAt = v.GetInt("startAt")
	resp.MaxResults = v.GetInt("maxResults")
	resp.Total = v.GetInt("total")
	issues := v.Get("issues")
	if issues == nil || issues.Type() == fastjson.TypeNull {
		return resp, nil
	}
	list, err := issues.Array()
	if err != nil {
		return resp, errors.New(`"issues" is not a list`)
	}
	resp.Issues = make([]map[string]any, 0, len(list))
	for i, is := range list {
		obj, err := is.Object()
		if err != nil {
			return resp, fmt.Errorf("issue %d of the page is a JSON %s, not an object", i+1, is.Type())
		}
		m := make(map[string]any, obj.Len())
		obj.Visit(func(key []byte, val *fastjson.Value) {
			if string(key) == "fields" {
				m["fields"] = pruned(val, keep)
				return
			}
			m[string(key)] = generic(val)
		})
		resp.Issues = append(resp.Issues, m)
	}
	return resp, nil
}

// pruned is v as generic values, with only what keep names of an object.
func pruned(v *fastjson.Value, keep *keepTree) any {
	if keep == nil || keep.whole || v.Type() != fastjson.TypeObject {
		return generic(v)
	}
	obj, _ := v.Object()
	m := make(map[string]any, min(obj.Len(), len(keep.sub)))
	obj.Visit(func(key []byte, val *fastjson.Value) {
		if k := keep.sub[string(key)]; k != nil {
			m[string(key)] = pruned(val, k)
		}
	})
	return m
}

// generic is v as encoding/json decodes JSON into an interface value.
func generic(v *fastjson.Value) any {
	switch v.Type() {
	case fastjson.TypeObject:
		obj, _ := v.Object()
		m := make(map[string]any, obj.Len())
		obj.Visit(func(key []byte, val *fastjson.Value) { m[string(key)] = generic(val) })
		return m
	case fastjson.TypeArray:
		list, _ := v.Array()
		out := make([]any, len(list))
		for i, e := range list {
			out[i] = generic(e)
		}
		return out
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return string(b)
	case fastjson.TypeNumber:
		f, err := v.Float64()
		if err != nil || math.IsInf(f, 0) {
			// A number past float64 reads as text rather than as a wrong
			// value; encoding/json would refuse the whole answer.
			return v.String()
		}
		return f
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	}
	return nil
}
