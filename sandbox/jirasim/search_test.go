package jirasim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// addN stores n tasks EHR-1 … EHR-n.
func addN(s *Server, n int) {
	issues := make([]Issue, n)
	for i := range issues {
		issues[i] = Issue{Project: "EHR", Summary: fmt.Sprintf("Task %d", i+1)}
	}
	s.Add(issues...)
}

type cloudPage struct {
	Issues []struct {
		ID     string                     `json:"id"`
		Key    string                     `json:"key"`
		Fields map[string]json.RawMessage `json:"fields"`
	} `json:"issues"`
	NextPageToken *string `json:"nextPageToken"`
	IsLast        bool    `json:"isLast"`
}

func TestCloudPagingVisitsEveryIssueOnce(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			s, c := start(t, Options{})
			addN(s, 1050)
			const jql = "project = EHR ORDER BY key ASC"
			seen := map[string]int{}
			var order []string
			token := ""
			pages := 0
			for {
				var r response
				if method == http.MethodGet {
					q := url.Values{"jql": {jql}, "maxResults": {"100"}, "fields": {"summary"}}
					if token != "" {
						q.Set("nextPageToken", token)
					}
					r = c.get("/rest/api/3/search/jql", q)
				} else {
					body := map[string]any{"jql": jql, "maxResults": 100, "fields": []string{"summary"}}
					if token != "" {
						body["nextPageToken"] = token
					}
					r = c.post("/rest/api/3/search/jql", body)
				}
				if r.status != http.StatusOK {
					t.Fatalf("page %d: status %d: %s", pages, r.status, r.body)
				}
				pages++
				p := decode[cloudPage](t, r)
				raw := decode[map[string]json.RawMessage](t, r)
				if _, ok := raw["total"]; ok {
					t.Errorf("page %d has total; search/jql has none", pages)
				}
				for _, is := range p.Issues {
					seen[is.Key]++
					order = append(order, is.Key)
				}
				if p.IsLast {
					if _, ok := raw["nextPageToken"]; ok {
						t.Errorf("last page carries a nextPageToken key")
					}
					break
				}
				if len(p.Issues) != 100 {
					t.Errorf("page %d: %d issues, want 100", pages, len(p.Issues))
				}
				if p.NextPageToken == nil || *p.NextPageToken == "" {
					t.Fatalf("page %d: not last and no token", pages)
				}
				token = *p.NextPageToken
				if pages > 20 {
					t.Fatal("paging does not end")
				}
			}
			if pages != 11 {
				t.Errorf("pages = %d, want 11 (1050 issues by 100)", pages)
			}
			if len(seen) != 1050 {
				t.Errorf("saw %d distinct issues, want 1050", len(seen))
			}
			for k, n := range seen {
				if n != 1 {
					t.Errorf("%s seen %d times", k, n)
				}
			}
			for i, k := range order {
				if want := "EHR-" + strconv.Itoa(i+1); k != want {
					t.Fatalf("position %d: %s, want %s", i, k, want)
				}
			}
		})
	}
}

// The token names the last issue served, so deleting served issues or
// adding issues behind the cursor neither skips nor repeats anything.
func TestCloudTokenSurvivesChanges(t *testing.T) {
	s, c := start(t, Options{})
	addN(s, 30)
	const jql = "project = EHR ORDER BY key ASC"
	q := url.Values{"jql": {jql}, "maxResults": {"10"}, "fields": {"summary"}}
	p1 := decode[cloudPage](t, c.get("/rest/api/3/search/jql", q))
	if got := p1.Issues[9].Key; got != "EHR-10" {
		t.Fatalf("first page ends at %s, want EHR-10", got)
	}
	for _, k := range []string{"EHR-3", "EHR-10"} {
		if err := s.Delete(k); err != nil {
			t.Fatal(err)
		}
	}
	q.Set("nextPageToken", *p1.NextPageToken)
	p2 := decode[cloudPage](t, c.get("/rest/api/3/search/jql", q))
	if got, want := p2.Issues[0].Key, "EHR-11"; got != want {
		t.Errorf("second page starts at %s, want %s", got, want)
	}
}

func TestCloudDefaultFieldsAndCaps(t *testing.T) {
	s, c := start(t, Options{MaxResults: 20, MaxIDResults: 300})
	addN(s, 400)
	tests := []struct {
		name     string
		q        url.Values
		want     int
		wantKeys []string // the keys each issue object must have, exactly
	}{
		{"default is id only", url.Values{"jql": {"project = EHR"}}, 50, []string{"id"}},
		{"id cap", url.Values{"jql": {"project = EHR"}, "maxResults": {"1000"}}, 300, []string{"id"}},
		{"key counts as id-only for the cap", url.Values{"jql": {"project = EHR"}, "maxResults": {"1000"}, "fields": {"key"}},
			300, []string{"expand", "id", "key", "self"}},
		{"field cap", url.Values{"jql": {"project = EHR"}, "maxResults": {"1000"}, "fields": {"summary,status"}},
			20, []string{"expand", "fields", "id", "key", "self"}},
		{"repeated fields", url.Values{"jql": {"project = EHR"}, "maxResults": {"5"}, "fields": {"summary", "status"}},
			5, []string{"expand", "fields", "id", "key", "self"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get("/rest/api/3/search/jql", tt.q)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			p := decode[struct{ Issues []map[string]json.RawMessage }](t, r)
			if len(p.Issues) != tt.want {
				t.Errorf("%d issues, want %d", len(p.Issues), tt.want)
			}
			for _, is := range p.Issues {
				if len(is) != len(tt.wantKeys) {
					t.Fatalf("issue keys %v, want %v", keysOf(is), tt.wantKeys)
				}
				for _, k := range tt.wantKeys {
					if _, ok := is[k]; !ok {
						t.Fatalf("issue keys %v, want %v", keysOf(is), tt.wantKeys)
					}
				}
			}
		})
	}
}

func keysOf(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestFieldSelection(t *testing.T) {
	s, c := start(t, Options{})
	s.Add(Issue{Project: "EHR", Summary: "Build order sets", Parent: "", Labels: []string{"hl7"}})
	tests := []struct {
		fields string
		want   []string
	}{
		{"summary,labels", []string{"labels", "summary"}},
		{"*all,-description,-customfield_10015", []string{
			"assignee", "created", "customfield_10050", "customfield_10051", "customfield_10052",
			"customfield_10053", "duedate", "issuetype", "labels", "priority", "project",
			"resolution", "status", "summary", "updated",
		}},
		{"*navigable,-summary,-status,-issuetype,-assignee,-priority,-duedate,-updated,-created,-labels,-resolution,-project",
			[]string{"customfield_10015", "customfield_10050", "customfield_10051", "customfield_10052", "customfield_10053", "description"}},
		{"summary,nosuchfield", []string{"summary"}},
	}
	for _, tt := range tests {
		t.Run(tt.fields, func(t *testing.T) {
			p := decode[cloudPage](t, c.get("/rest/api/3/search/jql",
				url.Values{"jql": {"project = EHR"}, "fields": {tt.fields}}))
			if len(p.Issues) != 1 {
				t.Fatalf("%d issues", len(p.Issues))
			}
			got := map[string]bool{}
			for k := range p.Issues[0].Fields {
				got[k] = true
			}
			if len(got) != len(tt.want) {
				t.Errorf("fields %v, want %v", got, tt.want)
			}
			for _, k := range tt.want {
				if !got[k] {
					t.Errorf("field %s missing; got %v", k, got)
				}
			}
		})
	}
}

func TestCloudSearchErrors(t *testing.T) {
	s, c := start(t, Options{})
	addN(s, 5)
	other := decode[cloudPage](t, c.get("/rest/api/3/search/jql",
		url.Values{"jql": {"project = EHR ORDER BY key"}, "maxResults": {"2"}}))
	tests := []struct {
		name string
		q    url.Values
		want string
	}{
		{"empty jql", url.Values{}, unboundedJQL},
		{"order only", url.Values{"jql": {"ORDER BY key DESC"}}, unboundedJQL},
		{"garbage token", url.Values{"jql": {"project = EHR"}, "nextPageToken": {"!!not-a-token"}}, invalidPageToken},
		{"token of another query", url.Values{"jql": {"project = EHR ORDER BY key DESC"}, "nextPageToken": {*other.NextPageToken}},
			invalidPageToken},
		{"unknown project", url.Values{"jql": {"project = XYZ"}}, "The value 'XYZ' does not exist for the field 'project'."},
		{"unknown field", url.Values{"jql": {"foo = bar"}}, "Field 'foo' does not exist or you do not have permission to view it."},
		{"bad maxResults", url.Values{"jql": {"project = EHR"}, "maxResults": {"ten"}},
			"The value 'ten' is not valid for the parameter 'maxResults'."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get("/rest/api/3/search/jql", tt.q)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			if got := errorMessages(t, r); len(got) != 1 || got[0] != tt.want {
				t.Errorf("errorMessages %q, want [%q]", got, tt.want)
			}
		})
	}
}

func TestCloudPostRejectsUnknownBodyKeys(t *testing.T) {
	s, c := start(t, Options{})
	addN(s, 1)
	r := c.post("/rest/api/3/search/jql", map[string]any{"jql": "project = EHR", "startAt": 0})
	if r.status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", r.status)
	}
	if got := errorMessages(t, r); len(got) != 1 || got[0] != invalidPayload {
		t.Errorf("errorMessages %q", got)
	}
}

func TestRemovedSearchAnswers410OnCloud(t *testing.T) {
	_, c := start(t, Options{})
	want := `{"errorMessages":["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. ` +
		`A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"],"errors":{}}`
	for _, path := range []string{"/rest/api/3/search", "/rest/api/2/search", "/rest/api/latest/search"} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			var r response
			if method == http.MethodGet {
				r = c.get(path, url.Values{"jql": {"project = EHR"}})
			} else {
				r = c.post(path, map[string]any{"jql": "project = EHR"})
			}
			if r.status != http.StatusGone {
				t.Errorf("%s %s: status %d, want 410", method, path, r.status)
			}
			if string(r.body) != want {
				t.Errorf("%s %s: body %s", method, path, r.body)
			}
		}
	}
}

type dcPage struct {
	Expand     string `json:"expand"`
	StartAt    int    `json:"startAt"`
	MaxResults int    `json:"maxResults"`
	Total      int    `json:"total"`
	Issues     []struct {
		ID     string                     `json:"id"`
		Key    string                     `json:"key"`
		Self   string                     `json:"self"`
		Fields map[string]json.RawMessage `json:"fields"`
	} `json:"issues"`
}

func TestDataCenterSearch(t *testing.T) {
	s, c := start(t, Options{Flavor: DataCenter})
	addN(s, 1050)
	tests := []struct {
		name                     string
		q                        url.Values
		startAt, maxResults, n   int
		firstKey                 string
		wantFields, absentFields []string
	}{
		{"defaults", url.Values{"jql": {"project = EHR ORDER BY key ASC"}}, 0, 50, 50, "EHR-1",
			[]string{"summary", "status", "customfield_10100", "customfield_10103", "description"}, []string{"customfield_10015"}},
		{"last page", url.Values{"jql": {"project = EHR ORDER BY key ASC"}, "startAt": {"1000"}, "maxResults": {"100"}},
			1000, 100, 50, "EHR-1001", nil, nil},
		{"cap with fields", url.Values{"jql": {"project = EHR ORDER BY key ASC"}, "maxResults": {"5000"}, "fields": {"summary"}},
			0, 100, 100, "EHR-1", []string{"summary"}, []string{"status"}},
		{"cap with ids", url.Values{"jql": {"project = EHR ORDER BY key ASC"}, "maxResults": {"5000"}, "fields": {"id"}},
			0, 1000, 1000, "EHR-1", nil, nil},
		{"past the end", url.Values{"jql": {"project = EHR"}, "startAt": {"2000"}}, 2000, 50, 0, "", nil, nil},
		{"unbounded is allowed", url.Values{"jql": {""}, "maxResults": {"1"}}, 0, 1, 1, "EHR-1050", nil, nil},
		{"count only", url.Values{"jql": {"project = EHR"}, "maxResults": {"0"}}, 0, 0, 0, "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get("/rest/api/2/search", tt.q)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			p := decode[dcPage](t, r)
			if p.Total != 1050 || p.StartAt != tt.startAt || p.MaxResults != tt.maxResults || len(p.Issues) != tt.n {
				t.Errorf("total %d startAt %d maxResults %d issues %d; want 1050 %d %d %d",
					p.Total, p.StartAt, p.MaxResults, len(p.Issues), tt.startAt, tt.maxResults, tt.n)
			}
			if p.Expand != "schema,names" {
				t.Errorf("expand %q", p.Expand)
			}
			if tt.n == 0 {
				return
			}
			if p.Issues[0].Key != tt.firstKey {
				t.Errorf("first key %s, want %s", p.Issues[0].Key, tt.firstKey)
			}
			for _, f := range tt.wantFields {
				if _, ok := p.Issues[0].Fields[f]; !ok {
					t.Errorf("field %s missing", f)
				}
			}
			for _, f := range tt.absentFields {
				if _, ok := p.Issues[0].Fields[f]; ok {
					t.Errorf("field %s present", f)
				}
			}
		})
	}
}

func TestDataCenterPostAndPaths(t *testing.T) {
	s, c := start(t, Options{Flavor: DataCenter})
	addN(s, 12)
	r := c.post("/rest/api/2/search", map[string]any{
		"jql": "project = EHR ORDER BY key", "startAt": 10, "maxResults": 5,
		"fields": []string{"summary"}, "expand": []string{"names"},
	})
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	p := decode[struct {
		Total  int
		Issues []struct{ Key string }
		Names  map[string]string
	}](t, r)
	if p.Total != 12 || len(p.Issues) != 2 || p.Issues[0].Key != "EHR-11" || p.Names["summary"] != "Summary" {
		t.Errorf("got total %d, %d issues, first %v, names %v", p.Total, len(p.Issues), p.Issues, p.Names)
	}
	for _, path := range []string{"/rest/api/3/myself", "/rest/api/2/search/jql", "/rest/api/3/search"} {
		if r := c.get(path, nil); r.status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, r.status)
		}
	}
}

// TestDataCenterPagesAfterAnID walks a Data Center search the way a client
// that pages by id does: startAt 0 and "id > last" every time. Issue ids
// start at 10000 in Add order, so the hand-computed pages follow from that;
// deleting the last issue read must not disturb the next page.
func TestDataCenterPagesAfterAnID(t *testing.T) {
	s, c := start(t, Options{Flavor: DataCenter})
	addN(s, 30) // ids 10000 … 10029
	page := func(jql string) dcPage {
		t.Helper()
		r := c.post("/rest/api/2/search", map[string]any{"jql": jql, "startAt": 0, "maxResults": 10, "fields": []string{"summary"}})
		if r.status != http.StatusOK {
			t.Fatalf("%s: status %d: %s", jql, r.status, r.body)
		}
		return decode[dcPage](t, r)
	}
	for _, tc := range []struct {
		jql          string
		total, n     int
		first, final string
	}{
		{"project = EHR ORDER BY id ASC", 30, 10, "10000", "10009"},
		{"project = EHR AND id > 10009 ORDER BY id ASC", 20, 10, "10010", "10019"},
		{"project = EHR AND id > 10025 ORDER BY id ASC", 4, 4, "10026", "10029"},
		{"project = EHR AND id > 10029 ORDER BY id ASC", 0, 0, "", ""},
	} {
		p := page(tc.jql)
		if p.Total != tc.total || len(p.Issues) != tc.n {
			t.Errorf("%s: total %d, %d issues; want %d, %d", tc.jql, p.Total, len(p.Issues), tc.total, tc.n)
			continue
		}
		if tc.n > 0 && (p.Issues[0].ID != tc.first || p.Issues[tc.n-1].ID != tc.final) {
			t.Errorf("%s: ids %s … %s, want %s … %s", tc.jql, p.Issues[0].ID, p.Issues[tc.n-1].ID, tc.first, tc.final)
		}
	}
	if err := s.Delete("EHR-10"); err != nil { // id 10009
		t.Fatal(err)
	}
	// Like =, a range names an issue that must exist.
	r := c.post("/rest/api/2/search", map[string]any{"jql": "project = EHR AND id > 10009 ORDER BY id ASC", "startAt": 0, "maxResults": 10})
	if want := `{"errorMessages":["An issue with key '10009' does not exist for field 'id'."],"errors":{}}`; r.status != http.StatusBadRequest || strings.TrimSpace(string(r.body)) != want {
		t.Errorf("after deleting id 10009: %d %s; want 400 %s", r.status, r.body, want)
	}
}

// TestDateHeaderFollowsTheClock checks that answers, errors included, carry
// the simulated clock in their Date header, as Jira stamps its own time.
func TestDateHeaderFollowsTheClock(t *testing.T) {
	for _, flavor := range []Flavor{Cloud, DataCenter} {
		_, c := start(t, Options{Flavor: flavor})
		want := "Sat, 10 Jan 2026 12:00:00 GMT" // testNowText
		if got := c.get("/rest/api/2/myself", nil).header.Get("Date"); got != want {
			t.Errorf("%s: Date %q, want %q", flavor, got, want)
		}
		c.auth = nil
		if r := c.get("/rest/api/2/myself", nil); r.status != http.StatusUnauthorized || r.header.Get("Date") != want {
			t.Errorf("%s unauthenticated: status %d, Date %q; want 401 and %q", flavor, r.status, r.header.Get("Date"), want)
		}
	}
}
