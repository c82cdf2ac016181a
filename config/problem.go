package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a config file, located by line and key
// path so that it can be fixed without guessing.
type Problem struct {
	File string
	Line int // 1-based; 0 when the problem has no place in the file (an environment override, a missing file)
	// Column is 1-based; 0 when only the line is known (every problem but
	// a YAML syntax error is placed by its line and key path).
	Column int
	Path   string // key path such as programs[0].sources[1].connection; "" for the whole file
	Msg    string
}

// String formats the problem as "file:line: path: message" (or
// "file:line:column: message"), leaving out the parts that are unknown.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Column > 0 {
			fmt.Fprintf(&b, ":%d", p.Column)
		}
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in one config file, sorted by line. It is
// the error Load and Parse return when anything is wrong.
type Problems []Problem

// Error lists the problems, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sorted orders problems by line, keeping the order they were found in
// within a line, and drops exact duplicates.
func (ps Problems) sorted() Problems {
	seen := make(map[Problem]bool, len(ps))
	out := make(Problems, 0, len(ps))
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
	return out
}
