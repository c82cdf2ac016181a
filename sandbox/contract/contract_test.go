package contract

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

// canned answers every request with one status and body.
func canned(status int, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // a handler that reads the body sees all of it
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
}

func loadPets(t *testing.T) *Spec {
	t.Helper()
	s, err := Load("testdata/pets.yaml", "/v1")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// send makes one request through a validator and returns the stages of
// the violations it recorded.
func send(t *testing.T, v *Validator, method, target, body string) (stages []string, errs []string) {
	t.Helper()
	ts := httptest.NewServer(v)
	defer ts.Close()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.URL+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	for _, x := range v.Violations() {
		stages = append(stages, x.Stage)
		errs = append(errs, x.String())
	}
	return stages, errs
}

func TestValidatorFindsViolations(t *testing.T) {
	pet := `{"id":7,"name":"Rex"}`
	cases := []struct {
		name           string
		method, target string
		body           string
		handler        http.Handler
		amend          func(*Spec) error
		want           []string // stages of the violations, in order
		errHas         string   // a word the first violation says
	}{
		{name: "conforming read", method: "GET", target: "/v1/pets/7?key=k&fields=all", handler: canned(200, pet)},
		{name: "conforming write", method: "POST", target: "/v1/pets?key=k", body: pet, handler: canned(201, pet)},
		{name: "documented error", method: "GET", target: "/v1/pets/8?key=k", handler: canned(404, `{"message":"no pet"}`)},
		{name: "no credential", method: "GET", target: "/v1/pets/7", handler: canned(200, pet),
			want: []string{"request"}, errHas: "security"},
		{name: "query value outside its enum", method: "GET", target: "/v1/pets/7?key=k&fields=some", handler: canned(200, pet),
			want: []string{"request"}, errHas: "fields"},
		{name: "path parameter of the wrong type", method: "GET", target: "/v1/pets/rex?key=k", handler: canned(200, pet),
			want: []string{"request"}, errHas: "id"},
		{name: "request body missing a required property", method: "POST", target: "/v1/pets?key=k", body: `{"id":7}`, handler: canned(201, pet),
			want: []string{"request"}, errHas: "name"},
		{name: "response missing a required property", method: "GET", target: "/v1/pets/7?key=k", handler: canned(200, `{"id":7}`),
			want: []string{"response"}, errHas: "name"},
		{name: "response property of the wrong type", method: "GET", target: "/v1/pets/7?key=k", handler: canned(200, `{"id":"7","name":"Rex"}`),
			want: []string{"response"}, errHas: "id"},
		{name: "undocumented status", method: "GET", target: "/v1/pets/7?key=k", handler: canned(429, `{"limit":"hit"}`),
			want: []string{"response"}, errHas: "status"},
		{name: "undocumented status allowed", method: "GET", target: "/v1/pets/7?key=k", handler: canned(429, `{"limit":"hit"}`),
			amend: func(s *Spec) error { return s.Status(429, "the vendor documents rate limiting once for the API") }},
		{name: "unknown path", method: "GET", target: "/v1/owners?key=k", handler: canned(200, `[]`),
			want: []string{"route"}},
		{name: "unknown method", method: "DELETE", target: "/v1/pets/7?key=k", handler: canned(204, ``),
			want: []string{"route"}},
		{name: "path outside the document", method: "GET", target: "/v1/owners?key=k", handler: canned(200, `[]`),
			amend: func(s *Spec) error { return s.Outside("GET", "/v1/owners", "another edition serves it") }},
		{name: "vendor time format", method: "GET", target: "/v1/pets/7?key=k", handler: canned(200, `{"id":7,"name":"Rex","born":"2026-01-05T10:00:00.000+0000"}`),
			want: []string{"response"}, errHas: "born"},
		{name: "vendor time format allowed", method: "GET", target: "/v1/pets/7?key=k", handler: canned(200, `{"id":7,"name":"Rex","born":"2026-01-05T10:00:00.000+0000"}`),
			amend: func(s *Spec) error {
				return s.Format("date-time", func(v string) error {
					_, err := time.Parse("2006-01-02T15:04:05.000-0700", v)
					return err
				}, "the vendor's examples write offsets without a colon")
			}},
		{name: "gateway prefix", method: "GET", target: "/gw/tenant-1/v1/pets/7?key=k", handler: canned(200, pet),
			amend: func(s *Spec) error {
				return s.Strip("/gw/{tenant}", "the gateway serves the API under a tenant prefix")
			}},
		{name: "twin api", method: "GET", target: "/v0/pets/7?key=k", handler: canned(200, pet),
			amend: func(s *Spec) error { return s.Rewrite("/v0", "/v1", "v0 is documented as the same API") }},
		{name: "twin api undeclared", method: "GET", target: "/v0/pets/7?key=k", handler: canned(200, pet),
			want: []string{"route"}},
		{name: "patched document", method: "GET", target: "/v1/pets/7?key=k", handler: canned(200, `{"id":7,"name":"Rex","tag":null}`),
			amend: func(s *Spec) error {
				return s.Patch("the vendor documents tag as nullable", func(doc *openapi3.T) error {
					pet := doc.Components.Schemas["Pet"].Value
					pet.Properties["tag"] = openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{"string"}, Nullable: true})
					return nil
				})
			}},
		{name: "unpatched document", method: "GET", target: "/v1/pets/7?key=k", handler: canned(200, `{"id":7,"name":"Rex","born":null}`),
			want: []string{"response"}, errHas: "born"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := loadPets(t)
			if tc.amend != nil {
				if err := tc.amend(s); err != nil {
					t.Fatal(err)
				}
			}
			v := s.Wrap(tc.handler)
			stages, errs := send(t, v, tc.method, tc.target, tc.body)
			if !slices.Equal(stages, tc.want) {
				t.Fatalf("violations %q, want stages %q", errs, tc.want)
			}
			if tc.errHas != "" && !strings.Contains(errs[0], tc.errHas) {
				t.Errorf("violation %q does not mention %q", errs[0], tc.errHas)
			}
		})
	}
}

func TestValidatorPassesExchangeThrough(t *testing.T) {
	s := loadPets(t)
	var gotBody string
	v := s.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Rate", "9")
		w.WriteHeader(201)
		_, _ = io.WriteString(w, string(b))
	}))
	ts := httptest.NewServer(v)
	defer ts.Close()
	pet := `{"id":7,"name":"Rex"}`
	res, err := http.Post(ts.URL+"/v1/pets?key=k", "application/json", strings.NewReader(pet))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if gotBody != pet || string(b) != pet || res.StatusCode != 201 || res.Header.Get("X-Rate") != "9" {
		t.Errorf("handler saw %q; client got %d %q X-Rate=%q", gotBody, res.StatusCode, b, res.Header.Get("X-Rate"))
	}
	if vs := v.Violations(); len(vs) != 0 {
		t.Errorf("violations %v", vs)
	}
	if got := v.Seen(); got["POST /pets"] != 1 {
		t.Errorf("seen %v, want POST /pets once", got)
	}
	if m := v.Missing("POST /pets", "GET /pets/{id}"); !slices.Equal(m, []string{"GET /pets/{id}"}) {
		t.Errorf("missing %q, want only GET /pets/{id}", m)
	}
}

func TestAmendmentsNeedAReason(t *testing.T) {
	s := loadPets(t)
	for name, err := range map[string]error{
		"patch":   s.Patch(" ", func(*openapi3.T) error { return nil }),
		"format":  s.Format("date", func(string) error { return nil }, ""),
		"outside": s.Outside("GET", "/x", ""),
		"status":  s.Status(429, ""),
		"strip":   s.Strip("/x", ""),
		"rewrite": s.Rewrite("/x", "/y", ""),
		"auth":    s.Auth(nil, ""),
	} {
		if err == nil {
			t.Errorf("%s without a reason was accepted", name)
		}
	}
	if len(s.Amendments()) != 0 {
		t.Errorf("amendments %q recorded without reasons", s.Amendments())
	}
	if err := s.Patch("fails", func(*openapi3.T) error { return errors.New("boom") }); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("a failing patch gave %v", err)
	}
}

func TestParseRejectsSwagger2(t *testing.T) {
	_, err := Parse("old.json", []byte(`{"swagger":"2.0","info":{"title":"x","version":"1"},"paths":{}}`), "")
	if err == nil || !strings.Contains(err.Error(), "openapi2conv") {
		t.Errorf("swagger 2.0 gave %v, want advice to convert", err)
	}
}

func TestTrimKeepsReachableComponents(t *testing.T) {
	doc := []byte(`
openapi: 3.0.0
info: {title: t, version: "1", description: long prose}
paths:
  /a:
    get:
      parameters: [{$ref: "#/paths/~1b/parameters/0"}, {$ref: "#/paths/~1c~1%7Bid%7D/parameters/0"}]
      responses:
        200:
          description: ok
          content: {application/json: {schema: {$ref: "#/components/schemas/A"}}}
  /b:
    parameters: [{name: q, in: query, schema: {type: string}}]
  /c/{id}:
    parameters: [{name: r, in: query, schema: {type: string}}]
    get:
      parameters: [{$ref: "#/paths/~1b/parameters/0"}]
      responses:
        200: {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/Unused"}}}}
components:
  securitySchemes: {k: {type: apiKey, in: query, name: key}}
  schemas:
    A: {type: object, properties: {b: {$ref: "#/components/schemas/B"}, c: {oneOf: [{$ref: "#/components/schemas/C"}], discriminator: {propertyName: t, mapping: {d: "#/components/schemas/D"}}}, e: {$ref: "#/components/schemas/E/properties/at"}}}
    B: {type: string}
    C: {type: object}
    D: {type: object}
    E: {type: object, properties: {at: {type: string}}}
    Unused: {type: object}
`)
	out, err := Trim(doc, []string{"/a"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse("trimmed", out, "")
	if err != nil {
		t.Fatalf("trimmed document does not load: %v\n%s", err, out)
	}
	var names []string
	for n := range s.Doc().Components.Schemas {
		names = append(names, n)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"A", "B", "C", "D", "E"}) {
		t.Errorf("kept schemas %q, want A B C D E", names)
	}
	if s.Doc().Paths.Value("/b") != nil || s.Doc().Paths.Value("/a") == nil {
		t.Error("kept the wrong paths")
	}
	if ps := s.Doc().Paths.Value("/a").Get.Parameters; len(ps) != 2 || ps[0].Value.Name != "q" || ps[1].Value.Name != "r" {
		t.Error("a reference into a dropped path was not copied in")
	}
	if s.Doc().Components.SecuritySchemes["k"] == nil {
		t.Error("dropped the security schemes")
	}
	if strings.Contains(string(out), "long prose") {
		t.Error("kept the info description")
	}
	if _, err := Trim(doc, []string{"/nope"}); err == nil {
		t.Error("trimming to a missing path succeeded")
	}
}
