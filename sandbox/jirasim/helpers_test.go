package jirasim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	testEmail   = "pmo.lead@example.org"
	testToken   = "cloud-api-token-1234"
	testPAT     = "dc-personal-access-token-5678"
	testNowText = "2026-01-10T12:00:00Z"
)

func testNow() time.Time {
	t, err := time.Parse(time.RFC3339, testNowText)
	if err != nil {
		panic(err)
	}
	return t
}

// client talks to a started Server with the right credentials.
type client struct {
	t    testing.TB
	base string
	hc   *http.Client
	auth func(*http.Request)
}

// start runs a server for the test's lifetime and returns it with a client
// that authenticates as its flavor requires.
func start(t *testing.T, opts Options) (*Server, *client) {
	t.Helper()
	if opts.Flavor == DataCenter {
		opts.Token = testPAT
	} else {
		opts.Email, opts.Token = testEmail, testToken
	}
	if opts.Now == nil {
		opts.Now = testNow
	}
	s := New(opts)
	ts := s.Start()
	t.Cleanup(ts.Close)
	c := &client{t: t, base: ts.URL, hc: ts.Client()}
	if opts.Flavor == DataCenter {
		c.auth = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testPAT) }
	} else {
		c.auth = func(r *http.Request) { r.SetBasicAuth(testEmail, testToken) }
	}
	return s, c
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (c *client) do(method, path string, q url.Values, body any) response {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatalf("marshal request body: %v", err)
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		c.t.Fatalf("build request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.auth != nil {
		c.auth(req)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("read %s %s: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (c *client) get(path string, q url.Values) response { return c.do(http.MethodGet, path, q, nil) }

func (c *client) post(path string, body any) response {
	return c.do(http.MethodPost, path, nil, body)
}

// decode unmarshals a JSON body, failing the test on malformed JSON.
func decode[T any](t testing.TB, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %q: %v", truncate(r.body), err)
	}
	return v
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// errorMessages reads Jira's ErrorCollection.
func errorMessages(t *testing.T, r response) []string {
	t.Helper()
	var e struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("decode error body %q: %v", truncate(r.body), err)
	}
	return e.ErrorMessages
}

func ptr(f float64) *float64 { return &f }

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func joinKeys(keys []string) string { return strings.Join(keys, ",") }
