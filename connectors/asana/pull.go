package asana

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
)

// cursorVersion is bumped when the cursor's meaning changes; an older
// cursor is then invalid and the engine answers with a full pull. A walk in
// progress (Walk) was added without a bump: a cursor without one means what
// it always meant.
const cursorVersion = 1

// cursor is the saved position in a project: the newest modification time
// covered and the events sync token, and while a walk over the tasks is
// under way, where it stands.
type cursor struct {
	V     int        `json:"v"`
	Since string     `json:"since"` // RFC 3339; "" before the first full walk
	Sync  string     `json:"sync"`
	Walk  *walkState `json:"walk,omitempty"`
}

// walkState is a walk handed over page by page: enough to go on from the
// next page in a later pull, so that a walk cut short (a rate limit longer
// than the client waits, a timeout, a restart) does not start again from
// the first page.
type walkState struct {
	// Offset is the next page's next_page.offset. Asana lets it expire
	// after a while; an expired one restarts the walk from its first page.
	Offset string `json:"offset"`
	// Since is the walk's modified_since (RFC 3339); "" walks every task.
	Since string `json:"since,omitempty"`
	// Sync is the events token read when the walk began. It becomes the
	// cursor's token only with the last page, because the walk is what
	// covers the changes it skips; its deletions left with the first page.
	Sync string `json:"sync"`
	// Full marks a walk over every task that ends with the live list.
	Full bool `json:"full,omitempty"`
	// Start is the server's clock when the walk began, Newest the newest
	// modified_at handed over so far (RFC 3339, "" for none).
	Start  string `json:"start,omitempty"`
	Newest string `json:"newest,omitempty"`
}

func parseCursor(c connectors.Cursor) (cursor, time.Time, error) {
	if c == "" {
		return cursor{V: cursorVersion}, time.Time{}, nil
	}
	var cur cursor
	if err := json.Unmarshal([]byte(c), &cur); err != nil {
		return cursor{}, time.Time{}, fmt.Errorf("asana: %w: %v", connectors.ErrCursorInvalid, err)
	}
	if cur.V != cursorVersion {
		return cursor{}, time.Time{}, fmt.Errorf("asana: %w: version %d, want %d", connectors.ErrCursorInvalid, cur.V, cursorVersion)
	}
	since, err := parseTime("since", cur.Since)
	if err != nil {
		return cursor{}, time.Time{}, err
	}
	if w := cur.Walk; w != nil {
		if w.Offset == "" || w.Sync == "" {
			return cursor{}, time.Time{}, fmt.Errorf("asana: %w: a walk in progress without its offset or sync token", connectors.ErrCursorInvalid)
		}
		for _, f := range []struct{ name, v string }{{"walk.since", w.Since}, {"walk.start", w.Start}, {"walk.newest", w.Newest}} {
			if _, err := parseTime(f.name, f.v); err != nil {
				return cursor{}, time.Time{}, err
			}
		}
	}
	return cur, since, nil
}

// parseTime reads an RFC 3339 time of the cursor; "" is the zero time.
func parseTime(key, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("asana: %w: %s %q: %v", connectors.ErrCursorInvalid, key, v, err)
	}
	return t, nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func (c cursor) encode() connectors.Cursor {
	b, _ := json.Marshal(c)
	return connectors.Cursor(b)
}

// taskFields are the task properties a pull asks for: records are compact
// (gid, name) unless opt_fields names more. Never notes or html_notes: task
// descriptions are where patient details end up.
const taskFields = "name,resource_subtype,completed,completed_at,due_on,due_at,start_on," +
	"modified_at,assignee.name,permalink_url,parent.name," +
	"memberships.project.name,memberships.section.name," +
	"custom_fields.name,custom_fields.type,custom_fields.resource_subtype," +
	"custom_fields.number_value,custom_fields.format,custom_fields.precision," +
	"custom_fields.enum_value.name,custom_fields.multi_enum_values.name," +
	"custom_fields.text_value,custom_fields.date_value.date,custom_fields.people_value.name," +
	"custom_fields.display_value"

// extraField reports whether a name in Scope.Fields is a further task
// property to ask for. Other names there are custom field names, which
// arrive anyway.
func extraField(f string) bool {
	switch f {
	case "tags.name", "created_at", "created_by.name", "completed_by.name", "approval_status",
		"num_subtasks", "projects.name", "start_at", "followers.name", "dependencies", "dependents",
		"workspace.name", "custom_type.name", "custom_type_status_option.name", "actual_time_minutes":
		return true
	}
	return false
}

func optFields(scope connectors.Scope) string {
	fields := strings.Split(taskFields, ",")
	for _, f := range scope.Fields {
		if extraField(f) && !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	return strings.Join(fields, ",")
}

type taskPage struct {
	Data     []map[string]any `json:"data"`
	NextPage *struct {
		Offset string `json:"offset"`
	} `json:"next_page"`
}

// Pull streams the tasks of sc.Project changed since cur.
//
// It first reads the project's events: with no sync token, Asana answers
// 412 with one and the walk that follows covers the state; with a token,
// deleted tasks and tasks removed from the project become Page.Deleted of
// the first page; an expired token (412 again) means events were lost, so
// the walk becomes a full re-list whose last page carries every live gid
// (Page.HasLive). Then it walks the tasks modified since the cursor, less
// Overlap, following next_page.offset; an expired offset restarts the walk
// once.
//
// Every page's cursor records where the walk stands, so that a pull cut
// short goes on from the next page: a cursor holding a walk resumes it (its
// events were read when it began) instead of starting anew. Until the last
// page the cursor's own modification time and sync token stay those the
// walk started from: tasks come in project order, not by modified_at, so a
// task changed before the newest one seen may be on a page not read yet.
func (c *Connector) Pull(ctx context.Context, scope connectors.Scope, cur connectors.Cursor, page func(connectors.Page) error) error {
	sc, err := connectors.ScopeConfig(Kind, scope, CheckScope)
	if err != nil {
		return err
	}
	st, since, err := parseCursor(cur)
	if err != nil {
		return err
	}
	var (
		w       *walk
		deleted []string
	)
	if st.Walk != nil {
		w = resumeWalk(sc.Project, st.Walk, optFields(scope))
		c.log.Debug().Str("source", scope.Source).Bool("full", w.full).Msg("resuming an unfinished walk")
	} else {
		ev, err := c.events(ctx, sc.Project, st.Sync)
		if err != nil {
			return err
		}
		w = &walk{project: sc.Project, full: since.IsZero() || ev.lost, fields: optFields(scope), sync: ev.sync}
		if !w.full {
			w.since = since.Add(-c.Overlap)
		}
		deleted = ev.deleted
	}
	pages := 0
	records := 0
	err = c.walk(ctx, w, func(recs []pmsync.Record, next string) error {
		p := connectors.Page{Records: recs}
		for i := range recs {
			recs[i].Source = scope.Source
		}
		if pages == 0 {
			p.Deleted = deleted
		}
		if next != "" {
			p.Next = cursor{V: cursorVersion, Since: st.Since, Sync: st.Sync, Walk: w.state(next)}.encode()
		} else {
			p.Next = cursor{V: cursorVersion, Since: formatTime(w.newSince(since, c.now)), Sync: w.sync}.encode()
			if w.full {
				live, err := c.liveAtEnd(ctx, w)
				if err != nil {
					return err
				}
				p.Live, p.HasLive = live, true
			}
		}
		pages++
		records += len(recs)
		c.log.Debug().Str("source", scope.Source).Int("records", len(recs)).Bool("last", next == "").Msg("page pulled")
		if err := page(p); err != nil {
			return fmt.Errorf("asana: project %s: handle page %d: %w", sc.Project, pages, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.log.Debug().Str("source", scope.Source).Int("records", records).Int("deleted", len(deleted)).
		Bool("full", w.full).Msg("pull done")
	return nil
}

// liveAtEnd is the live list a full walk ends with: the gids it saw, or,
// for a walk that began in an earlier pull and so saw only its own part,
// a fresh listing of the project's gids.
func (c *Connector) liveAtEnd(ctx context.Context, w *walk) ([]string, error) {
	if !w.resumed {
		return w.live, nil
	}
	live, err := c.listIDs(ctx, w.project)
	if err != nil {
		return nil, fmt.Errorf("asana: list the tasks of project %s after a resumed full walk: %w", w.project, err)
	}
	return live, nil
}

// ListIDs lists the gids of every task in the scope's project.
func (c *Connector) ListIDs(ctx context.Context, scope connectors.Scope) ([]string, error) {
	sc, err := connectors.ScopeConfig(Kind, scope, CheckScope)
	if err != nil {
		return nil, err
	}
	return c.listIDs(ctx, sc.Project)
}

func (c *Connector) listIDs(ctx context.Context, project string) ([]string, error) {
	// resource_subtype is the smallest field there is to ask for: without
	// opt_fields the compact record carries every task's name.
	w := walk{project: project, full: true, idsOnly: true, fields: "resource_subtype"}
	if err := c.walk(ctx, &w, func([]pmsync.Record, string) error { return nil }); err != nil {
		return nil, err
	}
	if w.live == nil {
		w.live = []string{}
	}
	return w.live, nil
}

// walk is one pass over a project's tasks.
type walk struct {
	project string
	since   time.Time // zero: every task
	full    bool      // collect live gids
	idsOnly bool      // only collect live gids: no records
	fields  string
	sync    string // the events token to save once the walk is done

	offset  string // where a resumed walk goes on; "" starts at the first page
	resumed bool   // the walk began in an earlier pull

	live   []string
	newest time.Time // the newest modified_at seen
	start  time.Time // the server's clock when the walk began
}

// resumeWalk rebuilds a walk from its saved state; parseCursor vouched for
// the times.
func resumeWalk(project string, s *walkState, fields string) *walk {
	w := &walk{project: project, full: s.Full, fields: fields, sync: s.Sync, offset: s.Offset, resumed: true}
	w.since, _ = parseTime("", s.Since)
	w.start, _ = parseTime("", s.Start)
	w.newest, _ = parseTime("", s.Newest)
	return w
}

// state is what a page's cursor records of the walk, with the offset of
// the page that comes next.
func (w *walk) state(next string) *walkState {
	return &walkState{Offset: next, Since: formatTime(w.since), Sync: w.sync, Full: w.full,
		Start: formatTime(w.start), Newest: formatTime(w.newest)}
}

// newSince is the modification time the next pull starts from: the newest
// modified_at seen, but no later than the moment the walk began, since a
// task changed during the walk may sit on a page read before the change;
// and never earlier than the previous cursor.
func (w *walk) newSince(prev time.Time, now func() time.Time) time.Time {
	start := w.start
	if start.IsZero() {
		start = now()
	}
	s := start
	if !w.newest.IsZero() && w.newest.Before(start) {
		s = w.newest
	}
	if s.Before(prev) {
		s = prev
	}
	return s.UTC()
}

// walk pages through the project's tasks and hands each page to emit with
// the offset of the next page ("" after the last).
func (c *Connector) walk(ctx context.Context, w *walk, emit func(recs []pmsync.Record, next string) error) error {
	q := url.Values{"project": {w.project}, "limit": {strconv.Itoa(pageSize)}, "opt_fields": {w.fields}}
	if !w.since.IsZero() {
		q.Set("modified_since", w.since.UTC().Format(time.RFC3339))
	}
	if w.offset != "" {
		q.Set("offset", w.offset)
	}
	// After a restart the pages already handed over come again; records
	// that did not change since are not handed over twice.
	sent := map[string]string{}
	restarted := false
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("asana: list tasks of project %s: %w", w.project, err)
		}
		var body taskPage
		resp, err := c.get(ctx, "/tasks", q, &body)
		if err != nil {
			if q.Get("offset") != "" && !restarted && offsetExpired(err) {
				c.log.Debug().Str("project", w.project).Msg("pagination offset expired; restarting the walk")
				restarted = true
				q.Del("offset")
				// From the first page the walk sees every task again, so
				// its own live list is whole once more.
				w.live, w.resumed = nil, false
				continue
			}
			return fmt.Errorf("asana: list tasks of project %s: %w", w.project, err)
		}
		if w.start.IsZero() {
			if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
				w.start = t
			}
		}
		recs := make([]pmsync.Record, 0, len(body.Data))
		for _, raw := range body.Data {
			if w.idsOnly {
				gid, _ := raw["gid"].(string)
				if gid == "" {
					return fmt.Errorf("asana: list tasks of project %s: a task has no gid", w.project)
				}
				w.live = append(w.live, gid)
				continue
			}
			rec, err := toRecord(w.project, raw)
			if err != nil {
				return fmt.Errorf("asana: list tasks of project %s: %w", w.project, err)
			}
			if w.full {
				w.live = append(w.live, rec.ExternalID)
			}
			if rec.UpdatedAt.After(w.newest) {
				w.newest = rec.UpdatedAt
			}
			stamp := rec.UpdatedAt.String()
			if sent[rec.ExternalID] == stamp {
				continue
			}
			sent[rec.ExternalID] = stamp
			recs = append(recs, rec)
		}
		next := ""
		if body.NextPage != nil {
			next = body.NextPage.Offset
		}
		if err := emit(recs, next); err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		q.Set("offset", next)
	}
}

// offsetExpired recognises Asana's answer to a stale pagination offset:
// 400 "offset: Your pagination token has expired."
func offsetExpired(err error) bool {
	var ae *connectors.APIError
	return errors.As(err, &ae) && ae.Status == http.StatusBadRequest &&
		strings.HasPrefix(strings.ToLower(ae.Message), "offset:")
}

// toRecord turns one task into a record: the task JSON plus "custom" (its
// custom fields by name, values normalized) and "section" (its section in
// the project).
func toRecord(project string, raw map[string]any) (pmsync.Record, error) {
	gid, _ := raw["gid"].(string)
	if gid == "" {
		return pmsync.Record{}, errors.New("a task has no gid")
	}
	mod, _ := raw["modified_at"].(string)
	updated, err := time.Parse(time.RFC3339Nano, mod)
	if err != nil {
		return pmsync.Record{}, fmt.Errorf("task %s: modified_at %q is not a time", gid, mod)
	}
	// Never asked for; dropped should a proxy or a future default add them.
	delete(raw, "notes")
	delete(raw, "html_notes")
	custom := map[string]any{}
	cfs, _ := raw["custom_fields"].([]any)
	for _, x := range cfs {
		cf, _ := x.(map[string]any)
		if name, _ := cf["name"].(string); name != "" {
			custom[name] = customValue(cf)
		}
	}
	raw["custom"] = custom
	raw["section"] = sectionIn(project, raw["memberships"])
	url, _ := raw["permalink_url"].(string)
	return pmsync.Record{ExternalID: gid, UpdatedAt: updated.UTC(), URL: url, Data: raw}, nil
}

// customValue normalizes a custom field's value by its type, so that
// mappings read numbers, option names, text, ISO dates and people names
// instead of Asana's per-type objects. A number field in percentage format
// reads as the percentage the UI shows (25 for a stored 0.25).
func customValue(cf map[string]any) any {
	typ, _ := cf["resource_subtype"].(string)
	if typ == "" {
		typ, _ = cf["type"].(string)
	}
	switch typ {
	case "number":
		v, ok := cf["number_value"].(float64)
		if !ok {
			return nil
		}
		if f, _ := cf["format"].(string); f == "percentage" {
			return percent(v, cf["precision"])
		}
		return v
	case "enum":
		ev, _ := cf["enum_value"].(map[string]any)
		if name, ok := ev["name"].(string); ok {
			return name
		}
		return nil
	case "multi_enum":
		return names(cf["multi_enum_values"])
	case "text":
		if v, ok := cf["text_value"].(string); ok {
			return v
		}
		return nil
	case "date":
		dv, _ := cf["date_value"].(map[string]any)
		if d, ok := dv["date"].(string); ok && d != "" {
			return d
		}
		if dt, ok := dv["date_time"].(string); ok && len(dt) >= 10 {
			return dt[:10]
		}
		return nil
	case "people":
		return names(cf["people_value"])
	}
	// Formula, custom id and reference fields: what Asana shows.
	return cf["display_value"]
}

// percent turns the fraction a percentage field stores (0.25) into the
// percentage Asana shows for it (25), rounded to the field's precision,
// which for this format counts the decimals of the percentage (0.251 has
// precision 1 and shows as 25.1%).
func percent(v float64, precision any) float64 {
	digits := 9 // without a precision: only the float noise of ×100 goes
	if p, ok := precision.(float64); ok && p >= 0 && p <= 6 {
		digits = int(p)
	}
	scale := math.Pow(10, float64(digits))
	return math.Round(v*100*scale) / scale
}

func names(v any) []any {
	list, _ := v.([]any)
	out := make([]any, 0, len(list))
	for _, x := range list {
		m, _ := x.(map[string]any)
		if n, ok := m["name"].(string); ok {
			out = append(out, n)
		}
	}
	return out
}

// sectionIn is the name of the task's section in project, or "".
func sectionIn(project string, memberships any) string {
	list, _ := memberships.([]any)
	for _, x := range list {
		m, _ := x.(map[string]any)
		p, _ := m["project"].(map[string]any)
		if gid, _ := p["gid"].(string); gid != project {
			continue
		}
		s, _ := m["section"].(map[string]any)
		name, _ := s["name"].(string)
		return name
	}
	return ""
}

// eventResult is what the events feed says about a project since a token.
type eventResult struct {
	deleted []string // tasks deleted or removed from the project
	sync    string   // the token for the next pull
	lost    bool     // the token was missing or expired: events were lost
}

type eventPage struct {
	Data []struct {
		Action   string `json:"action"`
		Resource *struct {
			GID          string `json:"gid"`
			ResourceType string `json:"resource_type"`
		} `json:"resource"`
		Parent *struct {
			GID string `json:"gid"`
		} `json:"parent"`
	} `json:"data"`
	Sync    string `json:"sync"`
	HasMore bool   `json:"has_more"`
}

// events reads the project's events since token, following has_more.
func (c *Connector) events(ctx context.Context, project, token string) (eventResult, error) {
	var res eventResult
	gone := map[string]bool{}
	var order []string
	mark := func(gid string, deleted bool) {
		if _, seen := gone[gid]; !seen {
			order = append(order, gid)
		}
		gone[gid] = deleted
	}
	for {
		q := url.Values{"resource": {project}}
		if token != "" {
			q.Set("sync", token)
		}
		var body eventPage
		resp, err := c.get(ctx, "/events", q, &body)
		if connectors.StatusOf(err) == http.StatusPreconditionFailed && resp != nil {
			var doc errorDoc
			if json.Unmarshal(resp.Body, &doc) != nil || doc.Sync == "" {
				return res, fmt.Errorf("asana: read events of project %s: 412 without a sync token: %w", project, err)
			}
			return eventResult{sync: doc.Sync, lost: true}, nil
		}
		if err != nil {
			return res, fmt.Errorf("asana: read events of project %s: %w", project, err)
		}
		for _, e := range body.Data {
			if e.Resource == nil || e.Resource.ResourceType != "task" || e.Resource.GID == "" {
				continue
			}
			inProject := e.Parent != nil && e.Parent.GID == project
			switch {
			case e.Action == "deleted", e.Action == "removed" && inProject:
				mark(e.Resource.GID, true)
			case e.Action == "undeleted", e.Action == "added" && inProject:
				// Back again: the walk brings it, since adding or restoring
				// a task modifies it.
				mark(e.Resource.GID, false)
			}
		}
		if body.Sync == "" {
			return res, fmt.Errorf("asana: read events of project %s: the answer has no sync token", project)
		}
		token = body.Sync
		if !body.HasMore {
			break
		}
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("asana: read events of project %s: %w", project, err)
		}
	}
	for _, gid := range order {
		if gone[gid] {
			res.deleted = append(res.deleted, gid)
		}
	}
	res.sync = token
	return res, nil
}
