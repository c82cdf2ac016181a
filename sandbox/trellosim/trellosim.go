// Package trellosim is a fake Trello REST API (the parts pmsync uses) for
// tests, the demo and the benchmark. It serves under BasePath:
//
//   - GET /members/me
//   - GET /boards/{id}, /boards/{id}/cards[/{filter}], /boards/{id}/lists[/{filter}],
//     /boards/{id}/labels, /boards/{id}/members, /boards/{id}/customFields,
//     /boards/{id}/actions; POST /boards/{id}/labels
//   - GET, PUT, DELETE /cards/{id}; POST /cards; GET /cards/{id}/actions,
//     /cards/{id}/checklists, /cards/{id}/customFieldItems;
//     POST /cards/{id}/actions/comments
//   - GET /lists/{id}/cards; POST /labels
//
// It behaves like Trello where a client depends on it: the key and token
// come in the Authorization header (OAuth oauth_consumer_key="…",
// oauth_token="…") or, as Trello also allows, in the query string, which
// the request log records; errors are Trello's plain-text bodies ("invalid
// key", "invalid token", "invalid id", "The requested resource was not
// found."); ids are 24-hex ObjectIDs that sort by creation and page card
// and action lists through before/since; a token may send 100 requests and
// a key 300 per 10 seconds before a 429 with Trello's JSON body; custom
// field numbers are strings. Faults can be injected and every request is
// logged for assertions.
package trellosim

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// BasePath is the path prefix of the API; a client's base URL is the
// server URL followed by it (see BaseURL).
const BasePath = "/1"

// BaseURL returns the API base URL of a started simulator.
func BaseURL(ts *httptest.Server) string { return ts.URL + BasePath }

// Default rate limits, from Trello's rate-limit guide: 100 requests per 10
// seconds per token and 300 per 10 seconds per API key.
const (
	DefaultTokenLimit = 100
	DefaultKeyLimit   = 300
	// RateWindow is the interval the limits count over.
	RateWindow = 10 * time.Second
	// DefaultActionsPageMax is the largest limit an actions request may ask.
	DefaultActionsPageMax = 1000
	// MaxCardsLimit is the largest limit a card list request may ask.
	MaxCardsLimit = 1000
)

// Bodies Trello sends that clients may recognise. Trello answers most
// errors in plain text, not JSON.
const (
	// MsgInvalidKey answers a missing or wrong API key (or an
	// Authorization header that is not OAuth).
	MsgInvalidKey = "invalid key"
	// MsgInvalidToken answers a wrong or revoked token; Trello's
	// authorization guide names this body for a revoked token.
	MsgInvalidToken = "invalid token"
	// MsgUnauthorized answers a request without a token: Trello treats it
	// as anonymous, and an anonymous caller may not read a private board.
	MsgUnauthorized = "unauthorized permission requested"
	// MsgInvalidID answers an id that is not 24 hex digits (nor a short
	// link); MsgNotFound a well-formed id of nothing (Trello's status-code
	// guide: 400 for invalid fields, 404 when the model is not found).
	MsgInvalidID = "invalid id"
	MsgNotFound  = "The requested resource was not found."
	// MsgRateLimited is the message of both 429 bodies.
	MsgRateLimited = "Rate limit exceeded"
	// CodeTokenLimit and CodeKeyLimit are the "error" of the 429 body, which
	// tells which limit was hit.
	CodeTokenLimit = "API_TOKEN_LIMIT_EXCEEDED"
	CodeKeyLimit   = "API_KEY_LIMIT_EXCEEDED"
)

// Options configure a simulator.
type Options struct {
	// Key and Token are the accepted credentials.
	Key, Token string
	// Now is the clock (ids, dates, rate-limit windows); nil is the wall
	// clock.
	Now func() time.Time
	// TokenLimit and KeyLimit are requests per RateWindow; 0 keeps 100 and
	// 300.
	TokenLimit, KeyLimit int
	// ActionsPageMax is the largest limit an actions page may ask for; 0
	// keeps 1000. A larger limit is refused with 400, as Trello refuses
	// more than 1000, so a test that lowers it checks that a client pages.
	ActionsPageMax int
}

// Fault is an injected answer for the next matching request(s).
type Fault struct {
	Method string // "" matches any method
	// Path is matched against the request path without BasePath, exactly
	// or as a parent ("/boards/X" matches "/boards/X/cards"); "" matches
	// any path.
	Path string
	// Status is the answer's status with Trello's body for it (plain text,
	// or the JSON rate-limit body for 429). With Status 0 and neither Body
	// nor Malformed set, the fault only delays the real answer.
	Status int
	// Times is how many matching requests get the fault; 0 means one and a
	// negative number every one.
	Times int
	// RetryAfter, when positive, sends a Retry-After header (seconds).
	// Trello documents none on its 429s, so by default there is none.
	RetryAfter int
	// Body replaces the default body, verbatim.
	Body string
	// Malformed answers (with Status, or 200) a JSON body cut off halfway.
	Malformed bool
	// Delay holds the answer back, so that a client with a shorter timeout
	// gives up; it ends early when the client goes away.
	Delay time.Duration
}

// Request is one request the simulator received.
type Request struct {
	Method string
	Path   string // without BasePath
	Query  url.Values
	Time   time.Time // when it arrived, by Options.Now
	// CredsInQuery is set when the key or token came in the query string
	// rather than the Authorization header.
	CredsInQuery bool
	// CredsInHeader is set when an OAuth Authorization header was sent.
	CredsInHeader bool
	Status        int
}

// Server is a fake Trello. It is safe for concurrent use.
type Server struct {
	opts Options
	now  func() time.Time

	mu       sync.Mutex
	ids      ids
	me       *member
	boards   map[string]*board
	lists    map[string]*list
	labels   map[string]*label
	members  map[string]*member
	fields   map[string]*field
	cards    map[string]*card
	byShort  map[string]string // shortLink → board or card id
	lastPos  map[string]float64
	faults   []*Fault
	requests []Request
	tokenHit map[string][]time.Time // accepted requests per token, in the window
	keyHit   map[string][]time.Time
	inFlight map[string]int
	maxConc  map[string]int
}

// New returns a simulator with no boards. The member the token belongs to
// (GET /members/me) is "PMO Integration".
func New(o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TokenLimit <= 0 {
		o.TokenLimit = DefaultTokenLimit
	}
	if o.KeyLimit <= 0 {
		o.KeyLimit = DefaultKeyLimit
	}
	if o.ActionsPageMax <= 0 {
		o.ActionsPageMax = DefaultActionsPageMax
	}
	s := &Server{
		opts:     o,
		now:      func() time.Time { return o.Now().UTC() },
		ids:      ids{machine: "7a3c51e0d2"},
		boards:   map[string]*board{},
		lists:    map[string]*list{},
		labels:   map[string]*label{},
		members:  map[string]*member{},
		fields:   map[string]*field{},
		cards:    map[string]*card{},
		byShort:  map[string]string{},
		lastPos:  map[string]float64{},
		tokenHit: map[string][]time.Time{},
		keyHit:   map[string][]time.Time{},
		inFlight: map[string]int{},
		maxConc:  map[string]int{},
	}
	s.me = s.memberByName("PMO Integration", "pmointegration", s.now())
	return s
}

// Handler returns the simulator as an http.Handler serving under BasePath.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// Start serves the simulator on a loopback port. The caller closes it.
func (s *Server) Start() *httptest.Server { return httptest.NewServer(s.Handler()) }

// Inject queues a fault. Faults are tried in the order they were injected.
func (s *Server) Inject(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	f.Path = strings.TrimPrefix(f.Path, BasePath)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// Requests returns the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.requests)
	for i := range out {
		out[i].Query = cloneValues(out[i].Query)
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// RequestCount returns how many requests were received so far.
func (s *Server) RequestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// MaxConcurrent returns the largest number of requests carrying token that
// were in flight at the same time.
func (s *Server) MaxConcurrent(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxConc[token]
}

// creds are the credentials of a request and where they came from.
type creds struct {
	key, token        string
	inQuery, inHeader bool
	badHeader         bool
}

// credentials reads the key and token. The Authorization header wins over
// the query string when both are sent.
func credentials(r *http.Request) creds {
	var c creds
	q := r.URL.Query()
	if q.Has("key") || q.Has("token") {
		c.inQuery = true
		c.key, c.token = q.Get("key"), q.Get("token")
	}
	if h := r.Header.Get("Authorization"); h != "" {
		params, ok := parseOAuth(h)
		if !ok {
			c.badHeader = true
			return c
		}
		c.inHeader = true
		if v, ok := params["oauth_consumer_key"]; ok {
			c.key = v
		}
		if v, ok := params["oauth_token"]; ok {
			c.token = v
		}
	}
	return c
}

// parseOAuth parses an OAuth 1.0 Authorization header (RFC 5849 §3.5.1):
// the scheme "OAuth" (any case), then comma-separated name="value" pairs in
// any order, values quoted and percent-encoded, whitespace around the
// separators allowed.
func parseOAuth(h string) (map[string]string, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "OAuth") {
		return nil, false
	}
	out := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, false
		}
		val = strings.TrimSpace(val)
		if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
			return nil, false
		}
		v, err := url.PathUnescape(val[1 : len(val)-1])
		if err != nil {
			return nil, false
		}
		out[strings.TrimSpace(name)] = v
	}
	return out, true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	began := s.now()
	path, inAPI := strings.CutPrefix(r.URL.Path, BasePath)
	if !inAPI || (path != "" && path[0] != '/') {
		path, inAPI = r.URL.Path, false
	}
	c := credentials(r)
	s.enter(c.token)
	defer s.leave(c.token)

	rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	defer func() { s.record(r, path, c, began, rw.status) }()
	// The simulator's clock, not the wall clock, dates the answer; Trello
	// also sends its time in milliseconds as X-Server-Time.
	w.Header().Set("Date", began.Format(http.TimeFormat))
	w.Header().Set("X-Server-Time", strconv.FormatInt(began.UnixMilli(), 10))

	if f := s.takeFault(r.Method, path); f != nil {
		if !wait(r, f.Delay) {
			rw.status = 0 // the client went away before an answer
			return
		}
		if f.Status != 0 || f.Body != "" || f.Malformed {
			writeFault(rw, f)
			return
		}
	}
	if !inAPI {
		writeText(rw, http.StatusNotFound, "Cannot "+r.Method+" "+r.URL.Path)
		return
	}
	switch {
	case c.badHeader || c.key == "" || c.key != s.opts.Key:
		writeText(rw, http.StatusUnauthorized, MsgInvalidKey)
		return
	case c.token == "":
		writeText(rw, http.StatusUnauthorized, MsgUnauthorized)
		return
	case c.token != s.opts.Token:
		writeText(rw, http.StatusUnauthorized, MsgInvalidToken)
		return
	}
	if !s.admit(rw, c) {
		return
	}
	s.route(rw, r, path)
}

func (s *Server) enter(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight[token]++
	s.maxConc[token] = max(s.maxConc[token], s.inFlight[token])
}

func (s *Server) leave(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inFlight[token]--
}

func (s *Server) record(r *http.Request, path string, c creds, began time.Time, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{
		Method: r.Method, Path: path, Query: r.URL.Query(), Time: began,
		CredsInQuery: c.inQuery, CredsInHeader: c.inHeader, Status: status,
	})
}

// admit applies the rate limits and writes the rate-limit headers. The
// windows slide: a request is refused when the token (or key) already had
// TokenLimit (KeyLimit) requests accepted in the last RateWindow. Trello
// does not say whether its windows are fixed or sliding; a client that
// keeps under a sliding window keeps under a fixed one too, so this is the
// stricter reading. Refused requests do not count.
func (s *Server) admit(w http.ResponseWriter, c creds) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	tok := prune(s.tokenHit[c.token], now)
	key := prune(s.keyHit[c.key], now)
	s.tokenHit[c.token], s.keyHit[c.key] = tok, key
	// A Trello engineer documents these headers on every response
	// (Atlassian developer community, "What are Trello's rate limits?").
	h := w.Header()
	setLimits := func(tokUsed, keyUsed int) {
		h.Set("X-Rate-Limit-Api-Token-Interval-Ms", strconv.FormatInt(RateWindow.Milliseconds(), 10))
		h.Set("X-Rate-Limit-Api-Token-Max", strconv.Itoa(s.opts.TokenLimit))
		h.Set("X-Rate-Limit-Api-Token-Remaining", strconv.Itoa(max(s.opts.TokenLimit-tokUsed, 0)))
		h.Set("X-Rate-Limit-Api-Key-Interval-Ms", strconv.FormatInt(RateWindow.Milliseconds(), 10))
		h.Set("X-Rate-Limit-Api-Key-Max", strconv.Itoa(s.opts.KeyLimit))
		h.Set("X-Rate-Limit-Api-Key-Remaining", strconv.Itoa(max(s.opts.KeyLimit-keyUsed, 0)))
	}
	// The token limit is checked first: it is the tighter one a single
	// integration meets.
	switch {
	case len(tok) >= s.opts.TokenLimit:
		setLimits(len(tok), len(key))
		writeJSON(w, http.StatusTooManyRequests, rateBody(CodeTokenLimit))
		return false
	case len(key) >= s.opts.KeyLimit:
		setLimits(len(tok), len(key))
		writeJSON(w, http.StatusTooManyRequests, rateBody(CodeKeyLimit))
		return false
	}
	s.tokenHit[c.token] = append(tok, now)
	s.keyHit[c.key] = append(key, now)
	setLimits(len(tok)+1, len(key)+1)
	return true
}

func rateBody(code string) map[string]any {
	return map[string]any{"error": code, "message": MsgRateLimited}
}

// prune drops the times that fell out of the window ending at now.
func prune(hits []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(hits) && !hits[i].After(now.Add(-RateWindow)) {
		i++
	}
	return hits[i:]
}

func (s *Server) takeFault(method, path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Method != "" && f.Method != method {
			continue
		}
		if f.Path != "" && path != f.Path && !strings.HasPrefix(path, f.Path+"/") {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
		}
		c := *f
		return &c
	}
	return nil
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

func writeFault(w http.ResponseWriter, f *Fault) {
	status := f.Status
	if status == 0 {
		status = http.StatusOK
		if !f.Malformed {
			status = http.StatusInternalServerError
		}
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	switch {
	case f.Body != "":
		ct := "text/plain; charset=utf-8"
		if strings.HasPrefix(strings.TrimSpace(f.Body), "{") || strings.HasPrefix(strings.TrimSpace(f.Body), "[") {
			ct = "application/json; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(f.Body))
	case f.Malformed:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`[{"id":"5f3e1a2b7a3c51e0d2000001","name":"Configure MyChart proxy acc`))
	case status == http.StatusTooManyRequests:
		writeJSON(w, status, rateBody(CodeTokenLimit))
	default:
		writeText(w, status, faultText(status))
	}
}

// faultText is Trello's plain-text body for a status.
func faultText(status int) string {
	switch status {
	case http.StatusBadRequest:
		return MsgInvalidID
	case http.StatusUnauthorized:
		// What Trello answers once a token has been revoked.
		return MsgInvalidToken
	case http.StatusNotFound:
		return MsgNotFound
	}
	return http.StatusText(status)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprint(w, msg)
}
