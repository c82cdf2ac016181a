package jira

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the time-zone tests must not depend on the host's zoneinfo

	gojira "github.com/andygrunwald/go-jira"
	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
)

func TestFlavorOf(t *testing.T) {
	for _, tc := range []struct {
		base, configured string
		want             Flavor
		wantErr          bool
	}{
		{"https://acme.atlassian.net", "", Cloud, false},
		{"https://ACME.Atlassian.NET/", "", Cloud, false},
		{"https://jira.example.org/jira", "", DataCenter, false},
		{"https://atlassian.net.example.com", "", DataCenter, false},
		{"http://127.0.0.1:8080", "cloud", Cloud, false},
		{"https://acme.atlassian.net", "datacenter", DataCenter, false},
		{"https://acme.atlassian.net", " Cloud ", Cloud, false},
		{"https://jira.example.org", "onprem", "", true},
	} {
		got, err := FlavorOf(tc.base, tc.configured)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("FlavorOf(%q, %q) = %q, %v; want %q (error %v)", tc.base, tc.configured, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestCheckParams(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       connectors.Params
		wantErr string
	}{
		{"cloud ok", connectors.Params{BaseURL: "https://acme.atlassian.net", Credentials: connectors.Credentials{Email: "a@b.org", Token: "t0k3n"}}, ""},
		{"cloud without email", connectors.Params{BaseURL: "https://acme.atlassian.net", Credentials: connectors.Credentials{Token: "t0k3n"}}, "email"},
		{"cloud without token", connectors.Params{BaseURL: "https://acme.atlassian.net", Credentials: connectors.Credentials{Email: "a@b.org"}}, "API token"},
		{"datacenter without email", connectors.Params{BaseURL: "https://jira.example.org", Credentials: connectors.Credentials{Token: "pat"}}, ""},
		{"datacenter without token", connectors.Params{BaseURL: "https://jira.example.org"}, "personal access token"},
		{"relative url", connectors.Params{BaseURL: "jira.example.org", Credentials: connectors.Credentials{Token: "pat"}}, "absolute"},
		{"url with query", connectors.Params{BaseURL: "https://jira.example.org/?x=1", Credentials: connectors.Credentials{Token: "pat"}}, "query"},
		{"bad flavor", connectors.Params{BaseURL: "https://jira.example.org", Options: Options{Flavor: "server2"}, Credentials: connectors.Credentials{Token: "pat"}}, "flavor"},
		{"plain http", connectors.Params{BaseURL: "http://jira.example.org", Credentials: connectors.Credentials{Token: "pat"}}, "https"},
		{"no url", connectors.Params{Credentials: connectors.Credentials{Token: "pat"}}, "base_url"},
	} {
		err := CheckParams(tc.p)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: CheckParams = %v, want nil", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: CheckParams = %v, want an error mentioning %q", tc.name, err, tc.wantErr)
		}
	}
}

func TestCheckScopeAndTarget(t *testing.T) {
	for _, tc := range []struct {
		scope Scope
		ok    bool
	}{
		{Scope{JQL: "project = EHR"}, true},
		{Scope{Project: "EHR"}, true},
		{Scope{}, false},
		{Scope{JQL: "  "}, false},
		{Scope{JQL: "project = EHR", Project: "EHR"}, false},
	} {
		if err := CheckScope(tc.scope); (err == nil) != tc.ok {
			t.Errorf("CheckScope(%+v) = %v, want ok %v", tc.scope, err, tc.ok)
		}
	}
	for _, tc := range []struct {
		issue string
		ok    bool
	}{{"EHR-12", true}, {"10001", true}, {"", false}, {"EHR-1/../x", false}, {"EHR 1", false}} {
		if err := CheckTarget(Target{Issue: tc.issue}); (err == nil) != tc.ok {
			t.Errorf("CheckTarget(%q) = %v, want ok %v", tc.issue, err, tc.ok)
		}
	}
}

func TestParseError(t *testing.T) {
	long := strings.Repeat("x", 400)
	for _, tc := range []struct {
		name   string
		header http.Header
		body   string
		want   string
	}{
		{"error messages", nil, `{"errorMessages":["Field 'cost' does not exist or you do not have permission to view it."],"errors":{}}`,
			"Field 'cost' does not exist or you do not have permission to view it."},
		{"errors by field, sorted", nil, `{"errorMessages":[],"errors":{"summary":"You must specify a summary.","issuetype":"Issue type is required."}}`,
			"issuetype: Issue type is required.; summary: You must specify a summary."},
		{"both", nil, `{"errorMessages":["Bad request"],"errors":{"jql":"Unbounded query"}}`, "Bad request; jql: Unbounded query"},
		{"plain text 401", http.Header{"Content-Type": {"text/plain"}}, "Client must be authenticated to access this resource.\n", "Client must be authenticated to access this resource."},
		{"html page", http.Header{"Content-Type": {"text/html;charset=UTF-8"}}, "<html><body>Unauthorized</body></html>", ""},
		{"empty", nil, "", ""},
		{"long text is clipped", nil, long, strings.Repeat("x", 300) + "…"},
	} {
		got := ParseError(400, tc.header, []byte(tc.body))
		if got.Message != tc.want {
			t.Errorf("%s: ParseError message = %q, want %q", tc.name, got.Message, tc.want)
		}
	}
}

func TestStripOrderBy(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"project = EHR", "project = EHR"},
		{"project = EHR ORDER BY created DESC", "project = EHR"},
		{"project = EHR order  by rank", "project = EHR"},
		{`summary ~ "order by" AND project = X ORDER BY rank`, `summary ~ "order by" AND project = X`},
		{`summary ~ 'it\'s order by' AND project = X`, `summary ~ 'it\'s order by' AND project = X`},
		{`project = X AND (labels = "a" OR labels = b)ORDER BY rank`, `project = X AND (labels = "a" OR labels = b)`},
		{"reorder = 1 AND orderly = 2", "reorder = 1 AND orderly = 2"},
		{"ORDER BY key", ""},
		{"  project = EHR  ", "project = EHR"},
	} {
		if got := stripOrderBy(tc.in); got != tc.want {
			t.Errorf("stripOrderBy(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPullJQL(t *testing.T) {
	sydney, err := time.LoadLocation("Australia/Sydney")
	if err != nil {
		t.Fatal(err)
	}
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		scope   Scope
		since   string
		overlap time.Duration
		zone    *time.Location
		want    string
	}{
		{"full pull of a project", Scope{Project: "EHR"}, "", 5 * time.Minute, time.UTC,
			`(project = "EHR") ORDER BY updated ASC, id ASC`},
		{"project key is quoted", Scope{Project: `A"B`}, "", 0, time.UTC,
			`(project = "A\"B") ORDER BY updated ASC, id ASC`},
		{"jql loses its order by", Scope{JQL: "project = EHR AND type = Risk order by created DESC"}, "2026-01-05T10:00:00Z", 5 * time.Minute, time.UTC,
			`(project = EHR AND type = Risk) AND updated >= "2026/01/05 09:55" ORDER BY updated ASC, id ASC`},
		// 2026-03-01T00:00Z − 5m = 2026-02-28T23:55Z; Sydney keeps daylight
		// time (UTC+11) until 5 April 2026, so 2026-03-01 10:55 local.
		{"sydney user", Scope{Project: "EHR"}, "2026-03-01T00:00:00Z", 5 * time.Minute, sydney,
			`(project = "EHR") AND updated >= "2026/03/01 10:55" ORDER BY updated ASC, id ASC`},
		// 03:02:59Z − 5m = 02:57:59Z; New York is UTC−4 in July; seconds drop.
		{"new york user, seconds truncated", Scope{Project: "EHR"}, "2026-07-01T03:02:59Z", 5 * time.Minute, newYork,
			`(project = "EHR") AND updated >= "2026/06/30 22:57" ORDER BY updated ASC, id ASC`},
		{"order-only jql", Scope{JQL: "ORDER BY key"}, "2026-01-05T10:00:00Z", 0, time.UTC,
			`updated >= "2026/01/05 10:00" ORDER BY updated ASC, id ASC`},
	} {
		var since time.Time
		if tc.since != "" {
			since, err = time.Parse(time.RFC3339, tc.since)
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := pullJQL(tc.scope, since, tc.overlap, tc.zone); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestCursor(t *testing.T) {
	for _, tc := range []struct {
		cur     connectors.Cursor
		want    time.Time
		invalid bool
	}{
		{"", time.Time{}, false},
		{`{"v":1,"since":"2026-01-05T10:00:00Z"}`, time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC), false},
		{`{"v":1,"since":"2026-01-05T11:00:00.5+01:00"}`, time.Date(2026, 1, 5, 10, 0, 0, 500e6, time.UTC), false},
		{"\x00not-a-cursor", time.Time{}, true},
		{`{"v":2,"since":"2026-01-05T10:00:00Z"}`, time.Time{}, true},
		{`{"v":1,"since":""}`, time.Time{}, true},
		{`{"v":1,"since":"yesterday"}`, time.Time{}, true},
		{`12345`, time.Time{}, true},
	} {
		got, err := decodeCursor(tc.cur)
		if tc.invalid {
			if !errors.Is(err, connectors.ErrCursorInvalid) {
				t.Errorf("decodeCursor(%q) error = %v, want ErrCursorInvalid", tc.cur, err)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("decodeCursor(%q) = %v, %v; want %v", tc.cur, got, err, tc.want)
		}
	}
	in := time.Date(2026, 1, 5, 10, 0, 0, 123e6, time.FixedZone("CET", 3600))
	if got, want := encodeCursor(in), connectors.Cursor(`{"v":1,"since":"2026-01-05T09:00:00.123Z"}`); got != want {
		t.Errorf("encodeCursor = %s, want %s", got, want)
	}
}

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-01-05T10:00:00.000+0000", time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC), true},
		{"2026-01-05T10:00:00.250-0500", time.Date(2026, 1, 5, 15, 0, 0, 250e6, time.UTC), true},
		{"2026-01-05T10:00:00+1100", time.Date(2026, 1, 4, 23, 0, 0, 0, time.UTC), true},
		{"2026-01-05T10:00:00Z", time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC), true},
		{"", time.Time{}, false},
		{"05/01/2026", time.Time{}, false},
	} {
		got, err := parseTime(tc.in)
		if (err == nil) != tc.ok || !got.Equal(tc.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestNormalize(t *testing.T) {
	adf := map[string]any{"type": "doc", "version": 1.0, "content": []any{
		map[string]any{"type": "paragraph", "content": []any{
			map[string]any{"type": "text", "text": "Line one"},
			map[string]any{"type": "hardBreak"},
			map[string]any{"type": "text", "text": "Line two"},
		}},
		map[string]any{"type": "bulletList", "content": []any{
			map[string]any{"type": "listItem", "content": []any{
				map[string]any{"type": "paragraph", "content": []any{
					map[string]any{"type": "mention", "attrs": map[string]any{"id": "x", "text": "@Ana"}},
				}},
			}},
		}},
	}}
	for _, tc := range []struct {
		name   string
		in     any
		schema gojira.FieldSchema
		want   any
	}{
		{"number", 1200.5, gojira.FieldSchema{Type: "number"}, 1200.5},
		{"null", nil, gojira.FieldSchema{Type: "number"}, nil},
		{"select", map[string]any{"self": "x", "value": "3", "id": "10021"}, gojira.FieldSchema{Type: "option"}, "3"},
		{"multi-select", []any{map[string]any{"value": "a"}, map[string]any{"value": "b"}}, gojira.FieldSchema{Type: "array", Items: "option"}, []any{"a", "b"}},
		{"cascading select", map[string]any{"value": "EMEA", "child": map[string]any{"value": "France"}}, gojira.FieldSchema{Type: "option-with-child"}, "EMEA / France"},
		{"date", "2026-03-01", gojira.FieldSchema{Type: "date"}, "2026-03-01"},
		{"datetime", "2026-03-01T10:00:00.000+1100", gojira.FieldSchema{Type: "datetime"}, "2026-02-28T23:00:00Z"},
		{"user", map[string]any{"accountId": "5b10", "displayName": "Ana Lima"}, gojira.FieldSchema{Type: "user"}, "Ana Lima"},
		{"users", []any{map[string]any{"displayName": "Ana"}, map[string]any{"displayName": "Bo"}}, gojira.FieldSchema{Type: "array", Items: "user"}, []any{"Ana", "Bo"}},
		{"text", "plain words", gojira.FieldSchema{Type: "string"}, "plain words"},
		{"rich text", adf, gojira.FieldSchema{Type: "string"}, "Line one\nLine two\n@Ana"},
		{"sprints by name", []any{map[string]any{"id": 1.0, "name": "Sprint 4"}}, gojira.FieldSchema{Type: "array", Items: "json"}, []any{"Sprint 4"}},
		{"unknown object passes", map[string]any{"a": 1.0}, gojira.FieldSchema{Type: "any"}, map[string]any{"a": 1.0}},
	} {
		if diff := cmp.Diff(tc.want, normalize(tc.in, tc.schema)); diff != "" {
			t.Errorf("%s: normalize (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestRecordMovesCustomFieldsByName(t *testing.T) {
	c := &Connector{base: "https://acme.atlassian.net"}
	sel := selection{custom: map[string][]gojira.Field{
		"Planned Cost": {{ID: "customfield_10040", Custom: true, Schema: gojira.FieldSchema{Type: "number"}}},
		// Two fields share a name: the first with a value wins.
		"Impact": {
			{ID: "customfield_10050", Custom: true, Schema: gojira.FieldSchema{Type: "option"}},
			{ID: "customfield_10051", Custom: true, Schema: gojira.FieldSchema{Type: "option"}},
		},
		"Start date": {{ID: "customfield_10015", Custom: true, Schema: gojira.FieldSchema{Type: "date"}}},
	}}
	var issue map[string]any
	if err := json.Unmarshal([]byte(`{"id":"10001","key":"EHR-1","self":"https://acme.atlassian.net/rest/api/3/issue/10001",
		"fields":{"summary":"Go-live","description":"patient notes","comment":{"comments":[]},"updated":"2026-01-05T10:00:00.000+0100",
		"customfield_10040":1200.5,"customfield_10051":{"value":"4"},"customfield_10015":null}}`), &issue); err != nil {
		t.Fatal(err)
	}
	rec, err := c.record("jira-ehr", issue, sel, "https://acme.atlassian.net")
	if err != nil {
		t.Fatal(err)
	}
	want := pmsync.Record{
		Source: "jira-ehr", ExternalID: "10001", URL: "https://acme.atlassian.net/browse/EHR-1",
		UpdatedAt: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC),
		Data: map[string]any{
			"id": "10001", "key": "EHR-1", "self": "https://acme.atlassian.net/rest/api/3/issue/10001",
			"fields": map[string]any{"summary": "Go-live", "updated": "2026-01-05T10:00:00.000+0100"},
			"custom": map[string]any{"Planned Cost": 1200.5, "Impact": "4", "Start date": nil},
		},
	}
	if diff := cmp.Diff(want, rec); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	if _, err := c.record("s", map[string]any{"id": "1", "fields": map[string]any{}}, sel, ""); err == nil {
		t.Errorf("record without updated succeeded")
	}
	if _, err := c.record("s", map[string]any{"key": "A-1"}, sel, ""); err == nil {
		t.Errorf("record without id succeeded")
	}
}

func TestMoney(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{{0, "0.00"}, {100, "100.00"}, {999.5, "999.50"}, {1234567.891, "1,234,567.89"}, {-1500, "-1,500.00"}, {250000, "250,000.00"}} {
		if got := pmsync.Money(tc.in, 2); got != tc.want {
			t.Errorf("money(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func ptr(f float64) *float64 { return &f }

// redRollup is a hand-built rollup with something in every section.
func redRollup() pmsync.Rollup {
	return pmsync.Rollup{
		ID: "ehr-upgrade", Name: "EHR Upgrade", AsOf: "2026-11-26", Version: "0a1b2c3d4e5f",
		Health: pmsync.Health{Status: pmsync.Red, Reasons: []string{
			"1 milestone late: Go-live (due 2026-11-01)",
			"budget burn 60.0% vs 40.0% of time elapsed (+20.0 points)",
		}},
		Progress:   pmsync.Progress{Done: 120, Total: 300, Percent: 40},
		Milestones: pmsync.MilestoneCounts{Total: 8, Done: 3, Late: 1, DueSoon: 1},
		Risks:      pmsync.RiskCounts{Open: 10, RedFlags: 1},
		Budget: pmsync.Budget{Currency: "USD", Planned: 250000, Actual: 150000.5,
			BurnPercent: ptr(60), ElapsedPercent: ptr(40), VariancePoints: ptr(20)},
		Late:     []pmsync.ItemRef{{Title: "Go-live", Due: "2026-11-01", Owner: "Ana Lima"}},
		DueSoon:  []pmsync.ItemRef{{Title: "Training [all sites]", Due: "2026-12-01"}},
		RedFlags: []pmsync.ItemRef{{Title: "Vendor delay", Score: 20}},
		Changes:  []string{"health amber → red"},
	}
}

func TestCommentWiki(t *testing.T) {
	want := `*EHR Upgrade: RED as of 2026-11-26*
* 1 milestone late: Go-live (due 2026-11-01)
* budget burn 60.0% vs 40.0% of time elapsed (+20.0 points)

Progress: 40.0% (120 of 300 done)
Milestones: 3 of 8 done, 1 late, 1 due soon
* Late: Go-live (due 2026-11-01, Ana Lima)
* Due soon: Training \[all sites\] (due 2026-12-01)

Risks: 10 open, 1 red flag
* Red flag: Vendor delay (score 20)

Budget: 150,000.50 of 250,000.00 USD spent (60.0%), 40.0% of time elapsed, variance +20.0 points
Changes since the last rollup:
* health amber → red

pmsync rollup ehr-upgrade 0a1b2c3d4e5f`
	if got := renderWiki(commentLines(redRollup())); got != want {
		t.Errorf("wiki comment:\n%s\nwant:\n%s", got, want)
	}
}

// TestMarkerReadsBack checks that the marker written in either body form is
// found again when the comment is read back as JSON.
func TestMarkerReadsBack(t *testing.T) {
	r := redRollup()
	adf := map[string]any{"type": "doc", "version": 1, "content": []any{
		map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": "ehr-upgrade: RED"}}},
		map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": "pmsync rollup ehr-upgrade 0a1b2c3d4e5f"}}},
	}}
	for name, body := range map[string]any{
		"wiki": renderWiki(commentLines(r)),
		"adf":  adf, // a v3 body, should a server send one
	} {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(bodyText(raw), "\n")
		found := false
		for _, l := range lines {
			found = found || strings.TrimSpace(l) == "pmsync rollup ehr-upgrade 0a1b2c3d4e5f"
		}
		if !found {
			t.Errorf("%s body: marker line not found in %q", name, lines)
		}
	}
}

func TestRefLinesCapsTheList(t *testing.T) {
	var refs []pmsync.ItemRef
	for _, title := range []string{"A", "B", "C", "D", "E", "F", "G"} {
		refs = append(refs, pmsync.ItemRef{Title: title})
	}
	got := refLines("Late", refs, 9)
	want := []line{{bullet, "Late: A"}, {bullet, "Late: B"}, {bullet, "Late: C"}, {bullet, "Late: D"}, {bullet, "Late: E"}, {bullet, "and 4 more"}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(line{})); diff != "" {
		t.Errorf("refLines (-want +got):\n%s", diff)
	}
}

func TestFailNamesConnectionAndKeepsStatus(t *testing.T) {
	apiErr := &connectors.APIError{Vendor: "jira", Method: "GET", Path: "/rest/api/3/myself", Status: 401, Message: "Client must be authenticated to access this resource."}
	for _, tc := range []struct {
		flavor Flavor
		want   string
	}{
		{Cloud, `jira connection "jira": authentication failed (HTTP 401): check the email and API token`},
		{DataCenter, `jira connection "jira": authentication failed (HTTP 401): check the personal access token`},
	} {
		c := &Connector{name: "jira", flavor: tc.flavor}
		err := c.fail("check the connection", apiErr)
		if !strings.HasPrefix(err.Error(), tc.want) || connectors.StatusOf(err) != 401 {
			t.Errorf("%s: fail = %v (status %d), want prefix %q and status 401", tc.flavor, err, connectors.StatusOf(err), tc.want)
		}
	}
}
