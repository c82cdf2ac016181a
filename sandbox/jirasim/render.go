package jirasim

import (
	"crypto/sha1"
	"encoding/hex"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// jiraTime is Jira's timestamp layout: milliseconds and a numeric offset
// without a colon.
const jiraTime = "2006-01-02T15:04:05.000-0700"

// Issue-level "expand" attributes, as each endpoint reports them.
const (
	issueExpand    = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
	dcSearchExpand = "operations,versionedRepresentations,editmeta,changelog,renderedFields"
)

// renderCtx is what rendering an issue depends on besides the issue.
type renderCtx struct {
	base   string
	rest   string // base + "/rest/api/{api}/"
	api    string // "2" or "3"
	cloud  bool
	sel    selection
	expand string
}

func (s *Server) renderContext(base, api string, sel selection, expand string) renderCtx {
	return renderCtx{
		base: base, rest: base + "/rest/api/" + api + "/", api: api,
		cloud: s.opts.Flavor == Cloud, sel: sel, expand: expand,
	}
}

// appendIssue renders one issue as Jira's IssueBean with the selected
// fields. The caller holds s.mu.
func (s *Server) appendIssue(b []byte, r *record, rc *renderCtx) []byte {
	if rc.sel.idOnly {
		b = append(b, `{"id":`...)
		b = appendString(b, r.ID)
		return append(b, '}')
	}
	b = append(b, `{"expand":`...)
	b = appendString(b, rc.expand)
	b = append(b, `,"id":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"self":`...)
	b = appendJoined(b, rc.rest, "issue/", r.ID)
	b = append(b, `,"key":`...)
	b = appendString(b, r.Key)
	if rc.sel.set == 0 {
		return append(b, '}')
	}
	b = append(b, `,"fields":{`...)
	first := true
	for f := fieldID(0); f < numFields; f++ {
		// Jira leaves parent out of an issue that has none.
		if !rc.sel.set.has(f) || (f == fParent && r.Parent == "") {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, s.cat.rendered[f].ID)
		b = append(b, ':')
		b = s.appendField(b, r, f, rc)
	}
	return append(b, `}}`...)
}

func (s *Server) appendField(b []byte, r *record, f fieldID, rc *renderCtx) []byte {
	switch f {
	case fSummary:
		return appendString(b, r.Summary)
	case fStatus:
		return s.appendStatus(b, r, rc)
	case fIssueType:
		return s.appendType(b, r.Type, rc)
	case fAssignee:
		if r.Assignee == "" {
			return append(b, "null"...)
		}
		return s.appendUser(b, rc.base, rc.api, r.Assignee)
	case fPriority:
		return s.appendPriority(b, r.Priority, rc)
	case fDueDate:
		return appendOptString(b, r.Due)
	case fUpdated:
		return s.appendTime(b, r.Updated)
	case fCreated:
		return s.appendTime(b, r.Created)
	case fLabels:
		b = append(b, '[')
		for i, l := range r.Labels {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, l)
		}
		return append(b, ']')
	case fResolution:
		if r.Resolution == "" {
			return append(b, "null"...)
		}
		n := s.reg.resolutions.known(r.Resolution)
		b = append(b, `{"self":`...)
		b = appendJoined(b, rc.rest, "resolution/", n.ID)
		b = append(b, `,"id":`...)
		b = appendString(b, n.ID)
		b = append(b, `,"description":"","name":`...)
		b = appendString(b, n.Name)
		return append(b, '}')
	case fParent:
		return s.appendParent(b, r.Parent, rc)
	case fDescription:
		if r.Description == "" {
			return append(b, "null"...)
		}
		if rc.cloud && rc.api == "3" {
			return appendADF(b, r.Description)
		}
		return appendString(b, r.Description)
	case fProject:
		p := s.projects[r.Project]
		b = append(b, `{"self":`...)
		b = appendJoined(b, rc.rest, "project/", p.ID)
		b = append(b, `,"id":`...)
		b = appendString(b, p.ID)
		b = append(b, `,"key":`...)
		b = appendString(b, p.Key)
		b = append(b, `,"name":`...)
		b = appendString(b, p.Name)
		b = append(b, `,"projectTypeKey":"software"`...)
		if rc.cloud {
			b = append(b, `,"simplified":false`...)
		}
		return append(b, '}')
	case fStartDate:
		return appendOptString(b, r.Start)
	case fPlannedCost:
		return appendOptNumber(b, r.PlannedCost)
	case fActualCost:
		return appendOptNumber(b, r.ActualCost)
	case fLikelihood:
		return s.appendOption(b, s.reg.likelihood, r.Likelihood, rc)
	case fImpact:
		return s.appendOption(b, s.reg.impact, r.Impact, rc)
	}
	return append(b, "null"...)
}

func (s *Server) appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.In(s.loc()).AppendFormat(b, jiraTime)
	return append(b, '"')
}

func (s *Server) appendStatus(b []byte, r *record, rc *renderCtx) []byte {
	st := s.reg.statuses.known(r.Status)
	cat, _ := categoryOf(r.StatusCategory)
	b = append(b, `{"self":`...)
	b = appendJoined(b, rc.rest, "status/", st.ID)
	b = append(b, `,"description":"","iconUrl":`...)
	b = appendJoined(b, rc.base, "/images/icons/statuses/generic.png")
	b = append(b, `,"name":`...)
	b = appendString(b, st.Name)
	b = append(b, `,"id":`...)
	b = appendString(b, st.ID)
	b = append(b, `,"statusCategory":{"self":`...)
	b = appendJoined(b, rc.rest, "statuscategory/", strconv.Itoa(cat.ID))
	b = append(b, `,"id":`...)
	b = strconv.AppendInt(b, int64(cat.ID), 10)
	b = append(b, `,"key":`...)
	b = appendString(b, cat.Key)
	b = append(b, `,"colorName":`...)
	b = appendString(b, cat.Color)
	b = append(b, `,"name":`...)
	b = appendString(b, cat.Name)
	return append(b, `}}`...)
}

func (s *Server) appendType(b []byte, name string, rc *renderCtx) []byte {
	t := s.reg.types.known(name)
	b = append(b, `{"self":`...)
	b = appendJoined(b, rc.rest, "issuetype/", t.ID)
	b = append(b, `,"id":`...)
	b = appendString(b, t.ID)
	b = append(b, `,"description":"","name":`...)
	b = appendString(b, t.Name)
	b = append(b, `,"subtask":`...)
	b = strconv.AppendBool(b, t.Subtask)
	if rc.cloud {
		b = append(b, `,"hierarchyLevel":`...)
		b = strconv.AppendInt(b, int64(t.Level), 10)
	}
	return append(b, '}')
}

func (s *Server) appendPriority(b []byte, name string, rc *renderCtx) []byte {
	if name == "" {
		return append(b, "null"...)
	}
	p := s.reg.priorities.known(name)
	b = append(b, `{"self":`...)
	b = appendJoined(b, rc.rest, "priority/", p.ID)
	b = append(b, `,"iconUrl":`...)
	b = appendJoined(b, rc.base, "/images/icons/priorities/", strings.ToLower(p.Name), ".svg")
	b = append(b, `,"name":`...)
	b = appendString(b, p.Name)
	b = append(b, `,"id":`...)
	b = appendString(b, p.ID)
	return append(b, '}')
}

func (s *Server) appendOption(b []byte, reg *registry, value string, rc *renderCtx) []byte {
	if value == "" {
		return append(b, "null"...)
	}
	o := reg.known(value)
	b = append(b, `{"self":`...)
	b = appendJoined(b, rc.rest, "customFieldOption/", o.ID)
	b = append(b, `,"value":`...)
	b = appendString(b, o.Name)
	b = append(b, `,"id":`...)
	b = appendString(b, o.ID)
	if !rc.cloud {
		b = append(b, `,"disabled":false`...)
	}
	return append(b, '}')
}

// appendParent renders the parent summary Jira embeds in a child issue.
func (s *Server) appendParent(b []byte, key string, rc *renderCtx) []byte {
	p, ok := s.byKey[key]
	if !ok {
		b = append(b, `{"key":`...)
		b = appendString(b, key)
		return append(b, '}')
	}
	b = append(b, `{"id":`...)
	b = appendString(b, p.ID)
	b = append(b, `,"key":`...)
	b = appendString(b, p.Key)
	b = append(b, `,"self":`...)
	b = appendJoined(b, rc.rest, "issue/", p.ID)
	b = append(b, `,"fields":{"summary":`...)
	b = appendString(b, p.Summary)
	b = append(b, `,"status":`...)
	b = s.appendStatus(b, p, rc)
	b = append(b, `,"priority":`...)
	b = s.appendPriority(b, p.Priority, rc)
	b = append(b, `,"issuetype":`...)
	b = s.appendType(b, p.Type, rc)
	return append(b, `}}`...)
}

// appendUser renders a user: Cloud identifies people by accountId, Data
// Center by user name and key.
func (s *Server) appendUser(b []byte, base, api, name string) []byte {
	rest := base + "/rest/api/" + api + "/"
	b = append(b, `{"self":`...)
	if s.opts.Flavor == Cloud {
		id := accountID(name)
		b = appendString(b, rest+"user?accountId="+id)
		b = append(b, `,"accountId":`...)
		b = appendString(b, id)
		b = append(b, `,"accountType":"atlassian"`...)
	} else {
		user, key := dcUser(name)
		b = appendString(b, rest+"user?username="+user)
		b = append(b, `,"name":`...)
		b = appendString(b, user)
		b = append(b, `,"key":`...)
		b = appendString(b, key)
	}
	b = append(b, `,"displayName":`...)
	b = appendString(b, name)
	b = append(b, `,"active":true,"timeZone":`...)
	b = appendString(b, s.zone.Load().name)
	return append(b, '}')
}

// accountID derives a stable Cloud account id from a display name.
func accountID(name string) string {
	sum := sha1.Sum([]byte(name))
	return hex.EncodeToString(sum[:12])
}

// dcUser derives a Data Center user name ("Priya Raman" → "praman") and
// user key from a display name.
func dcUser(name string) (user, key string) {
	fields := strings.Fields(strings.ToLower(name))
	var sb strings.Builder
	for i, f := range fields {
		for _, c := range f {
			if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
				sb.WriteRune(c)
				if i == 0 && len(fields) > 1 {
					break
				}
			}
		}
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return sb.String(), "JIRAUSER" + strconv.Itoa(10100+int(h.Sum32()%90000))
}

// appendADF renders text as an Atlassian Document Format document, one
// paragraph per line.
func appendADF(b []byte, text string) []byte {
	b = append(b, `{"type":"doc","version":1,"content":[`...)
	for i, line := range strings.Split(text, "\n") {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"paragraph","content":[`...)
		if line != "" {
			b = append(b, `{"type":"text","text":`...)
			b = appendString(b, line)
			b = append(b, '}')
		}
		b = append(b, `]}`...)
	}
	return append(b, `]}`...)
}

func appendOptString(b []byte, v string) []byte {
	if v == "" {
		return append(b, "null"...)
	}
	return appendString(b, v)
}

// appendOptNumber renders a number the way Jira's Java serializer does
// (12500.0), or null.
func appendOptNumber(b []byte, v *float64) []byte {
	if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
		return append(b, "null"...)
	}
	n := len(b)
	b = strconv.AppendFloat(b, *v, 'f', -1, 64)
	if !strings.ContainsRune(string(b[n:]), '.') {
		b = append(b, ".0"...)
	}
	return b
}

// appendJoined appends the concatenation of parts as one JSON string,
// sparing the concatenation.
func appendJoined(b []byte, parts ...string) []byte {
	b = append(b, '"')
	for _, p := range parts {
		b = appendEscaped(b, p)
	}
	return append(b, '"')
}

// appendString appends s as a JSON string. Hand-written JSON keeps pages of
// thousands of issues cheap to produce; the tests decode everything the
// server writes with encoding/json.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// appendEscaped appends s escaped for the inside of a JSON string.
func appendEscaped(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	return append(b, s[start:]...)
}
