package all_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/pki"
)

// errFirstPage ends a pull after its first page.
var errFirstPage = errors.New("first page read")

// TestEveryKindVerifiesTLS puts each kind's simulator behind HTTPS with a
// certificate from a private CA, as an on-premises server would be. Without
// tls.ca_file the connector refuses the server before any request reaches
// it; with the CA named in tls.ca_file it pulls a page. Every registered
// kind is covered, so a connector that builds its own transport cannot
// drop the CA bundle or the verification.
func TestEveryKindVerifiesTLS(t *testing.T) {
	ca, err := pki.NewCA("hospital private root")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile := filepath.Join(dir, "hospital-ca.pem")
	if err := os.WriteFile(caFile, ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	origin := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
	for _, kind := range connectors.Default.Kinds() {
		ps := profiles[kind]
		if len(ps) == 0 {
			t.Errorf("connector kind %s has no contract profile in connectors/all", kind)
			continue
		}
		for _, p := range ps {
			t.Run(p.name, func(t *testing.T) {
				clk := sandbox.NewClock(t0)
				conn, scope, env, _ := p.start(t, clk, 20)
				plain := origin.FindString(conn)
				if plain == "" {
					t.Fatalf("no loopback base URL in the profile's connection:\n%s", conn)
				}
				target, _ := url.Parse(plain)
				var hits atomic.Int64
				proxy := httputil.NewSingleHostReverseProxy(target)
				srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					hits.Add(1)
					proxy.ServeHTTP(w, r)
				}))
				srv.Config.ErrorLog = log.New(io.Discard, "", 0)
				srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.Cert}}
				srv.StartTLS()
				defer srv.Close()
				secure := strings.Replace(conn, plain, srv.URL, 1)

				pull := func(t *testing.T, extra string) (int, error) {
					t.Helper()
					c, scope := buildFrom(t, kind, secure+extra, scope, env)
					records := 0
					err := c.Pull(context.Background(), scope, "", func(pg connectors.Page) error {
						records += len(pg.Records)
						return errFirstPage
					})
					if errors.Is(err, errFirstPage) {
						err = nil
					}
					return records, err
				}

				_, err := pull(t, "")
				var certErr *tls.CertificateVerificationError
				if !errors.As(err, &certErr) {
					t.Errorf("without tls.ca_file: err = %v, want a certificate verification error", err)
				}
				if hits.Load() != 0 {
					t.Errorf("without tls.ca_file the server was sent %d requests", hits.Load())
				}

				n, err := pull(t, "\ntls: { ca_file: "+caFile+" }")
				if err != nil || n == 0 {
					t.Errorf("with tls.ca_file: %d records, %v; want a page", n, err)
				}
			})
		}
	}
}

// buildFrom builds a connector of kind through config from a connection's
// YAML lines, a scope and the secrets they name.
func buildFrom(t *testing.T, kind, conn, scope string, env map[string]string) (connectors.Connector, connectors.Scope) {
	t.Helper()
	text := fmt.Sprintf(`connections:
  - name: tls
    kind: %s
%s
    rate_limit: { per_minute: 600000, burst: 1000 }
programs:
  - id: tls
    sources:
      - { name: tls/src, connection: tls, scope: %s }
`, kind, indent(conn, "    "), scope)
	cfg, err := config.Parse("tls.yaml", []byte(text), connectors.Default, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatalf("config for %s does not load:\n%s\n%v", kind, text, err)
	}
	params, err := cfg.Params("tls")
	if err != nil {
		t.Fatal(err)
	}
	params.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	c, err := cfg.Registry().New(params)
	if err != nil {
		t.Fatalf("build %s connector: %v", kind, err)
	}
	return c, cfg.Sources()[0].Scope
}
