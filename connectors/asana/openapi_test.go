package asana

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/asanasim"
	"github.com/pmsync/pmsync/sandbox/contract"
)

var update = flag.Bool("update", false, "rewrite testdata/asana.openapi.json from ../shared/contracts")

// The repository's cut of Asana's OpenAPI document: the paths the
// connector calls, every schema they reach as Asana wrote it.
const (
	openapiCopy   = "testdata/asana.openapi.json"
	openapiShared = "../../../shared/contracts/asana.openapi.yaml"
)

var openapiPaths = []string{"/users/{user_gid}", "/tasks", "/events", "/status_updates"}

// TestOpenAPICopy checks that the copy is Asana's document cut to the
// connector's paths, when the document is beside the checkout.
func TestOpenAPICopy(t *testing.T) {
	src, err := os.ReadFile(openapiShared)
	if err != nil {
		if *update {
			t.Fatal(err)
		}
		t.Skipf("%s not beside the checkout", filepath.Base(openapiShared))
	}
	cut, err := contract.Trim(src, openapiPaths)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(openapiCopy, cut, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(openapiCopy)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, cut) {
		t.Errorf("%s is not the shared document cut to %v; run go test ./connectors/asana -run TestOpenAPICopy -update", openapiCopy, openapiPaths)
	}
}

// loadAsanaContract loads the copy with the amendments the vendor's
// documentation decides.
func loadAsanaContract(t *testing.T) *contract.Spec {
	t.Helper()
	spec, err := contract.Load(openapiCopy, "/api/1.0")
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// The document contradicts itself: EventResponse describes parent as
	// "null for other event types" (and the user as null for system
	// events) but the schemas are not nullable.
	must(spec.Patch("EventResponse.parent and .user: the schema's own descriptions say they are null for events other than added/removed and for system events", func(doc *openapi3.T) error {
		ev := doc.Components.Schemas["EventResponse"]
		if ev == nil || ev.Value == nil {
			return errors.New("no EventResponse schema")
		}
		for _, name := range []string{"parent", "user"} {
			p := ev.Value.Properties[name]
			if p == nil || p.Value == nil {
				return fmt.Errorf("EventResponse has no %s", name)
			}
			p.Value.Nullable = true
			for _, sub := range p.Value.AllOf {
				if sub.Value != nil {
					sub.Value.Nullable = true
				}
			}
		}
		return nil
	}))
	// The list endpoints document their compact records, but a request
	// that names opt_fields gets those properties of the full record
	// (Asana's "Input/output options": opt_fields "includes the named
	// fields in the response"); the full record's schema checks them.
	// (Only /tasks: StatusUpdateResponse requires status_type, which a
	// listing asking for text alone rightly lacks.)
	for path, full := range map[string]string{"/tasks": "TaskResponse"} {
		must(spec.Patch("GET "+path+" 200 items: records with opt_fields are checked against "+full+" (Asana's input/output options)", func(doc *openapi3.T) error {
			ref := doc.Components.Schemas[full]
			if ref == nil {
				return fmt.Errorf("no %s schema", full)
			}
			data := doc.Paths.Value(path).Get.Responses.Status(200).Value.Content.Get("application/json").Schema.Value.Properties["data"]
			if data == nil || data.Value == nil || data.Value.Items == nil {
				return fmt.Errorf("GET %s 200 has no data list", path)
			}
			data.Value.Items = openapi3.NewSchemaRef("#/components/schemas/"+full, ref.Value)
			return nil
		}))
	}
	// Nullable objects are written allOf [a $ref, {nullable: true}]
	// (TaskResponse.parent "or null if this is not a subtask",
	// CustomField.enum_value, assignee); under OpenAPI 3.0 every branch of
	// an allOf must accept the null, so the intent needs the flag on each.
	must(spec.Patch("allOf [$ref, {nullable: true}] is nullable: the properties' descriptions say null (a task's parent when it is no subtask, an unset enum value)", func(doc *openapi3.T) error {
		seen := map[*openapi3.Schema]bool{}
		var walk func(s *openapi3.Schema)
		walk = func(s *openapi3.Schema) {
			if s == nil || seen[s] {
				return
			}
			seen[s] = true
			for _, sub := range s.AllOf {
				if sub.Value != nil && sub.Value.Nullable {
					s.Nullable = true
					for _, other := range s.AllOf {
						if other.Value != nil && other.Ref == "" {
							other.Value.Nullable = true
						}
					}
				}
			}
			for _, group := range [][]*openapi3.SchemaRef{s.AllOf, s.OneOf, s.AnyOf} {
				for _, sub := range group {
					walk(sub.Value)
				}
			}
			for _, p := range s.Properties {
				walk(p.Value)
			}
			if s.Items != nil {
				walk(s.Items.Value)
			}
		}
		for _, sc := range doc.Components.Schemas {
			walk(sc.Value)
		}
		return nil
	}))
	// Asana documents rate limiting once for the whole API ("Rate limits":
	// 429 Too Many Requests with a Retry-After header), not per operation.
	must(spec.Status(429, "Asana's rate limits page: any request may be answered 429 with Retry-After"))
	return spec
}

// TestSimulatorKeepsAsanasContract drives asanasim through every call the
// connector makes — checking the token, full and incremental pulls with
// their events, a lost sync token, an expired offset, a rate limit, the
// status-update guard and post — and validates each request and answer
// against Asana's OpenAPI document.
func TestSimulatorKeepsAsanasContract(t *testing.T) {
	spec := loadAsanaContract(t)
	clock := sandbox.NewClock(t0)
	sim := asanasim.New(asanasim.Options{Token: token, Now: clock.Now})
	project := sim.Generate("Telehealth Launch", 250, 7, t0)
	v := spec.Wrap(sim)
	ts := httptest.NewServer(v)
	defer ts.Close()
	c, err := New(connectors.Params{
		Name: "asana", Kind: Kind, BaseURL: ts.URL + asanasim.BasePath,
		Credentials: connectors.Credentials{Token: token},
		RateLimit:   connectors.RateLimit{PerMinute: 600000, Burst: 1000},
		Now:         clock.Now, Sleep: (&sandbox.Sleeps{}).Sleep,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	scope := connectors.Scope{Source: "telehealth", Config: Scope{Project: project}}
	pull := func(cur connectors.Cursor) connectors.Cursor {
		t.Helper()
		next := cur
		if err := c.Pull(ctx, scope, cur, func(p connectors.Page) error { next = p.Next; return nil }); err != nil {
			t.Fatalf("Pull: %v", err)
		}
		return next
	}

	if err := c.Check(ctx); err != nil {
		t.Fatal(err)
	}
	cur := pull("") // events 412, then every page of tasks
	tasks := sim.Tasks(project)
	clock.Advance(time.Hour)
	if err := sim.UpdateTask(tasks[3].GID, func(t *asanasim.Task) { t.Completed = true; t.CompletedAt = clock.Now() }); err != nil {
		t.Fatal(err)
	}
	if err := sim.DeleteTask(tasks[4].GID); err != nil {
		t.Fatal(err)
	}
	cur = pull(cur) // events 200 with a deletion, then the tasks modified since
	// A rate limit on the task list, waited out.
	sim.Inject(asanasim.Fault{Path: "/tasks", Status: 429, RetryAfter: 3})
	cur = pull(cur)
	// An offset that expires mid-walk: 400, then the walk again.
	var pages int
	err = c.Pull(ctx, scope, "", func(connectors.Page) error {
		if pages++; pages == 1 {
			sim.ExpireOffsets()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Pull with an expiring offset: %v", err)
	}
	// A day without syncing: the token is gone (412) and the project is
	// listed again.
	clock.Advance(25 * time.Hour)
	pull(cur)
	// Push twice: the guard lists the updates (created_since, pages), the
	// first posts one, the second finds it.
	r := rollup("cccccccccccc", pmsync.Red)
	r.AsOf = pmsync.DateOf(clock.Now())
	for range 2 {
		if _, err := c.Push(ctx, target(project), []pmsync.Rollup{r}); err != nil {
			t.Fatalf("Push: %v", err)
		}
	}
	// A project with a percentage field.
	pct := sim.AddProject("Percent", asanasim.CustomField{Name: "% Complete", Type: asanasim.TypeNumber, Format: "percentage"})
	if _, err := sim.AddTask(pct, asanasim.Task{Name: "Train clinic staff", Custom: map[string]any{"% Complete": 0.4}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Pull(ctx, connectors.Scope{Source: "pct", Config: Scope{Project: pct}}, "", func(connectors.Page) error { return nil }); err != nil {
		t.Fatal(err)
	}
	// A wrong token: Asana's 401 body.
	bad, err := New(connectors.Params{Name: "asana", Kind: Kind, BaseURL: ts.URL + asanasim.BasePath,
		Credentials: connectors.Credentials{Token: "wrong-token-value"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Check(ctx); connectors.StatusOf(err) != 401 {
		t.Fatalf("Check with a wrong token: %v, want 401", err)
	}

	v.Check(t, "GET /users/{user_gid}", "GET /tasks", "GET /events", "GET /status_updates", "POST /status_updates")
}
