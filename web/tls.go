package web

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"

	"github.com/rs/zerolog"
)

// CertReloader serves the dashboard's certificate and key from their PEM
// files and reads them again when either changes on disk, so that a
// renewed certificate (certbot, cert-manager, an operator's copy) is served
// without a restart. A pair that does not load (the key not written yet,
// a typo) leaves the previous certificate in service and is tried again
// once the files change again.
type CertReloader struct {
	certFile, keyFile string
	log               zerolog.Logger

	mu     sync.Mutex
	cert   *tls.Certificate
	loaded stamp // the files' state when cert was read
	failed stamp // the files' state that last failed to load
}

// stamp is what tells a file apart from its previous version: size and
// modification time of both files (a rename over the old file, as
// cert-manager does, changes them too).
type stamp struct {
	certSize, keySize int64
	certMod, keyMod   int64 // UnixNano
}

// NewCertReloader reads the pair once; it fails if it does not load.
func NewCertReloader(certFile, keyFile string, log zerolog.Logger) (*CertReloader, error) {
	r := &CertReloader{certFile: certFile, keyFile: keyFile, log: log}
	st, err := r.stat()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load dashboard certificate %s and key %s: %w", certFile, keyFile, err)
	}
	r.cert, r.loaded = &cert, st
	return r, nil
}

func (r *CertReloader) stat() (stamp, error) {
	c, err := os.Stat(r.certFile)
	if err != nil {
		return stamp{}, fmt.Errorf("dashboard certificate: %w", err)
	}
	k, err := os.Stat(r.keyFile)
	if err != nil {
		return stamp{}, fmt.Errorf("dashboard key: %w", err)
	}
	return stamp{certSize: c.Size(), keySize: k.Size(), certMod: c.ModTime().UnixNano(), keyMod: k.ModTime().UnixNano()}, nil
}

// GetCertificate is tls.Config.GetCertificate: the current certificate,
// read again first when its files have changed. Only a new connection's
// handshake calls it, so the check costs two stat calls per connection.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := r.stat()
	switch {
	case err != nil:
		// A file replaced by rename is briefly missing: keep serving.
		r.log.Warn().Str("err", err.Error()).Msg("dashboard certificate files unreadable; serving the loaded one")
		return r.cert, nil
	case st == r.loaded || st == r.failed:
		return r.cert, nil
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		r.failed = st
		r.log.Warn().Str("err", err.Error()).Msg("changed dashboard certificate does not load; serving the previous one")
		return r.cert, nil
	}
	r.cert, r.loaded, r.failed = &cert, st, stamp{}
	r.log.Info().Str("cert_file", r.certFile).Msg("dashboard certificate reloaded")
	return r.cert, nil
}

// Config returns a server TLS configuration serving r's certificate:
// TLS 1.2 at least, Go's default cipher suites.
func (r *CertReloader) Config() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}
