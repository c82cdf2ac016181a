package jira

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	gojira "github.com/andygrunwald/go-jira"
)

// systemFields are the issue fields the default mapping reads. Search
// returns only the issue id unless fields are named, and naming them keeps
// descriptions and comments (possible PHI) out of every response.
func systemFields() []string {
	return []string{
		"summary", "status", "issuetype", "assignee", "priority", "duedate",
		"updated", "created", "labels", "resolution", "resolutiondate", "parent",
	}
}

// templateFields are the custom fields of the PMO template, by name.
func templateFields() []string {
	return []string{"Start date", "Planned Cost", "Actual Cost", "Likelihood", "Impact"}
}

// fieldCatalog indexes the instance's fields (GET /field) by name and id.
type fieldCatalog struct {
	byName map[string][]gojira.Field
	byFold map[string][]gojira.Field
	byID   map[string]gojira.Field
}

func newFieldCatalog(fields []gojira.Field) *fieldCatalog {
	fc := &fieldCatalog{
		byName: map[string][]gojira.Field{},
		byFold: map[string][]gojira.Field{},
		byID:   map[string]gojira.Field{},
	}
	for _, f := range fields {
		if f.ID == "" {
			continue
		}
		fc.byName[f.Name] = append(fc.byName[f.Name], f)
		fold := strings.ToLower(strings.TrimSpace(f.Name))
		fc.byFold[fold] = append(fc.byFold[fold], f)
		fc.byID[f.ID] = f
	}
	return fc
}

// resolve finds the fields a mapping means by name: the exact name first,
// then the name in any case, then a field id written directly. Jira allows
// several custom fields with one name, so it may return more than one.
func (fc *fieldCatalog) resolve(name string) []gojira.Field {
	if fs := fc.byName[name]; len(fs) > 0 {
		return fs
	}
	if fs := fc.byFold[strings.ToLower(strings.TrimSpace(name))]; len(fs) > 0 {
		return fs
	}
	if f, ok := fc.byID[name]; ok {
		return []gojira.Field{f}
	}
	return nil
}

// catalogTTL is how long a fetched field catalog, and the user's time
// zone, are trusted: a field an administrator adds or renames, or a zone
// the user changes, is seen by the first pull an hour later, without a
// restart.
const catalogTTL = time.Hour

// selection is what a search asks for and how custom values are read back.
type selection struct {
	fields  []string                  // field ids for the search request
	custom  map[string][]gojira.Field // name as the mapping writes it → its custom fields
	missing []string                  // names the mapping reads that the instance lacks
}

// selection resolves the template's custom fields and the scope's extra
// field names into the field list of a search. A name the mapping reads
// (extra; the template's names when extra is empty) that the instance
// lacks is listed in missing: its mapped values will be empty. A template
// name the mapping does not read is only skipped.
func (c *Connector) selection(ctx context.Context, extra []string) (selection, error) {
	fc, err := c.fieldCatalog(ctx)
	if err != nil {
		return selection{}, err
	}
	sel := selection{fields: systemFields(), custom: map[string][]gojira.Field{}}
	requested := map[string]bool{}
	for _, id := range sel.fields {
		requested[id] = true
	}
	read := map[string]bool{}
	for _, name := range extra {
		read[name] = true
	}
	if len(extra) == 0 {
		for _, name := range templateFields() {
			read[name] = true
		}
	}
	for _, name := range append(templateFields(), extra...) {
		if _, done := sel.custom[name]; done || requested[name] || strings.TrimSpace(name) == "" {
			continue
		}
		fs := fc.resolve(name)
		if len(fs) == 0 {
			if read[name] && !slices.Contains(sel.missing, name) {
				sel.missing = append(sel.missing, name)
			}
			continue
		}
		for _, f := range fs {
			if !requested[f.ID] {
				requested[f.ID] = true
				sel.fields = append(sel.fields, f.ID)
			}
			if f.Custom {
				sel.custom[name] = append(sel.custom[name], f)
			}
		}
	}
	return sel, nil
}

// fieldCatalog returns the instance's fields, fetched again once the last
// fetch is older than catalogTTL. A failed fetch is not cached, so the next
// pull tries again.
func (c *Connector) fieldCatalog(ctx context.Context) (*fieldCatalog, error) {
	now := c.now()
	c.mu.Lock()
	fc, at := c.catalog, c.catalogAt
	c.mu.Unlock()
	if fc != nil && now.Sub(at) < catalogTTL {
		return fc, nil
	}
	fields, _, err := c.jc.Field.GetListWithContext(ctx)
	if err != nil {
		return nil, c.fail("list fields", callErr(err))
	}
	fc = newFieldCatalog(fields)
	c.mu.Lock()
	c.catalog, c.catalogAt = fc, now
	c.mu.Unlock()
	return fc, nil
}

// fetchZone returns the user's time zone, in which Jira reads JQL date
// literals, from GET /myself, fetched again once the last fetch is older
// than catalogTTL: a literal read in a zone the user has since left would
// move by the difference, and a move west would skip the updates of those
// hours for good.
func (c *Connector) fetchZone(ctx context.Context) (*time.Location, error) {
	return c.readZone(ctx, false)
}

// readZone is fetchZone; with force it asks /myself whatever it knows, and
// fails when the answer does not come.
func (c *Connector) readZone(ctx context.Context, force bool) (*time.Location, error) {
	now := c.now()
	c.mu.Lock()
	zone, at := c.zone, c.zoneAt
	c.mu.Unlock()
	if !force && zone != nil && now.Sub(at) < catalogTTL {
		return zone, nil
	}
	me, _, err := c.jc.User.GetSelfWithContext(ctx)
	if err != nil {
		if zone != nil && !force {
			// The zone an hour ago is a better guess than none: keep it,
			// and ask again at the next pull.
			c.log.Warn().Str("err", callErr(err).Error()).Msg("jira user time zone not refreshed; keeping the last one")
			return zone, nil
		}
		return nil, callErr(err)
	}
	loc, err := time.LoadLocation(me.TimeZone)
	if me.TimeZone == "" || err != nil {
		// Formatting the literal in the westernmost offset makes Jira read it
		// as an earlier instant in any user zone: a longer overlap, never a
		// gap. Cloud hides timeZone under some privacy settings.
		loc = time.FixedZone("UTC-12", -12*60*60)
		if zone == nil || zone.String() != loc.String() {
			c.log.Warn().Str("time_zone", me.TimeZone).Msg("jira user time zone unknown; widening the incremental overlap")
		}
	}
	if zone != nil && zone.String() != loc.String() {
		c.log.Info().Str("was", zone.String()).Str("now", loc.String()).Msg("jira user time zone changed")
	}
	c.mu.Lock()
	c.zone, c.zoneAt = loc, now
	c.mu.Unlock()
	return loc, nil
}

// normalize turns a custom field value into what mappings expect: numbers
// stay float64, options become their value, users their display name, dates
// "YYYY-MM-DD", date-times RFC 3339 UTC, rich text plain text, lists lists of
// those. Values of unknown shape pass through unchanged.
func normalize(v any, schema gojira.FieldSchema) any {
	switch schema.Type {
	case "date":
		if s, ok := v.(string); ok && len(s) >= 10 {
			return s[:10]
		}
	case "datetime":
		if s, ok := v.(string); ok {
			if t, err := parseTime(s); err == nil {
				return t.UTC().Format(time.RFC3339)
			}
		}
	case "array":
		if list, ok := v.([]any); ok {
			out := make([]any, 0, len(list))
			for _, e := range list {
				out = append(out, normalize(e, gojira.FieldSchema{Type: schema.Items}))
			}
			return out
		}
	}
	return plain(v)
}

// plain reduces a Jira object value to the text a person sees in the UI.
func plain(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x["type"] == "doc" {
			return adfText(x)
		}
		if val, ok := x["value"].(string); ok {
			// Cascading selects nest the chosen child option.
			if child, ok := x["child"].(map[string]any); ok {
				if cv, ok := child["value"].(string); ok && cv != "" {
					return val + " / " + cv
				}
			}
			return val
		}
		for _, k := range []string{"displayName", "name", "key"} {
			if s, ok := x[k].(string); ok {
				return s
			}
		}
		return x
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			out = append(out, plain(e))
		}
		return out
	}
	return v
}

// endsLine reports whether an Atlassian Document Format node is a block that
// ends a line of text.
func endsLine(typ string) bool {
	switch typ {
	case "paragraph", "heading", "codeBlock", "blockquote", "listItem", "rule", "tableRow", "panel":
		return true
	}
	return false
}

// adfText flattens an Atlassian Document Format node to plain text, one line
// per block.
func adfText(doc map[string]any) string {
	var b strings.Builder
	var walk func(n any)
	walk = func(n any) {
		m, ok := n.(map[string]any)
		if !ok {
			return
		}
		typ, _ := m["type"].(string)
		switch typ {
		case "text":
			s, _ := m["text"].(string)
			b.WriteString(s)
		case "hardBreak":
			b.WriteString("\n")
		case "mention", "emoji", "status", "date", "inlineCard":
			if attrs, ok := m["attrs"].(map[string]any); ok {
				for _, k := range []string{"text", "shortName", "url"} {
					if s, ok := attrs[k].(string); ok {
						b.WriteString(s)
						break
					}
				}
			}
		}
		if content, ok := m["content"].([]any); ok {
			for _, ch := range content {
				walk(ch)
			}
		}
		if endsLine(typ) && b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
			b.WriteString("\n")
		}
	}
	walk(doc)
	return strings.TrimSpace(b.String())
}

// parseTime parses a Jira timestamp: Jira's own 2026-01-05T10:00:00.000+0000
// or RFC 3339.
func parseTime(s string) (time.Time, error) {
	var first error
	for _, layout := range []string{"2006-01-02T15:04:05.999-0700", "2006-01-02T15:04:05-0700", time.RFC3339Nano} {
		t, err := time.Parse(layout, s)
		if err == nil {
			return t, nil
		}
		if first == nil {
			first = err
		}
	}
	return time.Time{}, fmt.Errorf("parse jira time %q: %w", s, first)
}
