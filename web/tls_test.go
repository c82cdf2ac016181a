package web

import (
	"bytes"
	"crypto/tls"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync/sandbox/pki"
)

// TestCertificateIsReloadedWhenItsFilesChange serves HTTPS from a
// CertReloader and replaces the files under it: a renewed pair is served
// from the next connection on; a pair that does not load (the certificate
// written, its key not yet) keeps the previous one in service.
func TestCertificateIsReloadedWhenItsFilesChange(t *testing.T) {
	ca, err := pki.NewCA("dashboard root")
	if err != nil {
		t.Fatal(err)
	}
	issue := func() *pki.Leaf {
		t.Helper()
		l, err := ca.Issue("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	// Each write gets a later modification time, as a renewal days later
	// would, whatever the file system's timestamp resolution.
	mtime := time.Now().Add(-time.Hour)
	write := func(file string, data []byte) {
		t.Helper()
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		mtime = mtime.Add(time.Minute)
		if err := os.Chtimes(file, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	first := issue()
	write(certFile, first.CertPEM)
	write(keyFile, first.KeyPEM)

	var logs bytes.Buffer
	r, err := NewCertReloader(certFile, keyFile, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }),
		ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(tls.NewListener(ln, r.Config())) }()
	defer srv.Close()

	served := func() *big.Int {
		t.Helper()
		// A new transport per call: each request is a new handshake.
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}, Timeout: 5 * time.Second}
		defer c.CloseIdleConnections()
		resp, err := c.Get("https://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatalf("GET over TLS: %v", err)
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber
	}
	if got := served(); got.Cmp(first.Serial) != 0 {
		t.Fatalf("serves serial %v, want the first certificate's %v", got, first.Serial)
	}

	second := issue()
	write(certFile, second.CertPEM)
	write(keyFile, second.KeyPEM)
	if got := served(); got.Cmp(second.Serial) != 0 {
		t.Errorf("after renewal: serves serial %v, want the renewed %v", got, second.Serial)
	}
	if !strings.Contains(logs.String(), "dashboard certificate reloaded") {
		t.Errorf("no log line says the certificate was reloaded:\n%s", logs.String())
	}

	third := issue()
	write(certFile, third.CertPEM) // its key is not written yet
	if got := served(); got.Cmp(second.Serial) != 0 {
		t.Errorf("with a half-written pair: serves serial %v, want the previous %v", got, second.Serial)
	}
	if !strings.Contains(logs.String(), "does not load") {
		t.Errorf("no warning about the pair that does not load:\n%s", logs.String())
	}
	write(keyFile, third.KeyPEM)
	if got := served(); got.Cmp(third.Serial) != 0 {
		t.Errorf("once the key is written: serves serial %v, want %v", got, third.Serial)
	}
	if strings.Contains(logs.String(), "PRIVATE KEY") {
		t.Error("the log quotes a key")
	}
}

func TestCertReloaderNeedsAPairThatLoads(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewCertReloader(filepath.Join(dir, "none.pem"), filepath.Join(dir, "none.key"), zerolog.Nop()); err == nil {
		t.Error("missing files were accepted")
	}
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewCertReloader(bad, bad, zerolog.Nop()); err == nil {
		t.Error("a file that is no certificate was accepted")
	}
}
