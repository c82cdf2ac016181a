package config

import (
	"bytes"
	"strconv"
	"strings"
)

// syntaxError reports a file the YAML parser could not read. The parser
// has no structured error, only text such as "yaml: line 3: …", and the
// line it names is often where the enclosing construct began rather than
// where the mistake is. So the text is read for the line, and then the
// file itself is searched for the usual mistakes (a tab in the
// indentation, a quote never closed, a bracket never closed, a second ": "
// in a plain value) to place the problem at its line and column.
func (l *loader) syntaxError(data []byte, err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	p := Problem{File: l.file, Msg: msg}
	if head, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(head, "line ") {
		if n, err := strconv.Atoi(strings.TrimPrefix(head, "line ")); err == nil {
			p.Line, p.Msg = n, rest
		}
	}
	if strings.HasPrefix(p.Msg, "did not find expected") {
		// The parser (unlike the scanner) names the line where the
		// construct began counting from 0.
		p.Line++
	}
	p.Line, p.Column, p.Msg = placeSyntaxError(data, p.Line, p.Msg)
	// A complaint about the end of the input can name the line after the
	// last one.
	if last := strings.Count(string(data), "\n") + 1; p.Line > last {
		p.Line, p.Column = last, 0
	}
	l.add(p)
}

// placeSyntaxError finds the line and column of a parser complaint.
func placeSyntaxError(data []byte, line int, msg string) (int, int, string) {
	lines := strings.Split(string(data), "\n")
	text := func(n int) string {
		if n >= 1 && n <= len(lines) {
			return strings.TrimSuffix(lines[n-1], "\r")
		}
		return ""
	}
	if strings.Contains(msg, "tab") || strings.Contains(msg, "cannot start any token") {
		if n, col := tabIndent(lines, line); n > 0 {
			return n, col, "a tab in the indentation; YAML indents with spaces only"
		}
	}
	if n, col := unclosedQuote(data); n > 0 {
		return n, col, "this quoted value is never closed"
	}
	switch {
	case strings.Contains(msg, "cannot start any token"):
		s := text(line)
		for i, r := range s {
			if (r == '@' || r == '`') && (i == 0 || strings.ContainsRune(" \t:[{,-", rune(s[i-1]))) {
				return line, i + 1, msg + " (a value starting with " + string(r) + " must be quoted)"
			}
		}
	case strings.Contains(msg, "mapping values are not allowed"):
		cols := colons(text(line))
		switch {
		case len(cols) >= 2:
			return line, cols[1], "a second \": \" in this value; quote the value"
		case len(cols) == 1:
			return line, cols[0], msg + " (check the indentation of this line)"
		}
	case strings.Contains(msg, "did not find expected ',' or ']'"), strings.Contains(msg, "did not find expected ',' or '}'"):
		open := byte('[')
		if strings.HasSuffix(msg, "'}'") {
			open = '{'
		}
		if i := strings.IndexByte(text(line), open); i >= 0 {
			return line, i + 1, "the " + string(open) + " opened here is not closed"
		}
	}
	return line, 0, msg
}

// tabIndent returns the first line at or after from (else anywhere) whose
// indentation holds a tab, and the tab's column.
func tabIndent(lines []string, from int) (int, int) {
	find := func(start int) (int, int) {
		for i := max(start, 1); i <= len(lines); i++ {
			s := lines[i-1]
			for j := 0; j < len(s) && (s[j] == ' ' || s[j] == '\t'); j++ {
				if s[j] == '\t' {
					return i, j + 1
				}
			}
		}
		return 0, 0
	}
	if n, col := find(from); n > 0 {
		return n, col
	}
	return find(1)
}

// colons returns the 1-based columns of the ": " separators of a line that
// stand outside quotes and before a comment.
func colons(s string) []int {
	var out []int
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			if i == 0 || strings.IndexByte(" \t:[{,-", s[i-1]) >= 0 {
				quote = c
			}
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return out
		case c == ':' && (i+1 == len(s) || s[i+1] == ' '):
			out = append(out, i+1)
		}
	}
	return out
}

// unclosedQuote returns the line and column of a quoted value that the file
// never closes, or zeros.
func unclosedQuote(data []byte) (int, int) {
	var quote byte
	line, col := 1, 0
	startLine, startCol := 0, 0
	prev := byte('\n')
	comment := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		col++
		switch {
		case c == '\n':
			line, col, comment = line+1, 0, false
		case comment:
		case quote == '"' && c == '\\':
			i++ // an escaped character
			col++
			if i < len(data) && data[i] == '\n' {
				line, col = line+1, 0
			}
		case quote != 0:
			if c == quote {
				if quote == '\'' && i+1 < len(data) && data[i+1] == '\'' {
					i++ // '' is a quote inside a single-quoted value
					col++
				} else {
					quote = 0
				}
			}
		case c == '#' && (prev == ' ' || prev == '\t' || prev == '\n'):
			comment = true
		case (c == '"' || c == '\'') && bytes.IndexByte([]byte(" \t\n:[{,-"), prev) >= 0:
			quote, startLine, startCol = c, line, col
		}
		prev = c
	}
	if quote != 0 {
		return startLine, startCol
	}
	return 0, 0
}
