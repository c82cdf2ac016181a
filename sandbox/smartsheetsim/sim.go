// Package smartsheetsim is a fake Smartsheet API 2.0 for tests, the demo and
// the benchmark. It keeps sheets with typed columns, hierarchical rows and a
// version that moves on every change, and answers the calls pmsync makes the
// way Smartsheet does: GET /sheets/{id} with ifVersionAfter,
// rowsModifiedSince, columnIds, rowIds, include, exclude, level and
// page/pageSize; bulk POST/PUT /sheets/{id}/rows with the 500-row limit and
// allowPartialSuccess; DELETE /sheets/{id}/rows; GET /users/me. Errors carry
// Smartsheet's {errorCode, message, refId} bodies, and faults (401, 4003 rate
// limiting, 4004 sheet busy, 5xx, malformed bodies, failed rows) can be
// injected per request. Cells may hold formulas (SetFormula) whose computed
// values change without moving their row's modifiedAt (Recalculate), as
// Smartsheet's Modified records only data changes made to the row.
package smartsheetsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// APIPrefix is the path prefix of every endpoint, as in
// https://api.smartsheet.com/2.0.
const APIPrefix = "/2.0"

// MaxRowsPerRequest is Smartsheet's documented limit of rows added or
// updated by one request.
const MaxRowsPerRequest = 500

// Options configure a fake Smartsheet.
type Options struct {
	// Token is the access token requests must carry as a Bearer token.
	Token string
	// Now stamps createdAt/modifiedAt; nil uses the wall clock.
	Now func() time.Time
	// RatePerMinute, when positive, answers 429 with errorCode 4003 once a
	// token sends more requests per minute than this (a token bucket of
	// that size refilled continuously), as Smartsheet does.
	RatePerMinute int
	// PermalinkBase is the web app origin used in permalinks; empty uses
	// https://app.smartsheet.com.
	PermalinkBase string
}

// Server is a fake Smartsheet. It is safe for concurrent use; use it as an
// http.Handler under APIPrefix or start it with Start.
type Server struct {
	opts Options
	mux  *http.ServeMux

	mu      sync.Mutex
	sheets  map[int64]*sheet
	nextID  int64
	refs    atomic.Uint64
	faults  []*Fault
	cmu     sync.Mutex // guards calls and what they point to
	calls   []*Call
	limiter *rate.Limiter
}

// Call is one request the fake received.
type Call struct {
	Method string
	Path   string // without APIPrefix
	Query  string // raw query
	Status int    // 0 while the answer is still being written
	Bytes  int    // response body size
}

// New returns an empty fake Smartsheet.
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PermalinkBase == "" {
		o.PermalinkBase = "https://app.smartsheet.com"
	}
	s := &Server{opts: o, sheets: map[int64]*sheet{}, nextID: 4_104_000_000_000_000}
	if o.RatePerMinute > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(float64(o.RatePerMinute)/60), o.RatePerMinute)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+APIPrefix+"/users/me", s.me)
	mux.HandleFunc("GET "+APIPrefix+"/sheets/{sheetId}", s.getSheet)
	mux.HandleFunc("POST "+APIPrefix+"/sheets/{sheetId}/rows", s.writeRows)
	mux.HandleFunc("PUT "+APIPrefix+"/sheets/{sheetId}/rows", s.writeRows)
	mux.HandleFunc("DELETE "+APIPrefix+"/sheets/{sheetId}/rows", s.deleteRows)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, http.StatusNotFound, 1006, "Not Found.")
	})
	s.mux = mux
	return s
}

// Start serves the fake on a loopback httptest server; the API base URL is
// its URL + APIPrefix (see BaseURL). Close it when done.
func (s *Server) Start() *httptest.Server { return httptest.NewServer(s) }

// BaseURL returns the API base URL of a started fake.
func BaseURL(ts *httptest.Server) string { return ts.URL + APIPrefix }

// ServeHTTP answers one API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Calls are kept in the order they arrive: an answer the client gave up
	// on (past its response cap) may still be written after the next
	// request was answered. A call's status is recorded as its header is
	// written, before the client can have read any of the answer.
	c := &Call{
		Method: r.Method,
		Path:   strings.TrimPrefix(r.URL.Path, APIPrefix),
		Query:  r.URL.RawQuery,
	}
	s.cmu.Lock()
	s.calls = append(s.calls, c)
	s.cmu.Unlock()
	rec := &recorder{ResponseWriter: w, s: s, c: c}
	// A handler that writes nothing is answered 200 by net/http.
	defer func() {
		if !rec.wroteHeader {
			s.cmu.Lock()
			c.Status = http.StatusOK
			s.cmu.Unlock()
		}
	}()
	if f := s.takeFault(r, false); f != nil {
		s.answerFault(rec, f)
		return
	}
	auth := r.Header.Get("Authorization")
	switch {
	case auth == "":
		s.fail(rec, http.StatusUnauthorized, 1001, "An Access Token is required.")
		return
	case auth != "Bearer "+s.opts.Token:
		s.fail(rec, http.StatusUnauthorized, 1002, "Your Access Token is invalid.")
		return
	}
	if s.limiter != nil && !s.limiter.Allow() {
		s.fail(rec, http.StatusTooManyRequests, 4003, "Rate limit exceeded.")
		return
	}
	s.mux.ServeHTTP(rec, r)
}

// recorder notes a call's status and answer size as they are written.
type recorder struct {
	http.ResponseWriter
	s           *Server
	c           *Call
	wroteHeader bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.wroteHeader = true
		r.s.cmu.Lock()
		r.c.Status = code
		r.s.cmu.Unlock()
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	n, err := r.ResponseWriter.Write(b)
	r.s.cmu.Lock()
	r.c.Bytes += n
	r.s.cmu.Unlock()
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Calls returns the requests received so far, in the order they arrived.
func (s *Server) Calls() []Call {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		out[i] = *c
	}
	return out
}

// ResetCalls forgets the recorded calls.
func (s *Server) ResetCalls() {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.calls = nil
}

// Fault is an answer the fake gives instead of the normal one, to the next
// matching request(s).
type Fault struct {
	Method string // "" matches any method
	// Path matches the request path without APIPrefix, exactly or as a
	// parent ("/sheets/1" matches "/sheets/1/rows"); "" matches any path.
	Path string
	// Match, when set, must also accept the request (e.g. to hit only the
	// call that carries ifVersionAfter).
	Match func(*http.Request) bool
	// Status is the HTTP status to answer with; 0 means 500.
	Status int
	// ErrorCode and Message make the Smartsheet error body; zero values
	// take Smartsheet's code and text for the status.
	ErrorCode int
	Message   string
	// Body, when set, is sent verbatim instead (malformed JSON, HTML from a
	// proxy, …).
	Body   string
	Header http.Header
	// Times is how many matching requests get the fault; 0 means once and a
	// negative number means every one.
	Times int
	// FailRows turns a bulk row write into a partial failure: the rows at
	// these request indexes fail with ErrorCode/Message (default 1050, a
	// locked row) while the others are written. Status is then ignored.
	FailRows []int
}

// RateLimited is the 429 Smartsheet sends when a token exceeds its rate.
func RateLimited() Fault {
	return Fault{Status: http.StatusTooManyRequests, ErrorCode: 4003, Message: "Rate limit exceeded."}
}

// Unauthorized is the 401 for a revoked or mistyped token.
func Unauthorized() Fault {
	return Fault{Status: http.StatusUnauthorized, ErrorCode: 1002, Message: "Your Access Token is invalid."}
}

// ServerError is Smartsheet's retryable 500.
func ServerError() Fault {
	return Fault{Status: http.StatusInternalServerError, ErrorCode: 4004,
		Message: "An unexpected error has occurred. Please retry your request."}
}

// SheetBusy is the 500 with errorCode 4004 Smartsheet answers a write to a
// sheet while another request with the same token is updating it; nothing
// of the refused request was saved, and Smartsheet asks for it again.
func SheetBusy(sheetID int64) Fault {
	return Fault{Status: http.StatusInternalServerError, ErrorCode: 4004,
		Message: fmt.Sprintf("Request failed because sheetId %d is currently being updated by another request that uses the same access token. Please retry your request once the previous request has completed.", sheetID)}
}

// Malformed is a 200 whose body is cut off mid-JSON.
func Malformed() Fault {
	return Fault{Status: http.StatusOK, Body: `{"id": 1, "name": "Plan", "columns": [{"id": 1, "title": `}
}

// Inject queues a fault for the next matching request(s). Faults are tried
// in the order they were injected.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

// ClearFaults drops every pending fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (f *Fault) matches(r *http.Request) bool {
	p := strings.TrimPrefix(r.URL.Path, APIPrefix)
	return (f.Method == "" || f.Method == r.Method) &&
		(f.Path == "" || p == f.Path || strings.HasPrefix(p, f.Path+"/")) &&
		(f.Match == nil || f.Match(r))
}

// takeFault consumes the first fault matching r; rowFaults selects the
// FailRows kind (used by the row writer) or the others.
func (s *Server) takeFault(r *http.Request, rowFaults bool) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (len(f.FailRows) > 0) != rowFaults || !f.matches(r) {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		return f
	}
	return nil
}

func (s *Server) answerFault(w http.ResponseWriter, f *Fault) {
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	for k, vs := range f.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(f.Body))
		return
	}
	code, msg := f.ErrorCode, f.Message
	if code == 0 {
		code, msg = defaultError(status)
	}
	s.fail(w, status, code, msg)
}

func defaultError(status int) (int, string) {
	switch status {
	case http.StatusUnauthorized:
		return 1002, "Your Access Token is invalid."
	case http.StatusForbidden:
		return 1004, "You are not authorized to perform this action."
	case http.StatusNotFound:
		return 1006, "Not Found."
	case http.StatusTooManyRequests:
		return 4003, "Rate limit exceeded."
	case http.StatusServiceUnavailable:
		return 4001, "Smartsheet.com is currently offline for system maintenance. Please check back again shortly."
	}
	if status >= 500 {
		return 4004, "An unexpected error has occurred. Please retry your request."
	}
	return 1008, "Unable to parse request."
}

// refID makes a support reference like Smartsheet's: short, opaque and
// distinct per error.
func (s *Server) refID() string {
	n := s.refs.Add(1)
	return strconv.FormatUint(n*2654435761%(1<<40)+1<<40, 36)
}

func (s *Server) fail(w http.ResponseWriter, status, code int, msg string) {
	s.failDetail(w, status, code, msg, nil)
}

func (s *Server) failDetail(w http.ResponseWriter, status, code int, msg string, detail any) {
	body := map[string]any{"errorCode": code, "message": msg, "refId": s.refID()}
	if detail != nil {
		body["detail"] = detail
	}
	writeJSON(w, status, body)
}

// writeJSON streams v as the answer: buffering a 100k-row sheet first would
// cost more than producing it. The values are the fake's own and always
// encode.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func (s *Server) now() time.Time { return s.opts.Now().UTC().Truncate(time.Second) }

func (s *Server) newID() int64 {
	// Ids are 16 digits like Smartsheet's and stay below 2^53, so that
	// clients decoding JSON numbers as doubles keep them exact.
	s.nextID += 7919
	return s.nextID
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"id":        4_104_000_000_000_001,
		"email":     "pmo.integration@hospital.example",
		"firstName": "PMO",
		"lastName":  "Integration",
		"locale":    "en_US",
		"timeZone":  "US/Eastern",
		"admin":     false,
	})
}

// sheetOf resolves the {sheetId} path value, answering 404 when there is
// no such sheet; the caller holds s.mu.
func (s *Server) sheetOf(w http.ResponseWriter, r *http.Request) *sheet {
	id, err := strconv.ParseInt(r.PathValue("sheetId"), 10, 64)
	sh := s.sheets[id]
	if err != nil || sh == nil {
		s.fail(w, http.StatusNotFound, 1006, "Not Found.")
		return nil
	}
	return sh
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (s *Server) getSheet(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	sh := s.sheetOf(w, r)
	if sh == nil {
		s.mu.Unlock()
		return
	}
	if v := q.Get("ifVersionAfter"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && sh.version <= n {
			version := sh.version
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, map[string]any{"version": version})
			return
		}
	}
	body, status, code, msg := s.renderSheet(sh, q)
	s.mu.Unlock()
	if status != http.StatusOK {
		s.fail(w, status, code, msg)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// renderSheet builds a GET /sheets/{id} answer; the caller holds s.mu.
func (s *Server) renderSheet(sh *sheet, q map[string][]string) (body map[string]any, status, code int, msg string) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	o := renderOpts{nonexistent: true}
	for _, inc := range splitList(get("include")) {
		switch inc {
		case "objectValue":
			o.objectValue = true
		case "columnType":
			o.columnType = true
		case "rowPermalink":
			o.rowPermalink = true
		}
	}
	if slices.Contains(splitList(get("exclude")), "nonexistentCells") {
		o.nonexistent = false
	}
	if v := get("level"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 2 {
			return nil, http.StatusBadRequest, 1018, fmt.Sprintf("The value %s was not valid for the parameter level.", v)
		}
		o.level = n
	}
	if v := get("columnIds"); v != "" {
		o.columnIDs = map[int64]bool{}
		for _, p := range splitList(v) {
			id, err := strconv.ParseInt(p, 10, 64)
			if err != nil || sh.columnByID(id) == nil {
				return nil, http.StatusBadRequest, 1036, fmt.Sprintf("The columnId %s is invalid.", p)
			}
			o.columnIDs[id] = true
		}
	}
	var since time.Time
	if v := get("rowsModifiedSince"); v != "" {
		t, err := parseISO(v)
		if err != nil {
			return nil, http.StatusBadRequest, 1018, fmt.Sprintf("The value %s was not valid for the parameter rowsModifiedSince.", v)
		}
		since = t
	}
	var rowIDs map[int64]bool
	if v := get("rowIds"); v != "" {
		rowIDs = map[int64]bool{}
		for _, p := range splitList(v) {
			id, err := strconv.ParseInt(p, 10, 64)
			if err != nil {
				return nil, http.StatusBadRequest, 1018, fmt.Sprintf("The value %s was not valid for the parameter rowIds.", v)
			}
			rowIDs[id] = true
		}
	}
	var rowNumbers map[int]bool
	if v := get("rowNumbers"); v != "" {
		rowNumbers = map[int]bool{}
		for _, p := range splitList(v) {
			n, err := strconv.Atoi(p)
			if err != nil {
				return nil, http.StatusBadRequest, 1018, fmt.Sprintf("The value %s was not valid for the parameter rowNumbers.", v)
			}
			rowNumbers[n] = true
		}
	}
	type pick struct{ i int }
	var picked []pick
	for i, rw := range sh.rows {
		if !since.IsZero() && rw.modifiedAt.Before(since) {
			continue
		}
		if rowIDs != nil && !rowIDs[rw.id] {
			continue
		}
		if rowNumbers != nil && !rowNumbers[i+1] {
			continue
		}
		picked = append(picked, pick{i})
	}
	// Without page or pageSize Smartsheet returns every row; with only page
	// it pages by 100.
	if get("page") != "" || get("pageSize") != "" {
		size, page := 100, 1
		if v := get("pageSize"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, http.StatusBadRequest, 1018, fmt.Sprintf("The value %s was not valid for the parameter pageSize.", v)
			}
			size = n
		}
		if v := get("page"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, http.StatusBadRequest, 1018, fmt.Sprintf("The value %s was not valid for the parameter page.", v)
			}
			page = n
		}
		lo := min((page-1)*size, len(picked))
		picked = picked[lo:min(lo+size, len(picked))]
	}
	sib := sh.siblings()
	rows := make([]any, 0, len(picked))
	for _, p := range picked {
		rows = append(rows, sh.renderRow(sh.rows[p.i], p.i+1, sib[p.i], o, s.opts.PermalinkBase))
	}
	cols := make([]any, 0, len(sh.columns))
	for i, c := range sh.columns {
		if o.columnIDs != nil && !o.columnIDs[c.id] {
			continue
		}
		cols = append(cols, renderColumn(c, i, o.level))
	}
	return map[string]any{
		"id":                  sh.id,
		"name":                sh.name,
		"version":             sh.version,
		"totalRowCount":       len(sh.rows),
		"accessLevel":         "OWNER",
		"permalink":           sh.permalink(s.opts.PermalinkBase),
		"createdAt":           stamp(sh.createdAt),
		"modifiedAt":          stamp(sh.modifiedAt),
		"ganttEnabled":        false,
		"dependenciesEnabled": false,
		"effectiveAttachmentOptions": []string{
			"FILE", "ONEDRIVE", "GOOGLE_DRIVE", "LINK", "BOX_COM", "DROPBOX", "EGNYTE", "EVERNOTE",
		},
		"columns": cols,
		"rows":    rows,
	}, http.StatusOK, 0, ""
}

// parseISO reads the ISO-8601 forms Smartsheet accepts for
// rowsModifiedSince: a timestamp with a zone, or a date.
func parseISO(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q is not ISO-8601", v)
}

// wireRow is a row in a bulk write request.
type wireRow struct {
	ID       int64      `json:"id"`
	ParentID int64      `json:"parentId"`
	ToTop    bool       `json:"toTop"`
	ToBottom bool       `json:"toBottom"`
	Cells    []wireCell `json:"cells"`
}

type wireCell struct {
	ColumnID    int64 `json:"columnId"`
	Value       any   `json:"value"`
	ObjectValue any   `json:"objectValue"`
}

type failedItem struct {
	Index int            `json:"index"`
	RowID *int64         `json:"rowId,omitempty"`
	Error map[string]any `json:"error"`
}

func decodeRows(body []byte) ([]wireRow, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, errors.New("the HTTP request body is required")
	}
	if body[0] == '[' {
		var rows []wireRow
		err := json.Unmarshal(body, &rows)
		return rows, err
	}
	var one wireRow
	if err := json.Unmarshal(body, &one); err != nil {
		return nil, err
	}
	return []wireRow{one}, nil
}

func (s *Server) writeRows(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r.Body); err != nil {
		s.fail(w, http.StatusBadRequest, 1008, "Unable to parse request. The following error occurred: "+err.Error())
		return
	}
	rows, err := decodeRows(buf.Bytes())
	if err != nil {
		s.fail(w, http.StatusBadRequest, 1008, "Unable to parse request. The following error occurred: "+err.Error())
		return
	}
	if len(rows) > MaxRowsPerRequest {
		// The limit is documented without its own error code; Smartsheet
		// answers with the generic "max count exceeded" validation error.
		s.fail(w, http.StatusBadRequest, 1061, fmt.Sprintf("Max count exceeded for field rows (%d > %d).", len(rows), MaxRowsPerRequest))
		return
	}
	partial, _ := strconv.ParseBool(r.URL.Query().Get("allowPartialSuccess"))
	injected := s.takeFault(r, true)
	update := r.Method == http.MethodPut

	s.mu.Lock()
	sh := s.sheetOf(w, r)
	if sh == nil {
		s.mu.Unlock()
		return
	}
	type change struct {
		index int
		row   *row // the row to update, nil for a new one
		wire  wireRow
		cells map[int64]cell
	}
	var ok []change
	var failed []failedItem
	for i, wr := range rows {
		fail := func(code int, msg string) {
			fi := failedItem{Index: i, Error: map[string]any{"errorCode": code, "message": msg}}
			if update && wr.ID != 0 {
				fi.RowID = &wr.ID
			}
			failed = append(failed, fi)
		}
		if injected != nil && slices.Contains(injected.FailRows, i) {
			code, msg := injected.ErrorCode, injected.Message
			if code == 0 {
				code, msg = 1050, "You cannot edit a locked row."
			}
			fail(code, msg)
			continue
		}
		ch := change{index: i, wire: wr, cells: map[int64]cell{}}
		if update {
			idx := sh.rowIndex(wr.ID)
			if idx < 0 {
				fail(1034, "Invalid Row Id.")
				continue
			}
			ch.row = sh.rows[idx]
		} else if wr.ParentID != 0 && sh.rowIndex(wr.ParentID) < 0 {
			fail(1063, fmt.Sprintf("Invalid parentId: %d.", wr.ParentID))
			continue
		}
		var cerr *cellError
		seen := map[int64]bool{}
		for _, wc := range wr.Cells {
			c := sh.columnByID(wc.ColumnID)
			if c == nil {
				cerr = &cellError{1036, fmt.Sprintf("The columnId %d is invalid.", wc.ColumnID)}
				break
			}
			if seen[c.id] {
				cerr = &cellError{1037, fmt.Sprintf("The columnId %d is included more than once in a single row.", c.id)}
				break
			}
			seen[c.id] = true
			v := wc.Value
			if wc.ObjectValue != nil {
				v = wc.ObjectValue
			}
			stored, err := coerce(c, v)
			if err != nil {
				errors.As(err, &cerr)
				break
			}
			ch.cells[c.id] = stored
		}
		if cerr != nil {
			fail(cerr.code, cerr.msg)
			continue
		}
		ok = append(ok, ch)
	}
	if len(failed) > 0 && !partial {
		first := failed[0]
		detail := map[string]any{"index": first.Index}
		if first.RowID != nil {
			detail["rowId"] = *first.RowID
		}
		s.mu.Unlock()
		s.failDetail(w, http.StatusBadRequest, first.Error["errorCode"].(int), first.Error["message"].(string), detail)
		return
	}
	now := s.now()
	var written []*row
	for _, ch := range ok {
		rw := ch.row
		if rw == nil {
			rw = &row{id: s.newID(), parentID: ch.wire.ParentID, createdAt: now, cells: map[int64]cell{}}
			at := len(sh.rows)
			switch {
			case ch.wire.ParentID != 0:
				at, _ = sh.insertAt(ch.wire.ParentID)
			case ch.wire.ToTop:
				at = 0
			}
			sh.rows = slices.Insert(sh.rows, at, rw)
		}
		for id, v := range ch.cells {
			if v == nil {
				delete(rw.cells, id)
			} else {
				rw.cells[id] = v
			}
		}
		rw.modifiedAt = now
		written = append(written, rw)
	}
	if len(written) > 0 {
		sh.version++
		sh.modifiedAt = now
	}
	sib := sh.siblings()
	result := make([]any, 0, len(written))
	for _, rw := range written {
		i := sh.rowIndex(rw.id)
		result = append(result, sh.renderRow(rw, i+1, sib[i], renderOpts{}, s.opts.PermalinkBase))
	}
	version := sh.version
	s.mu.Unlock()

	body := map[string]any{"message": "SUCCESS", "resultCode": 0, "version": version, "result": result}
	if len(failed) > 0 {
		for i := range failed {
			failed[i].Error["refId"] = s.refID()
		}
		body["message"], body["resultCode"], body["failedItems"] = "PARTIAL_SUCCESS", 3, failed
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) deleteRows(w http.ResponseWriter, r *http.Request) {
	var ids []int64
	for _, p := range splitList(r.URL.Query().Get("ids")) {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			s.fail(w, http.StatusBadRequest, 1018, fmt.Sprintf("The value %s was not valid for the parameter ids.", p))
			return
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		s.fail(w, http.StatusBadRequest, 1009, "A required parameter is missing from your request: ids.")
		return
	}
	ignore, _ := strconv.ParseBool(r.URL.Query().Get("ignoreRowsNotFound"))
	s.mu.Lock()
	sh := s.sheetOf(w, r)
	if sh == nil {
		s.mu.Unlock()
		return
	}
	var gone []int64
	for _, id := range ids {
		if sh.rowIndex(id) < 0 {
			if ignore {
				continue
			}
			s.mu.Unlock()
			s.fail(w, http.StatusNotFound, 1006, "Not Found.")
			return
		}
		gone = append(gone, id)
	}
	for _, id := range gone {
		s.deleteLocked(sh, id)
	}
	version := sh.version
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"message": "SUCCESS", "resultCode": 0, "version": version, "result": gone})
}
