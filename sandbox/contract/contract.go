// Package contract checks a simulator against its vendor's published
// OpenAPI document: Wrap puts a Validator in front of an http.Handler, and
// every request and response that passes through is validated with
// kin-openapi (parameters, bodies, statuses, security), each mismatch kept
// as a Violation. A test drives the simulator through the calls a connector
// makes and requires no violation, so a simulator and a connector written by
// the same hands cannot agree on a misreading of the vendor unnoticed.
//
// Vendor documents are sometimes wrong or silent. A test says so with an
// amendment on the Spec (Patch, Format, Outside, Status, Strip, Rewrite,
// Auth), each carrying the vendor documentation that decides the point;
// Amendments lists them so that a test log shows every place the contract
// was not taken as written.
//
// The vendors' documents run to megabytes; Trim cuts one to the paths a
// connector uses, and testdata/ holds those cuts (see copies_test.go for
// how to add a path and refresh them).
package contract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// Spec is a loaded OpenAPI document plus the amendments a test declared.
// Amend it before the first Wrap; it is not safe to amend concurrently.
type Spec struct {
	name    string
	doc     *openapi3.T
	router  routers.Router
	formats map[string]openapi3.StringFormatValidator

	amendments []string
	outside    []outside
	statuses   map[int]bool
	rewrites   []rewrite
	auth       openapi3filter.AuthenticationFunc
}

type rewrite struct {
	from, to string
}

type outside struct {
	method, pattern string
}

// Load reads an OpenAPI 3 document (JSON or YAML) and prepares it to route
// requests by path alone: the document's servers are replaced by base, the
// path prefix of the vendor's server URL ("" for a server at the host's
// root, "/1" for Trello's https://api.trello.com/1), so that a simulator on
// any loopback address matches.
func Load(path, base string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read contract: %w", err)
	}
	return Parse(path, data, base)
}

// Parse is Load over a document already read; name is used in messages.
func Parse(name string, data []byte, base string) (*Spec, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load contract %s: %w", name, err)
	}
	if strings.HasPrefix(doc.OpenAPI, "2") || doc.OpenAPI == "" {
		return nil, fmt.Errorf("load contract %s: openapi version %q: convert a Swagger 2.0 document with openapi2conv first", name, doc.OpenAPI)
	}
	base = "/" + strings.Trim(base, "/")
	doc.Servers = openapi3.Servers{{URL: base}}
	s := &Spec{name: name, doc: doc, formats: map[string]openapi3.StringFormatValidator{}, statuses: map[int]bool{}, auth: presentCredentials}
	if err := s.reroute(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Spec) reroute() error {
	r, err := gorillamux.NewRouter(s.doc)
	if err != nil {
		return fmt.Errorf("route contract %s: %w", s.name, err)
	}
	s.router = r
	return nil
}

// Doc returns the loaded document (servers replaced), for a test that
// reads it.
func (s *Spec) Doc() *openapi3.T { return s.doc }

// Amendments lists every place the test did not take the contract as
// written, each with the reason it gave.
func (s *Spec) Amendments() []string { return slices.Clone(s.amendments) }

func (s *Spec) amend(what, why string) error {
	if strings.TrimSpace(why) == "" {
		return fmt.Errorf("contract %s: amendment %s needs the vendor documentation that decides it", s.name, what)
	}
	s.amendments = append(s.amendments, what+": "+why)
	return nil
}

// Patch corrects the document where it is wrong: fn edits it, and the
// routes are rebuilt.
func (s *Spec) Patch(why string, fn func(doc *openapi3.T) error) error {
	if err := s.amend("patch", why); err != nil {
		return err
	}
	if err := fn(s.doc); err != nil {
		return fmt.Errorf("patch contract %s: %w", s.name, err)
	}
	return s.reroute()
}

// Format replaces the check of a string format ("date-time", …) for this
// document, for a vendor that documents its own spelling of one.
func (s *Spec) Format(name string, check func(string) error, why string) error {
	if err := s.amend("format "+name, why); err != nil {
		return err
	}
	s.formats[name] = formatFunc(check)
	s.doc.SetStringFormatValidators(s.formats)
	return nil
}

type formatFunc func(string) error

func (f formatFunc) Validate(v string) error { return f(v) }

// Outside declares requests the document does not describe (an endpoint of
// another edition of the product, say): they pass through unvalidated and
// are counted by Validator.Outside. pattern is a path whose {name} segments
// match any one segment; method "*" matches every method.
func (s *Spec) Outside(method, pattern, why string) error {
	if err := s.amend("outside "+method+" "+pattern, why); err != nil {
		return err
	}
	s.outside = append(s.outside, outside{method: method, pattern: pattern})
	return nil
}

// Status allows a response status on every operation that does not
// document it (429 where a vendor documents rate limiting once for the
// whole API). Its body is not validated.
func (s *Spec) Status(code int, why string) error {
	if err := s.amend("status "+strconv.Itoa(code), why); err != nil {
		return err
	}
	s.statuses[code] = true
	return nil
}

// Strip declares a path prefix some hosts put before the document's paths
// (a gateway's /ex/jira/{cloudId}); pattern segments in braces match any
// one segment. The rest of the path is validated.
func (s *Spec) Strip(pattern, why string) error {
	if err := s.amend("strip "+pattern, why); err != nil {
		return err
	}
	s.rewrites = append(s.rewrites, rewrite{from: pattern})
	return nil
}

// Rewrite validates requests under the path prefix from as if they were
// under to: a twin of the documented API (Jira's /rest/api/2 beside the
// documented /rest/api/3). Stripped prefixes (Strip) come off before
// rewrites apply.
func (s *Spec) Rewrite(from, to, why string) error {
	if err := s.amend("rewrite "+from+" as "+to, why); err != nil {
		return err
	}
	s.rewrites = append(s.rewrites, rewrite{from: from, to: to})
	return nil
}

// Auth replaces the credential check. By default a request must carry what
// one of the operation's security requirements names: the query parameter
// or header of an apiKey scheme, Authorization "Basic …" for http basic,
// "Bearer …" for http bearer and OAuth 2.0.
func (s *Spec) Auth(fn openapi3filter.AuthenticationFunc, why string) error {
	if err := s.amend("auth", why); err != nil {
		return err
	}
	s.auth = fn
	return nil
}

// presentCredentials checks that a request carries the credential a
// security scheme names; whether it is right is the simulator's business.
func presentCredentials(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	sc := in.SecurityScheme
	r := in.RequestValidationInput.Request
	authz := r.Header.Get("Authorization")
	ok := false
	switch sc.Type {
	case "apiKey":
		switch sc.In {
		case "query":
			ok = r.URL.Query().Get(sc.Name) != ""
		case "header":
			ok = r.Header.Get(sc.Name) != ""
		case "cookie":
			_, err := r.Cookie(sc.Name)
			ok = err == nil
		}
	case "http":
		ok = strings.HasPrefix(strings.ToLower(authz), strings.ToLower(sc.Scheme)+" ")
	case "oauth2", "openIdConnect":
		ok = strings.HasPrefix(authz, "Bearer ")
	}
	if !ok {
		return fmt.Errorf("no %s credential (%s %s)", sc.Type, sc.In, sc.Name)
	}
	return nil
}

// Violation is one mismatch between a request or response and the
// contract.
type Violation struct {
	Method string
	Path   string // as requested
	Route  string // the contract's path template; "" when none matched
	Stage  string // "route", "request" or "response"
	Status int    // the response status; 0 at the request stage
	Err    string
}

func (v Violation) String() string {
	where := v.Method + " " + v.Path
	if v.Route != "" && v.Route != v.Path {
		where += " (" + v.Route + ")"
	}
	if v.Status != 0 {
		where += " → " + strconv.Itoa(v.Status)
	}
	return v.Stage + ": " + where + ": " + v.Err
}

// Validator is an http.Handler that validates what passes through it.
type Validator struct {
	spec *Spec
	next http.Handler

	mu         sync.Mutex
	violations []Violation
	seen       map[string]int // "METHOD /template" → responses validated
	outside    map[string]int // "METHOD /pattern" → requests passed unvalidated
}

// Wrap returns a Validator in front of h.
func (s *Spec) Wrap(h http.Handler) *Validator {
	return &Validator{spec: s, next: h, seen: map[string]int{}, outside: map[string]int{}}
}

// ServeHTTP validates the request, serves it with the wrapped handler into
// a buffer, validates the response and copies it to w.
func (v *Validator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))

	rec := httptest.NewRecorder()
	v.next.ServeHTTP(rec, r)
	res := rec.Result()
	resBody := rec.Body.Bytes()

	v.check(r, body, res.StatusCode, res.Header, resBody)

	for k, vs := range res.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(resBody)
}

// check validates one exchange and records what it found.
func (v *Validator) check(r *http.Request, body []byte, status int, h http.Header, resBody []byte) {
	s := v.spec
	path := r.URL.Path
	for _, p := range s.outside {
		if (p.method == "*" || p.method == r.Method) && matchPath(p.pattern, path) {
			v.mu.Lock()
			v.outside[p.method+" "+p.pattern]++
			v.mu.Unlock()
			return
		}
	}
	req := r.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(body))
	// Stripped prefixes come off first, then twins are renamed.
	for _, strip := range []bool{true, false} {
		for _, rw := range s.rewrites {
			if (rw.to == "") != strip {
				continue
			}
			if rest, ok := stripPath(rw.from, req.URL.Path); ok {
				req.URL.Path, req.URL.RawPath = strings.TrimSuffix(rw.to, "/")+rest, ""
			}
		}
	}
	fail := func(stage, route string, status int, err error) {
		v.record(Violation{Method: r.Method, Path: path, Route: route, Stage: stage, Status: status, Err: err.Error()})
	}
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		fail("route", "", status, err)
		return
	}
	opts := &openapi3filter.Options{
		MultiError:            true,
		IncludeResponseStatus: !s.statuses[status],
		AuthenticationFunc:    s.auth,
		// Validate what was sent, not what a default would make of it.
		SkipSettingDefaults: true,
		// Document-scoped formats (Spec.Format) reach the schema checks
		// only through the options.
		SchemaValidationOptions: s.doc.GetSchemaValidationOptions(),
	}
	if s.statuses[status] && route.Operation.Responses.Status(status) == nil {
		opts.ExcludeResponseBody = true
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	ctx := context.Background()
	for _, e := range flatten(openapi3filter.ValidateRequest(ctx, in)) {
		fail("request", route.Path, 0, e)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: h, Options: opts}
	out.SetBodyBytes(resBody)
	for _, e := range flatten(openapi3filter.ValidateResponse(ctx, out)) {
		fail("response", route.Path, status, e)
	}
	v.mu.Lock()
	v.seen[r.Method+" "+route.Path]++
	v.mu.Unlock()
}

func (v *Validator) record(x Violation) {
	v.mu.Lock()
	v.violations = append(v.violations, x)
	v.mu.Unlock()
}

// flatten splits kin-openapi's multi-errors into single ones.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	var me openapi3.MultiError
	if errors.As(err, &me) {
		var out []error
		for _, e := range me {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// Violations returns what did not match the contract, in arrival order.
func (v *Validator) Violations() []Violation {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.violations)
}

// Seen returns the operations validated, "METHOD /template" → count.
func (v *Validator) Seen() map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]int, len(v.seen))
	for k, n := range v.seen {
		out[k] = n
	}
	return out
}

// Outside returns the requests passed unvalidated by a Spec.Outside
// declaration, "METHOD /pattern" → count.
func (v *Validator) Outside() map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]int, len(v.outside))
	for k, n := range v.outside {
		out[k] = n
	}
	return out
}

// Check fails t for every violation, and for every operation of want
// ("METHOD /template", or a Spec.Outside "METHOD /pattern") that no
// request exercised: a contract test that validated nothing proves
// nothing. It logs the amendments the test declared.
func (v *Validator) Check(t testing.TB, want ...string) {
	t.Helper()
	for _, a := range v.spec.amendments {
		t.Logf("contract %s amended: %s", v.spec.name, a)
	}
	vs := v.Violations()
	const shown = 40
	for i, x := range vs {
		if i == shown {
			t.Errorf("… and %d more violations", len(vs)-shown)
			break
		}
		t.Errorf("contract %s: %s", v.spec.name, x)
	}
	if missing := v.Missing(want...); len(missing) > 0 {
		seen := v.Seen()
		keys := make([]string, 0, len(seen))
		for k := range seen {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		t.Errorf("contract %s: never exercised %q (validated: %q)", v.spec.name, missing, keys)
	}
}

// Missing returns the operations of want ("METHOD /template", or a
// Spec.Outside "METHOD /pattern") that no request exercised.
func (v *Validator) Missing(want ...string) []string {
	seen, out := v.Seen(), v.Outside()
	var missing []string
	for _, w := range want {
		if seen[w] == 0 && out[w] == 0 {
			missing = append(missing, w)
		}
	}
	return missing
}

// matchPath reports whether path matches pattern segment by segment, a
// {name} segment matching any one non-empty segment.
func matchPath(pattern, path string) bool {
	rest, ok := stripPath(pattern, path)
	return ok && rest == ""
}

// stripPath cuts a prefix pattern off path at a segment boundary and
// returns what is left ("" or starting with "/").
func stripPath(pattern, path string) (string, bool) {
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(segs) < len(ps) {
		return "", false
	}
	for i, p := range ps {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}") {
			if segs[i] == "" {
				return "", false
			}
			continue
		}
		if p != segs[i] {
			return "", false
		}
	}
	if len(segs) == len(ps) {
		return "", true
	}
	return "/" + strings.Join(segs[len(ps):], "/"), true
}
