package config

import (
	"crypto/tls"
	"crypto/x509"
	"os"
)

// caBundle reads a PEM bundle of certificate authorities for a
// connection. A file that holds no certificate is a problem: trusting
// nothing would fail every request with a less helpful message.
func (l *loader) caBundle(path, file string) *x509.CertPool {
	data, err := os.ReadFile(file)
	if err != nil {
		l.problem(path, "read CA bundle: %v", err)
		return nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		l.problem(path, "%s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", file)
		return nil
	}
	return pool
}

// checkServerTLS checks the dashboard's certificate and key: both given or
// neither, and a pair that loads. The key is a secret, so a command that
// reads no secrets leaves the pair unread; the error never quotes the
// files' content.
func (l *loader) checkServerTLS(cfg *Config) {
	t := &cfg.HTTP.TLS
	switch {
	case t.CertFile == "" && t.KeyFile == "":
		return
	case t.CertFile == "":
		l.problem("http.tls", "key_file is set without cert_file: give both")
		return
	case t.KeyFile == "":
		l.problem("http.tls", "cert_file is set without key_file: give both")
		return
	}
	t.CertFile = l.path("http.tls.cert_file", t.CertFile)
	t.KeyFile = l.path("http.tls.key_file", t.KeyFile)
	if l.noSecrets {
		return
	}
	for _, f := range []struct{ key, name string }{{"http.tls.cert_file", t.CertFile}, {"http.tls.key_file", t.KeyFile}} {
		if _, err := os.Stat(f.name); err != nil {
			l.problem(f.key, "%v", err)
			return
		}
	}
	if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
		l.problem("http.tls", "cert_file and key_file do not load as a certificate and its key: %v", err)
	}
}
