package mapping

import (
	"slices"

	"github.com/expr-lang/expr/ast"
)

// References returns the names a set reads under the given top-level keys
// (e.g. "custom" and "cells"), from paths such as `custom["Planned Cost"]`
// and from expressions such as `cells["Type"] == "Risk"` or
// `custom?.Status`. Connectors use the list to fetch exactly the fields a
// mapping needs and to fail loudly when one no longer exists. Names built at
// run time (`custom[name]`) cannot be known and are not listed.
func (s *Set) References(keys ...string) []string {
	var out []string
	add := func(n string) {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	for _, r := range slices.Concat(s.rules, s.fields) {
		switch r.src {
		case srcPath:
			if !r.fromRecord && len(r.path) >= 2 && !r.path[0].isIndex && !r.path[1].isIndex && slices.Contains(keys, r.path[0].key) {
				add(r.path[1].key)
			}
		case srcExpr:
			node := r.prog.Node()
			ast.Walk(&node, &memberFinder{keys: keys, add: add})
		}
	}
	slices.Sort(out)
	return out
}

// memberFinder collects constant member names of the given identifiers.
type memberFinder struct {
	keys []string
	add  func(string)
}

func (f *memberFinder) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || !slices.Contains(f.keys, id.Value) {
		return
	}
	if s, ok := m.Property.(*ast.StringNode); ok {
		f.add(s.Value)
	}
}
