package jira

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/jirasim"
)

// TestGatewayHostIsCloud: Atlassian's gateway, which scoped API tokens and
// service accounts must call, is Jira Cloud whatever its host says.
func TestGatewayHostIsCloud(t *testing.T) {
	for base, want := range map[string]Flavor{
		"https://api.atlassian.com/ex/jira/1324a887-45db-1bf4-1e99-ef0ff456d421": Cloud,
		"https://API.atlassian.com/ex/jira/abc/":                                 Cloud,
		"https://api.atlassian.com/other":                                        DataCenter,
	} {
		if got, err := FlavorOf(base, ""); err != nil || got != want {
			t.Errorf("FlavorOf(%q) = %q, %v; want %q", base, got, err, want)
		}
	}
	p := connectors.Params{BaseURL: "https://api.atlassian.com/ex/jira/abc", Options: Options{Flavor: "datacenter"},
		Credentials: connectors.Credentials{Email: "a@b.org", Token: "t"}}
	if err := CheckParams(p); err == nil || !strings.Contains(err.Error(), "cloud") {
		t.Errorf("the gateway as Data Center: %v, want an error", err)
	}
	p.Options = Options{SiteURL: "acme.atlassian.net"}
	if err := CheckParams(p); err == nil || !strings.Contains(err.Error(), "site_url") {
		t.Errorf("a relative site_url: %v, want an error naming site_url", err)
	}
}

// TestScopedTokenThroughTheGateway serves a Cloud site whose token is a
// scoped API token: the site's own paths answer 401, the gateway path
// /ex/jira/{cloudId} answers. Records and push receipts must link to the
// site (serverInfo's baseUrl, or site_url), never to the gateway.
func TestScopedTokenThroughTheGateway(t *testing.T) {
	const site = "https://acme.atlassian.net"
	clk := sandbox.NewClock(t0)
	sim := jirasim.New(jirasim.Options{Flavor: jirasim.Cloud, Email: testEmail, Token: testToken, Now: clk.Now,
		BaseURL: site, CloudID: "1324a887", ScopedToken: true})
	ts := sim.Start()
	t.Cleanup(ts.Close)
	sim.Add(jirasim.Generate("EHR", 30, 7, t0)...)
	connect := func(base string, opts Options) *Connector {
		c, err := New(connectors.Params{Name: "jira", Kind: Kind, BaseURL: base, Options: opts, Now: clk.Now,
			Credentials: connectors.Credentials{Email: testEmail, Token: testToken}, Sleep: (&sandbox.Sleeps{}).Sleep})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()

	// At the site the scoped token is refused, and the error says where
	// to point it.
	err := connect(ts.URL, Options{Flavor: "cloud"}).Check(ctx)
	if connectors.StatusOf(err) != 401 || !strings.Contains(err.Error(), "api.atlassian.com/ex/jira/{cloudId}") {
		t.Errorf("scoped token at the site: %v, want 401 advising the gateway", err)
	}

	for name, opts := range map[string]Options{
		"site from serverInfo": {Flavor: "cloud"},
		"site_url":             {Flavor: "cloud", SiteURL: site + "/"},
	} {
		t.Run(name, func(t *testing.T) {
			sim.ResetCalls()
			c := connect(ts.URL+"/ex/jira/1324a887", opts)
			var recs []pmsync.Record
			err := c.Pull(ctx, projectScope, "", func(p connectors.Page) error {
				recs = append(recs, p.Records...)
				return nil
			})
			if err != nil {
				t.Fatalf("Pull through the gateway: %v", err)
			}
			if len(recs) != 30 {
				t.Fatalf("pulled %d records, want 30", len(recs))
			}
			for _, r := range recs {
				if !strings.HasPrefix(r.URL, site+"/browse/EHR-") {
					t.Fatalf("record %s links to %q, want the site %s", r.ExternalID, r.URL, site)
				}
			}
			got, err := c.Push(ctx, connectors.Target{Config: Target{Issue: "EHR-1"}}, []pmsync.Rollup{redRollup()})
			if err != nil {
				t.Fatalf("Push through the gateway: %v", err)
			}
			if len(got) != 1 || !strings.HasPrefix(got[0].URL, site+"/browse/EHR-1?focusedCommentId=") {
				t.Errorf("receipt %+v, want a link on the site", got)
			}
			infos := 0
			for _, call := range sim.Calls() {
				if !strings.HasPrefix(call.Path, "/ex/jira/1324a887/rest/api/") {
					t.Errorf("request %s %s did not go through the gateway", call.Method, call.Path)
				}
				if strings.HasSuffix(call.Path, "/serverInfo") {
					infos++
				}
			}
			if want := map[bool]int{true: 0, false: 1}[opts.SiteURL != ""]; infos != want {
				t.Errorf("%d serverInfo reads, want %d", infos, want)
			}
		})
	}
}

// TestUnboundedJQLRejected: Jira Cloud answers 400 to a query without a
// search restriction, so validate refuses such a scope up front.
func TestUnboundedJQLRejected(t *testing.T) {
	for _, jql := range []string{"ORDER BY created DESC", "order by key", " ( ) ORDER BY rank"} {
		err := CheckScope(Scope{JQL: jql})
		if err == nil || !strings.Contains(err.Error(), "no search restriction") || !strings.Contains(err.Error(), "400") {
			t.Errorf("CheckScope(%q) = %v, want the unbounded query refused with Cloud's 400 as the reason", jql, err)
		}
	}
	for _, jql := range []string{"project = EHR ORDER BY created", "assignee = currentUser()", `summary ~ "order by"`} {
		if err := CheckScope(Scope{JQL: jql}); err != nil {
			t.Errorf("CheckScope(%q) = %v, want it accepted", jql, err)
		}
	}
	// As validate reads a configuration: the file, line and key path.
	doc := `database: pmsync.db
connections:
  - { name: jira, kind: jira, base_url: "https://acme.atlassian.net", auth: { email_env: E, token_env: T } }
programs:
  - id: ehr
    name: EHR
    start: 2026-01-05
    end: 2026-12-18
    sources:
      - connection: jira
        scope: { jql: "ORDER BY created DESC" }
`
	env := func(k string) (string, bool) { return map[string]string{"E": "a@b.org", "T": "t"}[k], true }
	reg := connectors.NewRegistry()
	spec, err := connectors.Default.Lookup(Kind)
	if err != nil {
		t.Fatal(err)
	}
	reg.Register(spec)
	_, err = config.Parse("pmsync.yaml", []byte(doc), reg, env)
	if err == nil || !strings.Contains(err.Error(), "pmsync.yaml:11") || !strings.Contains(err.Error(), "no search restriction") {
		t.Errorf("config with an unbounded scope: %v, want pmsync.yaml:11 and the reason", err)
	}
}

// TestCommentWaitsOutRateLimit: a 429 to a comment POST means Jira did not
// take the comment; the push waits as Retry-After asks and sends it again
// instead of failing.
func TestCommentWaitsOutRateLimit(t *testing.T) {
	e := newEnv(t, envOpts{flavor: jirasim.Cloud})
	e.sim.Add(jirasim.Issue{Key: "PMO-1", Summary: "status"})
	e.sim.Inject(jirasim.Fault{Method: "POST", Path: "/rest/api/2/issue/PMO-1/comment", Status: 429, Header: map[string]string{"Retry-After": "20"}, Times: 2})
	got, err := e.conn.Push(context.Background(), connectors.Target{Config: Target{Issue: "PMO-1"}}, []pmsync.Rollup{redRollup()})
	if err != nil {
		t.Fatalf("Push through two 429s: %v", err)
	}
	if len(got) != 1 || got[0].Existing || got[0].ID == "" {
		t.Errorf("receipts %+v, want one new comment", got)
	}
	if n := len(e.sim.Comments("PMO-1")); n != 1 {
		t.Errorf("%d comments, want 1", n)
	}
	// The shared client pauses the credential for Retry-After (plus a
	// little jitter) before the resend.
	waits := e.sleeps.Waits()
	if len(waits) != 2 {
		t.Fatalf("waits %v, want two", waits)
	}
	for _, w := range waits {
		if w < 20*time.Second || w > 21*time.Second {
			t.Errorf("waits %v, want each the 20s Retry-After", waits)
		}
	}
}

// TestGoJiraOverTheSharedClient: the connector's go-jira client sends
// through the shared httpapi client, so a go-jira service call is retried
// on a 503, its failures come back as *connectors.APIError with Jira's
// message, and the connector's request count includes it.
func TestGoJiraOverTheSharedClient(t *testing.T) {
	e := newEnv(t, envOpts{flavor: jirasim.DataCenter})
	e.sim.Add(jirasim.Issue{Key: "PMO-1", Summary: "status"})
	e.sim.Inject(jirasim.Fault{Method: "GET", Path: "/rest/api/2/issue/PMO-1", Status: 503})
	before := e.conn.Requests()
	is, _, err := e.conn.jc.Issue.GetWithContext(context.Background(), "PMO-1", nil)
	if err != nil || is.Key != "PMO-1" || is.Fields == nil || is.Fields.Summary != "status" {
		t.Fatalf("go-jira Issue.Get through a 503: %+v, %v", is, err)
	}
	if n := e.conn.Requests() - before; n != 2 {
		t.Errorf("%d requests counted, want 2 (the 503 and its retry)", n)
	}
	_, _, err = e.conn.jc.Issue.GetWithContext(context.Background(), "PMO-404", nil)
	err = callErr(err)
	var ae *connectors.APIError
	if !errors.As(err, &ae) || ae.Status != 404 || !strings.Contains(ae.Message, "Issue does not exist") {
		t.Errorf("go-jira Issue.Get of a missing issue: %v, want the APIError with Jira's message", err)
	}
	if len(e.sleeps.Waits()) != 1 {
		t.Errorf("waits %v, want one backoff before the retry", e.sleeps.Waits())
	}
}

// TestPushOnAServerThatIgnoresOrderBy: should a server answer comments
// oldest first despite orderBy=-created, stopping at the first marker
// would miss a newer one and comment twice. The connector sees the order
// from the comments' created times and reads to the end instead.
func TestPushOnAServerThatIgnoresOrderBy(t *testing.T) {
	e := newEnv(t, envOpts{flavor: jirasim.DataCenter, wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			q.Del("orderBy")
			r.URL.RawQuery = q.Encode()
			h.ServeHTTP(w, r)
		})
	}})
	e.sim.Add(jirasim.Issue{Key: "PMO-1", Summary: "status"})
	ctx := context.Background()
	target := connectors.Target{Config: Target{Issue: "PMO-1"}}
	v1, v2 := redRollup(), redRollup()
	v1.Version, v2.Version = "v001", "v002"
	if _, err := e.conn.Push(ctx, target, []pmsync.Rollup{v1}); err != nil {
		t.Fatal(err)
	}
	for i := range 120 {
		e.clock.Advance(time.Minute)
		if err := e.sim.AddComment("PMO-1", fmt.Sprintf("note %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(time.Minute)
	if _, err := e.conn.Push(ctx, target, []pmsync.Rollup{v2}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	again, err := e.conn.Push(ctx, target, []pmsync.Rollup{v2})
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || !again[0].Existing {
		t.Errorf("second push of v002 = %+v, want the existing comment", again)
	}
	if n := len(e.sim.Comments("PMO-1")); n != 122 {
		t.Errorf("%d comments, want 122 (v001, 120 notes, v002 once)", n)
	}
}
