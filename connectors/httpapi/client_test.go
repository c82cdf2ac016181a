package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync/connectors"
)

// reply is one scripted server answer.
type reply struct {
	status int
	header map[string]string
	body   string
}

// script serves replies in order, repeating the last, and counts hits.
type script struct {
	replies []reply
	hits    atomic.Int64
	mu      sync.Mutex
	methods []string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.hits.Add(1)
	s.mu.Lock()
	s.methods = append(s.methods, r.Method)
	s.mu.Unlock()
	_, _ = io.Copy(io.Discard, r.Body)
	rep := s.replies[min(int(n)-1, len(s.replies)-1)]
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

// sleeps records every wait instead of waiting.
type sleeps struct {
	mu sync.Mutex
	ds []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.ds = append(s.ds, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.ds...)
}

func newTestClient(t *testing.T, srvURL string, cfg Config) *Client {
	t.Helper()
	cfg.Vendor = cmpOrString(cfg.Vendor, "jira")
	cfg.BaseURL = srvURL
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func cmpOrString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func TestDoRetries(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ok := reply{status: 200, body: `{"ok":true}`}
	tests := []struct {
		name       string
		method     string
		idempotent bool
		replies    []reply
		cfg        Config
		wantStatus int // 0: success
		wantReqs   int64
		// wantSleeps are exact waits; wantCeilings bound jittered ones.
		wantSleeps   []time.Duration
		wantCeilings []time.Duration
		wantRetryAft time.Duration
	}{
		{
			name:         "500,500,200 succeeds with 3 requests",
			replies:      []reply{{status: 500}, {status: 500}, ok},
			wantReqs:     3,
			wantCeilings: []time.Duration{500 * time.Millisecond, time.Second},
		},
		{
			name:       "429 with Retry-After seconds is waited out then succeeds",
			replies:    []reply{{status: 429, header: map[string]string{"Retry-After": "2"}}, ok},
			wantReqs:   2,
			wantSleeps: []time.Duration{2 * time.Second},
		},
		{
			name: "503 with Retry-After HTTP date",
			replies: []reply{
				{status: 503, header: map[string]string{"Retry-After": "Mon, 02 Mar 2026 09:00:07 GMT"}}, ok,
			},
			cfg:        Config{Now: func() time.Time { return now }},
			wantReqs:   2,
			wantSleeps: []time.Duration{7 * time.Second},
		},
		{
			name:    "retry-after from the vendor parser",
			replies: []reply{{status: 429, body: `{"errorCode":4003}`}, ok},
			cfg: Config{ParseError: func(status int, _ http.Header, body []byte) ErrorInfo {
				if strings.Contains(string(body), "4003") {
					return ErrorInfo{Code: "4003", RetryAfter: 3 * time.Second}
				}
				return ErrorInfo{}
			}},
			wantReqs:   2,
			wantSleeps: []time.Duration{3 * time.Second},
		},
		{
			name:    "POST retried on a 500 the vendor says took no effect",
			method:  http.MethodPost,
			replies: []reply{{status: 500, body: `{"errorCode":4004}`}, ok},
			cfg: Config{ParseError: func(status int, _ http.Header, body []byte) ErrorInfo {
				return ErrorInfo{Code: "4004", NotApplied: strings.Contains(string(body), "4004")}
			}},
			wantReqs:     2,
			wantCeilings: []time.Duration{500 * time.Millisecond},
		},
		{
			name:    "POST not retried on a 400 even if said to take no effect",
			method:  http.MethodPost,
			replies: []reply{{status: 400}, ok},
			cfg: Config{ParseError: func(int, http.Header, []byte) ErrorInfo {
				return ErrorInfo{NotApplied: true}
			}},
			wantStatus: 400,
			wantReqs:   1,
		},
		{
			name:       "POST not retried on 503",
			method:     http.MethodPost,
			replies:    []reply{{status: 503}, ok},
			wantStatus: 503,
			wantReqs:   1,
		},
		{
			name:         "POST with Idempotent true retried",
			method:       http.MethodPost,
			idempotent:   true,
			replies:      []reply{{status: 503}, ok},
			wantReqs:     2,
			wantCeilings: []time.Duration{500 * time.Millisecond},
		},
		{
			name:         "PATCH with Idempotent true retried on 502",
			method:       http.MethodPatch,
			idempotent:   true,
			replies:      []reply{{status: 502}, ok},
			wantReqs:     2,
			wantCeilings: []time.Duration{500 * time.Millisecond},
		},
		{
			name:         "PUT retried on 504",
			method:       http.MethodPut,
			replies:      []reply{{status: 504}, ok},
			wantReqs:     2,
			wantCeilings: []time.Duration{500 * time.Millisecond},
		},
		{
			name:       "401 not retried and gives APIError Status 401",
			replies:    []reply{{status: 401, body: `{"message":"bad credentials"}`}, ok},
			wantStatus: 401,
			wantReqs:   1,
		},
		{
			name:       "404 not retried",
			replies:    []reply{{status: 404}, ok},
			wantStatus: 404,
			wantReqs:   1,
		},
		{
			name:         "retries exhausted gives the last status",
			replies:      []reply{{status: 500}, {status: 502}, {status: 502}, ok},
			cfg:          Config{MaxRetries: 2, BaseDelay: 100 * time.Millisecond},
			wantStatus:   502,
			wantReqs:     3,
			wantCeilings: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond},
		},
		{
			name:         "Retry-After beyond the 65s ceiling fails at once for the caller to reschedule",
			replies:      []reply{{status: 429, header: map[string]string{"Retry-After": "120"}}, ok},
			wantStatus:   429,
			wantReqs:     1,
			wantRetryAft: 120 * time.Second,
		},
		{
			// A minute's Retry-After is what the vendors' per-minute limits
			// ask for; it is longer than the backoff cap and still waited out.
			name:       "Retry-After of a minute is waited out although it passes MaxDelay",
			replies:    []reply{{status: 429, header: map[string]string{"Retry-After": "60"}}, ok},
			wantReqs:   2,
			wantSleeps: []time.Duration{60 * time.Second},
		},
		{
			name:       "Retry-After at the 65s ceiling is waited out",
			replies:    []reply{{status: 503, header: map[string]string{"Retry-After": "65"}}, ok},
			wantReqs:   2,
			wantSleeps: []time.Duration{65 * time.Second},
		},
		{
			name:         "Retry-After one second past the ceiling fails at once",
			replies:      []reply{{status: 429, header: map[string]string{"Retry-After": "66"}}, ok},
			wantStatus:   429,
			wantReqs:     1,
			wantRetryAft: 66 * time.Second,
		},
		{
			name:         "a lower MaxRetryAfter fails sooner",
			replies:      []reply{{status: 429, header: map[string]string{"Retry-After": "20"}}, ok},
			cfg:          Config{MaxRetryAfter: 10 * time.Second},
			wantStatus:   429,
			wantReqs:     1,
			wantRetryAft: 20 * time.Second,
		},
		{
			name:       "POST not retried on 429 even with a short Retry-After",
			method:     http.MethodPost,
			replies:    []reply{{status: 429, header: map[string]string{"Retry-After": "1"}}, ok},
			wantStatus: 429,
			wantReqs:   1,
			// The APIError still says how long the server asked to wait.
			wantRetryAft: time.Second,
		},
		{
			name:       "negative MaxRetries never retries",
			replies:    []reply{{status: 500}, ok},
			cfg:        Config{MaxRetries: -1},
			wantStatus: 500,
			wantReqs:   1,
		},
		{
			name:         "backoff capped by MaxDelay",
			replies:      []reply{{status: 503}, {status: 503}, {status: 503}, ok},
			cfg:          Config{BaseDelay: time.Second, MaxDelay: 1500 * time.Millisecond},
			wantReqs:     4,
			wantCeilings: []time.Duration{time.Second, 1500 * time.Millisecond, 1500 * time.Millisecond},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{replies: tt.replies}
			srv := httptest.NewServer(s)
			defer srv.Close()
			sl := &sleeps{}
			cfg := tt.cfg
			cfg.Sleep = sl.sleep
			c := newTestClient(t, srv.URL, cfg)

			resp, err := c.Do(context.Background(), Request{Method: tt.method, Path: "/rest/api/3/search/jql", Idempotent: tt.idempotent})
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("Do: %v", err)
				}
				if resp.Status != 200 || string(resp.Body) != `{"ok":true}` {
					t.Errorf("response = %d %q", resp.Status, resp.Body)
				}
			} else {
				var ae *connectors.APIError
				if !errors.As(err, &ae) {
					t.Fatalf("error %v (%T) is not an APIError", err, err)
				}
				if ae.Status != tt.wantStatus || ae.Vendor != "jira" || ae.Path != "/rest/api/3/search/jql" {
					t.Errorf("APIError = %+v", ae)
				}
				if ae.RetryAfter != tt.wantRetryAft {
					t.Errorf("RetryAfter = %v, want %v", ae.RetryAfter, tt.wantRetryAft)
				}
				if resp == nil || resp.Status != tt.wantStatus {
					t.Errorf("response with the APIError = %+v, want status %d", resp, tt.wantStatus)
				}
			}
			if got := s.hits.Load(); got != tt.wantReqs {
				t.Errorf("server saw %d requests, want %d", got, tt.wantReqs)
			}
			if got := c.Requests(); got != tt.wantReqs {
				t.Errorf("Requests() = %d, want %d", got, tt.wantReqs)
			}
			got := sl.all()
			if tt.wantCeilings != nil {
				if len(got) != len(tt.wantCeilings) {
					t.Fatalf("sleeps = %v, want %d jittered waits", got, len(tt.wantCeilings))
				}
				for i, d := range got {
					if d < 0 || d > tt.wantCeilings[i] {
						t.Errorf("sleep %d = %v, want within [0, %v]", i, d, tt.wantCeilings[i])
					}
				}
				return
			}
			if diff := cmp.Diff(tt.wantSleeps, got); diff != "" {
				t.Errorf("sleeps (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBackoffCeiling(t *testing.T) {
	c := &Client{baseDelay: 500 * time.Millisecond, maxDelay: 30 * time.Second}
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{0, 500 * time.Millisecond},
		{1, time.Second},
		{2, 2 * time.Second},
		{5, 16 * time.Second},
		{6, 30 * time.Second}, // 32s capped
		{200, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := c.backoffCeiling(tt.attempt); got != tt.want {
			t.Errorf("backoffCeiling(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
}

func TestBackoffIsJittered(t *testing.T) {
	c := &Client{baseDelay: time.Second, maxDelay: 30 * time.Second}
	seen := map[time.Duration]bool{}
	for range 200 {
		d := c.backoff(1)
		if d < 0 || d > 2*time.Second {
			t.Fatalf("backoff(1) = %v, want within [0, 2s]", d)
		}
		seen[d] = true
	}
	if len(seen) < 100 {
		t.Errorf("200 draws gave only %d distinct waits; want full jitter", len(seen))
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"2", 2 * time.Second},
		{" 30 ", 30 * time.Second},
		{"1.5", 1500 * time.Millisecond},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{"Mon, 02 Mar 2026 09:01:00 GMT", time.Minute},
		{"Mon, 02 Mar 2026 08:59:00 GMT", 0},
		{"99999999999999999999", maxRetryAfter},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCancelDuringBackoffReturnsPromptly(t *testing.T) {
	s := &script{replies: []reply{{status: 503, header: map[string]string{"Retry-After": "20"}}}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	// The real sleeper: the point is that a long wait ends with the context.
	c := newTestClient(t, srv.URL, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Do(ctx, Request{Path: "/x"})
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("Do returned after %v, want promptly after cancel", elapsed)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want it to wrap context.Canceled", err)
	}
	if s.hits.Load() != 1 {
		t.Errorf("server saw %d requests, want 1", s.hits.Load())
	}
}

func TestCancelledContext(t *testing.T) {
	tests := []struct {
		name string
		// cancelIn says where the context ends: in the fake sleep, in the
		// handler (mid-request) or before the call.
		cancelIn string
		wantReqs int64
	}{
		{"during a fake sleep", "sleep", 1},
		{"during the request", "handler", 1},
		{"before the call", "before", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var hits atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				if tt.cancelIn == "handler" {
					cancel()
					<-r.Context().Done()
					return
				}
				w.WriteHeader(500)
			}))
			defer srv.Close()
			c := newTestClient(t, srv.URL, Config{Sleep: func(ctx context.Context, d time.Duration) error {
				cancel()
				return ctx.Err()
			}})
			if tt.cancelIn == "before" {
				cancel()
			}
			_, err := c.Do(ctx, Request{Path: "/x"})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want it to wrap context.Canceled", err)
			}
			if !strings.HasPrefix(err.Error(), "jira: GET /x: ") {
				t.Errorf("err = %q, want it to name vendor, method and path", err)
			}
			if hits.Load() != tt.wantReqs {
				t.Errorf("server saw %d requests, want %d", hits.Load(), tt.wantReqs)
			}
		})
	}
}

func TestAttemptTimeoutIsRetried(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			<-r.Context().Done() // hang until the client gives up on the attempt
			return
		}
		_, _ = io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	sl := &sleeps{}
	c := newTestClient(t, srv.URL, Config{Timeout: 100 * time.Millisecond, Sleep: sl.sleep})
	if _, err := c.Do(context.Background(), Request{Path: "/slow"}); err != nil {
		t.Fatalf("Do: %v", err)
	}
	if c.Requests() != 2 || len(sl.all()) != 1 {
		t.Errorf("Requests() = %d, sleeps = %v; want 2 requests and 1 backoff", c.Requests(), sl.all())
	}

	// With no retries left the timeout is reported as such.
	hits.Store(0)
	c = newTestClient(t, srv.URL, Config{Timeout: 100 * time.Millisecond, MaxRetries: -1})
	_, err := c.Do(context.Background(), Request{Path: "/slow"})
	if err == nil || !strings.Contains(err.Error(), "jira: GET /slow: attempt timed out after 100ms") {
		t.Errorf("err = %v, want an attempt timeout", err)
	}
	if !errors.Is(err, ErrAttemptTimeout) {
		t.Errorf("err = %v does not match ErrAttemptTimeout", err)
	}

	// NoTimeoutRetry hands the timeout back at once, for a caller that
	// asks for less instead.
	hits.Store(0)
	sl = &sleeps{}
	c = newTestClient(t, srv.URL, Config{Timeout: 100 * time.Millisecond, Sleep: sl.sleep})
	_, err = c.Do(context.Background(), Request{Path: "/slow", NoTimeoutRetry: true})
	if !errors.Is(err, ErrAttemptTimeout) || c.Requests() != 1 || len(sl.all()) != 0 {
		t.Errorf("NoTimeoutRetry: err %v after %d requests and waits %v; want ErrAttemptTimeout after 1 request, no wait", err, c.Requests(), sl.all())
	}
	// A refused connection is no timeout.
	c = newTestClient(t, "http://"+closedAddr(t), Config{MaxRetries: -1})
	if _, err := c.Do(context.Background(), Request{Path: "/x"}); err == nil || errors.Is(err, ErrAttemptTimeout) {
		t.Errorf("refused connection: err %v, want an error that is not ErrAttemptTimeout", err)
	}
}

func TestTransportErrors(t *testing.T) {
	addr := closedAddr(t)
	tests := []struct {
		name       string
		method     string
		idempotent bool
		wantReqs   int64
	}{
		{"GET retried on connection refused", http.MethodGet, false, 3},
		{"POST not retried on connection refused", http.MethodPost, false, 1},
		{"idempotent POST retried", http.MethodPost, true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sl := &sleeps{}
			c := newTestClient(t, "http://"+addr, Config{MaxRetries: 2, Sleep: sl.sleep})
			_, err := c.Do(context.Background(), Request{Method: tt.method, Path: "/x", Idempotent: tt.idempotent})
			if err == nil {
				t.Fatal("Do succeeded against a closed port")
			}
			var ue *url.Error
			if errors.As(err, &ue) {
				t.Errorf("error unwraps to *url.Error, whose text holds the full URL")
			}
			if !strings.HasPrefix(err.Error(), "jira: "+tt.method+" /x: ") {
				t.Errorf("err = %q, want vendor, method and path first", err)
			}
			if c.Requests() != tt.wantReqs {
				t.Errorf("Requests() = %d, want %d", c.Requests(), tt.wantReqs)
			}
			if int64(len(sl.all())) != tt.wantReqs-1 {
				t.Errorf("sleeps = %v, want %d", sl.all(), tt.wantReqs-1)
			}
		})
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.Listener.Addr().String()
	srv.Close()
	return addr
}

func TestBodyCap(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		size    int
		wantErr bool
	}{
		{"exactly the cap", 200, 100, false},
		{"one byte over the cap", 200, 101, true},
		{"far over the cap", 200, 1 << 20, true},
		{"error body over the cap", 500, 101, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{replies: []reply{{status: tt.status, body: strings.Repeat("x", tt.size)}}}
			srv := httptest.NewServer(s)
			defer srv.Close()
			c := newTestClient(t, srv.URL, Config{MaxBody: 100, Sleep: (&sleeps{}).sleep})
			resp, err := c.Do(context.Background(), Request{Path: "/big"})
			if !tt.wantErr {
				if err != nil || len(resp.Body) != tt.size {
					t.Fatalf("Do = %v, %v; want the %d-byte body", resp, err, tt.size)
				}
				return
			}
			if !errors.Is(err, ErrBodyTooLarge) {
				t.Fatalf("err = %v, want ErrBodyTooLarge", err)
			}
			if !strings.Contains(err.Error(), "100 bytes") {
				t.Errorf("err = %q, want it to name the limit", err)
			}
			if s.hits.Load() != 1 {
				t.Errorf("server saw %d requests; an oversized body must not be retried", s.hits.Load())
			}
		})
	}
}

func TestRequestHeadersAndBody(t *testing.T) {
	tests := []struct {
		name     string
		auth     Auth
		req      Request
		wantAuth string
		wantCT   string
		wantBody string
		wantUA   string
	}{
		{
			name:     "basic auth and a JSON body",
			auth:     Basic("ada@example.org", "s3cr3t-token"),
			req:      Request{Method: http.MethodPost, Path: "/search", JSON: map[string]int{"maxResults": 50}},
			wantAuth: "Basic YWRhQGV4YW1wbGUub3JnOnMzY3IzdC10b2tlbg==",
			wantCT:   "application/json",
			wantBody: `{"maxResults":50}`,
			wantUA:   "pmsync",
		},
		{
			name:     "bearer and a raw body with its own content type",
			auth:     Bearer("pat-123456"),
			req:      Request{Method: http.MethodPut, Path: "/rows", Body: []byte("a=1"), Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}},
			wantAuth: "Bearer pat-123456",
			wantCT:   "application/x-www-form-urlencoded",
			wantBody: "a=1",
			wantUA:   "pmsync",
		},
		{
			name:     "trello key and token; caller overrides the user agent",
			auth:     TrelloKeyToken("k3y-abcdef", "t0k-123456"),
			req:      Request{Path: "/1/boards/b1/cards", Header: http.Header{"User-Agent": {"pmsync-test"}}},
			wantAuth: `OAuth oauth_consumer_key="k3y-abcdef", oauth_token="t0k-123456"`,
			wantUA:   "pmsync-test",
		},
		{
			name:   "no auth",
			req:    Request{Path: "/public"},
			wantUA: "pmsync",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type seen struct{ auth, ct, accept, ua, body string }
			var got seen
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got = seen{r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Header.Get("Accept"), r.Header.Get("User-Agent"), string(b)}
			}))
			defer srv.Close()
			c := newTestClient(t, srv.URL, Config{Auth: tt.auth})
			if _, err := c.Do(context.Background(), tt.req); err != nil {
				t.Fatalf("Do: %v", err)
			}
			want := seen{tt.wantAuth, tt.wantCT, "application/json", tt.wantUA, tt.wantBody}
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(seen{})); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRetriedPostResendsBody(t *testing.T) {
	var bodies []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		n := len(bodies)
		mu.Unlock()
		if n == 1 {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, Config{Sleep: (&sleeps{}).sleep})
	_, err := c.Do(context.Background(), Request{Method: http.MethodPost, Path: "/search", JSON: map[string]string{"jql": "project = EHR"}, Idempotent: true})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	want := []string{`{"jql":"project = EHR"}`, `{"jql":"project = EHR"}`}
	if diff := cmp.Diff(want, bodies); diff != "" {
		t.Errorf("bodies (-want +got):\n%s", diff)
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name    string
		base    string
		path    string
		query   url.Values
		want    string
		wantErr string
	}{
		{"path joined to the host", "https://acme.atlassian.net", "/rest/api/3/search/jql", nil, "https://acme.atlassian.net/rest/api/3/search/jql", ""},
		{"prefix kept", "https://app.asana.com/api/1.0", "/tasks", nil, "https://app.asana.com/api/1.0/tasks", ""},
		{"prefix with trailing slash", "https://app.asana.com/api/1.0/", "tasks", nil, "https://app.asana.com/api/1.0/tasks", ""},
		{"query added", "https://app.asana.com/api/1.0", "/tasks", url.Values{"project": {"12"}, "limit": {"100"}}, "https://app.asana.com/api/1.0/tasks?limit=100&project=12", ""},
		{"query in path merged", "https://api.trello.com", "/1/boards/b1/cards?customFieldItems=true", url.Values{"since": {"x y"}}, "https://api.trello.com/1/boards/b1/cards?customFieldItems=true&since=x+y", ""},
		{"query in path kept verbatim", "https://api.trello.com", "/1/boards/b1/cards?filter=open&a=%2F", nil, "https://api.trello.com/1/boards/b1/cards?filter=open&a=%2F", ""},
		{"escaped segment kept", "https://api.smartsheet.com/2.0", "/sheets/a%2Fb", nil, "https://api.smartsheet.com/2.0/sheets/a%2Fb", ""},
		{"next link on the same host", "https://app.asana.com/api/1.0", "https://app.asana.com/api/1.0/tasks?offset=abc", nil, "https://app.asana.com/api/1.0/tasks?offset=abc", ""},
		{"next link fragment dropped", "https://app.asana.com/api/1.0", "https://APP.asana.com/api/1.0/tasks#x", nil, "https://APP.asana.com/api/1.0/tasks", ""},
		{"other host refused", "https://app.asana.com/api/1.0", "https://evil.example/tasks", nil, "", "base URL's scheme and host"},
		{"scheme-relative refused", "https://app.asana.com/api/1.0", "//evil.example/tasks", nil, "", "base URL's scheme and host"},
		{"downgrade refused", "https://app.asana.com/api/1.0", "http://app.asana.com/api/1.0/tasks", nil, "", "base URL's scheme and host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Config{Vendor: "x", BaseURL: tt.base})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			u, err := c.resolve(tt.path, tt.query)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("resolve = %v, %v; want error containing %q", u, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			if got := u.String(); got != tt.want {
				t.Errorf("resolve = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"vendor required", Config{BaseURL: "https://a.example"}, "vendor is required"},
		{"relative URL", Config{Vendor: "jira", BaseURL: "/rest"}, "must be an absolute URL"},
		{"empty URL", Config{Vendor: "jira"}, "must be an absolute URL"},
		{"ftp", Config{Vendor: "jira", BaseURL: "ftp://a.example"}, "must use https"},
		{"plain http", Config{Vendor: "jira", BaseURL: "http://a.example"}, "loopback hosts only"},
		{"credentials in URL", Config{Vendor: "jira", BaseURL: "https://ada:hunter22@a.example"}, "must not contain credentials"},
		{"query in URL", Config{Vendor: "trello", BaseURL: "https://api.trello.com/1?token=abcdef"}, "query"},
		{"unparsable", Config{Vendor: "jira", BaseURL: "https://a.example:port/"}, "must be an absolute URL"},
		{"negative rate", Config{Vendor: "jira", BaseURL: "https://a.example", Rate: -1}, "rate -1 is negative"},
		{"negative burst", Config{Vendor: "jira", BaseURL: "https://a.example", Burst: -1}, "burst -1 is negative"},
		{"negative body cap", Config{Vendor: "jira", BaseURL: "https://a.example", MaxBody: -1}, "must not be negative"},
		{"valid", Config{Vendor: "jira", BaseURL: "http://127.0.0.1:8080/jira"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New = %v, want error containing %q", err, tt.wantErr)
			}
			for _, secret := range []string{"hunter22", "abcdef"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q leaks %q", err, secret)
				}
			}
		})
	}
}

func TestDoJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/tasks":
			if r.URL.Query().Get("project") != "42" {
				w.WriteHeader(400)
				return
			}
			_, _ = io.WriteString(w, `{"data":[{"gid":"1","name":"Go-live"}],"next_page":null}`)
		case "/empty":
			w.WriteHeader(204)
		case "/events":
			w.WriteHeader(412)
			_, _ = io.WriteString(w, `{"errors":[{"message":"Sync token invalid or too old"}],"sync":"de4774f6915eae04714ca93bb2f5ee81"}`)
		case "/html":
			_, _ = io.WriteString(w, "<html><body>Log in</body></html>")
		case "/wrongtype":
			_, _ = io.WriteString(w, `{"data":"not a list"}`)
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, Config{Vendor: "asana"})
	ctx := context.Background()

	type task struct{ GID, Name string }
	var page struct{ Data []task }
	if err := c.GetJSON(ctx, "/tasks", url.Values{"project": {"42"}}, &page); err != nil {
		t.Fatalf("GetJSON: %v", err)
	}
	if diff := cmp.Diff([]task{{"1", "Go-live"}}, page.Data); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}

	untouched := map[string]string{"keep": "me"}
	if _, err := c.DoJSON(ctx, Request{Method: http.MethodDelete, Path: "/empty"}, &untouched); err != nil || untouched["keep"] != "me" {
		t.Errorf("DoJSON on 204 = %v, out %v; want no error and out untouched", err, untouched)
	}

	// A failure body the connector needs stays readable next to the APIError.
	var sync struct{ Sync string }
	resp, err := c.DoJSON(ctx, Request{Path: "/events"}, &sync)
	if connectors.StatusOf(err) != 412 || resp == nil {
		t.Fatalf("DoJSON = %v, %v; want the 412 response and an APIError", resp, err)
	}
	if !strings.Contains(err.Error(), "Sync token invalid or too old") {
		t.Errorf("err = %q, want the vendor message", err)
	}
	if !strings.Contains(string(resp.Body), `"sync":"de4774f6915eae04714ca93bb2f5ee81"`) {
		t.Errorf("412 body = %q, want the sync token", resp.Body)
	}

	decodeTests := []struct {
		path, want, notWant string
	}{
		{"/html", `decode asana /html: invalid character '<' looking for beginning of value (Content-Type "text/html; charset=utf-8", body starts "<html><body>Log in</body></html>")`, ""},
		{"/wrongtype", "decode asana /wrongtype: json: cannot unmarshal string into Go struct field", "not a list"},
	}
	for _, tt := range decodeTests {
		err := c.GetJSON(ctx, tt.path, nil, &page)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("GetJSON(%s) = %v, want error containing %q", tt.path, err, tt.want)
			continue
		}
		if tt.notWant != "" && strings.Contains(err.Error(), tt.notWant) {
			t.Errorf("GetJSON(%s) = %q quotes the payload", tt.path, err)
		}
	}
}

func TestRedirects(t *testing.T) {
	var otherSawAuth atomic.Value
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherSawAuth.Store(r.Header.Get("Authorization"))
	}))
	defer other.Close()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/here", http.StatusFound)
		case "/here":
			_, _ = io.WriteString(w, r.Header.Get("Authorization"))
		case "/away":
			http.Redirect(w, r, other.URL+"/steal?token=abcd1234", http.StatusFound)
		}
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, Config{Auth: Bearer("pat-secret-value"), Sleep: (&sleeps{}).sleep})

	resp, err := c.Do(context.Background(), Request{Path: "/moved"})
	if err != nil || string(resp.Body) != "Bearer pat-secret-value" {
		t.Fatalf("same-host redirect = %v, %v; want it followed with auth", resp, err)
	}
	if c.Requests() != 2 {
		t.Errorf("Requests() = %d after one redirect, want 2", c.Requests())
	}

	hits.Store(0)
	_, err = c.Do(context.Background(), Request{Path: "/away"})
	if !errors.Is(err, errRedirectRefused) {
		t.Fatalf("cross-host redirect err = %v, want it refused", err)
	}
	if v := otherSawAuth.Load(); v != nil {
		t.Errorf("the other host was called (Authorization %q)", v)
	}
	if hits.Load() != 1 {
		t.Errorf("refused redirect retried: %d requests", hits.Load())
	}
	if strings.Contains(err.Error(), "abcd1234") {
		t.Errorf("err = %q leaks the redirect's query", err)
	}
}

func BenchmarkDo(b *testing.B) {
	body := `{"issues":[` + strings.Repeat(`{"id":"10001","key":"EHR-1","fields":{"summary":"Interface build"}},`, 49) + `{"id":"10050"}],"isLast":true}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()
	c, err := New(Config{Vendor: "jira", BaseURL: srv.URL, Auth: Bearer("bench-token")})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Do(ctx, Request{Path: "/rest/api/2/search", Query: url.Values{"startAt": {"0"}}}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	s := &script{replies: []reply{{status: 200, body: `{}`}}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c := newTestClient(t, srv.URL, Config{Auth: Bearer("tok-concurrent"), Rate: 1000, Burst: 10})
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 8 {
		wg.Go(func() {
			for range 5 {
				var out map[string]any
				errs <- c.GetJSON(context.Background(), "/x", nil, &out)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("GetJSON: %v", err)
		}
	}
	if c.Requests() != 40 || s.hits.Load() != 40 {
		t.Errorf("Requests() = %d, server hits = %d; want 40 each", c.Requests(), s.hits.Load())
	}
}

// TestStream: a streamed answer is handed over as it arrives, past the body
// cap; a failure before the status is retried like any other, one while
// the body is read is not (the caller may have acted on part of it).
func TestStream(t *testing.T) {
	ctx := context.Background()
	big := `[` + strings.Repeat(`"x",`, 2000) + `"end"]` // larger than MaxBody below
	t.Run("retried before the answer, read past the cap", func(t *testing.T) {
		s := &script{replies: []reply{{status: 503, body: `{"message":"busy"}`}, {status: 200, body: big}}}
		srv := httptest.NewServer(s)
		defer srv.Close()
		sl := &sleeps{}
		c := newTestClient(t, srv.URL, Config{MaxBody: 1000, Sleep: sl.sleep})
		var got []string
		resp, err := c.Do(ctx, Request{Path: "/items", Stream: func(r io.Reader) error {
			return json.NewDecoder(r).Decode(&got)
		}})
		if err != nil {
			t.Fatalf("Do: %v", err)
		}
		if resp.Status != 200 || resp.Body != nil || len(got) != 2001 || got[2000] != "end" {
			t.Errorf("status %d, body %d bytes, %d values; want 200, no body, 2001 values", resp.Status, len(resp.Body), len(got))
		}
		if n := s.hits.Load(); n != 2 {
			t.Errorf("%d requests, want 2 (the 503 retried)", n)
		}
	})
	t.Run("a failure while reading is not retried", func(t *testing.T) {
		s := &script{replies: []reply{{status: 200, body: `[1, 2`}}}
		srv := httptest.NewServer(s)
		defer srv.Close()
		c := newTestClient(t, srv.URL, Config{Sleep: (&sleeps{}).sleep})
		boom := errors.New("page handler failed")
		_, err := c.Do(ctx, Request{Path: "/items", Stream: func(r io.Reader) error {
			var v []int
			if err := json.NewDecoder(r).Decode(&v); err == nil {
				t.Error("a cut-off body decoded")
			}
			return boom
		}})
		if !errors.Is(err, boom) {
			t.Errorf("Do error = %v, want the stream's own", err)
		}
		if n := s.hits.Load(); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
	t.Run("an error status is read whole, not streamed", func(t *testing.T) {
		s := &script{replies: []reply{{status: 404, body: `{"message":"no such sheet"}`}}}
		srv := httptest.NewServer(s)
		defer srv.Close()
		c := newTestClient(t, srv.URL, Config{Sleep: (&sleeps{}).sleep})
		called := false
		_, err := c.Do(ctx, Request{Path: "/items", Stream: func(io.Reader) error { called = true; return nil }})
		if connectors.StatusOf(err) != 404 || called {
			t.Errorf("Do error %v (status %d), stream called %v; want the 404 and no stream", err, connectors.StatusOf(err), called)
		}
	})
}
