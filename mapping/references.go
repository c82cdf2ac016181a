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

// Reads returns what a set reads of a record's data under the given
// top-level keys (e.g. "fields"): each path, a key and the member names
// below it, names a value the set uses whole, everything under it
// included. A part of those keys that no path reaches is never read, so a
// connector may leave it out of the records it hands over, and skip
// decoding it. all reports that no part may be left out: an expression
// reads the whole data ($env), or one of the keys through a member name
// known only at run time.
//
// The analysis is conservative: a path stops at the first list index or
// computed member (`fields.labels[0]` reads all of fields.labels), and a
// value passed anywhere but to a member access (`len(fields.labels)`,
// `let s = fields.status; s.name`) is read whole.
func (s *Set) Reads(keys ...string) (paths [][]string, all bool) {
	add := func(p []string) {
		if !slices.ContainsFunc(paths, func(q []string) bool { return slices.Equal(p, q) }) {
			paths = append(paths, slices.Clone(p))
		}
	}
	for _, r := range slices.Concat(s.rules, s.fields) {
		switch r.src {
		case srcPath:
			if r.fromRecord || len(r.path) == 0 || r.path[0].isIndex || !slices.Contains(keys, r.path[0].key) {
				continue
			}
			p := []string{r.path[0].key}
			for _, seg := range r.path[1:] {
				if seg.isIndex {
					break
				}
				p = append(p, seg.key)
			}
			add(p)
		case srcExpr:
			f := &chainFinder{keys: keys, inner: map[ast.Node]bool{}}
			node := r.prog.Node()
			ast.Walk(&node, f)
			if f.all {
				return nil, true
			}
			for _, n := range f.nodes {
				if f.inner[n] {
					continue
				}
				switch p, ok := chain(n); {
				case !ok:
				case len(p) == 0:
					return nil, true
				case slices.Contains(keys, p[0]):
					add(p)
				}
			}
		}
	}
	return paths, false
}

// chainFinder collects the member accesses and identifiers of an
// expression, and which of them are the object of another member access
// (inner): the others are where a value is used.
type chainFinder struct {
	keys  []string
	nodes []ast.Node
	inner map[ast.Node]bool
	all   bool
}

func (f *chainFinder) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if n.Value == "$env" {
			f.all = true
		}
		f.nodes = append(f.nodes, n)
	case *ast.MemberNode:
		f.nodes = append(f.nodes, n)
		f.inner[n.Node] = true
		if c, ok := n.Node.(*ast.ChainNode); ok {
			f.inner[c.Node] = true
		}
	}
}

// chain is the path a member access or identifier reads: the identifier
// and the constant member names after it, cut before the first member that
// is not a constant string. ok is false when the access does not start at
// an identifier (a list element, a function's result). A path of one of
// the keys cut to nothing (a computed member of the key itself) comes back
// empty.
func chain(n ast.Node) (p []string, ok bool) {
	var names []string
	cut := -1 // how many names from the end to drop
	for {
		switch m := n.(type) {
		case *ast.IdentifierNode:
			slices.Reverse(names)
			p = append([]string{m.Value}, names...)
			if cut >= 0 {
				p = p[:len(p)-cut]
			}
			return p, true
		case *ast.MemberNode:
			if s, isStr := m.Property.(*ast.StringNode); isStr {
				names = append(names, s.Value)
			} else {
				// Everything from here outwards is unknown: keep the
				// object this member is taken from whole.
				names = append(names, "")
				cut = len(names)
			}
			n = m.Node
		case *ast.ChainNode:
			n = m.Node
		default:
			return nil, false
		}
	}
}
