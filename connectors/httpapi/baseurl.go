package httpapi

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// Base URL problems. Their text never includes the URL, which could carry
// credentials.
var (
	ErrBaseURLNotAbsolute = errors.New("must be an absolute URL such as https://example.atlassian.net")
	ErrBaseURLCredentials = errors.New("must not contain credentials; use auth")
	ErrBaseURLQuery       = errors.New("must not have a query or fragment")
	ErrBaseURLPlainHTTP   = errors.New("must use https (http is allowed for loopback hosts only)")
	ErrBaseURLScheme      = errors.New("must use https")
)

// CheckBaseURL is the one rule every base URL follows, in config validation
// and in every connector: absolute, https (or http to a loopback host, for
// simulators and tests), no credentials, no query or fragment.
func CheckBaseURL(raw string) error {
	_, err := parseBase(raw)
	return err
}

// parseBase applies CheckBaseURL's rule and returns the URL without a
// trailing slash on its path.
func parseBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Scheme == "" || u.Opaque != "":
		return nil, ErrBaseURLNotAbsolute
	case u.User != nil:
		return nil, ErrBaseURLCredentials
	case u.Scheme == "http" && !IsLoopback(u.Hostname()):
		return nil, ErrBaseURLPlainHTTP
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, ErrBaseURLScheme
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, ErrBaseURLQuery
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

// IsLoopback reports whether host (a name or an address, without port)
// only reaches this machine: "localhost" or a loopback address. An empty
// host, as in ":8080", listens everywhere and is not loopback.
func IsLoopback(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
