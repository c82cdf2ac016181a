package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync/sandbox/pki"
)

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

const tlsBody = `connections:
  - name: jira
    kind: cfgtest-jira
    base_url: https://jira.hospital.example
    auth: { token_env: JIRA_API_TOKEN }
    tls: { ca_file: %CA% }
programs:
  - id: ehr
    sources:
      - { connection: jira, scope: { jql: "project = EHR" } }
`

func TestConnectionCABundle(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("hospital root")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "ca.pem"), ca.PEM())
	writeFile(t, filepath.Join(dir, "not-pem.txt"), []byte("hello"))
	load := func(caFile string) (*Config, error) {
		path := filepath.Join(dir, "pmsync.yaml")
		writeFile(t, path, []byte(strings.Replace(tlsBody, "%CA%", caFile, 1)))
		return Load(path, testRegistry(), lookup(testEnv()))
	}

	// A relative path is read from the config file's directory.
	cfg, err := load("ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Connections[0].TLS.CAFile; got != filepath.Join(dir, "ca.pem") {
		t.Errorf("TLS.CAFile = %q, want it resolved against the file's directory", got)
	}
	p, err := cfg.Params("jira")
	if err != nil {
		t.Fatal(err)
	}
	if p.RootCAs == nil || !p.RootCAs.Equal(ca.Pool()) {
		t.Error("Params.RootCAs does not hold the bundle's CA")
	}

	for _, tt := range []struct{ file, want string }{
		{"missing.pem", "pmsync.yaml:6: connections[0].tls.ca_file: read CA bundle: open " + filepath.Join(dir, "missing.pem") + ": no such file or directory"},
		{"not-pem.txt", "pmsync.yaml:6: connections[0].tls.ca_file: " + filepath.Join(dir, "not-pem.txt") + " holds no PEM certificate (-----BEGIN CERTIFICATE-----)"},
	} {
		_, err := load(tt.file)
		got := problemsOf(t, err)
		if len(got) != 1 || !strings.HasSuffix(got[0], tt.want) {
			t.Errorf("ca_file %s: problems %q, want one ending %q", tt.file, got, tt.want)
		}
	}
}

func TestServerTLS(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("dashboard root")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue("pmsync.hospital.example")
	if err != nil {
		t.Fatal(err)
	}
	other, err := ca.Issue("other.hospital.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.WriteFiles(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "other-key.pem"), other.KeyPEM)
	body := func(tlsBlock string) string {
		return `http:
  listen: 0.0.0.0:8443
  auth_token_env: PMSYNC_HTTP_TOKEN
  tls: ` + tlsBlock + `
connections:
  - { name: jira, kind: cfgtest-jira, base_url: https://acme.atlassian.net, auth: { token_env: JIRA_API_TOKEN } }
programs:
  - id: ehr
    sources:
      - { connection: jira, scope: { jql: "project = EHR" } }
`
	}
	load := func(block string, opts ...Option) (*Config, error) {
		path := filepath.Join(dir, "pmsync.yaml")
		writeFile(t, path, []byte(body(block)))
		return Load(path, testRegistry(), lookup(testEnv()), opts...)
	}
	cfg, err := load("{ cert_file: cert.pem, key_file: key.pem }")
	if err != nil {
		t.Fatal(err)
	}
	want := ServerTLS{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")}
	if diff := cmp.Diff(want, cfg.HTTP.TLS); diff != "" || !cfg.HTTP.TLS.Enabled() {
		t.Errorf("HTTP.TLS (-want +got):\n%s", diff)
	}
	// pmsync config shows where the dashboard's certificate is read from.
	shown := map[string]string{}
	for _, st := range cfg.Settings() {
		shown[st.Key] = st.Value
	}
	if shown["http.tls.cert_file"] != want.CertFile || shown["http.tls.key_file"] != want.KeyFile || shown["audit.keep_payloads"] != "false" {
		t.Errorf("effective settings lack the TLS files or the audit: %v", shown)
	}

	for _, tt := range []struct{ block, want string }{
		{"{ cert_file: cert.pem }", "pmsync.yaml:4: http.tls: cert_file is set without key_file: give both"},
		{"{ key_file: key.pem }", "pmsync.yaml:4: http.tls: key_file is set without cert_file: give both"},
		{"{ cert_file: nope.pem, key_file: key.pem }", "pmsync.yaml:4: http.tls.cert_file: stat " + filepath.Join(dir, "nope.pem") + ": no such file or directory"},
		{"{ cert_file: cert.pem, key_file: other-key.pem }", "pmsync.yaml:4: http.tls: cert_file and key_file do not load as a certificate and its key: tls: private key does not match public key"},
		{"{ cert_file: cert.pem, key_file: key.pem, ca_file: x }", "pmsync.yaml:4: http.tls.ca_file: unknown key"},
	} {
		_, err := load(tt.block)
		got := problemsOf(t, err)
		if len(got) != 1 || !strings.HasSuffix(got[0], tt.want) && !strings.Contains(got[0], tt.want) {
			t.Errorf("tls %s: problems %q, want one with %q", tt.block, got, tt.want)
		}
		for _, p := range got {
			if strings.Contains(p, "PRIVATE KEY") {
				t.Errorf("a problem quotes the key: %s", p)
			}
		}
	}
	// A command that reads no secrets does not read the key.
	if _, err := load("{ cert_file: cert.pem, key_file: other-key.pem }", WithoutSecrets()); err != nil {
		t.Errorf("WithoutSecrets read the key pair: %v", err)
	}
}
