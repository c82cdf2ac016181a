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
func scopeJQL(s Scope) string {
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

// pullFilter is the condition of a pull, without an order: the scope's
// JQL, restricted to issues updated from since − overlap on when since is
// set. The literal is written in the user's zone because Jira reads it
// there; truncating to the minute only widens the overlap.
func pullFilter(scope Scope, since time.Time, overlap time.Duration, zone *time.Location) string {
	var parts []string
	if base := scopeJQL(scope); base != "" {
		parts = append(parts, "("+base+")")
	}
	if !since.IsZero() {
		parts = append(parts, `updated >= "`+since.Add(-overlap).In(zone).Format(jqlTimeLayout)+`"`)
	}
	return strings.Join(parts, " AND ")
}

// ordered appends an ORDER BY clause to a filter that may be empty.
func ordered(filter, order string) string {
	if filter == "" {
		return "ORDER BY " + order
	}
	return filter + " ORDER BY " + order
}

// pullJQL is the query of a Cloud pull: ordered so that the updated time
// only grows from page to page.
func pullJQL(scope Scope, since time.Time, overlap time.Duration, zone *time.Location) string {
	return ordered(pullFilter(scope, since, overlap, zone), "updated ASC, id ASC")
}

// Pull streams the issues of a scope updated since the cursor, 100 per page.
//
// Cloud pages in updated order by nextPageToken, which names the position
// after the last issue served: an issue edited mid-walk moves ahead of the
// position and is read again, so each page's cursor can hold the greatest
// updated time seen so far.
//
// Data Center only pages by offset, and an offset over an order that
// changes mid-walk skips issues. So Data Center walks the scope project by
// project in key order, each page asking for the issues after the last key
// read (see keyWalk). A full pull there also proves it read every issue
// (see provenWalk) before its last page, because the engine tombstones
// what a full pull did not see.
func (c *Connector) Pull(ctx context.Context, scope connectors.Scope, cur connectors.Cursor, page func(connectors.Page) error) error {
	sc, err := scopeOf(scope)
	if err != nil {
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
	if len(sel.missing) > 0 {
		c.log.Warn().Str("source", scope.Source).Strs("fields", sel.missing).Msg("jira fields not found; mapped values will be empty")
	}
	site, err := c.siteURL(ctx)
	if err != nil {
		return err
	}
	zone := time.UTC
	if !since.IsZero() {
		if zone, err = c.fetchZone(ctx); err != nil {
			return c.fail("read the user's time zone", err)
		}
	}
	if c.flavor == DataCenter {
		return c.pullByKey(ctx, scope, cur, since, sc, pullFilter(sc, since, c.Overlap, zone), sel, site, page)
	}
	latest, next, pages := since, cur, 0
	return c.search(ctx, pullJQL(sc, since, c.Overlap, zone), sel.fields, keepFor(scope, sel), pullPageSize, func(sp searchPage) error {
		pages++
		recs, newest, err := c.records(scope.Source, sp.issues, sel, site, pages)
		if err != nil {
			return err
		}
		if newest.After(latest) {
			latest = newest
		}
		if !latest.IsZero() {
			next = encodeCursor(latest)
		}
		return c.emit(scope.Source, pages, connectors.Page{Records: recs, Next: next}, page)
	})
}

// pullByKey is the Data Center pull, walked by key. Its pages carry the
// cursor the pull started from, and only the last page moves it: keys say
// nothing about update times, so before the last page an issue updated
// after since may still be unread. A pull interrupted half way thus starts
// again from the old since; the pages it re-reads are upserted again,
// which is idempotent, so a crash or a stop loses nothing and
// double-counts nothing.
//
// The last page moves since to the newest updated time read, but never
// past the moment the walk began (the server's clock, from the first
// answer's Date header): an issue edited or moved during the walk after
// the walk passed its place carries a later updated time than the walk's
// start, and the next pull, reading from there less the overlap, picks it
// up.
//
// A full pull (since zero) is proven complete before its last page is
// handed over, and walked again when it cannot be: the engine tombstones
// every stored issue a full pull did not see.
func (c *Connector) pullByKey(ctx context.Context, scope connectors.Scope, cur connectors.Cursor, since time.Time, sc Scope, filter string, sel selection, site string, page func(connectors.Page) error) error {
	started := c.now()
	newest, pages := time.Time{}, 0
	each := func(sp searchPage) error {
		pages++
		if pages == 1 && !sp.date.IsZero() {
			started = sp.date
		}
		recs, latest, err := c.records(scope.Source, sp.issues, sel, site, pages)
		if err != nil {
			return err
		}
		if latest.After(newest) {
			newest = latest
		}
		p := connectors.Page{Records: recs, Next: cur}
		if sp.last {
			if s := walkSince(since, newest, started); !s.IsZero() {
				p.Next = encodeCursor(s)
			}
		}
		return c.emit(scope.Source, pages, p, page)
	}
	if since.IsZero() {
		return c.provenWalk(ctx, scopeFilter(sc), sel.fields, keepFor(scope, sel), pullPageSize, each)
	}
	return c.walkByKey(ctx, filter, sel.fields, keepFor(scope, sel), pullPageSize, each)
}

// walkSince is the since a complete id-ordered walk leaves behind: the
// newest updated time read, capped at the walk's start, and never earlier
// than the since the walk began from.
func walkSince(since, newest, started time.Time) time.Time {
	s := newest
	if !started.IsZero() && started.Before(s) {
		s = started
	}
	if s.Before(since) {
		s = since
	}
	return s.UTC()
}

// records turns the issues of one search page into records and returns the
// greatest updated time among them.
func (c *Connector) records(source string, issues []map[string]any, sel selection, site string, pageNo int) ([]pmsync.Record, time.Time, error) {
	recs := make([]pmsync.Record, 0, len(issues))
	var newest time.Time
	for _, issue := range issues {
		rec, err := c.record(source, issue, sel, site)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("jira connection %q: read issue on page %d: %w", c.name, pageNo, err)
		}
		if rec.UpdatedAt.After(newest) {
			newest = rec.UpdatedAt
		}
		recs = append(recs, rec)
	}
	return recs, newest, nil
}

// emit hands one page to the caller's callback.
func (c *Connector) emit(source string, pageNo int, p connectors.Page, page func(connectors.Page) error) error {
	c.log.Debug().Str("source", source).Int("records", len(p.Records)).Msg("jira page pulled")
	if err := page(p); err != nil {
		return fmt.Errorf("jira connection %q: handle page %d of source %q: %w", c.name, pageNo, source, err)
	}
	return nil
}

// record turns one issue of a search into a Record: the issue JSON as
// decoded, custom fields moved by name under "custom", and the description
// and comments dropped should the server send them anyway.
func (c *Connector) record(source string, issue map[string]any, sel selection, site string) (pmsync.Record, error) {
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
		rec.URL = issueURL(site, key)
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
// with the largest pages the API allows. Neither flavor pages by offset:
// an offset walk that sees an issue deleted behind it skips a live one,
// which would then be tombstoned. Cloud walks by nextPageToken in created
// order, which neither edits nor moves between projects change; Data
// Center walks by key and proves the walk complete (provenWalk), or fails
// rather than hand back a list that may lack live issues.
func (c *Connector) ListIDs(ctx context.Context, scope connectors.Scope) ([]string, error) {
	sc, err := scopeOf(scope)
	if err != nil {
		return nil, fmt.Errorf("jira connection %q: %w", c.name, err)
	}
	var ids []string
	seen := map[string]bool{}
	collect := func(sp searchPage) error {
		for _, issue := range sp.issues {
			if id := idOf(issue["id"]); id != "" && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		return nil
	}
	if c.flavor == DataCenter {
		err = c.provenWalk(ctx, scopeFilter(sc), []string{"id"}, nil, dcIDPageSize, collect)
	} else {
		err = c.search(ctx, ordered(scopeFilter(sc), "created ASC, id ASC"), []string{"id"}, nil, cloudIDPageSize, collect)
	}
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// scopeFilter is the scope's condition, parenthesised, without an order.
func scopeFilter(sc Scope) string {
	if base := scopeJQL(sc); base != "" {
		return "(" + base + ")"
	}
	return ""
}

// searchRequest is the body of both search endpoints: Cloud's
// /search/jql pages by NextPageToken, Data Center's /search by StartAt.
type searchRequest struct {
	JQL           string   `json:"jql"`
	NextPageToken string   `json:"nextPageToken,omitempty"`
	StartAt       *int     `json:"startAt,omitempty"`
	MaxResults    int      `json:"maxResults"`
	Fields        []string `json:"fields"`
	// keep is what of each issue's fields to decode (decodeSearch); it is
	// not sent.
	keep *keepTree
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

// searchPage is one page of a search walk.
type searchPage struct {
	issues []map[string]any
	last   bool      // no page follows
	date   time.Time // the server's clock when it answered; zero when unknown
}

// searchOnce sends the n-th search request of a walk.
func (c *Connector) searchOnce(ctx context.Context, n int, req searchRequest) (searchResponse, time.Time, error) {
	var resp searchResponse
	if err := ctx.Err(); err != nil {
		return resp, time.Time{}, fmt.Errorf("jira connection %q: search page %d: %w", c.name, n, err)
	}
	path := "rest/api/3/search/jql"
	if c.flavor == DataCenter {
		path = "rest/api/2/search"
	}
	// Search is a read: repeating a POST that may have reached Jira is
	// harmless, so the shared client may retry it.
	h, body, err := c.doRaw(asRead(ctx), http.MethodPost, path, req)
	if err != nil {
		return resp, time.Time{}, c.fail(fmt.Sprintf("search issues (page %d)", n), err)
	}
	p := c.parsers.Get()
	resp, err = decodeSearch(p, body, req.keep)
	c.parsers.Put(p)
	if err != nil {
		return resp, time.Time{}, fmt.Errorf("jira connection %q: search issues (page %d): decode the answer to POST /%s: %w", c.name, n, path, err)
	}
	var date time.Time
	if t, err := http.ParseTime(h.Get("Date")); err == nil {
		date = t.UTC()
	}
	return resp, date, nil
}

// search walks every page of a Cloud JQL search by nextPageToken and hands
// each to each. The context is checked before every page, so a cancelled
// pull stops within one page.
func (c *Connector) search(ctx context.Context, jql string, fields []string, keep *keepTree, size int, each func(searchPage) error) error {
	req := searchRequest{JQL: jql, MaxResults: size, Fields: fields, keep: keep}
	for n := 1; ; n++ {
		resp, date, err := c.searchOnce(ctx, n, req)
		if err != nil {
			return err
		}
		last := resp.IsLast || resp.NextPageToken == ""
		if err := each(searchPage{issues: resp.Issues, last: last, date: date}); err != nil {
			return err
		}
		if last {
			return nil
		}
		if resp.NextPageToken == req.NextPageToken {
			return fmt.Errorf("jira connection %q: search page %d: the server repeated nextPageToken", c.name, n)
		}
		req.NextPageToken = resp.NextPageToken
	}
}
