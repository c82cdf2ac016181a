package engine_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/jirasim"
	"github.com/pmsync/pmsync/store/sqlite"
)

// silentServer accepts connections and reads requests but never answers.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}

// trickle serves next, but sends the body of every search answer a byte
// at a time, a second apart.
type trickle struct{ next http.Handler }

func (h trickle) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.Contains(r.URL.Path, "/search") {
		h.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	h.next.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	for _, b := range rec.Body.Bytes() {
		if _, err := w.Write([]byte{b}); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// resetOnce serves next, but cuts the connection with a reset halfway
// through the body of the first search answer.
type resetOnce struct {
	next http.Handler
	done atomic.Bool
}

func (h *resetOnce) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.Contains(r.URL.Path, "/search") || h.done.Swap(true) {
		h.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	h.next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	_, _ = buf.Write(body[:len(body)/2])
	_ = buf.Flush()
	_ = conn.(*net.TCPConn).SetLinger(0) // Close sends RST
	_ = conn.Close()
}

// Slow and broken transport end to end: one sync over five connections — a
// server that never answers, one that answers a byte a second, one that
// resets the connection mid-body once, a TLS server whose certificate names
// another host, and a healthy one. Each broken one ends in its documented
// timeout or error and is recorded as a failed run with that error; the
// reset is retried and the sync completes; the healthy source is unharmed.
func TestBrokenTransportEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out attempt timeouts")
	}
	ctx := context.Background()
	clk := sandbox.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	newSim := func(wrap func(http.Handler) http.Handler) (*jirasim.Server, *httptest.Server) {
		sim := jirasim.New(jirasim.Options{Flavor: jirasim.Cloud, Email: testEmail, Token: testToken, Now: clk.Now, MaxResults: 25})
		seed(sim, 60, clk.Now())
		srv := httptest.NewUnstartedServer(wrap(sim))
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		return sim, srv
	}
	plain := func(h http.Handler) http.Handler { return h }
	_, healthy := newSim(plain)
	healthy.Start()
	_, slow := newSim(func(h http.Handler) http.Handler { return trickle{h} })
	slow.Start()
	_, flaky := newSim(func(h http.Handler) http.Handler { return &resetOnce{next: h} })
	flaky.Start()
	_, secure := newSim(plain)
	secure.StartTLS()
	for _, s := range []*httptest.Server{healthy, slow, flaky, secure} {
		t.Cleanup(s.Close)
	}
	// Every connection trusts the TLS server's CA, and the wrong host name
	// dials it: only the name check can fail.
	pool := x509.NewCertPool()
	pool.AddCert(secure.Certificate())
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr == "jira.wrong-host.test:443" {
				addr = secure.Listener.Addr().String()
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)

	dir := t.TempDir()
	body := fmt.Sprintf(`database: %s
timezone: UTC
sync: { workers: 5 }
connections:
  - { name: silent, kind: jira, base_url: %s, flavor: cloud, timeout: 300ms, auth: { email_env: JIRA_EMAIL, token_env: JIRA_TOKEN } }
  - { name: trickle, kind: jira, base_url: %s, flavor: cloud, timeout: 500ms, auth: { email_env: JIRA_EMAIL, token_env: JIRA_TOKEN } }
  - { name: reset, kind: jira, base_url: %s, flavor: cloud, auth: { email_env: JIRA_EMAIL, token_env: JIRA_TOKEN } }
  - { name: wronghost, kind: jira, base_url: https://jira.wrong-host.test, flavor: cloud, auth: { email_env: JIRA_EMAIL, token_env: JIRA_TOKEN } }
  - { name: healthy, kind: jira, base_url: %s, flavor: cloud, auth: { email_env: JIRA_EMAIL, token_env: JIRA_TOKEN } }
programs:
  - id: ehr
    sources:
      - { name: silent, connection: silent, scope: { project: EHR } }
      - { name: trickle, connection: trickle, scope: { project: EHR } }
      - { name: reset, connection: reset, scope: { project: EHR } }
      - { name: wronghost, connection: wronghost, scope: { project: EHR } }
      - { name: healthy, connection: healthy, scope: { project: EHR } }
`, filepath.Join(dir, "pmsync.db"), silentServer(t), slow.URL, flaky.URL, healthy.URL)
	path := filepath.Join(dir, "pmsync.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"JIRA_EMAIL": testEmail, "JIRA_TOKEN": testToken}
	cfg, err := config.Load(path, connectors.Default, func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var backoffs atomic.Int64
	eng, err := engine.New(cfg, db, engine.Options{Log: zerolog.Nop(), Now: clk.Now, Transport: tr,
		Sleep: func(ctx context.Context, d time.Duration) error { backoffs.Add(1); return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	results, err := eng.Sync(ctx, engine.SyncOptions{})
	took := time.Since(start)
	if err == nil {
		t.Fatal("sync reported no error")
	}
	t.Logf("sync took %s: %v", took, err)
	got := map[string]engine.SourceResult{}
	for _, r := range results {
		got[r.Source] = r
	}
	// The first request of a Jira sync reads the field list; that is the
	// call the broken servers break.
	for _, want := range []struct {
		source, status, err string
		requests            int64
	}{
		{"silent", "failed", "/field: attempt timed out after 300ms (after 6 attempts)", 6},
		{"trickle", "failed", "jira: POST /rest/api/3/search/jql: attempt timed out after 500ms (after 6 attempts)", 6},
		{"reset", "ok", "", 0},
		{"wronghost", "failed", "/field: tls: failed to verify certificate: x509: certificate is valid for ", 1},
		{"healthy", "ok", "", 0},
	} {
		r := got[want.source]
		t.Logf("%-9s %-6s %2d requests  %v", want.source, r.Status, r.Requests, r.Err)
		if r.Status != want.status {
			t.Errorf("source %s: status %s (%v), want %s", want.source, r.Status, r.Err, want.status)
		}
		if want.err != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), want.err)) {
			t.Errorf("source %s: error %v, want it to contain %q", want.source, r.Err, want.err)
		}
		if want.requests > 0 && r.Requests < want.requests {
			t.Errorf("source %s: %d requests, want at least %d", want.source, r.Requests, want.requests)
		}
		// Every attempt is recorded as a run, with its error.
		runs, err := db.Runs(ctx, want.source, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 1 || runs[0].Status != want.status || (want.err != "" && !strings.Contains(runs[0].Error, want.err)) {
			t.Errorf("source %s: runs %+v, want one %s run with its error", want.source, runs, want.status)
		}
		if r.Status == "ok" {
			if live, _, err := db.CountItems(ctx, want.source); err != nil || live != 60 {
				t.Errorf("source %s: %d items stored (%v), want all 60", want.source, live, err)
			}
		}
	}
	if r := got["reset"]; r.Requests != got["healthy"].Requests+1 {
		t.Errorf("the reset source sent %d requests, the healthy one %d: want exactly one retry", r.Requests, got["healthy"].Requests)
	}
	if r := got["wronghost"]; r.Requests != 1 {
		t.Errorf("a certificate for the wrong host was tried %d times, want once", r.Requests)
	}
	if _, lastErr, err := db.LastSuccess(ctx, "silent"); err != nil || !strings.Contains(lastErr, "attempt timed out") {
		t.Errorf("LastSuccess of silent: error %q (%v), want the timeout", lastErr, err)
	}
	// Run concurrently, the sync lasts as long as its slowest source: the
	// byte-a-second one, which gives up after 0.5 s per attempt, not after
	// the whole body.
	if took > 15*time.Second {
		t.Errorf("sync took %s", took)
	}

}
