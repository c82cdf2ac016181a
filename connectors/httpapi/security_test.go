package httpapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/pmsync/pmsync/sandbox/pki"
)

// quietTLSServer is an HTTPS test server whose certificate no system
// trusts (httptest's own, self-signed), with its handshake complaints kept
// out of the test output.
func quietTLSServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func certPool(srv *httptest.Server) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return pool
}

// TestSelfSignedServerIsRefused: a server whose certificate the client
// cannot verify gets no request (the handshake fails first), the error says
// why, and it is not retried; trusting the server's CA explicitly works.
func TestSelfSignedServerIsRefused(t *testing.T) {
	var hits atomic.Int64
	srv := quietTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	var waits sleeps
	c := newTestClient(t, srv.URL, Config{Auth: Bearer("tls-test-token"), Sleep: waits.sleep})
	_, err := c.Do(context.Background(), Request{Path: "/rest/api/2/myself"})
	var certErr *tls.CertificateVerificationError
	if !errors.As(err, &certErr) {
		t.Fatalf("err = %v, want a certificate verification error", err)
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("err = %q does not say it is about the certificate", err)
	}
	if hits.Load() != 0 || len(waits.all()) != 0 || c.Requests() != 1 {
		t.Errorf("server hits %d, waits %v, requests %d: want one attempt that never reached the handler", hits.Load(), waits.all(), c.Requests())
	}

	trusted := newTestClient(t, srv.URL, Config{Auth: Bearer("tls-test-token"), RootCAs: certPool(srv)})
	resp, err := trusted.Do(context.Background(), Request{Path: "/rest/api/2/myself"})
	if err != nil || string(resp.Body) != `{"ok":true}` {
		t.Fatalf("with the server's CA: %v, %v", resp, err)
	}
}

// TestCABundleReplacesTheSystemRoots: a client given a CA bundle trusts
// those authorities only, so a server another CA certified is refused.
func TestCABundleReplacesTheSystemRoots(t *testing.T) {
	mine, err := pki.NewCA("hospital root")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := pki.NewCA("another root")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := theirs.Issue("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.Cert}}
	srv.StartTLS()
	defer srv.Close()
	c := newTestClient(t, srv.URL, Config{RootCAs: mine.Pool(), MaxRetries: -1})
	_, err = c.Do(context.Background(), Request{Path: "/"})
	var certErr *tls.CertificateVerificationError
	if !errors.As(err, &certErr) {
		t.Fatalf("server of another CA: err = %v, want a certificate verification error", err)
	}
	ok := newTestClient(t, srv.URL, Config{RootCAs: theirs.Pool()})
	if _, err := ok.Do(context.Background(), Request{Path: "/"}); err != nil {
		t.Errorf("server of the trusted CA: %v", err)
	}
}

func TestTransportThatSkipsVerificationIsRefused(t *testing.T) {
	insecure := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	if _, err := New(Config{Vendor: "jira", BaseURL: "https://jira.example.org", Transport: insecure}); err == nil ||
		!strings.Contains(err.Error(), "verification") {
		t.Errorf("New with InsecureSkipVerify = %v, want it refused", err)
	}
	if _, err := SecureTransport(insecure, nil); err == nil {
		t.Error("SecureTransport accepted a transport that skips verification")
	}
	wrapped := roundTripFunc(func(r *http.Request) (*http.Response, error) { return nil, errors.New("unused") })
	if _, err := SecureTransport(wrapped, x509.NewCertPool()); err == nil {
		t.Error("SecureTransport put a CA bundle on a transport it cannot configure")
	}
	// The caller's transport is cloned, not changed.
	base := &http.Transport{}
	got, err := SecureTransport(base, x509.NewCertPool())
	if err != nil || got == http.RoundTripper(base) || (base.TLSClientConfig != nil && base.TLSClientConfig.RootCAs != nil) {
		t.Errorf("SecureTransport changed the caller's transport (%v)", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestRedirectsNeverCarryCredentialsElsewhere runs every credential kind
// through redirects to another host (another port of this machine, which
// is another origin) with each redirect status: the other host is never
// called, so no form of the credential reaches it, and the same host
// keeps working.
func TestRedirectsNeverCarryCredentialsElsewhere(t *testing.T) {
	auths := []struct {
		name    string
		auth    Auth
		secrets []string
	}{
		{"basic", Basic("pmo@example.org", "basic-secret-41"), []string{"basic-secret-41"}},
		{"bearer", Bearer("bearer-secret-42"), []string{"bearer-secret-42"}},
		{"key and token", TrelloKeyToken("key-secret-43", "token-secret-44"), []string{"key-secret-43", "token-secret-44"}},
	}
	var (
		mu   sync.Mutex
		seen []string // everything the other host received
	)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.URL.String(), string(body))
		for k, vs := range r.Header {
			seen = append(seen, k+": "+strings.Join(vs, ","))
		}
		mu.Unlock()
	}))
	defer other.Close()
	for _, a := range auths {
		for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
			t.Run(a.name+"/"+http.StatusText(status), func(t *testing.T) {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					switch r.URL.Path {
					case "/away":
						w.Header().Set("Location", other.URL+"/collect")
						w.WriteHeader(status)
					case "/moved":
						w.Header().Set("Location", "/here")
						w.WriteHeader(status)
					case "/here":
						_, _ = io.WriteString(w, r.Header.Get("Authorization"))
					}
				}))
				defer srv.Close()
				c := newTestClient(t, srv.URL, Config{Auth: a.auth, MaxRetries: -1})
				for _, method := range []string{http.MethodGet, http.MethodPost} {
					_, err := c.Do(context.Background(), Request{Method: method, Path: "/away", JSON: map[string]string{"rollup": "v1"}, Idempotent: true})
					if !errors.Is(err, errRedirectRefused) {
						t.Errorf("%s redirected to another host: err = %v, want it refused", method, err)
					}
					for _, s := range a.secrets {
						if err != nil && strings.Contains(err.Error(), s) {
							t.Errorf("the error names the credential: %v", err)
						}
					}
				}
				resp, err := c.Do(context.Background(), Request{Path: "/moved"})
				if err != nil || !strings.Contains(string(resp.Body), " ") {
					t.Errorf("same-host redirect = %v, %v; want it followed with the credential", resp, err)
				}
			})
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) > 0 {
		t.Errorf("the other host was called:\n%s", strings.Join(seen, "\n"))
	}
}

// TestRedirectToPlainHTTPIsRefused: a server that sends the client from
// https to http on the same host name would put the credential on the wire
// in clear text.
func TestRedirectToPlainHTTPIsRefused(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("the plain-HTTP server was called")
	}))
	defer plain.Close()
	srv := quietTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Same host and port text, other scheme.
		http.Redirect(w, r, "http://"+r.Host+"/x", http.StatusFound)
	}))
	c := newTestClient(t, srv.URL, Config{Auth: Bearer("scheme-secret-45"), RootCAs: certPool(srv), MaxRetries: -1})
	if _, err := c.Do(context.Background(), Request{Path: "/"}); !errors.Is(err, errRedirectRefused) {
		t.Errorf("https → http redirect: err = %v, want it refused", err)
	}
}
