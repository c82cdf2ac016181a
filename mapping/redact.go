package mapping

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pmsync/pmsync"
)

// Redaction is one entry of a rule set's `redact` list: the name of a
// built-in rule (written as plain text: `ssn`), `builtin` for all of them,
// or a rule of the organisation's own, `{ name: badge, pattern: "…" }`.
type Redaction struct {
	// Name names the rule in counts and in the text that replaces what it
	// matched; a built-in name without a pattern is that built-in rule.
	Name string `yaml:"name"`
	// Pattern is a regular expression (Go RE2 syntax: linear time, no
	// backreferences). When it has a group named value, only that group is
	// replaced, so that a label before it stays readable: `MRN [redacted:mrn]`.
	Pattern string `yaml:"pattern,omitempty"`
	// Replace is the text put in place of a match; default "[redacted:NAME]".
	Replace string `yaml:"replace,omitempty"`
}

// UnmarshalText reads the plain-text form of an entry, a rule's name.
// It lets a list mix names and rules of one's own without a custom YAML
// unmarshaler, which would give up strict decoding.
func (r *Redaction) UnmarshalText(text []byte) error {
	r.Name = string(text)
	return nil
}

// builtinOrder names the built-in redaction rules, in the order they are
// applied: the narrow, labelled ones first, so that a phone rule does not
// take the digits of an SSN.
var builtinOrder = []string{"ssn", "mrn", "dob", "email", "phone"}

// BuiltinRedactions returns the names of the built-in redaction rules.
func BuiltinRedactions() []string { return slices.Clone(builtinOrder) }

// RedactAll is the entry that stands for every built-in rule.
const RedactAll = "builtin"

const months = `(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?`

// builtinPatterns are the built-in rules. Identifiers that look like any
// other number (a medical record number, a date of birth) are matched only
// after a label that says what they are, so that ticket numbers, cost
// codes and go-live dates in titles survive; formats that are
// unmistakable on their own (an SSN's 3-2-4 digits, an e-mail address, a
// formatted phone number) are matched anywhere.
var builtinPatterns = map[string]string{
	// US Social Security numbers as written (123-45-6789, 123 45 6789), or
	// nine digits after an SSN label.
	"ssn": `\b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b|(?i:\b(?:ssn|social security(?: number| no\.?)?)\s*(?:#|:|no\.?)?\s*(?P<value>\d{9})\b)`,
	// Medical record numbers after a label: MRN, medical record (number),
	// patient id, chart number; letters may lead the digits (MRN AB1234567).
	"mrn": `(?i)\b(?:mrn|medical record(?: number| no\.?| #)?|med\.? rec(?:ord)?\.?(?: number| no\.?| #)?|patient(?: id| number| no\.?| #)|chart(?: number| no\.?| #))\s*(?:#|:|no\.?)?\s*(?P<value>[a-z]{0,3}-?\d{4,12})\b`,
	// A date after a birth label: DOB 03/14/1962, date of birth: 1962-03-14,
	// born 14 March 1962, b. Mar 14, 1962.
	"dob": `(?i)\b(?:dob|d\.o\.b\.?|date of birth|birth ?date|born(?: on)?)\s*(?:#|:|-)?\s*(?P<value>\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}|\d{1,2}(?:st|nd|rd|th)? ` + months + `,? \d{4}|` + months + ` \d{1,2}(?:st|nd|rd|th)?,? \d{4})`,
	// E-mail addresses.
	"email": `(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b`,
	// Phone numbers: North American (555) 123-4567, 555-123-4567,
	// 555.123.4567, +1 555 123 4567; international numbers that start with
	// + and a country code; any digits after a phone label.
	"phone": `(?:\+1[\s.-]?)?(?:\(\d{3}\)\s?|\b\d{3}[\s.-])\d{3}[\s.-]\d{4}\b|\+\d{8,15}\b|\+\d{1,3}[\s.-]\(?\d{1,4}\)?[\s.-]\d{3,8}(?:[\s.-]\d{2,8}){0,3}\b|(?i:\b(?:phone|tel|telephone|mobile|fax|cell phone)\.?\s*(?:#|:|no\.?)?\s*(?P<value>\+?\d(?:[\s().-]{0,2}\d){6,14}))`,
}

// builtinNeeds is, per built-in rule, a cheap test that a text can match
// at all (enough digits, an @, a label), which spares the regular
// expression on the great majority of titles. Each test follows from its
// pattern: an SSN has nine digits, a labelled MRN four, a phone number
// seven (five after a +), and the labelled rules need their label.
var builtinNeeds = map[string]func(s string, p textProfile) bool{
	"ssn": func(_ string, p textProfile) bool { return p.digits >= 9 },
	"mrn": func(s string, p textProfile) bool {
		return p.digits >= 4 && containsAnyFold(s, "mrn", "med", "patient", "chart")
	},
	"dob": func(s string, p textProfile) bool {
		return p.digits >= 2 && containsAnyFold(s, "dob", "d.o.b", "birth", "born")
	},
	"email": func(_ string, p textProfile) bool { return p.at },
	"phone": func(_ string, p textProfile) bool { return p.digits >= 7 || p.plus && p.digits >= 5 },
}

// textProfile is what the needs tests read of a text, counted once.
type textProfile struct {
	digits   int
	at, plus bool
}

func profileOf(s string) textProfile {
	var p textProfile
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			p.digits++
		case c == '@':
			p.at = true
		case c == '+':
			p.plus = true
		}
	}
	return p
}

// containsAnyFold reports whether s holds one of the ASCII words, in any
// letter case, without allocating a lower-cased copy.
func containsAnyFold(s string, words ...string) bool {
	for _, w := range words {
		for i := 0; i+len(w) <= len(s); i++ {
			if strings.EqualFold(s[i:i+len(w)], w) {
				return true
			}
		}
	}
	return false
}

// redactor is one compiled redaction rule.
type redactor struct {
	name    string
	re      *regexp.Regexp
	group   int    // index of the group named value, or 0 for the whole match
	replace string // what a match becomes
	// needs, when set, tells whether a text can match at all (see
	// builtinNeeds); nil means always try.
	needs func(s string, p textProfile) bool
}

// apply replaces what r matches in s and reports whether it replaced
// anything. p is s's profile.
func (r *redactor) apply(s string, p textProfile) (string, bool) {
	if r.needs != nil && !r.needs(s, p) {
		return s, false
	}
	matches := r.re.FindAllStringSubmatchIndex(s, -1)
	if matches == nil {
		return s, false
	}
	var b strings.Builder
	last := 0
	changed := false
	for _, m := range matches {
		start, end := m[0], m[1]
		if r.group > 0 && m[2*r.group] >= 0 {
			start, end = m[2*r.group], m[2*r.group+1]
		}
		if end <= start {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(r.replace)
		last = end
		changed = true
	}
	if !changed {
		return s, false
	}
	b.WriteString(s[last:])
	return b.String(), true
}

// compileRedactions compiles the effective redact list of a set. list is
// the entries of the nearest set of the extends chain that has a redact
// key (from names it), or nil when none has: then every built-in rule
// applies.
func compileRedactions(from string, list *[]Redaction) ([]*redactor, []error) {
	if list == nil {
		out := make([]*redactor, 0, len(builtinOrder))
		for _, name := range builtinOrder {
			r, err := newRedactor(Redaction{Name: name})
			if err != nil {
				// The built-in patterns are fixed; a test compiles them.
				panic(err)
			}
			out = append(out, r)
		}
		return out, nil
	}
	var (
		out  []*redactor
		errs []error
	)
	seen := map[string]bool{}
	add := func(i int, e Redaction) {
		p := fmt.Sprintf("redact[%d]", i)
		if seen[e.Name] {
			errs = append(errs, &Error{Mapping: from, Path: p, Err: fmt.Errorf("%q is listed twice", e.Name)})
			return
		}
		seen[e.Name] = true
		r, err := newRedactor(e)
		if err != nil {
			var re *redactError
			if errors.As(err, &re) && re.key != "" {
				p += "." + re.key
			}
			errs = append(errs, &Error{Mapping: from, Path: p, Err: err})
			return
		}
		out = append(out, r)
	}
	for i, e := range *list {
		if e.Name == RedactAll && e.Pattern == "" && e.Replace == "" {
			for _, name := range builtinOrder {
				if !seen[name] {
					add(i, Redaction{Name: name})
				}
			}
			continue
		}
		add(i, e)
	}
	return out, errs
}

// redactError is a problem with one redact entry, at one of its keys.
type redactError struct {
	key string // "name", "pattern" or "" for the entry as a whole
	err error
}

func (e *redactError) Error() string { return e.err.Error() }
func (e *redactError) Unwrap() error { return e.err }

// newRedactor compiles one entry.
func newRedactor(e Redaction) (*redactor, error) {
	switch {
	case e.Name == "":
		return nil, &redactError{"", errors.New("needs a name (a built-in rule: " + strings.Join(builtinOrder, ", ") + ", or { name, pattern })")}
	case !redactName(e.Name):
		return nil, &redactError{"name", fmt.Errorf("%q may only contain a-z, 0-9, _ and -", e.Name)}
	case e.Name == RedactAll:
		return nil, &redactError{"name", fmt.Errorf("%q stands for every built-in rule and takes no pattern or replace", RedactAll)}
	}
	pattern := e.Pattern
	var needs func(string, textProfile) bool
	if pattern == "" {
		bp, ok := builtinPatterns[e.Name]
		if !ok {
			return nil, &redactError{"", fmt.Errorf("%q is not a built-in rule (%s, or %s for all); give it a pattern", e.Name, strings.Join(builtinOrder, ", "), RedactAll)}
		}
		pattern, needs = bp, builtinNeeds[e.Name]
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, &redactError{"pattern", fmt.Errorf("is not a regular expression: %w", err)}
	}
	if re.MatchString("") {
		return nil, &redactError{"pattern", errors.New("matches the empty text, so it would mark every value; make it match something")}
	}
	r := &redactor{name: e.Name, re: re, replace: e.Replace, needs: needs}
	if r.replace == "" {
		r.replace = "[redacted:" + e.Name + "]"
	}
	if i := re.SubexpIndex("value"); i > 0 {
		r.group = i
	}
	return r, nil
}

// redactName reports whether s is a lowercase identifier: [a-z0-9_-]+.
func redactName(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return s != ""
}

// Redactions returns the names of the redaction rules the set applies, in
// order; empty when redaction is off (`redact: []`).
func (s *Set) Redactions() []string {
	out := make([]string, len(s.redactors))
	for i, r := range s.redactors {
		out[i] = r.name
	}
	return out
}

// Redact applies the set's redaction rules to s, for text that leaves
// pmsync by another way than an item (a pushed rollup names items).
func (s *Set) Redact(text string) string {
	out, _ := s.redact(text, nil)
	return out
}

// redact applies every rule to text, counting in counts (when not nil) one
// value per rule that changed it.
func (s *Set) redact(text string, counts map[string]int) (string, bool) {
	redacted := false
	p := profileOf(text)
	for _, r := range s.redactors {
		out, changed := r.apply(text, p)
		if changed {
			text, redacted = out, true
			p = profileOf(text)
			if counts != nil {
				counts[r.name]++
			}
		}
	}
	return text, redacted
}

// redactItem applies the set's rules to the free text of it, in place:
// the title, the labels and the text in `fields`. Identifiers and
// vocabulary (ids, url, owner, status, priority, kind, state) are left as
// mapped.
func (s *Set) redactItem(it *pmsync.Item, counts map[string]int) {
	if len(s.redactors) == 0 {
		return
	}
	it.Title, _ = s.redact(it.Title, counts)
	for i, l := range it.Labels {
		it.Labels[i], _ = s.redact(l, counts)
	}
	for k, v := range it.Fields {
		switch c := v.(type) {
		case string:
			it.Fields[k], _ = s.redact(c, counts)
		case []any:
			for i, e := range c {
				if t, ok := e.(string); ok {
					c[i], _ = s.redact(t, counts)
				}
			}
		}
	}
}
