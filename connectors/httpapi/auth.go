package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
)

// Auth decorates outgoing requests with a credential. Implementations wrap a
// RoundTripper, the way golang.org/x/oauth2 does, so the credential is added
// on the wire and never travels through request-building code.
type Auth interface {
	// RoundTripper returns next wrapped so that every request carries the
	// credential.
	RoundTripper(next http.RoundTripper) http.RoundTripper
	// Secrets lists every form in which the credential can appear in text
	// (the raw values and the encoded header value), for scrubbing.
	Secrets() []string
	// Fingerprint is a stable, non-reversible id of the credential, used to
	// key the shared rate limiter so that clients holding the same token
	// share one bucket.
	Fingerprint() string
}

// Basic returns HTTP Basic authentication, as Jira Cloud uses it with an
// account email and an API token.
func Basic(user, password string) Auth {
	return basicAuth{user: user, password: password}
}

// Bearer returns "Authorization: Bearer" authentication: Jira Data Center
// personal access tokens, Asana personal access tokens, Smartsheet tokens.
func Bearer(token string) Auth {
	return headerAuth{kind: "bearer", value: "Bearer " + token, secrets: []string{token}}
}

// TrelloKeyToken returns Trello's header form of key and token
// authentication. The header keeps both out of URLs, where proxies and
// access logs would record them.
func TrelloKeyToken(key, token string) Auth {
	return headerAuth{
		kind:    "trello",
		value:   `OAuth oauth_consumer_key="` + key + `", oauth_token="` + token + `"`,
		secrets: []string{key, token},
	}
}

type basicAuth struct {
	user, password string
}

func (a basicAuth) RoundTripper(next http.RoundTripper) http.RoundTripper {
	return authTransport{next: next, set: func(h http.Header) {
		h.Set("Authorization", "Basic "+a.encoded())
	}}
}

// encoded is the header value after "Basic ", which an echoing server or
// proxy would show instead of the raw password.
func (a basicAuth) encoded() string {
	return base64.StdEncoding.EncodeToString([]byte(a.user + ":" + a.password))
}

func (a basicAuth) Secrets() []string { return []string{a.password, a.encoded()} }

func (a basicAuth) Fingerprint() string { return fingerprint("basic", a.user, a.password) }

type headerAuth struct {
	kind    string
	value   string
	secrets []string
}

func (a headerAuth) RoundTripper(next http.RoundTripper) http.RoundTripper {
	return authTransport{next: next, set: func(h http.Header) { h.Set("Authorization", a.value) }}
}

func (a headerAuth) Secrets() []string { return append([]string(nil), a.secrets...) }

func (a headerAuth) Fingerprint() string { return fingerprint(a.kind, a.secrets...) }

// authTransport adds the credential to a clone of each request, because a
// RoundTripper must not modify the request it is given.
type authTransport struct {
	next http.RoundTripper
	set  func(http.Header)
}

func (t authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	t.set(r.Header)
	return t.next.RoundTrip(r)
}

// fingerprint hashes the kind and the parts with separators so that
// different splits of the same bytes give different ids; 16 hex digits keep
// collisions out of reach for the handful of credentials one daemon holds.
func fingerprint(kind string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(kind))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
