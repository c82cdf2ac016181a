package jira

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/contract"
	"github.com/pmsync/pmsync/sandbox/jirasim"
)

// jiraContract loads Atlassian's Jira Cloud platform document (cut to the
// paths the connector uses, see sandbox/contract) with the amendments
// Atlassian's own documentation decides.
func jiraContract(t *testing.T) *contract.Spec {
	t.Helper()
	spec, err := contract.Load("../../sandbox/contract/testdata/jira.json", "")
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// The connector calls the /rest/api/2 twins of the documented v3
	// paths (go-jira's paths; Data Center has only v2). The document is
	// silent on v2; Atlassian's "About the REST API" for Jira Cloud
	// (developer.atlassian.com/cloud/jira/platform/rest/v3/intro/#version)
	// says v2 and v3 offer the same operations and differ only in v3's
	// Atlassian Document Format for rich-text fields (comment bodies,
	// descriptions), whose schemas here accept either form.
	must(spec.Rewrite("/rest/api/2", "/rest/api/3", "Jira Cloud REST intro: v2 and v3 are the same operations; v3 adds ADF for rich text"))
	// Jira writes times as 2021-01-17T12:34:00.000+0000: no colon in the
	// offset, which RFC 3339's date-time requires. The document's own
	// examples write them so (GET/POST …/comment: "created":
	// "2021-01-17T12:34:00.000+0000"), and so does every Jira answer.
	jiraTime := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$`)
	must(spec.Format("date-time", func(v string) error {
		if _, err := time.Parse(time.RFC3339Nano, v); err == nil || jiraTime.MatchString(v) {
			return nil
		}
		return fmt.Errorf("%q is neither RFC 3339 nor Jira's yyyy-MM-ddTHH:mm:ss.SSSZ", v)
	}, "the document's examples write Jira's own date-time form, 2021-01-17T12:34:00.000+0000"))
	must(spec.Patch("IssueBean.fields is `additionalProperties: {}`, which OpenAPI 3.0 reads as not nullable; "+
		"the document is silent on how a requested field without a value is sent, and Jira sends null, "+
		"the value the document itself gives an empty field (\"Fields without values in the request are set to null\")",
		func(doc *openapi3.T) error {
			ref := doc.Components.Schemas["IssueBean"]
			if ref == nil || ref.Value.Properties["fields"] == nil {
				return fmt.Errorf("IssueBean.fields not in the document")
			}
			f := ref.Value.Properties["fields"].Value
			if f.AdditionalProperties.Schema == nil {
				return fmt.Errorf("IssueBean.fields has no additionalProperties schema")
			}
			f.AdditionalProperties.Schema.Value.Nullable = true
			return nil
		}))
	must(spec.Patch("FieldDetails forbids unknown properties but lacks untranslatedName, which the document's own "+
		"example of POST /rest/api/3/field (201) returns, as Cloud does for custom fields",
		func(doc *openapi3.T) error {
			ref := doc.Components.Schemas["FieldDetails"]
			if ref == nil {
				return fmt.Errorf("FieldDetails not in the document")
			}
			ref.Value.Properties["untranslatedName"] = openapi3.NewSchemaRef("", openapi3.NewStringSchema())
			return nil
		}))
	return spec
}

// TestJiraCloudSimulatorMeetsContract drives the Cloud simulator through
// every call the connector makes, on a site and through the gateway, with
// each request and answer validated against Atlassian's document.
func TestJiraCloudSimulatorMeetsContract(t *testing.T) {
	spec := jiraContract(t)
	if err := spec.Strip("/ex/jira/{cloudId}", "Atlassian's gateway https://api.atlassian.com/ex/jira/{cloudId} serves the site's "+
		"REST API unchanged (Jira Cloud docs, scoped API tokens and OAuth 2.0 apps); the document's servers list only the site"); err != nil {
		t.Fatal(err)
	}
	var v *contract.Validator
	e := newEnv(t, envOpts{flavor: jirasim.Cloud, issues: 250, cloudID: "1324a887", wrap: func(h http.Handler) http.Handler { v = spec.Wrap(h); return v }})
	ctx := context.Background()
	if err := e.conn.Check(ctx); err != nil {
		t.Fatal(err)
	}
	pages := e.pull(t, projectScope, "")
	e.clock.Advance(time.Hour)
	if err := e.sim.Update("EHR-3", func(is *jirasim.Issue) { is.Summary = "changed" }); err != nil {
		t.Fatal(err)
	}
	e.pull(t, projectScope, pages[len(pages)-1].Next)
	if _, err := e.conn.ListIDs(ctx, projectScope); err != nil {
		t.Fatal(err)
	}
	target := connectors.Target{Config: Target{Issue: "EHR-1"}}
	if _, err := e.conn.Push(ctx, target, []pmsync.Rollup{redRollup()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.conn.Push(ctx, target, []pmsync.Rollup{redRollup()}); err != nil { // reads the marker back
		t.Fatal(err)
	}
	// Documented failures: a JQL error (400), a missing issue (404), a bad
	// token (401).
	bad := connectors.Scope{Source: "s", Config: Scope{JQL: "project = EHR AND nosuchfield = 1"}}
	if err := e.conn.Pull(ctx, bad, "", func(connectors.Page) error { return nil }); connectors.StatusOf(err) != 400 {
		t.Errorf("bad JQL: %v, want 400", err)
	}
	if _, err := e.conn.Push(ctx, connectors.Target{Config: Target{Issue: "EHR-9999"}}, []pmsync.Rollup{redRollup()}); connectors.StatusOf(err) != 404 {
		t.Errorf("missing issue: %v, want 404", err)
	}
	if err := e.connect(t, "wrong-token").Check(ctx); connectors.StatusOf(err) != 401 {
		t.Errorf("bad token: %v, want 401", err)
	}
	// Through the gateway, where the site comes from serverInfo.
	gw, err := New(connectors.Params{Name: "gw", Kind: Kind, BaseURL: e.url + "/ex/jira/1324a887", Options: Options{Flavor: "cloud"},
		Credentials: connectors.Credentials{Email: testEmail, Token: testToken}, Now: e.clock.Now, Sleep: (&sandbox.Sleeps{}).Sleep})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.ListIDs(ctx, projectScope); err != nil {
		t.Fatal(err)
	}
	if _, err := gw.Push(ctx, target, []pmsync.Rollup{redRollup()}); err != nil {
		t.Fatal(err)
	}
	v.Check(t,
		"GET /rest/api/3/myself",
		"GET /rest/api/3/field",
		"GET /rest/api/3/serverInfo",
		"POST /rest/api/3/search/jql",
		"GET /rest/api/3/issue/{issueIdOrKey}",
		"GET /rest/api/3/issue/{issueIdOrKey}/comment",
		"POST /rest/api/3/issue/{issueIdOrKey}/comment",
	)
	t.Logf("validated: %v", v.Seen())
}

// TestJiraDataCenterSimulatorMeetsContract drives the Data Center
// simulator likewise. Atlassian publishes no OpenAPI document for Data
// Center here; its v2 operations that Cloud shares are validated against
// the Cloud document, and the one Cloud removed is declared outside it.
func TestJiraDataCenterSimulatorMeetsContract(t *testing.T) {
	spec := jiraContract(t)
	if err := spec.Outside("POST", "/rest/api/2/search", "Data Center's search, paged by startAt with a total "+
		"(Jira Data Center REST API, api-group-search: POST /rest/api/2/search); Cloud removed it in 2025 "+
		"(CHANGE-2046) and its document no longer describes it"); err != nil {
		t.Fatal(err)
	}
	var v *contract.Validator
	e := newEnv(t, envOpts{flavor: jirasim.DataCenter, issues: 250, wrap: func(h http.Handler) http.Handler { v = spec.Wrap(h); return v }})
	ctx := context.Background()
	if err := e.conn.Check(ctx); err != nil {
		t.Fatal(err)
	}
	pages := e.pull(t, projectScope, "")
	e.clock.Advance(time.Hour)
	e.pull(t, projectScope, pages[len(pages)-1].Next)
	if _, err := e.conn.ListIDs(ctx, projectScope); err != nil {
		t.Fatal(err)
	}
	target := connectors.Target{Config: Target{Issue: "EHR-1"}}
	for range 2 {
		if _, err := e.conn.Push(ctx, target, []pmsync.Rollup{redRollup()}); err != nil {
			t.Fatal(err)
		}
	}
	v.Check(t,
		"GET /rest/api/3/myself",
		"GET /rest/api/3/field",
		"POST /rest/api/2/search",
		"GET /rest/api/3/issue/{issueIdOrKey}",
		"GET /rest/api/3/issue/{issueIdOrKey}/comment",
		"POST /rest/api/3/issue/{issueIdOrKey}/comment",
	)
	if n := v.Outside()["POST /rest/api/2/search"]; n == 0 || !strings.Contains(fmt.Sprint(v.Outside()), "search") {
		t.Errorf("no Data Center search went by: %v", v.Outside())
	}
}

// TestJiraContractCatchesAMisreading is the control for the two tests
// above: a simulator answer of the wrong shape (issues as an object, a
// page token as a number) must come out as violations, so that their
// silence means something.
func TestJiraContractCatchesAMisreading(t *testing.T) {
	spec := jiraContract(t)
	var v *contract.Validator
	e := newEnv(t, envOpts{flavor: jirasim.Cloud, issues: 3, wrap: func(h http.Handler) http.Handler { v = spec.Wrap(h); return v }})
	e.sim.Inject(jirasim.Fault{Method: "POST", Path: "/rest/api/3/search/jql", Status: 200,
		Body: `{"issues":{"id":"10000"},"nextPageToken":7,"isLast":"yes"}`})
	_ = e.conn.Pull(context.Background(), projectScope, "", func(connectors.Page) error { return nil })
	var found []string
	for _, x := range v.Violations() {
		found = append(found, x.Stage+" "+x.Err)
	}
	joined := strings.Join(found, "\n")
	for _, want := range []string{"/issues", "/nextPageToken", "/isLast"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no violation at %s in:\n%s", want, joined)
		}
	}
}
