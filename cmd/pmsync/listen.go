package main

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors/httpapi"
	"github.com/pmsync/pmsync/web"
)

// listenDashboard opens the dashboard's listener and says which scheme it
// serves: HTTPS when http.tls names a certificate and key (read again when
// they change), else plain HTTP, with a warning when the address reaches
// beyond this machine, where the bearer token would cross the network in
// clear text.
func listenDashboard(cfg *config.Config, log zerolog.Logger) (net.Listener, string, error) {
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return nil, "", fmt.Errorf("listen on %s: %w", cfg.HTTP.Listen, err)
	}
	if t := cfg.HTTP.TLS; t.Enabled() {
		certs, err := web.NewCertReloader(t.CertFile, t.KeyFile, log)
		if err != nil {
			_ = ln.Close()
			return nil, "", err
		}
		return tls.NewListener(ln, certs.Config()), "https", nil
	}
	if host, _, err := net.SplitHostPort(cfg.HTTP.Listen); err == nil && !httpapi.IsLoopback(host) {
		log.Warn().Str("listen", ln.Addr().String()).
			Msg("the dashboard serves plain HTTP beyond loopback: its bearer token travels in clear text unless a TLS proxy is in front (or set http.tls)")
	}
	return ln, "http", nil
}
