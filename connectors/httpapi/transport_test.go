package httpapi

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawServer accepts loopback TCP connections and hands each to serve with
// its number (1 for the first); the connections it serves are closed when
// the test ends.
type rawServer struct {
	ln    net.Listener
	conns atomic.Int64
	wg    sync.WaitGroup
	mu    sync.Mutex
	open  []net.Conn
}

func newRawServer(t *testing.T, serve func(n int64, c net.Conn)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.open = append(s.open, c)
			s.mu.Unlock()
			n := s.conns.Add(1)
			s.wg.Go(func() { serve(n, c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.open {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *rawServer) url() string { return "http://" + s.ln.Addr().String() }

// readRequest reads one request's head and body off c.
func readRequest(c net.Conn) bool {
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, req.Body)
	return true
}

const page = `{"issues":[{"id":"10001","key":"EHR-1"}],"isLast":true}`

// A server that accepts the connection and the request but never answers:
// each attempt ends at the attempt timeout, an idempotent request is tried
// again up to the retry limit, and the error says what happened and how
// often. A write that is not idempotent is not sent twice.
func TestServerThatNeverAnswers(t *testing.T) {
	t.Parallel()
	srv := newRawServer(t, func(_ int64, c net.Conn) {
		readRequest(c)
		_, _ = io.Copy(io.Discard, c) // hold the connection open, silent, until the client drops it
	})
	for _, tt := range []struct {
		method   string
		attempts int64
		want     string
	}{
		{http.MethodGet, 3, "jira: GET /rest/api/3/search/jql: attempt timed out after 200ms (after 3 attempts)"},
		{http.MethodPost, 1, "jira: POST /rest/api/3/search/jql: attempt timed out after 200ms"},
	} {
		before := srv.conns.Load()
		sl := &sleeps{}
		c := newTestClient(t, srv.url(), Config{Timeout: 200 * time.Millisecond, MaxRetries: 2, Sleep: sl.sleep})
		start := time.Now()
		_, err := c.Do(context.Background(), Request{Method: tt.method, Path: "/rest/api/3/search/jql"})
		took := time.Since(start)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: err = %v, want %q", tt.method, err, tt.want)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: err does not wrap context.DeadlineExceeded: %#v", tt.method, err)
		}
		if got := srv.conns.Load() - before; got != tt.attempts || c.Requests() != tt.attempts {
			t.Errorf("%s: %d connections, %d requests; want %d of each", tt.method, got, c.Requests(), tt.attempts)
		}
		if min := time.Duration(tt.attempts) * 200 * time.Millisecond; took < min || took > min+2*time.Second {
			t.Errorf("%s: took %s, want about %s (one timeout per attempt)", tt.method, took, min)
		}
	}
}

// A server that answers at a byte per second: the headers come at once,
// then the body trickles. The attempt timeout covers the body too, so the
// call ends after Timeout per attempt instead of after the whole body.
func TestServerAnsweringAByteASecond(t *testing.T) {
	t.Parallel()
	srv := newRawServer(t, func(_ int64, c net.Conn) {
		if !readRequest(c) {
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(page))
		for i := range len(page) {
			if _, err := c.Write([]byte{page[i]}); err != nil {
				return
			}
			time.Sleep(time.Second)
		}
	})
	sl := &sleeps{}
	c := newTestClient(t, srv.url(), Config{Timeout: 1500 * time.Millisecond, MaxRetries: 1, Sleep: sl.sleep})
	start := time.Now()
	_, err := c.Do(context.Background(), Request{Path: "/rest/api/3/search/jql"})
	took := time.Since(start)
	if want := "jira: GET /rest/api/3/search/jql: attempt timed out after 1.5s (after 2 attempts)"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	if c.Requests() != 2 || len(sl.all()) != 1 {
		t.Errorf("%d requests, %d backoffs; want 2 and 1", c.Requests(), len(sl.all()))
	}
	if took < 3*time.Second || took > 6*time.Second {
		t.Errorf("took %s, want about 3s (two attempts of 1.5s); the body alone would take %ds", took, len(page))
	}
}

// A connection reset in the middle of the body: the truncated body is never
// handed on as an answer. An idempotent request is tried again on a new
// connection and succeeds; a write that is not idempotent is not resent.
func TestConnectionResetMidBody(t *testing.T) {
	t.Parallel()
	var reset atomic.Bool
	reset.Store(true)
	srv := newRawServer(t, func(_ int64, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			if reset.Load() {
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(page), page[:20])
				// SO_LINGER 0 makes Close send RST instead of FIN.
				_ = c.(*net.TCPConn).SetLinger(0)
				_ = c.Close()
				return
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(page), page)
		}
	})

	t.Run("GET is retried", func(t *testing.T) {
		reset.Store(true)
		sl := &sleeps{}
		c := newTestClient(t, srv.url(), Config{MaxRetries: 3, Sleep: func(ctx context.Context, d time.Duration) error {
			reset.Store(false) // the vendor recovers while we back off
			return sl.sleep(ctx, d)
		}})
		var out struct {
			Issues []struct{ Key string } `json:"issues"`
		}
		if _, err := c.DoJSON(context.Background(), Request{Path: "/rest/api/3/search/jql"}, &out); err != nil {
			t.Fatalf("DoJSON: %v", err)
		}
		if len(out.Issues) != 1 || out.Issues[0].Key != "EHR-1" {
			t.Errorf("decoded %+v, want the whole page", out)
		}
		if c.Requests() != 2 || len(sl.all()) != 1 {
			t.Errorf("%d requests, %d backoffs; want 2 and 1", c.Requests(), len(sl.all()))
		}
	})
	t.Run("POST is not resent", func(t *testing.T) {
		reset.Store(true)
		sl := &sleeps{}
		c := newTestClient(t, srv.url(), Config{MaxRetries: 3, Sleep: sl.sleep})
		resp, err := c.Do(context.Background(), Request{Method: http.MethodPost, Path: "/rest/api/3/issue/EHR-1/comment", JSON: map[string]string{"body": "x"}})
		if err == nil {
			t.Fatalf("Do succeeded with a truncated body: %q", resp.Body)
		}
		if resp != nil {
			t.Errorf("a truncated answer came back as a response: %q", resp.Body)
		}
		t.Logf("reset mid-body: %v", err)
		if !strings.HasPrefix(err.Error(), "jira: POST /rest/api/3/issue/EHR-1/comment: read response body: ") {
			t.Errorf("err = %q, want the call and the body read named", err)
		}
		if c.Requests() != 1 || len(sl.all()) != 0 {
			t.Errorf("%d requests, %d backoffs; a POST without an idempotency guard is sent once", c.Requests(), len(sl.all()))
		}
	})
}

// A TLS handshake with a server whose certificate names another host fails
// at once: the certificate is trusted (the test CA), only the name is
// wrong, and no retry can mend that. No request reaches the server, so the
// credential never leaves.
func TestTLSHandshakeToTheWrongHostName(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		_, _ = io.WriteString(w, page)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	defer srv.Close()
	// Trust the test server's CA, and send every connection to it whatever
	// host the URL names: only the name check stands between them.
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	addr := srv.Listener.Addr().String()
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	const secret = "api-token-0c9f3e7a"
	sl := &sleeps{}
	c, err := New(Config{Vendor: "jira", BaseURL: "https://jira.wrong-host.test", Transport: tr, Auth: Bearer(secret), MaxRetries: 3, Sleep: sl.sleep})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Do(context.Background(), Request{Path: "/rest/api/2/search"})
	var hostErr x509.HostnameError
	if err == nil || !errors.As(err, &hostErr) {
		t.Fatalf("err = %v, want an x509.HostnameError", err)
	}
	if !strings.HasPrefix(err.Error(), "jira: GET /rest/api/2/search: tls: failed to verify certificate: x509: certificate is valid for ") ||
		!strings.HasSuffix(err.Error(), "not jira.wrong-host.test") {
		t.Errorf("err = %q, want the call, then the certificate's names and the host asked for", err)
	}
	if c.Requests() != 1 || len(sl.all()) != 0 {
		t.Errorf("%d requests, %d backoffs; a certificate error is not retried", c.Requests(), len(sl.all()))
	}
	if served.Load() != 0 {
		t.Errorf("%d requests reached the server", served.Load())
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error text holds the token")
	}

	// The same server under the name its certificate carries answers: the
	// failure above was the name, nothing else.
	c, err = New(Config{Vendor: "jira", BaseURL: "https://example.com", Transport: tr, Auth: Bearer(secret), Sleep: sl.sleep})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(context.Background(), Request{Path: "/rest/api/2/search"}); err != nil {
		t.Errorf("the right host name: %v", err)
	}
}
