// Package httpapi is the HTTP client stack every connector uses: credentials
// added by RoundTrippers, one token bucket per vendor credential, retries of
// idempotent requests with capped exponential backoff and full jitter that
// honour Retry-After, a response size cap, and errors scrubbed of every
// secret the client knows.
package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/pmsync/pmsync/connectors"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultMaxRetries = 5
	DefaultBaseDelay  = 500 * time.Millisecond
	DefaultMaxDelay   = 30 * time.Second
	DefaultMaxBody    = 64 << 20
	DefaultTimeout    = 60 * time.Second
	// DefaultMaxRetryAfter is the longest Retry-After a request waits out
	// before it is tried again. The vendors' rate limits are per minute
	// (Smartsheet asks for a minute's pause after errorCode 4003, Asana and
	// Jira Cloud answer 429 with a Retry-After of up to a minute for a
	// spent minute budget), so a minute plus a margin for clock skew covers
	// every wait a healthy API asks for; a longer one means an outage or a
	// spent daily quota, and the caller is better off rescheduling.
	DefaultMaxRetryAfter = 65 * time.Second
)

// maxRetryAfter bounds a parsed Retry-After.
const maxRetryAfter = 365 * 24 * time.Hour

// maxRedirects matches net/http's own limit.
const maxRedirects = 10

// ErrBodyTooLarge is wrapped by the error returned when a response body is
// larger than Config.MaxBody.
var ErrBodyTooLarge = errors.New("response body exceeds the size limit")

// ErrAttemptTimeout is matched (errors.Is) by the error of a request whose
// last attempt ran past Config.Timeout, while the caller's context was
// still live: a caller that can ask for less (a smaller page) may do so.
var ErrAttemptTimeout = errors.New("attempt timed out")

// errRedirectRefused stops a redirect to another host: the auth RoundTripper
// would otherwise hand the credential to whoever the redirect names.
var errRedirectRefused = errors.New("redirect to another host refused")

// Config configures a Client. Zero values take the documented defaults.
type Config struct {
	// Vendor names the API ("jira", "asana", …) in errors, logs and the
	// limiter key. Required.
	Vendor string
	// BaseURL is the absolute http or https URL requests are relative to;
	// its path prefix is kept (https://app.asana.com/api/1.0).
	BaseURL string
	// Auth adds the credential to every request; nil sends none.
	Auth Auth
	// Rate is the steady number of requests per second for this credential;
	// 0 means unlimited.
	Rate rate.Limit
	// Burst is the bucket size; 0 means 1 when Rate is set.
	Burst int
	// Limiters hands out the shared buckets; nil gives the client a private
	// set.
	Limiters connectors.RateLimiters
	// MaxRetries is how many times a failed idempotent request is tried
	// again: 0 means DefaultMaxRetries, a negative value means never.
	MaxRetries int
	// BaseDelay is the first backoff ceiling; it doubles on every retry.
	BaseDelay time.Duration
	// MaxDelay caps the backoff between retries of a request the server
	// named no wait for.
	MaxDelay time.Duration
	// MaxRetryAfter is the longest Retry-After (header, or the wait the
	// vendor's error body asks for) that a retryable request waits out
	// before trying again; default DefaultMaxRetryAfter. A longer one fails
	// at once with the APIError, its RetryAfter set, so that the caller can
	// reschedule instead of holding a worker. Writes that are not
	// idempotent are never retried, so it only ever delays reads and
	// idempotent writes.
	MaxRetryAfter time.Duration
	// MaxBody caps a response body in bytes; default DefaultMaxBody.
	MaxBody int64
	// Timeout bounds each attempt, body included; default DefaultTimeout.
	Timeout time.Duration
	// Transport sends the requests; nil uses a clone of
	// http.DefaultTransport. An *http.Transport that skips certificate
	// verification is refused: verification is always on.
	Transport http.RoundTripper
	// RootCAs, when not nil, replace the system's certificate authorities
	// (an on-premises server with a private CA). The transport must then
	// be an *http.Transport (or nil), which the client clones.
	RootCAs *x509.CertPool
	// Secrets are extra strings to scrub from error text; the Auth's own
	// secrets are scrubbed without being listed here.
	Secrets []string
	// ParseError reads a vendor's error body; nil uses ParseGenericError.
	// It sees the body with every secret already replaced by "<secret>".
	ParseError func(status int, header http.Header, body []byte) ErrorInfo
	// Sleep waits between retries and for the rate limiter and must return
	// ctx.Err() early when ctx ends; nil sleeps on a timer. Tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now reads the clock for Retry-After dates; nil uses time.Now.
	Now func() time.Time
	// Log receives one debug line per retry; never a header, token or body.
	Log zerolog.Logger
}

// ErrorInfo is what a vendor error body says.
type ErrorInfo struct {
	Code    string
	Message string
	RefID   string
	// RetryAfter is a wait the body asks for, for vendors that put it
	// there instead of, or besides, the Retry-After header.
	RetryAfter time.Duration
	// NotApplied says the vendor documents this answer as a refusal that
	// left nothing changed and asks for the request again (Smartsheet's
	// errorCode 4004, "being updated by another request"): on a retryable
	// status even a write that is not idempotent is then sent again.
	NotApplied bool
}

// Client sends requests to one vendor API with one credential. It is safe
// for concurrent use.
type Client struct {
	vendor     string
	base       *url.URL
	http       *http.Client
	lim        *rate.Limiter // nil: unlimited
	maxRetries int
	baseDelay  time.Duration
	maxDelay   time.Duration
	maxWait    time.Duration // the longest Retry-After waited out
	maxBody    int64
	timeout    time.Duration
	scrub      *scrubber
	parseError func(status int, header http.Header, body []byte) ErrorInfo
	sleep      func(ctx context.Context, d time.Duration) error
	now        func() time.Time
	log        zerolog.Logger
	requests   atomic.Int64
}

// New validates cfg, applies the defaults and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Vendor == "" {
		return nil, errors.New("new http client: vendor is required")
	}
	var secrets []string
	if cfg.Auth != nil {
		secrets = append(secrets, cfg.Auth.Secrets()...)
	}
	secrets = append(secrets, cfg.Secrets...)
	c := &Client{
		vendor:     cfg.Vendor,
		maxRetries: cfg.MaxRetries,
		baseDelay:  cmp.Or(cfg.BaseDelay, DefaultBaseDelay),
		maxDelay:   cmp.Or(cfg.MaxDelay, DefaultMaxDelay),
		maxWait:    cmp.Or(cfg.MaxRetryAfter, DefaultMaxRetryAfter),
		maxBody:    cmp.Or(cfg.MaxBody, DefaultMaxBody),
		timeout:    cmp.Or(cfg.Timeout, DefaultTimeout),
		scrub:      newScrubber(secrets),
		parseError: cfg.ParseError,
		sleep:      cfg.Sleep,
		now:        cfg.Now,
		log:        cfg.Log,
	}
	base, err := parseBase(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("new %s http client: base URL %w", cfg.Vendor, err)
	}
	c.base = base
	switch {
	case cfg.Rate < 0:
		return nil, fmt.Errorf("new %s http client: rate %v is negative", cfg.Vendor, cfg.Rate)
	case cfg.Burst < 0:
		return nil, fmt.Errorf("new %s http client: burst %d is negative", cfg.Vendor, cfg.Burst)
	case cfg.MaxBody < 0, cfg.BaseDelay < 0, cfg.MaxDelay < 0, cfg.MaxRetryAfter < 0, cfg.Timeout < 0:
		return nil, fmt.Errorf("new %s http client: sizes and durations must not be negative", cfg.Vendor)
	}
	switch {
	case cfg.MaxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case cfg.MaxRetries < 0:
		c.maxRetries = 0
	}
	if c.sleep == nil {
		c.sleep = Sleep
	}
	if c.now == nil {
		c.now = time.Now
	}
	if cfg.Rate > 0 && cfg.Rate != rate.Inf {
		limiters := cfg.Limiters
		if limiters == nil {
			limiters = NewLimiters()
		}
		key := cfg.Vendor + ":"
		if cfg.Auth != nil {
			key += cfg.Auth.Fingerprint()
		}
		c.lim = limiters.Limiter(key, cfg.Rate, max(cfg.Burst, 1))
	}
	transport, err := SecureTransport(cfg.Transport, cfg.RootCAs)
	if err != nil {
		return nil, fmt.Errorf("new %s http client: %w", cfg.Vendor, err)
	}
	// Counting below the auth layer and inside the http.Client sees every
	// request that reaches the wire, followed redirects included.
	transport = countingTransport{next: transport, n: &c.requests}
	if cfg.Auth != nil {
		transport = cfg.Auth.RoundTripper(transport)
	}
	c.http = &http.Client{Transport: transport, CheckRedirect: c.checkRedirect}
	return c, nil
}

// SecureTransport returns the transport a client sends with: t (a clone
// of http.DefaultTransport when nil) trusting roots when they are given. It
// refuses a transport that skips certificate verification, so that no
// option, test helper or future edit can turn verification off unnoticed.
// New applies it; a connector that wraps the transport before handing it
// to New (a limiter of its own) applies it first.
func SecureTransport(t http.RoundTripper, roots *x509.CertPool) (http.RoundTripper, error) {
	if t == nil {
		dt, ok := http.DefaultTransport.(*http.Transport)
		if !ok {
			return nil, fmt.Errorf("http.DefaultTransport is a %T, not an *http.Transport; set Config.Transport", http.DefaultTransport)
		}
		t = dt.Clone()
	}
	ht, ok := t.(*http.Transport)
	if ok && ht.TLSClientConfig != nil && ht.TLSClientConfig.InsecureSkipVerify {
		return nil, errors.New("the transport skips TLS certificate verification; pmsync always verifies")
	}
	if roots == nil {
		return t, nil
	}
	if !ok {
		return nil, fmt.Errorf("a CA bundle needs an *http.Transport to apply to, not a %T", t)
	}
	ht = ht.Clone()
	if ht.TLSClientConfig == nil {
		ht.TLSClientConfig = &tls.Config{}
	}
	ht.TLSClientConfig.RootCAs = roots
	return ht, nil
}

// checkRedirect follows redirects on the base URL's own scheme and host
// only: the auth RoundTripper adds the credential to every request, so a
// redirect elsewhere would hand it to a stranger.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if req.URL.Scheme != c.base.Scheme || !strings.EqualFold(req.URL.Host, c.base.Host) {
		return fmt.Errorf("%w: %s", errRedirectRefused, req.URL.Host)
	}
	return nil
}

// Sleep waits d or until ctx ends, whichever comes first; it is the
// default Config.Sleep, and connectors that wait on their own use it too.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Request is one API call.
type Request struct {
	// Method defaults to GET.
	Method string
	// Path is joined to the base URL's path ("/rest/api/3/search/jql") and
	// may carry a query. An absolute URL on the base URL's scheme and host is
	// used as it is, for the "next" links vendors hand out.
	Path string
	// Query is added to any query Path carries.
	Query url.Values
	// Header is sent after the defaults (User-Agent, Accept), so it can
	// override them.
	Header http.Header
	// JSON, when non-nil, is marshalled as the body with Content-Type
	// application/json.
	JSON any
	// Body is the raw body when JSON is nil; set Content-Type in Header.
	Body []byte
	// Idempotent marks a request safe to retry. GET, HEAD, PUT, DELETE and
	// OPTIONS are always idempotent; POST and PATCH only when this is true
	// (search POSTs, or writes guarded by an idempotency key).
	Idempotent bool
	// NoTimeoutRetry fails an attempt that timed out at once (its error
	// matches ErrAttemptTimeout) instead of sending the same request again,
	// for a caller that answers a timeout by asking for less.
	NoTimeoutRetry bool
	// Stream, when set, reads a 2xx answer's body as it arrives instead of
	// the client reading it whole first: Do returns a Response without a
	// Body, or Stream's error. The body is held to no size cap (the caller
	// keeps no more of it than it needs), only to the attempt timeout. A
	// failure before the answer's status is retried as usual; once Stream
	// has begun, nothing is retried, since the caller may have acted on
	// part of the body. A failure while reading the body matches
	// ErrAttemptTimeout when the attempt timed out.
	Stream func(body io.Reader) error
}

// Response is a successful answer, or with a *connectors.APIError the
// failed one, its body read in full.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// operation is a Request resolved once and sent by every attempt.
type operation struct {
	method     string
	url        string
	path       string // scrubbed path for errors and logs: no host, no query
	header     http.Header
	body       []byte
	json       bool
	idempotent bool
	// noTimeoutRetry: see Request.NoTimeoutRetry.
	noTimeoutRetry bool
	stream         func(io.Reader) error
}

// Do sends r, waiting on the shared rate limiter before each attempt and
// retrying idempotent requests on 429, 500, 502, 503, 504, network errors
// and attempt timeouts. A 2xx answer gives the Response. Any other status
// gives a *connectors.APIError together with the Response, so that a
// connector can read a body it expects on failure (Asana's 412 sync token).
// Every error text is scrubbed of secrets.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	op, err := c.prepare(r)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		if err := c.waitTurn(ctx); err != nil {
			return nil, fmt.Errorf("%s: %s %s: wait for rate limiter: %w", c.vendor, op.method, op.path, err)
		}
		resp, err := c.send(ctx, op)
		if err == nil && resp.Status >= 200 && resp.Status < 300 {
			return resp, nil
		}
		if err != nil && ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %s %s: %w", c.vendor, op.method, op.path, ctx.Err())
		}
		var se *streamError
		if errors.As(err, &se) {
			return nil, se.err
		}
		wait, retry, fail := c.judge(op, attempt, resp, err)
		if !retry || attempt >= c.maxRetries {
			if err == nil {
				return resp, fail
			}
			return nil, fail
		}
		// c.log names the connector already (its Params.Log).
		ev := c.log.Debug().Str("method", op.method).Str("path", op.path).
			Int("attempt", attempt+1).Int64("wait_ms", wait.Milliseconds())
		if err == nil {
			ev = ev.Int("status", resp.Status)
		} else {
			ev = ev.Str("err", fail.Error())
		}
		ev.Msg("retrying request")
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s: %s %s: wait %s before retry: %w", c.vendor, op.method, op.path, wait.Round(time.Millisecond), err)
		}
	}
}

// judge decides what a failed attempt means: the error to report, whether
// to try again and how long to wait first. A Retry-After (header or body) is
// waited out exactly, because a server that names its wait counts early
// retries against the client; a longer one than MaxRetryAfter is handed
// back so that the caller reschedules instead of holding a worker.
func (c *Client) judge(op *operation, attempt int, resp *Response, err error) (time.Duration, bool, error) {
	if err != nil {
		var te *transportError
		if !errors.As(err, &te) {
			return 0, false, err
		}
		te.attempts = attempt + 1
		return c.backoff(attempt), op.idempotent && te.transient && !(te.timeout && op.noTimeoutRetry), te
	}
	apiErr, notApplied := c.apiError(op, resp)
	if resp.Status == http.StatusTooManyRequests {
		// Slow down everyone sharing the credential, retrying or not.
		c.pause(min(cmp.Or(apiErr.RetryAfter, c.backoffCeiling(attempt)), c.maxWait))
	}
	retry := (op.idempotent || notApplied) && retryableStatus(resp.Status)
	switch {
	case !retry, apiErr.RetryAfter > c.maxWait:
		return 0, false, apiErr
	case apiErr.RetryAfter > 0:
		return apiErr.RetryAfter, true, apiErr
	}
	return c.backoff(attempt), true, apiErr
}

// DoJSON sends r like Do and decodes a successful body into out when out is
// not nil. A 204 or 205 answer leaves out untouched.
func (c *Client) DoJSON(ctx context.Context, r Request, out any) (*Response, error) {
	resp, err := c.Do(ctx, r)
	if err != nil || out == nil {
		return resp, err
	}
	if resp.Status == http.StatusNoContent || resp.Status == http.StatusResetContent {
		return resp, nil
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return resp, c.decodeError(r.Path, resp, err)
	}
	return resp, nil
}

// GetJSON sends a GET for path with query q and decodes the body into out.
func (c *Client) GetJSON(ctx context.Context, path string, q url.Values, out any) error {
	_, err := c.DoJSON(ctx, Request{Path: path, Query: q}, out)
	return err
}

// countingTransport counts the requests it passes on.
type countingTransport struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.next.RoundTrip(req)
}

// Requests reports how many requests the client has sent: every attempt,
// retries and followed redirects included.
func (c *Client) Requests() int64 { return c.requests.Load() }

// Scrub returns s with every secret the client knows replaced, for
// connectors that build error text of their own from vendor data.
func (c *Client) Scrub(s string) string { return c.scrub.text(s) }

// decodeError names the call; it quotes the start of the body only when the
// body is not JSON at all (an HTML login page, a proxy's error), because a
// type mismatch in valid JSON is explained by the decoder's own message and
// the payload itself may hold patient data.
func (c *Client) decodeError(path string, resp *Response, err error) error {
	msg := fmt.Sprintf("decode %s %s: %v", c.vendor, pathOnly(c.base, path), err)
	var syn *json.SyntaxError
	if errors.As(err, &syn) || len(bytes.TrimSpace(resp.Body)) == 0 {
		msg += fmt.Sprintf(" (Content-Type %q, body starts %q)", resp.Header.Get("Content-Type"), Shorten(c.scrub.text(string(resp.Body)), snippetLen))
	}
	return &decodeError{msg: c.scrub.text(msg), err: err}
}

// decodeError keeps the decoder's error for errors.As while its text is
// the scrubbed one.
type decodeError struct {
	msg string
	err error
}

func (e *decodeError) Error() string { return e.msg }
func (e *decodeError) Unwrap() error { return e.err }

// prepare resolves the URL and encodes the body once for all attempts.
func (c *Client) prepare(r Request) (*operation, error) {
	op := &operation{method: r.Method, header: r.Header, body: r.Body, noTimeoutRetry: r.NoTimeoutRetry, stream: r.Stream}
	if op.method == "" {
		op.method = http.MethodGet
	}
	op.path = c.scrub.text(pathOnly(c.base, r.Path))
	switch op.method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		op.idempotent = true
	default:
		op.idempotent = r.Idempotent
	}
	u, err := c.resolve(r.Path, r.Query)
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s: %s", c.vendor, op.method, op.path, c.scrub.text(err.Error()))
	}
	op.url = u.String()
	if r.JSON != nil {
		b, err := json.Marshal(r.JSON)
		if err != nil {
			return nil, fmt.Errorf("%s: %s %s: encode request body: %w", c.vendor, op.method, op.path, err)
		}
		op.body, op.json = b, true
	}
	return op, nil
}

// resolve joins p to the base URL and adds q to its query.
func (c *Client) resolve(p string, q url.Values) (*url.URL, error) {
	ref, err := url.Parse(p)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("request path is not a URL reference: %w", err)
	}
	var u url.URL
	if ref.Scheme != "" || ref.Host != "" {
		if ref.Scheme != c.base.Scheme || !strings.EqualFold(ref.Host, c.base.Host) || ref.User != nil {
			return nil, errors.New("an absolute request URL must use the base URL's scheme and host")
		}
		u = *ref
	} else {
		u = *c.base
		if ref.Path != "" {
			u.Path = c.base.Path + "/" + strings.TrimPrefix(ref.Path, "/")
			u.RawPath = c.base.EscapedPath() + "/" + strings.TrimPrefix(ref.EscapedPath(), "/")
		}
		u.RawQuery = ref.RawQuery
	}
	u.Fragment, u.RawFragment = "", ""
	if len(q) > 0 {
		merged := u.Query()
		for k, vs := range q {
			merged[k] = append(merged[k], vs...)
		}
		u.RawQuery = merged.Encode()
	}
	return &u, nil
}

// pathOnly is the path a request goes to, without host or query, for error
// text; it works on a path that does not parse.
func pathOnly(base *url.URL, p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if u, err := url.Parse(p); err == nil && (u.Scheme != "" || u.Host != "") {
		return u.Path
	}
	if base == nil || base.Path == "" {
		return "/" + strings.TrimPrefix(p, "/")
	}
	return base.Path + "/" + strings.TrimPrefix(p, "/")
}

// send makes one attempt and reads the whole body under the attempt timeout.
func (c *Client) send(ctx context.Context, op *operation) (*Response, error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if op.body != nil {
		body = bytes.NewReader(op.body)
	}
	req, err := http.NewRequestWithContext(actx, op.method, op.url, body)
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s: build request: %s", c.vendor, op.method, op.path, c.scrub.text(err.Error()))
	}
	req.Header.Set("User-Agent", "pmsync")
	req.Header.Set("Accept", "application/json")
	if op.json {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range op.header {
		req.Header[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(op, actx, err)
	}
	defer func() {
		// A short drain lets the connection be reused when only a little is
		// left; a long remainder is cheaper to drop with the connection.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		_ = resp.Body.Close()
	}()
	if op.stream != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if err := op.stream(resp.Body); err != nil {
			if ctx.Err() == nil && actx.Err() != nil {
				err = c.transportError(op, actx, fmt.Errorf("read response body: %w", err))
			}
			return nil, &streamError{err: err}
		}
		return &Response{Status: resp.StatusCode, Header: resp.Header}, nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, c.transportError(op, actx, fmt.Errorf("read response body: %w", err))
	}
	if int64(len(data)) > c.maxBody {
		return nil, fmt.Errorf("%s: %s %s: HTTP %d: %w (%d bytes)", c.vendor, op.method, op.path, resp.StatusCode, ErrBodyTooLarge, c.maxBody)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// streamError is the failure of a Request.Stream reading a 2xx answer:
// never retried.
type streamError struct{ err error }

func (e *streamError) Error() string { return e.err.Error() }

// transportError is a failed attempt that got no HTTP answer. Its text is
// built from the cause of Go's *url.Error, whose own text carries the full
// URL with its query, and it unwraps to that cause, never to the *url.Error.
type transportError struct {
	msg       string
	err       error
	transient bool
	timeout   bool // the attempt ran past Config.Timeout
	attempts  int
}

// Is lets errors.Is(err, ErrAttemptTimeout) find an attempt timeout.
func (e *transportError) Is(target error) bool { return target == ErrAttemptTimeout && e.timeout }

func (e *transportError) Error() string {
	if e.attempts > 1 {
		return fmt.Sprintf("%s (after %d attempts)", e.msg, e.attempts)
	}
	return e.msg
}

func (e *transportError) Unwrap() error { return e.err }

func (c *Client) transportError(op *operation, actx context.Context, err error) error {
	cause := err
	var ue *url.Error
	if errors.As(err, &ue) {
		cause = ue.Err
	}
	what := cause.Error()
	timeout := errors.Is(actx.Err(), context.DeadlineExceeded)
	if timeout {
		what = fmt.Sprintf("attempt timed out after %s", c.timeout)
	}
	var certErr *tls.CertificateVerificationError
	transient := !errors.Is(cause, errRedirectRefused) && !errors.As(cause, &certErr)
	return &transportError{
		msg:       c.scrub.text(fmt.Sprintf("%s: %s %s: %s", c.vendor, op.method, op.path, what)),
		err:       cause,
		transient: transient,
		timeout:   timeout,
	}
}

// apiError turns a non-2xx answer into the shared error type. The parser
// sees the body with secrets already replaced, so that no cut it makes can
// leave half a secret behind; what it returns is scrubbed once more because
// a parser may also draw on headers.
// It also reports whether the vendor says the request took no effect.
func (c *Client) apiError(op *operation, resp *Response) (*connectors.APIError, bool) {
	parse := c.parseError
	if parse == nil {
		parse = ParseGenericError
	}
	info := parse(resp.Status, resp.Header, []byte(c.scrub.text(string(resp.Body))))
	return &connectors.APIError{
		Vendor:     c.vendor,
		Method:     op.method,
		Path:       op.path,
		Status:     resp.Status,
		Code:       Shorten(c.scrub.text(info.Code), snippetLen),
		RefID:      Shorten(c.scrub.text(info.RefID), snippetLen),
		RetryAfter: max(parseRetryAfter(resp.Header.Get("Retry-After"), c.now()), info.RetryAfter),
		Message:    Shorten(c.scrub.text(info.Message), maxMessageLen),
	}, info.NotApplied
}

// retryableStatus lists the answers that mean "not now" rather than "no".
func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// backoffCeiling is BaseDelay·2^attempt capped by MaxDelay.
func (c *Client) backoffCeiling(attempt int) time.Duration {
	d := c.baseDelay
	for range attempt {
		if d >= c.maxDelay/2 {
			return c.maxDelay
		}
		d *= 2
	}
	return min(d, c.maxDelay)
}

// backoff draws the wait before retry number attempt+1 uniformly from
// [0, ceiling] ("full jitter"), which spreads out clients that failed
// together better than a fixed or partly jittered delay.
func (c *Client) backoff(attempt int) time.Duration {
	return time.Duration(rand.Int64N(int64(c.backoffCeiling(attempt)) + 1))
}

// parseRetryAfter reads a Retry-After header in seconds or as an HTTP date.
// Zero means absent, unreadable or already past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		// The cap keeps the conversion from overflowing; any such wait is
		// far beyond MaxRetryAfter and fails the call anyway.
		return time.Duration(min(secs, maxRetryAfter.Seconds()) * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}
