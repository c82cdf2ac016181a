package smartsheet

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/httpapi"
	"github.com/pmsync/pmsync/sandbox/smartsheetsim"
)

func TestRegistered(t *testing.T) {
	spec, err := connectors.Default.Lookup(Kind)
	if err != nil {
		t.Fatal(err)
	}
	if spec.DefaultMapping != DefaultMapping || len(spec.DefaultMappingYAML) == 0 || !slices.Equal(spec.AuthKeys, []string{"token"}) ||
		spec.Target == nil || spec.Scope == nil || spec.Options == nil || spec.CheckParams == nil {
		t.Errorf("registered spec %+v is incomplete", spec)
	}
	c, err := connectors.Default.New(connectors.Params{Name: "pmo", Kind: Kind, Options: Options{Region: "gov"}, Credentials: connectors.Credentials{Token: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, capability := range []bool{
		func() bool { _, ok := c.(connectors.Pusher); return ok }(),
		func() bool { _, ok := c.(connectors.Checker); return ok }(),
		func() bool { _, ok := c.(connectors.RequestCounter); return ok }(),
	} {
		if !capability {
			t.Errorf("connector %T lacks Pusher, Checker or RequestCounter", c)
		}
	}
}

func TestBaseURLFor(t *testing.T) {
	for _, tc := range []struct {
		region, want string
		err          bool
	}{
		{"", "https://api.smartsheet.com/2.0", false},
		{"us", "https://api.smartsheet.com/2.0", false},
		{"EU", "https://api.smartsheet.eu/2.0", false},
		{"au", "https://api.smartsheet.au/2.0", false},
		{"gov", "https://api.smartsheetgov.com/2.0", false},
		{"uk", "", true},
	} {
		got, err := BaseURLFor(tc.region)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("BaseURLFor(%q) = %q, %v; want %q (error %v)", tc.region, got, err, tc.want, tc.err)
		}
	}
}

func TestCheckParams(t *testing.T) {
	tok := connectors.Credentials{Token: "t"}
	for _, tc := range []struct {
		name string
		p    connectors.Params
		err  string
	}{
		{"region", connectors.Params{Options: Options{Region: "eu"}, Credentials: tok}, ""},
		{"loopback base url", connectors.Params{BaseURL: "http://127.0.0.1:8080/2.0", Credentials: tok}, ""},
		{"unknown region", connectors.Params{Options: Options{Region: "mars"}, Credentials: tok}, `region "mars"`},
		{"relative base url", connectors.Params{BaseURL: "api.smartsheet.com", Credentials: tok}, "absolute"},
		{"base url with query", connectors.Params{BaseURL: "https://api.smartsheet.com/2.0?x=1", Credentials: tok}, "query"},
		{"no token", connectors.Params{}, "access token"},
		{"negative rate", connectors.Params{Credentials: tok, RateLimit: connectors.RateLimit{PerMinute: -1}}, "negative"},
	} {
		err := CheckParams(tc.p)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: CheckParams = %v, want error containing %q", tc.name, err, tc.err)
		}
	}
}

func TestCheckScopeAndTarget(t *testing.T) {
	for _, tc := range []struct {
		scope Scope
		err   string
	}{
		{Scope{Sheet: "4583173393803140"}, ""},
		{Scope{}, "needs sheet"},
		{Scope{Sheet: "PACS plan"}, "not a sheet id"},
		{Scope{Sheet: "-3"}, "not a sheet id"},
	} {
		err := CheckScope(tc.scope)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CheckScope(%+v) = %v, want error containing %q", tc.scope, err, tc.err)
		}
	}
	for _, tc := range []struct {
		target Target
		err    string
	}{
		{Target{Sheet: "42"}, ""},
		{Target{Sheet: "42", Options: map[string]string{OptHealthColumn: "RAG", OptVersionColumn: "Version"}}, ""},
		{Target{}, "needs sheet"},
		{Target{Sheet: "42", Options: map[string]string{"colour_column": "RAG"}}, `option "colour_column"`},
		{Target{Sheet: "42", Options: map[string]string{OptHealthColumn: " "}}, "needs a column title"},
	} {
		err := CheckTarget(tc.target)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CheckTarget(%+v) = %v, want error containing %q", tc.target, err, tc.err)
		}
	}
}

func TestParseError(t *testing.T) {
	html := http.Header{"Content-Type": {"text/html"}}
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		body   string
		want   httpapi.ErrorInfo
	}{
		{"rate limited", 429, nil, `{"errorCode":4003,"message":"Rate limit exceeded.","refId":"1a2b3c"}`,
			httpapi.ErrorInfo{Code: "4003", Message: "Rate limit exceeded.", RefID: "1a2b3c", RetryAfter: time.Minute}},
		{"bare 429", 429, nil, ``, httpapi.ErrorInfo{RetryAfter: time.Minute}},
		{"bad token", 401, nil, `{"errorCode":1002,"message":"Your Access Token is invalid.","refId":"zz9"}`,
			httpapi.ErrorInfo{Code: "1002", Message: "Your Access Token is invalid.", RefID: "zz9"}},
		{"with detail", 400, nil, `{"errorCode":1042,"message":"The value ... PICKLIST.","refId":"r","detail":{"index":1,"rowId":7}}`,
			httpapi.ErrorInfo{Code: "1042", Message: "The value ... PICKLIST.", RefID: "r"}},
		{"sheet busy", 500, nil, `{"errorCode":4004,"message":"Request failed because sheetId 1 is currently being updated by another request that uses the same access token. Please retry your request once the previous request has completed.","refId":"q1"}`,
			httpapi.ErrorInfo{Code: "4004", Message: "Request failed because sheetId 1 is currently being updated by another request that uses the same access token. Please retry your request once the previous request has completed.", RefID: "q1", NotApplied: true}},
		{"server timeout is not marked", 500, nil, `{"errorCode":4002,"message":"Server timeout exceeded. Request has failed.","refId":"q2"}`,
			httpapi.ErrorInfo{Code: "4002", Message: "Server timeout exceeded. Request has failed.", RefID: "q2"}},
		{"proxy html", 502, html, `<html><body>Bad gateway</body></html>`, httpapi.ErrorInfo{}},
		{"plain text", 503, nil, "Service Unavailable\nretry later", httpapi.ErrorInfo{Message: "Service Unavailable"}},
	} {
		got := ParseError(tc.status, tc.header, []byte(tc.body))
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
}

func TestRateLimitedPullWaitsAMinute(t *testing.T) {
	e := newEnv(t, connectors.Params{})
	id := e.sim.Generate("Plan", 20, 1, t0)
	e.sim.Inject(smartsheetsim.RateLimited())
	st := newStore()
	st.pull(t, e.conn, scopeOf(id))
	if len(st.items) != 20 {
		t.Errorf("%d items after the 429, want 20", len(st.items))
	}
	if waits := e.sleeps.Waits(); len(waits) == 0 || waits[0] != RateLimitWait {
		t.Errorf("waits %v, want the first to be Smartsheet's minute", waits)
	}
}

func TestRateLimits(t *testing.T) {
	for _, tc := range []struct {
		name     string
		limit    connectors.RateLimit
		calls    int
		waits    int
		interval time.Duration
	}{
		// 300/min refills a token every 200ms once the burst of 30 is spent.
		{"default 300 a minute", connectors.RateLimit{}, 32, 2, 200 * time.Millisecond},
		{"60 a minute, no burst", connectors.RateLimit{PerMinute: 60, Burst: 1}, 3, 2, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, connectors.Params{RateLimit: tc.limit})
			for range tc.calls {
				if err := e.conn.Check(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			waits := e.sleeps.Waits()
			if len(waits) != tc.waits {
				t.Fatalf("waits %v, want %d", waits, tc.waits)
			}
			// The recorded sleeps take no time, so each reservation queues
			// one interval behind the previous one.
			for i, w := range waits {
				hi := time.Duration(i+1) * tc.interval
				if w > hi || w < hi-150*time.Millisecond {
					t.Errorf("wait %d is %v, want just under %v", i, w, hi)
				}
			}
		})
	}
}

func TestErrorsAreClearAndCarryNoSecret(t *testing.T) {
	e := newEnv(t, connectors.Params{Credentials: connectors.Credentials{Token: pmsync.Secret("wrong-" + secret)}})
	err := e.conn.Check(context.Background())
	var ae *connectors.APIError
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Code != "1002" || ae.RefID == "" {
		t.Fatalf("Check with a wrong token: %v, want an APIError 401 code 1002 with a refId", err)
	}
	for _, part := range []string{"pmo-sheets", "check the access token", "Your Access Token is invalid.", "refId " + ae.RefID} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %q", err, part)
		}
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error %q contains the token", err)
	}

	ok := newEnv(t, connectors.Params{})
	err = ok.conn.Pull(context.Background(), scopeOf(123456789), "", func(connectors.Page) error { return nil })
	if connectors.StatusOf(err) != 404 || !strings.Contains(err.Error(), "check the sheet id") {
		t.Errorf("Pull of an unknown sheet: %v, want a 404 naming the sheet id as the likely cause", err)
	}
}

// editOnPage2 is a transport that saves a change to the sheet just before
// the first request for page 2, as if someone edited while a pull ran.
type editOnPage2 struct {
	next   http.RoundTripper
	edit   func()
	edited bool
}

func (t *editOnPage2) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Query().Get("page") == "2" && !t.edited {
		t.edited = true
		t.edit()
	}
	return t.next.RoundTrip(r)
}

func TestSheetChangingMidReadIsReadAgain(t *testing.T) {
	tr := &editOnPage2{}
	e := newEnv(t, connectors.Params{Transport: tr})
	tr.next = e.ts.Client().Transport
	e.conn.RowPageSize = 100
	id := e.sim.Generate("Plan", 250, 1, t0)
	rows, _ := e.sim.Rows(id)
	tr.edit = func() {
		if err := e.sim.UpdateRow(id, rows[0].ID, map[string]any{"Status": "Blocked"}); err != nil {
			t.Error(err)
		}
	}
	st := newStore()
	st.pull(t, e.conn, scopeOf(id))
	if len(st.items) != 250 || st.items[itoa(rows[0].ID)].Data["cells"].(map[string]any)["Status"] != "Blocked" {
		t.Errorf("%d items, first row %v; want all 250 with the edit", len(st.items), st.items[itoa(rows[0].ID)].Data["cells"])
	}
	for ext, n := range st.upserts {
		if n != 1 {
			t.Errorf("row %s delivered %d times", ext, n)
		}
	}
	if got := e.conn.Requests(); got != 2+3 {
		t.Errorf("%d requests, want 5: two pages of a read that broke off, then three", got)
	}
}
