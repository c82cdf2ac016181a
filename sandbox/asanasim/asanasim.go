// Package asanasim is a fake Asana REST API (the parts pmsync uses) for
// tests, benchmarks and the demo. It serves under BasePath:
//
//   - GET /users/me
//   - GET /tasks?project=&modified_since=&limit=&offset=&opt_fields=
//   - GET /events?resource=&sync=
//   - GET /status_updates?parent=&created_since=&limit=&offset=&opt_fields=
//   - POST /status_updates
//
// It behaves like Asana where pmsync depends on it: records are compact
// unless opt_fields names more; limit must be 1..100; offsets are opaque,
// tied to their query and expire; the first events call (and any call with
// an expired token) answers 412 with a fresh sync token; errors have
// Asana's {"errors":[{"message"}]} body. Faults can be injected, and every
// request is logged for assertions.
package asanasim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// BasePath is the path prefix of the API; a client's base URL is the
// server URL followed by it.
const BasePath = "/api/1.0"

// Messages Asana sends that clients may recognise.
const (
	MsgNotAuthorized = "Not Authorized"
	MsgRateLimited   = "You've made too many requests and hit a rate limit. Please retry after the given amount of time."
	MsgOffsetExpired = "offset: Your pagination token has expired."
	MsgLimitRange    = "limit: Must be between 1 and 100"
	MsgSyncInvalid   = "Sync token invalid or too old. If you are attempting to keep resources in sync, you must fetch the full dataset for this query now and use the new sync token for the next sync."
	MsgNoRoute       = "No matching route for request"
)

// MaxEventsPerCall is how many events Asana returns for one sync token
// before it sets has_more.
const MaxEventsPerCall = 100

// Options configure a fake.
type Options struct {
	// Token is the personal access token the fake accepts as Bearer; with
	// none set, every request is unauthorized.
	Token string
	// Now is the fake's clock (modified_at, created_at, token expiry, the
	// Date header). Nil uses the wall clock.
	Now func() time.Time
	// OffsetTTL is how long a pagination offset stays valid; 0 means 30
	// minutes.
	OffsetTTL time.Duration
	// SyncTTL is how long an events sync token stays valid; 0 means 24 hours.
	SyncTTL time.Duration
}

// Fault is an injected failure. It hits the next Times requests matching
// Method and Path (empty matches any).
type Fault struct {
	Method string
	Path   string // API path without BasePath, e.g. "/tasks"
	// Status is the answer: 401, 429, 5xx with Asana's body, or 200 for a
	// malformed JSON body.
	Status int
	// Times is how many matching requests fail; 0 means 1.
	Times int
	// RetryAfter is the Retry-After header of a 429, in seconds; 0 means 1.
	RetryAfter int
	// Body replaces the default body.
	Body string
	// After makes the request take effect before the fault replaces its
	// answer: the server stored the write but the client never learns it.
	After bool
	// Delay holds the answer back (after the work when After is set), so a
	// client with a shorter timeout gives up.
	Delay time.Duration
}

// Call is one request the fake served.
type Call struct {
	Method string
	Path   string // without BasePath
	Query  url.Values
	Status int
}

// Server is a fake Asana. It is safe for concurrent use.
type Server struct {
	opts Options
	now  func() time.Time

	mu        sync.Mutex
	seq       int64 // gid counter
	workspace string
	projects  map[string]*project
	order     []string // project gids in creation order
	tasks     map[string]*Task
	children  map[string]int  // parent gid → number of subtasks
	users     map[string]user // by name
	updates   []*StatusUpdate // oldest first
	offsets   map[string]offsetState
	syncs     map[string]syncState
	tokenSeq  int
	eventSeq  int
	faults    []*Fault
	calls     []Call
}

type offsetState struct {
	query  string // the request's identity, without offset/limit/opt_fields
	last   string // gid of the last record served
	issued time.Time
}

type syncState struct {
	project string
	next    int // index into the project's events
	issued  time.Time
}

// New returns an empty fake.
func New(o Options) *Server {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	if o.OffsetTTL <= 0 {
		o.OffsetTTL = 30 * time.Minute
	}
	if o.SyncTTL <= 0 {
		o.SyncTTL = 24 * time.Hour
	}
	s := &Server{
		opts:     o,
		now:      now,
		seq:      1205000000000000,
		projects: map[string]*project{},
		tasks:    map[string]*Task{},
		children: map[string]int{},
		users:    map[string]user{},
		offsets:  map[string]offsetState{},
		syncs:    map[string]syncState{},
	}
	s.workspace = s.nextGID()
	return s
}

// Start serves the fake on a loopback port. The caller closes the server.
func (s *Server) Start() *httptest.Server { return httptest.NewServer(s) }

func (s *Server) nextGID() string {
	s.seq++
	return strconv.FormatInt(s.seq, 10)
}

func (s *Server) user(name string) user {
	u, ok := s.users[name]
	if !ok {
		u = user{gid: s.nextGID(), name: name}
		s.users[name] = u
	}
	return u
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Calls returns the requests served so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// ResetCalls forgets the request log.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// ExpireOffsets makes every pagination offset handed out so far invalid.
func (s *Server) ExpireOffsets() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.offsets)
}

// ExpireSyncTokens makes every events sync token handed out so far invalid.
func (s *Server) ExpireSyncTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.syncs)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, BasePath)
	if path == r.URL.Path {
		path = "" // outside the API: no route
	}
	rec := httptest.NewRecorder()
	f := s.takeFault(r.Method, path)
	switch {
	case f != nil && !f.After:
		if !wait(r, f.Delay) {
			return
		}
		s.writeFault(rec, f)
	default:
		s.route(rec, r, path)
		if f != nil {
			if !wait(r, f.Delay) {
				s.log(r, path, 0)
				return
			}
			rec = httptest.NewRecorder()
			s.writeFault(rec, f)
		}
	}
	s.log(r, path, rec.Code)
	h := w.Header()
	for k, v := range rec.Header() {
		h[k] = v
	}
	h.Set("Date", s.now().UTC().Format(http.TimeFormat))
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// wait holds the answer back; false when the client went away meanwhile.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (s *Server) log(r *http.Request, path string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Method: r.Method, Path: path, Query: r.URL.Query(), Status: status})
}

func (s *Server) takeFault(method, path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == method) && (f.Path == "" || f.Path == path) {
			f.Times--
			if f.Times <= 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
			c := *f
			return &c
		}
	}
	return nil
}

func (s *Server) writeFault(w http.ResponseWriter, f *Fault) {
	body := f.Body
	switch {
	case body != "":
	case f.Status == http.StatusOK:
		body = `{"data":[{"gid":"1","name":"trunc`
	case f.Status == http.StatusUnauthorized:
		body = errorBody(MsgNotAuthorized)
	case f.Status == http.StatusTooManyRequests:
		body = errorBody(MsgRateLimited)
	case f.Status >= 500:
		body = `{"errors":[{"message":"Server Error","phrase":"6 sad squid snuggle softly"}]}`
	default:
		body = errorBody(http.StatusText(f.Status))
	}
	if f.Status == http.StatusTooManyRequests {
		ra := f.RetryAfter
		if ra <= 0 {
			ra = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(ra))
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(f.Status)
	_, _ = w.Write([]byte(body))
}

// errorBody is Asana's error document. Client errors carry a help line;
// a 401 is bare, as Asana sends it.
func errorBody(msg string) string {
	type item struct {
		Message string `json:"message"`
		Help    string `json:"help,omitempty"`
	}
	it := item{Message: msg}
	if msg != MsgNotAuthorized {
		it.Help = "For more information on API status codes and how to handle them, read the docs on errors: https://developers.asana.com/docs/errors"
	}
	b, _ := json.Marshal(map[string]any{"errors": []item{it}})
	return string(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(errorBody(msg)))
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, path string) {
	if r.Header.Get("Authorization") != "Bearer "+s.opts.Token || s.opts.Token == "" {
		writeError(w, http.StatusUnauthorized, MsgNotAuthorized)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && path == "/users/me":
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
			"gid": "1000000000000001", "resource_type": "user", "name": "PMO Integration",
		}})
	case r.Method == http.MethodGet && path == "/tasks":
		s.getTasks(w, r)
	case r.Method == http.MethodGet && path == "/events":
		s.getEvents(w, r)
	case r.Method == http.MethodGet && path == "/status_updates":
		s.getStatusUpdates(w, r)
	case r.Method == http.MethodPost && path == "/status_updates":
		s.postStatusUpdate(w, r)
	default:
		writeError(w, http.StatusNotFound, MsgNoRoute)
	}
}

// page is what a paginated list handler decided, before writing it.
type page struct {
	data []map[string]any
	next string // offset token, "" on the last page
}

// paginate serves one page of keys (gids in the list's order). query
// identifies the request so that an offset cannot be replayed on another;
// after reports whether gid a comes after gid b in the list's order.
func (s *Server) paginate(w http.ResponseWriter, r *http.Request, query string, gids []string, after func(a, b string) bool, render func(gid string) map[string]any) {
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeError(w, http.StatusBadRequest, MsgLimitRange)
			return
		}
		limit = n
	}
	start := 0
	if tok := q.Get("offset"); tok != "" {
		st, ok := s.offsets[tok]
		switch {
		case !ok && s.known(tok):
			writeError(w, http.StatusBadRequest, MsgOffsetExpired)
			return
		case !ok || st.query != query:
			writeError(w, http.StatusBadRequest, "offset: Invalid offset")
			return
		case s.now().Sub(st.issued) > s.opts.OffsetTTL:
			delete(s.offsets, tok)
			writeError(w, http.StatusBadRequest, MsgOffsetExpired)
			return
		}
		// The list is ordered, so the first gid after the last one served
		// is found by bisection even if that one is gone meanwhile.
		start = sort.Search(len(gids), func(i int) bool { return after(gids[i], st.last) })
	}
	end := len(gids)
	if limit > 0 && start+limit < end {
		end = start + limit
	}
	data := make([]any, 0, end-start)
	for _, g := range gids[start:end] {
		data = append(data, render(g))
	}
	resp := map[string]any{"data": data}
	if limit > 0 {
		// next_page is only present when a limit was given; null on the
		// last page.
		resp["next_page"] = nil
		if end < len(gids) {
			tok := s.newOffset(query, gids[end-1])
			resp["next_page"] = map[string]any{
				"offset": tok,
				"path":   r.URL.Path[len(BasePath):] + "?limit=" + strconv.Itoa(limit) + "&offset=" + tok,
				"uri":    "https://app.asana.com" + r.URL.Path + "?limit=" + strconv.Itoa(limit) + "&offset=" + tok,
			}
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// Offsets look like Asana's (a JWT-ish base64 string) and carry their
// sequence number, so that a token the fake forgot (ExpireOffsets) still
// reads as expired rather than as garbage.
func (s *Server) newOffset(query, last string) string {
	s.tokenSeq++
	tok := "eyJ" + base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"o":%d}`, s.tokenSeq)))
	s.offsets[tok] = offsetState{query: query, last: last, issued: s.now()}
	return tok
}

func (s *Server) known(tok string) bool {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, "eyJ"))
	return err == nil && bytes.HasPrefix(b, []byte(`{"o":`))
}

func optFields(q url.Values) []string {
	var out []string
	for _, v := range q["opt_fields"] {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
	}
	return out
}

func (s *Server) getTasks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pgid := q.Get("project")
	if pgid == "" {
		writeError(w, http.StatusBadRequest, "Must specify exactly one of project, tag, section, user task list, or assignee + workspace")
		return
	}
	p, ok := s.projects[pgid]
	if !ok {
		writeError(w, http.StatusNotFound, "project: Unknown object: "+pgid)
		return
	}
	var since time.Time
	if v := q.Get("modified_since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "modified_since: Invalid date-time: "+v)
			return
		}
		since = t
	}
	gids := p.tasks
	if !since.IsZero() {
		gids = nil
		for _, g := range p.tasks {
			if !s.tasks[g].ModifiedAt.Before(since) {
				gids = append(gids, g)
			}
		}
	}
	fields := optFields(q)
	query := "/tasks?project=" + pgid + "&modified_since=" + q.Get("modified_since")
	s.paginate(w, r, query, gids, func(a, b string) bool { return a > b }, func(g string) map[string]any {
		full := s.full(s.tasks[g])
		if len(fields) == 0 {
			return projectFields(full, []string{"name", "resource_subtype"})
		}
		return projectFields(full, fields)
	})
}

func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, ok := s.projects[q.Get("resource")]
	if !ok {
		writeError(w, http.StatusBadRequest, "resource: Not a recognized ID: "+q.Get("resource"))
		return
	}
	st, ok := s.syncs[q.Get("sync")]
	if !ok || st.project != p.gid || s.now().Sub(st.issued) > s.opts.SyncTTL {
		delete(s.syncs, q.Get("sync"))
		writeJSON(w, http.StatusPreconditionFailed, map[string]any{
			"errors": []any{map[string]any{"message": MsgSyncInvalid}},
			"sync":   s.newSync(p.gid, len(p.events)),
		})
		return
	}
	end := min(st.next+MaxEventsPerCall, len(p.events))
	data := make([]any, 0, end-st.next)
	for _, e := range p.events[st.next:end] {
		ev := map[string]any{
			"action":     e.action,
			"type":       "task",
			"resource":   map[string]any{"gid": e.task, "resource_type": "task", "name": e.name},
			"parent":     nil,
			"created_at": timeJSON(e.created),
			"user":       map[string]any{"gid": "1000000000000002", "resource_type": "user", "name": "Program Coordinator"},
		}
		if e.parent != "" {
			ev["parent"] = map[string]any{"gid": e.parent, "resource_type": "project", "name": p.name}
		}
		if e.action == "changed" {
			ev["change"] = map[string]any{"field": e.field, "action": "changed"}
		}
		data = append(data, ev)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"data":     data,
		"sync":     s.newSync(p.gid, end),
		"has_more": end < len(p.events),
	})
}

func (s *Server) newSync(project string, next int) string {
	s.tokenSeq++
	tok := fmt.Sprintf("%032x:%d", s.tokenSeq, 0)
	s.syncs[tok] = syncState{project: project, next: next, issued: s.now()}
	return tok
}

func (s *Server) getStatusUpdates(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	parent := q.Get("parent")
	if parent == "" {
		writeError(w, http.StatusBadRequest, "parent: Missing input")
		return
	}
	if _, ok := s.projects[parent]; !ok {
		writeError(w, http.StatusNotFound, "parent: Unknown object: "+parent)
		return
	}
	var since time.Time
	if v := q.Get("created_since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "created_since: Invalid date-time: "+v)
			return
		}
		since = t
	}
	byGID := map[string]*StatusUpdate{}
	var gids []string
	for i := len(s.updates) - 1; i >= 0; i-- { // newest first
		if u := s.updates[i]; u.Parent == parent && !u.CreatedAt.Before(since) {
			byGID[u.GID] = u
			gids = append(gids, u.GID)
		}
	}
	fields := optFields(q)
	s.paginate(w, r, "/status_updates?parent="+parent+"&created_since="+q.Get("created_since"), gids, func(a, b string) bool { return a < b }, func(g string) map[string]any {
		full := statusJSON(byGID[g])
		if len(fields) == 0 {
			return projectFields(full, []string{"title", "resource_subtype"})
		}
		return projectFields(full, fields)
	})
}

func (s *Server) postStatusUpdate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Data *struct {
			Parent     string `json:"parent"`
			StatusType string `json:"status_type"`
			Title      string `json:"title"`
			Text       string `json:"text"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Data == nil {
		writeError(w, http.StatusBadRequest, "data: Missing input")
		return
	}
	d := body.Data
	switch {
	case d.Parent == "":
		writeError(w, http.StatusBadRequest, "parent: Missing input")
		return
	case s.projects[d.Parent] == nil:
		writeError(w, http.StatusNotFound, "parent: Unknown object: "+d.Parent)
		return
	case d.Text == "":
		writeError(w, http.StatusBadRequest, "text: Missing input")
		return
	case !slices.Contains([]string{"on_track", "at_risk", "off_track", "on_hold", "complete", "dropped"}, d.StatusType):
		writeError(w, http.StatusBadRequest, "status_type: Invalid value: "+d.StatusType)
		return
	}
	u := &StatusUpdate{GID: s.nextGID(), Parent: d.Parent, StatusType: d.StatusType, Title: d.Title, Text: d.Text, CreatedAt: s.now()}
	s.updates = append(s.updates, u)
	w.Header().Set("Location", BasePath+"/status_updates/"+u.GID)
	writeJSON(w, http.StatusCreated, map[string]any{"data": statusJSON(u)})
}
