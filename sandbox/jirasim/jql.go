package jirasim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// This file implements the part of JQL a sync connector sends: clauses on
// project, key, issue type, status, status category, resolution, priority,
// labels, parent, created, updated, due date and the PMO custom fields,
// joined with AND / OR / NOT and parentheses, and ORDER BY. Values are
// validated against what the instance knows, as Jira does, and errors use
// Jira's wording.

type tokKind int

const (
	tEOF tokKind = iota
	tWord
	tString
	tLParen
	tRParen
	tComma
	tOp  // = != < <= > >= ~ !~
	tAnd // && or &
	tOr  // || or |
	tNot // !
)

type token struct {
	kind tokKind
	text string
	pos  int // 1-based character position
}

// is reports whether t is the bare keyword kw (case-insensitive).
func (t token) is(kw string) bool { return t.kind == tWord && strings.EqualFold(t.text, kw) }

func (t token) String() string { return t.text }

// jqlError is a JQL problem reported as one of Jira's errorMessages.
type jqlError struct{ msgs []string }

func (e *jqlError) Error() string { return strings.Join(e.msgs, "; ") }

func syntaxErr(format string, args ...any) error {
	return &jqlError{msgs: []string{"Error in the JQL Query: " + fmt.Sprintf(format, args...)}}
}

func at(t token) string { return fmt.Sprintf("(line 1, character %d)", t.pos) }

// lex splits a query into tokens.
func lex(q string) ([]token, error) {
	var toks []token
	pos := 0 // characters consumed
	for i := 0; i < len(q); {
		r, w := utf8.DecodeRuneInString(q[i:])
		start := pos + 1
		switch {
		case unicode.IsSpace(r):
			i += w
			pos++
			continue
		case r == '(' || r == ')' || r == ',':
			k := tComma
			switch r {
			case '(':
				k = tLParen
			case ')':
				k = tRParen
			}
			toks = append(toks, token{kind: k, text: string(r), pos: start})
			i++
			pos++
			continue
		case r == '"' || r == '\'':
			var sb strings.Builder
			j := i + 1
			n := 1
			closed := false
			for j < len(q) {
				c, cw := utf8.DecodeRuneInString(q[j:])
				j += cw
				n++
				if c == r {
					closed = true
					break
				}
				if c == '\\' && j < len(q) {
					e, ew := utf8.DecodeRuneInString(q[j:])
					j += ew
					n++
					switch e {
					case 'n':
						sb.WriteByte('\n')
					case 't':
						sb.WriteByte('\t')
					case 'r':
						sb.WriteByte('\r')
					case 'u':
						if j+4 <= len(q) {
							if v, err := strconv.ParseUint(q[j:j+4], 16, 32); err == nil {
								sb.WriteRune(rune(v))
								j += 4
								n += 4
								continue
							}
						}
						sb.WriteRune(e)
					default:
						sb.WriteRune(e)
					}
					continue
				}
				sb.WriteRune(c)
			}
			if !closed {
				return nil, syntaxErr("The quoted string '%s' has not been completed. (line 1, character %d)", sb.String(), start)
			}
			toks = append(toks, token{kind: tString, text: sb.String(), pos: start})
			i = j
			pos += n
			continue
		}
		two := ""
		if i+1 < len(q) {
			two = q[i : i+2]
		}
		switch {
		case two == "!=" || two == "!~" || two == "<=" || two == ">=":
			toks = append(toks, token{kind: tOp, text: two, pos: start})
			i += 2
			pos += 2
		case r == '=' || r == '<' || r == '>' || r == '~':
			toks = append(toks, token{kind: tOp, text: string(r), pos: start})
			i++
			pos++
		case r == '!':
			toks = append(toks, token{kind: tNot, text: "!", pos: start})
			i++
			pos++
		case two == "&&" || two == "||":
			k := tAnd
			if r == '|' {
				k = tOr
			}
			toks = append(toks, token{kind: k, text: two, pos: start})
			i += 2
			pos += 2
		case r == '&' || r == '|':
			k := tAnd
			if r == '|' {
				k = tOr
			}
			toks = append(toks, token{kind: k, text: string(r), pos: start})
			i++
			pos++
		default:
			j := i
			n := 0
			for j < len(q) {
				c, cw := utf8.DecodeRuneInString(q[j:])
				if unicode.IsSpace(c) || strings.ContainsRune(`()",'=!<>~&|`, c) {
					break
				}
				j += cw
				n++
			}
			toks = append(toks, token{kind: tWord, text: q[i:j], pos: start})
			i = j
			pos += n
		}
	}
	return append(toks, token{kind: tEOF, pos: pos + 1}), nil
}

// The parsed query.
type (
	jqlNode  interface{}
	boolNode struct {
		and  bool
		kids []jqlNode
	}
	notNode struct{ kid jqlNode }
	clause  struct {
		field string
		pos   int
		op    string // = != < <= > >= ~ !~ in "not in" is "is not"
		vals  []jqlValue
	}
	jqlValue struct {
		text   string
		quoted bool
		fn     bool     // text is a function name
		args   []string // function arguments
		empty  bool     // EMPTY or NULL
	}
	orderTerm struct {
		field string
		desc  bool
	}
	parsedQuery struct {
		where jqlNode // nil: no restriction
		order []orderTerm
	}
)

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// reserved words cannot be bare values or field names.
func reserved(t token) bool {
	for _, kw := range []string{"and", "or", "not", "in", "is", "order", "by"} {
		if t.is(kw) {
			return true
		}
	}
	return false
}

func parseJQL(q string) (*parsedQuery, error) {
	toks, err := lex(q)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	pq := &parsedQuery{}
	if t := p.peek(); t.kind != tEOF && !t.is("order") {
		if pq.where, err = p.parseOr(); err != nil {
			return nil, err
		}
	}
	if t := p.peek(); t.is("order") {
		p.next()
		if pq.order, err = p.parseOrder(); err != nil {
			return nil, err
		}
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, syntaxErr("Expecting either 'OR' or 'AND' but got '%s'. %s", t, at(t))
	}
	return pq, nil
}

func (p *parser) parseOr() (jqlNode, error) {
	return p.parseBool(false)
}

func (p *parser) parseBool(and bool) (jqlNode, error) {
	sub := func() (jqlNode, error) {
		if and {
			return p.parseNot()
		}
		return p.parseBool(true)
	}
	first, err := sub()
	if err != nil {
		return nil, err
	}
	kids := []jqlNode{first}
	for {
		t := p.peek()
		isOp := (and && (t.kind == tAnd || t.is("and"))) || (!and && (t.kind == tOr || t.is("or")))
		if !isOp {
			break
		}
		p.next()
		k, err := sub()
		if err != nil {
			return nil, err
		}
		kids = append(kids, k)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &boolNode{and: and, kids: kids}, nil
}

func (p *parser) parseNot() (jqlNode, error) {
	t := p.peek()
	switch {
	case t.kind == tNot || t.is("not"):
		p.next()
		k, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &notNode{kid: k}, nil
	case t.kind == tLParen:
		p.next()
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			if c.kind == tEOF {
				return nil, syntaxErr("Expecting ')' before the end of the query.")
			}
			return nil, syntaxErr("Expecting ')' but got '%s'. %s", c, at(c))
		}
		return n, nil
	}
	return p.parseClause()
}

const validOperators = "The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'."

func (p *parser) parseClause() (jqlNode, error) {
	f := p.next()
	if (f.kind != tWord && f.kind != tString) || reserved(f) {
		if f.kind == tEOF {
			return nil, syntaxErr("Expecting a field name before the end of the query.")
		}
		return nil, syntaxErr("Expecting a field name but got '%s'. %s", f, at(f))
	}
	c := &clause{field: f.text, pos: f.pos}
	o := p.next()
	switch {
	case o.kind == tOp:
		c.op = o.text
	case o.is("in"):
		c.op = "in"
	case o.is("not") && p.peek().is("in"):
		p.next()
		c.op = "not in"
	case o.is("is"):
		c.op = "is"
		if p.peek().is("not") {
			p.next()
			c.op = "is not"
		}
	case o.kind == tEOF:
		return nil, syntaxErr("Expecting operator before the end of the query. %s", validOperators)
	default:
		return nil, syntaxErr("Expecting operator but got '%s'. %s %s", o, validOperators, at(o))
	}
	if c.op == "in" || c.op == "not in" {
		if t := p.next(); t.kind != tLParen {
			return nil, syntaxErr("Expecting '(' but got '%s'. %s", t, at(t))
		}
		for {
			v, err := p.parseValue()
			if err != nil {
				return nil, err
			}
			c.vals = append(c.vals, v)
			t := p.next()
			if t.kind == tRParen {
				break
			}
			if t.kind != tComma {
				if t.kind == tEOF {
					return nil, syntaxErr("Expecting ')' before the end of the query.")
				}
				return nil, syntaxErr("Expecting ',' or ')' but got '%s'. %s", t, at(t))
			}
		}
		return c, nil
	}
	v, err := p.parseValue()
	if err != nil {
		return nil, err
	}
	if (c.op == "is" || c.op == "is not") && !v.empty {
		return nil, syntaxErr("Expecting 'EMPTY' or 'NULL' after '%s' but got '%s'.", strings.ToUpper(c.op), v.text)
	}
	c.vals = []jqlValue{v}
	return c, nil
}

func (p *parser) parseValue() (jqlValue, error) {
	t := p.next()
	switch {
	case t.kind == tString:
		return jqlValue{text: t.text, quoted: true}, nil
	case t.kind == tWord && !reserved(t):
		if t.is("empty") || t.is("null") {
			return jqlValue{text: t.text, empty: true}, nil
		}
		if p.peek().kind != tLParen {
			return jqlValue{text: t.text}, nil
		}
		p.next()
		v := jqlValue{text: t.text, fn: true}
		for p.peek().kind != tRParen {
			a := p.next()
			if a.kind != tWord && a.kind != tString {
				if a.kind == tEOF {
					return v, syntaxErr("Expecting ')' before the end of the query.")
				}
				return v, syntaxErr("Expecting a function argument but got '%s'. %s", a, at(a))
			}
			v.args = append(v.args, a.text)
			if p.peek().kind == tComma {
				p.next()
			}
		}
		p.next()
		return v, nil
	case t.kind == tEOF:
		return jqlValue{}, syntaxErr("Expecting either a value, list or function before the end of the query.")
	}
	return jqlValue{}, syntaxErr("Expecting either a value, list or function but got '%s'. "+
		"You must surround '%s' in quotation marks to use it as a value. %s", t, t, at(t))
}

func (p *parser) parseOrder() ([]orderTerm, error) {
	if t := p.next(); !t.is("by") {
		if t.kind == tEOF {
			return nil, syntaxErr("Expecting 'by' before the end of the query.")
		}
		return nil, syntaxErr("Expecting 'by' but got '%s'. %s", t, at(t))
	}
	var terms []orderTerm
	for {
		f := p.next()
		if (f.kind != tWord && f.kind != tString) || reserved(f) {
			if f.kind == tEOF {
				return nil, syntaxErr("Expecting a field name before the end of the query.")
			}
			return nil, syntaxErr("Expecting a field name but got '%s'. %s", f, at(f))
		}
		term := orderTerm{field: f.text}
		if t := p.peek(); t.is("asc") || t.is("desc") {
			p.next()
			term.desc = t.is("desc")
		}
		terms = append(terms, term)
		if p.peek().kind != tComma {
			return terms, nil
		}
		p.next()
	}
}

// fieldKind is how a JQL field is searched.
type fieldKind int

const (
	kEnum   fieldKind = iota // a name from a registry, or the project
	kLabels                  // any of a list of names
	kKey                     // issue key or id
	kParent                  // parent key
	kTime                    // a timestamp
	kDate                    // a date, compared as midnight in the user's zone
	kNumber                  // a number
)

// jqlField is a searchable field.
type jqlField struct {
	name string // canonical clause name
	kind fieldKind
	id   fieldID // the field it reads, where one applies
	// str reads kEnum values (canonical names; "" when empty).
	str func(*record) string
	// resolve maps a JQL value to the canonical stored name (kEnum).
	resolve func(string) (string, bool)
}

// resolveField finds a JQL field by any of its clause names.
func (s *Server) resolveField(name string) (jqlField, bool) {
	reg := func(r *registry) func(string) (string, bool) {
		return func(v string) (string, bool) {
			n, ok := r.get(v)
			if !ok {
				return "", false
			}
			return n.Name, true
		}
	}
	switch strings.ToLower(name) {
	case "project":
		return jqlField{name: "project", kind: kEnum, id: fProject,
			str: func(r *record) string { return r.Project },
			resolve: func(v string) (string, bool) {
				if p, ok := s.projects[strings.ToUpper(v)]; ok {
					return p.Key, true
				}
				if p, ok := s.projectByID[v]; ok {
					return p.Key, true
				}
				for _, p := range s.projects {
					if strings.EqualFold(p.Name, v) {
						return p.Key, true
					}
				}
				return "", false
			}}, true
	case "key", "issuekey", "issue", "id":
		return jqlField{name: "key", kind: kKey}, true
	case "parent":
		return jqlField{name: "parent", kind: kParent, id: fParent}, true
	case "issuetype", "type":
		return jqlField{name: "issuetype", kind: kEnum, id: fIssueType,
			str: func(r *record) string { return r.Type }, resolve: reg(s.reg.types)}, true
	case "status":
		return jqlField{name: "status", kind: kEnum, id: fStatus,
			str: func(r *record) string { return r.Status }, resolve: reg(s.reg.statuses)}, true
	case "statuscategory":
		return jqlField{name: "statusCategory", kind: kEnum,
			str: func(r *record) string { return r.StatusCategory },
			resolve: func(v string) (string, bool) {
				for _, k := range []string{"new", "indeterminate", "done", "undefined"} {
					c, _ := categoryOf(k)
					if strings.EqualFold(v, c.Key) || strings.EqualFold(v, c.Name) || v == strconv.Itoa(c.ID) {
						return c.Key, true
					}
				}
				return "", false
			}}, true
	case "resolution":
		return jqlField{name: "resolution", kind: kEnum, id: fResolution,
			str: func(r *record) string { return r.Resolution },
			resolve: func(v string) (string, bool) {
				if strings.EqualFold(v, "Unresolved") {
					return "", true
				}
				return reg(s.reg.resolutions)(v)
			}}, true
	case "priority":
		return jqlField{name: "priority", kind: kEnum, id: fPriority,
			str: func(r *record) string { return r.Priority }, resolve: reg(s.reg.priorities)}, true
	case "labels":
		return jqlField{name: "labels", kind: kLabels, id: fLabels}, true
	case "updated", "updateddate":
		return jqlField{name: "updated", kind: kTime, id: fUpdated}, true
	case "created", "createddate":
		return jqlField{name: "created", kind: kTime, id: fCreated}, true
	case "due", "duedate":
		return jqlField{name: "due", kind: kDate, id: fDueDate}, true
	}
	for _, d := range s.cat.fields {
		if !d.Custom {
			continue
		}
		for _, c := range d.Clauses {
			if !strings.EqualFold(c, name) {
				continue
			}
			f := jqlField{name: d.Name, id: d.rendered}
			switch d.rendered {
			case fStartDate:
				f.kind = kDate
			case fPlannedCost, fActualCost:
				f.kind = kNumber
			case fLikelihood:
				f.kind = kEnum
				f.str = func(r *record) string { return r.Likelihood }
				f.resolve = reg(s.reg.likelihood)
			case fImpact:
				f.kind = kEnum
				f.str = func(r *record) string { return r.Impact }
				f.resolve = reg(s.reg.impact)
			}
			return f, true
		}
	}
	return jqlField{}, false
}

// opsFor lists the operators a field kind supports.
func opsFor(k fieldKind) string {
	switch k {
	case kEnum, kLabels, kParent:
		return "|=|!=|in|not in|is|is not|"
	case kKey:
		return "|=|!=|<|<=|>|>=|in|not in|"
	}
	return "|=|!=|<|<=|>|>=|in|not in|is|is not|"
}

type pred func(*record) bool

// compiler turns a parsed query into a predicate, collecting every value
// error (Jira reports them all at once).
type compiler struct {
	s       *Server
	now     time.Time
	usesNow bool // a relative date or date function was read
	errs    []string
}

func (c *compiler) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

// compile builds the predicate of a query and reports whether it depends
// on the clock; the caller holds s.mu.
func (s *Server) compile(pq *parsedQuery) (pred, bool, error) {
	if pq.where == nil {
		return func(*record) bool { return true }, false, nil
	}
	c := &compiler{s: s, now: s.opts.Now()}
	p := c.node(pq.where)
	if len(c.errs) > 0 {
		return nil, false, &jqlError{msgs: c.errs}
	}
	return p, c.usesNow, nil
}

func (c *compiler) node(n jqlNode) pred {
	switch n := n.(type) {
	case *boolNode:
		kids := make([]pred, len(n.kids))
		for i, k := range n.kids {
			kids[i] = c.node(k)
		}
		if n.and {
			return func(r *record) bool {
				for _, k := range kids {
					if !k(r) {
						return false
					}
				}
				return true
			}
		}
		return func(r *record) bool {
			for _, k := range kids {
				if k(r) {
					return true
				}
			}
			return false
		}
	case *notNode:
		k := c.node(n.kid)
		return func(r *record) bool { return !k(r) }
	case *clause:
		return c.clause(n)
	}
	panic(fmt.Sprintf("jirasim: unexpected jql node %T", n))
}

func never(*record) bool { return false }

func (c *compiler) clause(cl *clause) pred {
	f, ok := c.s.resolveField(cl.field)
	if !ok {
		c.fail("Field '%s' does not exist or you do not have permission to view it.", cl.field)
		return never
	}
	if !strings.Contains(opsFor(f.kind), "|"+cl.op+"|") {
		c.fail("The operator '%s' is not supported by the %s field.", cl.op, cl.field)
		return never
	}
	op := cl.op
	// "= EMPTY" means "is EMPTY".
	if len(cl.vals) == 1 && cl.vals[0].empty {
		switch op {
		case "=":
			op = "is"
		case "!=":
			op = "is not"
		}
	}
	for _, v := range cl.vals {
		if v.fn && f.kind != kTime && f.kind != kDate {
			c.fail("Unable to find JQL function '%s(%s)'.", v.text, strings.Join(v.args, ", "))
			return never
		}
	}
	switch f.kind {
	case kEnum:
		return c.enumClause(f, cl, op)
	case kLabels:
		return c.labelsClause(cl, op)
	case kKey, kParent:
		return c.keyClause(f, cl, op)
	case kTime, kDate:
		return c.timeClause(f, cl, op)
	case kNumber:
		return c.numberClause(f, cl, op)
	}
	return never
}

// emptyOp handles IS [NOT] EMPTY for any field, given how to tell empty.
func emptyOp(op string, isEmpty func(*record) bool) (pred, bool) {
	switch op {
	case "is":
		return isEmpty, true
	case "is not":
		return func(r *record) bool { return !isEmpty(r) }, true
	}
	return nil, false
}

// setPred builds =, in, != and not in over a membership test. As in Jira,
// != and NOT IN never match an issue whose field is empty.
func setPred(op string, isEmpty func(*record) bool, member func(*record) bool) pred {
	switch op {
	case "=", "in":
		return member
	default:
		return func(r *record) bool { return !isEmpty(r) && !member(r) }
	}
}

func (c *compiler) enumClause(f jqlField, cl *clause, op string) pred {
	isEmpty := func(r *record) bool { return f.str(r) == "" }
	if p, ok := emptyOp(op, isEmpty); ok {
		return p
	}
	set := map[string]bool{}
	for _, v := range cl.vals {
		if v.empty {
			set[""] = true
			continue
		}
		canon, ok := f.resolve(v.text)
		if !ok {
			c.fail("The value '%s' does not exist for the field '%s'.", v.text, cl.field)
			continue
		}
		set[canon] = true
	}
	return setPred(op, isEmpty, func(r *record) bool { return set[f.str(r)] })
}

func (c *compiler) labelsClause(cl *clause, op string) pred {
	isEmpty := func(r *record) bool { return len(r.Labels) == 0 }
	if p, ok := emptyOp(op, isEmpty); ok {
		return p
	}
	set := map[string]bool{}
	wantEmpty := false
	for _, v := range cl.vals {
		if v.empty {
			wantEmpty = true
			continue
		}
		set[strings.ToLower(v.text)] = true
	}
	return setPred(op, isEmpty, func(r *record) bool {
		if len(r.Labels) == 0 {
			return wantEmpty
		}
		for _, l := range r.Labels {
			if set[strings.ToLower(l)] {
				return true
			}
		}
		return false
	})
}

func (c *compiler) keyClause(f jqlField, cl *clause, op string) pred {
	isEmpty := func(*record) bool { return false } // every issue has a key
	if f.kind == kParent {
		isEmpty = func(r *record) bool { return r.Parent == "" }
	}
	if p, ok := emptyOp(op, isEmpty); ok {
		return p
	}
	// resolve finds the issue a key or id names.
	resolve := func(v jqlValue) (*record, bool) {
		if _, err := strconv.ParseInt(v.text, 10, 64); err == nil {
			if r, ok := c.s.byID[v.text]; ok {
				return r, true
			}
			c.fail("An issue with key '%s' does not exist for field '%s'.", v.text, cl.field)
			return nil, false
		}
		k := strings.ToUpper(v.text)
		proj, _, ok := splitKey(k)
		if !ok || c.s.projects[proj] == nil {
			c.fail("The issue key '%s' for field '%s' is invalid.", v.text, cl.field)
			return nil, false
		}
		if r, ok := c.s.byKey[k]; ok {
			return r, true
		}
		c.fail("An issue with key '%s' does not exist for field '%s'.", v.text, cl.field)
		return nil, false
	}
	switch op {
	case "<", "<=", ">", ">=":
		// In JQL id is an alias of the issue key, and a range on a key
		// means "the same project as the issue named, with a lower (higher)
		// issue number": never a numeric comparison of ids. The issue
		// named must exist (a moved issue's old key names it where it is
		// now).
		ref, ok := resolve(cl.vals[0])
		if !ok {
			return never
		}
		proj, n := ref.Project, ref.keyNum
		return func(r *record) bool { return r.Project == proj && cmpOp(op, compareInt(r.keyNum, n)) }
	}
	set := map[string]bool{} // issue keys
	for _, v := range cl.vals {
		if v.empty {
			continue
		}
		if r, ok := resolve(v); ok {
			set[r.Key] = true
		}
	}
	if f.kind == kParent {
		return setPred(op, isEmpty, func(r *record) bool { return set[r.Parent] })
	}
	return setPred(op, isEmpty, func(r *record) bool { return set[r.Key] })
}

// timeOf reads a time or date field as Unix milliseconds.
func timeOf(f jqlField) func(r *record) (int64, bool) {
	switch f.id {
	case fUpdated:
		return func(r *record) (int64, bool) { return r.Updated.UnixMilli(), true }
	case fCreated:
		return func(r *record) (int64, bool) { return r.Created.UnixMilli(), true }
	case fDueDate:
		return func(r *record) (int64, bool) { return r.due, r.Due != "" }
	case fStartDate:
		return func(r *record) (int64, bool) { return r.start, r.Start != "" }
	}
	return func(*record) (int64, bool) { return 0, false }
}

func (c *compiler) timeClause(f jqlField, cl *clause, op string) pred {
	get := timeOf(f)
	isEmpty := func(r *record) bool { _, ok := get(r); return !ok }
	if p, ok := emptyOp(op, isEmpty); ok {
		return p
	}
	var vals []int64
	for _, v := range cl.vals {
		if v.empty {
			continue
		}
		ms, ok := c.dateValue(v, cl.field)
		if ok {
			vals = append(vals, ms)
		}
	}
	return orderedPred(op, vals, func(r *record) (int64, bool) { return get(r) }, compareInt)
}

func (c *compiler) numberClause(f jqlField, cl *clause, op string) pred {
	get := func(r *record) (float64, bool) {
		p := r.PlannedCost
		if f.id == fActualCost {
			p = r.ActualCost
		}
		if p == nil {
			return 0, false
		}
		return *p, true
	}
	isEmpty := func(r *record) bool { _, ok := get(r); return !ok }
	if p, ok := emptyOp(op, isEmpty); ok {
		return p
	}
	var vals []float64
	for _, v := range cl.vals {
		if v.empty {
			continue
		}
		x, err := strconv.ParseFloat(v.text, 64)
		if err != nil {
			c.fail("The value '%s' is not a valid number for the field '%s'.", v.text, cl.field)
			continue
		}
		vals = append(vals, x)
	}
	return orderedPred(op, vals, get, func(a, b float64) int {
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	})
}

// orderedPred builds comparisons and set membership over an ordered value.
// An empty field matches nothing but IS EMPTY.
func orderedPred[T any](op string, vals []T, get func(*record) (T, bool), cmp func(a, b T) int) pred {
	if len(vals) == 0 {
		return never
	}
	switch op {
	case "in", "=":
		return func(r *record) bool {
			x, ok := get(r)
			if !ok {
				return false
			}
			for _, v := range vals {
				if cmp(x, v) == 0 {
					return true
				}
			}
			return false
		}
	case "not in", "!=":
		return func(r *record) bool {
			x, ok := get(r)
			if !ok {
				return false
			}
			for _, v := range vals {
				if cmp(x, v) == 0 {
					return false
				}
			}
			return true
		}
	}
	v := vals[0]
	return func(r *record) bool {
		x, ok := get(r)
		return ok && cmpOp(op, cmp(x, v))
	}
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpOp applies a comparison operator to the result of a three-way compare.
func cmpOp(op string, c int) bool {
	switch op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	case "=":
		return c == 0
	case "!=":
		return c != 0
	}
	return false
}

// dateValue reads a JQL date: an absolute date in the user's zone, a period
// relative to now ("-15m", "-1w 2d"), or now(), startOfDay(), endOfDay().
func (c *compiler) dateValue(v jqlValue, field string) (int64, bool) {
	loc := c.s.loc()
	if v.fn {
		c.usesNow = true
		var offset time.Duration
		if len(v.args) > 0 {
			d, ok := parsePeriod(v.args[0])
			if !ok {
				c.fail("The value '%s' is not a valid period for function '%s'.", v.args[0], v.text)
				return 0, false
			}
			offset = d
		}
		now := c.now.In(loc)
		midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
		switch strings.ToLower(v.text) {
		case "now":
			return now.Add(offset).UnixMilli(), true
		case "startofday":
			return addPeriod(midnight, offset).UnixMilli(), true
		case "endofday":
			return addPeriod(midnight, offset).AddDate(0, 0, 1).Add(-time.Millisecond).UnixMilli(), true
		}
		c.fail("Unable to find JQL function '%s(%s)'.", v.text, strings.Join(v.args, ", "))
		return 0, false
	}
	// The absolute formats JQL accepts, read in the user's time zone.
	for _, layout := range [...]string{"2006/01/02 15:04", "2006-01-02 15:04", "2006/01/02", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v.text, loc); err == nil {
			return t.UnixMilli(), true
		}
	}
	if d, ok := parsePeriod(v.text); ok {
		c.usesNow = true
		return c.now.Add(d).UnixMilli(), true
	}
	c.fail("Date value '%s' for field '%s' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', "+
		"'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.", v.text, field)
	return 0, false
}

// addPeriod moves t by whole days in calendar terms (so a day across a DST
// change stays midnight to midnight) and by the remainder in clock time.
func addPeriod(t time.Time, d time.Duration) time.Time {
	days := d / (24 * time.Hour)
	return t.AddDate(0, 0, int(days)).Add(d - days*24*time.Hour)
}

// parsePeriod reads Jira's period format: an optional sign, then one or more
// number+unit groups (w, d, h, m), optionally separated by spaces.
func parsePeriod(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	sign := time.Duration(1)
	if strings.HasPrefix(s, "-") {
		sign, s = -1, s[1:]
	} else if strings.HasPrefix(s, "+") {
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	var total time.Duration
	for s != "" {
		s = strings.TrimLeft(s, " ")
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i == len(s) {
			return 0, false
		}
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n > math.MaxInt32 {
			return 0, false
		}
		var unit time.Duration
		switch s[i] {
		case 'w':
			unit = 7 * 24 * time.Hour
		case 'd':
			unit = 24 * time.Hour
		case 'h':
			unit = time.Hour
		case 'm':
			unit = time.Minute
		default:
			return 0, false
		}
		total += time.Duration(n) * unit
		s = s[i+1:]
	}
	return sign * total, true
}
