package jirasim

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// renderFixture is a milestone and a task with every field set.
func renderFixture(t *testing.T) []Issue {
	return []Issue{
		{Key: "EHR-1", Type: "Milestone", Summary: "Go-live", Status: "Done", Resolution: "Done", Priority: "High",
			Created: mustTime(t, "2026-01-02T00:00:00Z"), Updated: mustTime(t, "2026-01-03T00:00:00Z")},
		{
			Key: "EHR-2", Type: "Task", Summary: `Configure "ORU" \ interface`, Description: "Line one\nLine two",
			Status: "In Progress", Assignee: "Liam O'Connor", Priority: "High", Due: "2026-03-01", Start: "2026-02-01",
			PlannedCost: ptr(12500), ActualCost: ptr(1234.56), Likelihood: "4", Impact: "5",
			Labels: []string{"hl7", "interfaces"}, Parent: "EHR-1",
			Created: mustTime(t, "2026-01-05T15:00:00Z"), Updated: mustTime(t, "2026-07-01T12:30:00.123Z"),
		},
	}
}

// fetchIssue searches one issue with every field through path.
func fetchIssue(t *testing.T, c *client, path, key string) (map[string]any, []byte) {
	t.Helper()
	r := c.get(path, url.Values{"jql": {"key = " + key}, "fields": {"*all"}})
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	p := decode[struct{ Issues []map[string]any }](t, r)
	if len(p.Issues) != 1 {
		t.Fatalf("%d issues", len(p.Issues))
	}
	return p.Issues[0], r.body
}

func TestCloudIssueJSON(t *testing.T) {
	s, c := start(t, Options{TimeZone: "America/New_York"})
	s.Add(renderFixture(t)...)
	base := c.base
	is, raw := fetchIssue(t, c, "/rest/api/3/search/jql", "EHR-2")
	f := is["fields"].(map[string]any)

	for _, want := range []string{`"customfield_10050":12500.0`, `"customfield_10051":1234.56`} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("body lacks %s", want)
		}
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"id", is["id"], "10001"},
		{"key", is["key"], "EHR-2"},
		{"self", is["self"], base + "/rest/api/3/issue/10001"},
		{"summary", f["summary"], `Configure "ORU" \ interface`},
		// July is daylight time (UTC-4), January standard time (UTC-5).
		{"updated", f["updated"], "2026-07-01T08:30:00.123-0400"},
		{"created", f["created"], "2026-01-05T10:00:00.000-0500"},
		{"duedate", f["duedate"], "2026-03-01"},
		{"start date", f["customfield_10015"], "2026-02-01"},
		{"labels", f["labels"], []any{"hl7", "interfaces"}},
		{"resolution", f["resolution"], nil},
		{"description", f["description"], map[string]any{"type": "doc", "version": 1.0, "content": []any{
			map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": "Line one"}}},
			map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": "Line two"}}},
		}}},
		{"likelihood", f["customfield_10052"], map[string]any{
			"self": base + "/rest/api/3/customFieldOption/10023", "value": "4", "id": "10023"}},
		{"impact", f["customfield_10053"], map[string]any{
			"self": base + "/rest/api/3/customFieldOption/10034", "value": "5", "id": "10034"}},
		{"status category", f["status"].(map[string]any)["statusCategory"], map[string]any{
			"self": base + "/rest/api/3/statuscategory/4", "id": 4.0, "key": "indeterminate",
			"colorName": "yellow", "name": "In Progress"}},
		{"status name", f["status"].(map[string]any)["name"], "In Progress"},
		{"issuetype", f["issuetype"], map[string]any{
			"self": base + "/rest/api/3/issuetype/10001", "id": "10001", "description": "",
			"name": "Task", "subtask": false, "hierarchyLevel": 0.0}},
		{"priority", f["priority"].(map[string]any)["name"], "High"},
		{"priority id", f["priority"].(map[string]any)["id"], "2"},
		{"assignee name", f["assignee"].(map[string]any)["displayName"], "Liam O'Connor"},
		{"assignee timezone", f["assignee"].(map[string]any)["timeZone"], "America/New_York"},
		{"parent key", f["parent"].(map[string]any)["key"], "EHR-1"},
		{"parent id", f["parent"].(map[string]any)["id"], "10000"},
		{"parent summary", f["parent"].(map[string]any)["fields"].(map[string]any)["summary"], "Go-live"},
		{"project", f["project"].(map[string]any)["key"], "EHR"},
	}
	for _, ck := range checks {
		if d := cmp.Diff(ck.want, ck.got); d != "" {
			t.Errorf("%s (-want +got):\n%s", ck.name, d)
		}
	}
	if id, _ := f["assignee"].(map[string]any)["accountId"].(string); len(id) != 24 {
		t.Errorf("accountId %q is not 24 hex digits", id)
	}

	parent, _ := fetchIssue(t, c, "/rest/api/3/search/jql", "EHR-1")
	pf := parent["fields"].(map[string]any)
	if _, ok := pf["parent"]; ok {
		t.Error("an issue without a parent has a parent field")
	}
	if d := cmp.Diff(map[string]any{"self": base + "/rest/api/3/resolution/10000", "id": "10000",
		"description": "", "name": "Done"}, pf["resolution"]); d != "" {
		t.Errorf("resolution (-want +got):\n%s", d)
	}
	if pf["assignee"] != nil || pf["description"] != nil || pf["customfield_10050"] != nil || pf["customfield_10052"] != nil {
		t.Errorf("unset fields are not null: %v", pf)
	}

	v2, _ := fetchIssue(t, c, "/rest/api/2/search/jql", "EHR-2")
	if got := v2["fields"].(map[string]any)["description"]; got != "Line one\nLine two" {
		t.Errorf("v2 description %#v, want plain text", got)
	}
	if got := v2["self"]; got != base+"/rest/api/2/issue/10001" {
		t.Errorf("v2 self %v", got)
	}

	one := decode[map[string]any](t, c.get("/rest/api/3/issue/EHR-2", nil))
	if one["expand"] != issueExpand || one["fields"].(map[string]any)["summary"] != `Configure "ORU" \ interface` {
		t.Errorf("GET issue: %v", one)
	}
	if r := c.get("/rest/api/3/issue/EHR-99", nil); r.status != http.StatusNotFound {
		t.Errorf("GET missing issue: status %d", r.status)
	}
}

func TestDataCenterIssueJSON(t *testing.T) {
	s, c := start(t, Options{Flavor: DataCenter, TimeZone: "Europe/Berlin"})
	s.Add(renderFixture(t)...)
	base := c.base
	is, _ := fetchIssue(t, c, "/rest/api/2/search", "EHR-2")
	f := is["fields"].(map[string]any)
	assignee := f["assignee"].(map[string]any)
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"self", is["self"], base + "/rest/api/2/issue/10001"},
		{"updated", f["updated"], "2026-07-01T14:30:00.123+0200"},
		{"description", f["description"], "Line one\nLine two"},
		{"planned cost", f["customfield_10101"], 12500.0},
		{"start date", f["customfield_10100"], "2026-02-01"},
		{"likelihood", f["customfield_10103"], map[string]any{
			"self": base + "/rest/api/2/customFieldOption/10303", "value": "4", "id": "10303", "disabled": false}},
		{"assignee name", assignee["name"], "loconnor"},
		{"assignee display", assignee["displayName"], "Liam O'Connor"},
		{"assignee has no accountId", assignee["accountId"], nil},
		{"issuetype", f["issuetype"], map[string]any{
			"self": base + "/rest/api/2/issuetype/10001", "id": "10001", "description": "", "name": "Task", "subtask": false}},
	}
	for _, ck := range checks {
		if d := cmp.Diff(ck.want, ck.got); d != "" {
			t.Errorf("%s (-want +got):\n%s", ck.name, d)
		}
	}
	if _, ok := f["customfield_10015"]; ok {
		t.Error("Data Center issue carries the Cloud start date id")
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{`plain`, `"plain"`},
		{`a "b" \ c`, `"a \"b\" \\ c"`},
		{"tab\tnl\ncr\r", `"tab\tnl\ncr\r"`},
		{"\x01\x1f", `"\u0001\u001f"`},
		{"caf\xe9", "\"caf\uFFFD\""},
		{"Women's health – wave 2", `"Women's health – wave 2"`},
	}
	for _, tt := range tests {
		if got := string(appendString(nil, tt.in)); got != tt.want {
			t.Errorf("appendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
