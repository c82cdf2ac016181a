package jira

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/httpapi"
)

// Page sizes: 100 is the most Jira returns with a field list; an id-only
// search may ask for more (Cloud 5000, Data Center's default cap 1000).
const (
	pullPageSize    = 100
	cloudIDPageSize = 5000
	dcIDPageSize    = 1000
)

// jqlTimeLayout is the form of a JQL date literal: minute precision, read by
// Jira in the searching user's time zone.
const jqlTimeLayout = "2006/01/02 15:04"

// cursorVersion is the version of the cursor JSON.
const cursorVersion = 1

// cursorState is the cursor a pull saves: the greatest updated time seen.
type cursorState struct {
	V     int    `json:"v"`
	Since string `json:"since"`
}

// decodeCursor reads a saved cursor; the empty cursor is the zero time (a
// full pull).
func decodeCursor(cur connectors.Cursor) (time.Time, error) {
	if cur == "" {
		return time.Time{}, nil
	}
	var st cursorState
	if err := json.Unmarshal([]byte(cur), &st); err != nil {
		return time.Time{}, fmt.Errorf("%w: %v", connectors.ErrCursorInvalid, err)
	}
	if st.V != cursorVersion {
		return time.Time{}, fmt.Errorf("%w: version %d, want %d", connectors.ErrCursorInvalid, st.V, cursorVersion)
	}
	t, err := time.Parse(time.RFC3339Nano, st.Since)
	if err != nil || t.IsZero() {
		return time.Time{}, fmt.Errorf("%w: since %q is not an RFC 3339 time", connectors.ErrCursorInvalid, st.Since)
	}
	return t.UTC(), nil
}

// encodeCursor writes the cursor for the greatest updated time seen.
func encodeCursor(since time.Time) connectors.Cursor {
	b, _ := json.Marshal(cursorState{V: cursorVersion, Since: since.UTC().Format(time.RFC3339Nano)})
	return connectors.Cursor(b)
}

// scopeJQL returns the JQL of a scope without its ORDER BY clause.
func scopeJQL(s connectors.Scope) string {
	if p := strings.TrimSpace(s.Project); p != "" {
		return `project = "` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p) + `"`
	}
	return stripOrderBy(s.JQL)
}

// stripOrderBy cuts a top-level ORDER BY clause (outside quotes and
// parentheses) off a JQL query.
func stripOrderBy(jql string) string {
	depth := 0
	var quote byte
	for i := 0; i < len(jql); i++ {
		ch := jql[i]
		switch {
		case quote != 0:
			if ch == '\\' {
				i++
			} else if ch == quote {
				quote = 0
			}
		case ch == '"' || ch == '\'':
			quote = ch
		case ch == '(':
			depth++
		case ch == ')':
			depth--
		case depth == 0 && (ch == 'o' || ch == 'O') && (i == 0 || isJQLSpace(jql[i-1]) || jql[i-1] == ')'):
			if rest := jql[i:]; len(rest) >= 5 && strings.EqualFold(rest[:5], "order") {
				after := strings.TrimLeft(rest[5:], " \t\r\n")
				if len(after) < len(rest)-5 && len(after) >= 2 && strings.EqualFold(after[:2], "by") &&
					(len(after) == 2 || isJQLSpace(after[2])) {
					return strings.TrimSpace(jql[:i])
				}
			}
		}
	}
	return strings.TrimSpace(jql)
}

func isJQLSpace(ch byte) bool { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' }

// pullJQL builds the query of a pull: the scope's JQL, restricted to issues
// updated from since − overlap on when since is set, ordered so that the
// updated time only grows from page to page. The literal is written in the user's zone because Jira
// reads it there; truncating to the minute only widens the overlap.
func pullJQL(scope connectors.Scope, since time.Time, overlap time.Duration, zone *time.Location) string {
	var parts []string
	if base := scopeJQL(scope); base != "" {
		parts = append(parts, "("+base+")")
	}
	if !since.IsZero() {
		parts = append(parts, `updated >= "`+since.Add(-overlap).In(zone).Format(jqlTimeLayout)+`"`)
	}
	jql := strings.Join(parts, " AND ")
	if jql != "" {
		jql += " "
	}
	return jql + "ORDER BY updated ASC, id ASC"
}

// Pull streams the issues of a scope updated since the cursor, 100 per page,
// oldest update first. Each page's cursor holds the greatest updated time
// seen so far, so a pull that stops half way resumes where it stopped.
func (c *Connector) Pull(ctx context.Context, scope connectors.Scope, cur connectors.Cursor, page func(connectors.Page) error) error {
	if err := CheckScope(scope); err != nil {
		return fmt.Errorf("jira connection %q: %w", c.name, err)
	}
	since, err := decodeCursor(cur)
	if err != nil {
		return fmt.Errorf("jira connection %q: read cursor of source %q: %w", c.name, scope.Source, err)
	}
	sel, err := c.selection(ctx, scope.Fields)
	if err != nil {
		return err
	}
	zone := time.UTC
	if !since.IsZero() {
		if zone, err = c.fetchZone(ctx); err != nil {
			return c.fail("read the user's time zone", err)
		}
	}
	jql := pullJQL(scope, since, c.Overlap, zone)

	latest, next, pages := since, cur, 0
	return c.search(ctx, jql, sel.fields, pullPageSize, func(issues []map[string]any, _ int) error {
		pages++
		recs := make([]pmsync.Record, 0, len(issues))
		for _, issue := range issues {
			rec, err := c.record(scope.Source, issue, sel)
			if err != nil {
				return fmt.Errorf("jira connection %q: read issue on page %d: %w", c.name, pages, err)
			}
			if rec.UpdatedAt.After(latest) {
				latest = rec.UpdatedAt
			}
			recs = append(recs, rec)
		}
		if !latest.IsZero() {
			next = encodeCursor(latest)
		}
		c.log.Debug().Str("source", scope.Source).Int("records", len(recs)).Msg("jira page pulled")
		if err := page(connectors.Page{Records: recs, Next: next}); err != nil {
			return fmt.Errorf("jira connection %q: handle page %d of source %q: %w", c.name, pages, scope.Source, err)
		}
		return nil
	})
}

// record turns one issue of a search into a Record: the issue JSON as
// decoded, custom fields moved by name under "custom", and the description
// and comments dropped should the server send them anyway.
func (c *Connector) record(source string, issue map[string]any, sel selection) (pmsync.Record, error) {
	id := idOf(issue["id"])
	if id == "" {
		return pmsync.Record{}, errors.New("issue has no id")
	}
	key, _ := issue["key"].(string)
	fields, _ := issue["fields"].(map[string]any)
	if fields == nil {
		fields = map[string]any{}
		issue["fields"] = fields
	}
	delete(fields, "description")
	delete(fields, "comment")

	raw, _ := fields["updated"].(string)
	updated, err := parseTime(raw)
	if err != nil {
		return pmsync.Record{}, fmt.Errorf("issue %s (%s): %w", id, key, err)
	}

	custom := make(map[string]any, len(sel.custom))
	for name, fs := range sel.custom {
		var v any
		for _, f := range fs {
			if fv := fields[f.ID]; fv != nil && v == nil {
				v = normalize(fv, f.Schema)
			}
			delete(fields, f.ID)
		}
		custom[name] = v
	}
	issue["custom"] = custom

	rec := pmsync.Record{Source: source, ExternalID: id, UpdatedAt: updated.UTC(), Data: issue}
	if key != "" {
		rec.URL = c.issueURL(key)
	}
	return rec, nil
}

// idOf reads an issue id, which Jira sends as a string.
func idOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatInt(int64(x), 10)
	}
	return ""
}

// ListIDs returns the id of every issue of a scope, for deletion detection,
// with the largest pages the API allows.
func (c *Connector) ListIDs(ctx context.Context, scope connectors.Scope) ([]string, error) {
	if err := CheckScope(scope); err != nil {
		return nil, fmt.Errorf("jira connection %q: %w", c.name, err)
	}
	jql := "ORDER BY id ASC"
	if base := scopeJQL(scope); base != "" {
		jql = "(" + base + ") " + jql
	}
	size := cloudIDPageSize
	if c.flavor == DataCenter {
		size = dcIDPageSize
	}
	var ids []string
	seen := map[string]bool{}
	total := -1
	err := c.search(ctx, jql, []string{"id"}, size, func(issues []map[string]any, t int) error {
		total = t
		for _, issue := range issues {
			if id := idOf(issue["id"]); id != "" && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Offset paging skips an issue when another is deleted mid-walk, and a
	// skipped id would be tombstoned: refuse an inconsistent list.
	if total >= 0 && len(ids) != total {
		return nil, fmt.Errorf("jira connection %q: list issue ids of source %q: got %d ids but the search reported %d; the scope changed while listing, try again",
			c.name, scope.Source, len(ids), total)
	}
	return ids, nil
}

// searchRequest is the body of both search endpoints: Cloud's
// /search/jql pages by NextPageToken, Data Center's /search by StartAt.
type searchRequest struct {
	JQL           string   `json:"jql"`
	NextPageToken string   `json:"nextPageToken,omitempty"`
	StartAt       *int     `json:"startAt,omitempty"`
	MaxResults    int      `json:"maxResults"`
	Fields        []string `json:"fields"`
}

// searchResponse covers both search answers.
type searchResponse struct {
	Issues        []map[string]any `json:"issues"`
	NextPageToken string           `json:"nextPageToken"`
	IsLast        bool             `json:"isLast"`
	StartAt       int              `json:"startAt"`
	MaxResults    int              `json:"maxResults"`
	Total         int              `json:"total"`
}

// search walks every page of a JQL search and hands each page's issues to
// each, with the total the server reports (-1 on Cloud, which has none).
// The context is checked before every page, so a cancelled pull stops
// within one page.
func (c *Connector) search(ctx context.Context, jql string, fields []string, size int, each func(issues []map[string]any, total int) error) error {
	path := "/rest/api/3/search/jql"
	if c.flavor == DataCenter {
		path = "/rest/api/2/search"
	}
	req := searchRequest{JQL: jql, MaxResults: size, Fields: fields}
	start := 0
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("jira connection %q: search page %d: %w", c.name, n, err)
		}
		if c.flavor == DataCenter {
			req.StartAt = &start
		}
		var resp searchResponse
		// Search is a read: repeating a POST that may have reached Jira is
		// harmless, so the shared client may retry it.
		if err := c.doJSON(ctx, httpapi.Request{Method: http.MethodPost, Path: path, JSON: req, Idempotent: true}, &resp); err != nil {
			return c.fail(fmt.Sprintf("search issues (page %d)", n), err)
		}
		total := -1
		if c.flavor == DataCenter {
			total = resp.Total
		}
		if err := each(resp.Issues, total); err != nil {
			return err
		}
		if c.flavor == Cloud {
			if resp.IsLast || resp.NextPageToken == "" {
				return nil
			}
			if resp.NextPageToken == req.NextPageToken {
				return fmt.Errorf("jira connection %q: search page %d: the server repeated nextPageToken", c.name, n)
			}
			req.NextPageToken = resp.NextPageToken
			continue
		}
		start = resp.StartAt + len(resp.Issues)
		if len(resp.Issues) == 0 || start >= resp.Total {
			return nil
		}
		// Data Center caps maxResults (jira.search.views.default.max); ask
		// for what it will serve.
		if resp.MaxResults > 0 && resp.MaxResults < req.MaxResults {
			req.MaxResults = resp.MaxResults
		}
	}
}
