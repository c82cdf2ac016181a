package jirasim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAuthentication(t *testing.T) {
	dcBody := `{"errorMessages":["You are not authenticated. Authentication required to perform this operation."],"errors":{}}`
	tests := []struct {
		name       string
		flavor     Flavor
		auth       func(*http.Request)
		wantStatus int
		wantType   string
		wantBody   string
	}{
		{"cloud without credentials", Cloud, nil, 401, "text/plain",
			"Client must be authenticated to access this resource."},
		{"cloud wrong token", Cloud, func(r *http.Request) { r.SetBasicAuth(testEmail, "wrong") }, 401, "text/plain",
			"Client must be authenticated to access this resource."},
		{"cloud wrong email", Cloud, func(r *http.Request) { r.SetBasicAuth("other@example.org", testToken) }, 401, "text/plain",
			"Client must be authenticated to access this resource."},
		{"cloud bearer", Cloud, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testToken) }, 401, "text/plain",
			"Client must be authenticated to access this resource."},
		{"cloud basic", Cloud, func(r *http.Request) { r.SetBasicAuth(testEmail, testToken) }, 200, "application/json", ""},
		{"dc without credentials", DataCenter, nil, 401, "application/json", dcBody},
		{"dc wrong token", DataCenter, func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, 401,
			"application/json", dcBody},
		{"dc basic", DataCenter, func(r *http.Request) { r.SetBasicAuth("someone", testPAT) }, 401, "application/json", dcBody},
		{"dc bearer", DataCenter, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+testPAT) }, 200,
			"application/json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c := start(t, Options{Flavor: tt.flavor})
			c.auth = tt.auth
			r := c.get("/rest/api/2/myself", nil)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, tt.wantType) {
				t.Errorf("Content-Type %q, want %s", ct, tt.wantType)
			}
			if tt.wantBody != "" && string(r.body) != tt.wantBody {
				t.Errorf("body %q, want %q", r.body, tt.wantBody)
			}
			if strings.Contains(string(r.body), testToken) || strings.Contains(string(r.body), testPAT) {
				t.Error("a token appears in the body")
			}
		})
	}
}

func TestMyself(t *testing.T) {
	type me struct {
		AccountID    string `json:"accountId"`
		Name         string `json:"name"`
		Key          string `json:"key"`
		DisplayName  string `json:"displayName"`
		EmailAddress string `json:"emailAddress"`
		TimeZone     string `json:"timeZone"`
		Active       bool   `json:"active"`
		Locale       string `json:"locale"`
	}
	_, cloud := start(t, Options{})
	got := decode[me](t, cloud.get("/rest/api/3/myself", nil))
	if len(got.AccountID) != 24 || got.Name != "" || got.EmailAddress != testEmail || got.TimeZone != "America/New_York" ||
		!got.Active || got.Locale != "en_US" || got.DisplayName == "" {
		t.Errorf("cloud myself: %+v", got)
	}
	_, dc := start(t, Options{Flavor: DataCenter, TimeZone: "Europe/Berlin"})
	got = decode[me](t, dc.get("/rest/api/2/myself", nil))
	if got.AccountID != "" || got.Name == "" || got.Key == "" || got.TimeZone != "Europe/Berlin" || !got.Active {
		t.Errorf("dc myself: %+v", got)
	}
}

func TestFieldList(t *testing.T) {
	type field struct {
		ID          string   `json:"id"`
		Name        string   `json:"name"`
		Custom      bool     `json:"custom"`
		ClauseNames []string `json:"clauseNames"`
		Schema      *struct {
			Type     string `json:"type"`
			Custom   string `json:"custom"`
			CustomID int    `json:"customId"`
			System   string `json:"system"`
		} `json:"schema"`
	}
	const (
		date   = "com.atlassian.jira.plugin.system.customfieldtypes:datepicker"
		number = "com.atlassian.jira.plugin.system.customfieldtypes:float"
		option = "com.atlassian.jira.plugin.system.customfieldtypes:select"
	)
	tests := []struct {
		flavor Flavor
		name   string
		id     string
		typ    string
		plugin string
	}{
		{Cloud, "Start date", "customfield_10015", "date", date},
		{Cloud, "Planned Cost", "customfield_10050", "number", number},
		{Cloud, "Actual Cost", "customfield_10051", "number", number},
		{Cloud, "Likelihood", "customfield_10052", "option", option},
		{Cloud, "Impact", "customfield_10053", "option", option},
		{DataCenter, "Start date", "customfield_10100", "date", date},
		{DataCenter, "Planned Cost", "customfield_10101", "number", number},
		{DataCenter, "Actual Cost", "customfield_10102", "number", number},
		{DataCenter, "Likelihood", "customfield_10103", "option", option},
		{DataCenter, "Impact", "customfield_10104", "option", option},
		{Cloud, "Summary", "summary", "string", ""},
		{Cloud, "Due date", "duedate", "date", ""},
		{Cloud, "Labels", "labels", "array", ""},
		{DataCenter, "Updated", "updated", "datetime", ""},
	}
	lists := map[Flavor][]field{}
	for _, fl := range []Flavor{Cloud, DataCenter} {
		_, c := start(t, Options{Flavor: fl})
		r := c.get("/rest/api/2/field", nil)
		if r.status != http.StatusOK {
			t.Fatalf("%s: status %d", fl, r.status)
		}
		lists[fl] = decode[[]field](t, r)
		names := map[string]bool{}
		for _, f := range lists[fl] {
			if names[f.Name] {
				t.Errorf("%s: field name %q twice", fl, f.Name)
			}
			names[f.Name] = true
		}
		for _, id := range []string{"summary", "status", "issuetype", "assignee", "priority", "duedate", "updated",
			"created", "labels", "resolution", "parent", "description"} {
			found := false
			for _, f := range lists[fl] {
				found = found || (f.ID == id && !f.Custom)
			}
			if !found {
				t.Errorf("%s: system field %s missing", fl, id)
			}
		}
	}
	for _, tt := range tests {
		t.Run(string(tt.flavor)+" "+tt.name, func(t *testing.T) {
			for _, f := range lists[tt.flavor] {
				if f.Name != tt.name {
					continue
				}
				if f.ID != tt.id || f.Schema == nil || f.Schema.Type != tt.typ || f.Schema.Custom != tt.plugin ||
					f.Custom != (tt.plugin != "") {
					t.Errorf("got %+v schema %+v", f, f.Schema)
				}
				if tt.plugin != "" && (f.Schema.CustomID == 0 || "customfield_"+strconv.Itoa(f.Schema.CustomID) != f.ID) {
					t.Errorf("customId %d does not match id %s", f.Schema.CustomID, f.ID)
				}
				return
			}
			t.Errorf("no field named %q", tt.name)
		})
	}
}

func TestComments(t *testing.T) {
	clock := testNow()
	s, c := start(t, Options{Now: func() time.Time { return clock }})
	s.Add(Issue{Project: "EHR", Summary: "Rollup target"})
	clock = clock.Add(time.Hour)
	adf := map[string]any{"body": map[string]any{"type": "doc", "version": 1, "content": []any{
		map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": "Health: green"}}},
		map[string]any{"type": "paragraph", "content": []any{
			map[string]any{"type": "text", "text": "Progress "}, map[string]any{"type": "text", "text": "40%"}}},
	}}}
	r := c.post("/rest/api/3/issue/EHR-1/comment", adf)
	if r.status != http.StatusCreated {
		t.Fatalf("v3 comment: status %d: %s", r.status, r.body)
	}
	created := decode[map[string]any](t, r)
	if created["id"] != "10000" || created["body"].(map[string]any)["type"] != "doc" ||
		created["author"].(map[string]any)["displayName"] == "" || created["created"] != "2026-01-10T08:00:00.000-0500" {
		t.Errorf("created comment: %v", created)
	}
	if r := c.post("/rest/api/2/issue/10000/comment", map[string]any{"body": "Plain text rollup"}); r.status != http.StatusCreated {
		t.Fatalf("v2 comment: status %d: %s", r.status, r.body)
	}
	want := []string{"Health: green\nProgress 40%", "Plain text rollup"}
	if got := s.Comments("EHR-1"); joinKeys(got) != joinKeys(want) {
		t.Errorf("Comments = %q, want %q", got, want)
	}
	if is, _ := s.Issue("EHR-1"); !is.Updated.Equal(clock) {
		t.Errorf("comment did not update the issue: updated %v, want %v", is.Updated, clock)
	}
	list := decode[struct {
		Total    int
		Comments []struct{ Body any }
	}](t, c.get("/rest/api/2/issue/EHR-1/comment", nil))
	if list.Total != 2 || list.Comments[0].Body != "Health: green\nProgress 40%" || list.Comments[1].Body != "Plain text rollup" {
		t.Errorf("comment list through v2: %+v", list)
	}

	bad := []struct {
		name   string
		path   string
		body   any
		status int
		field  string
	}{
		{"v3 wants a document", "/rest/api/3/issue/EHR-1/comment", map[string]any{"body": "plain"}, 400, "comment"},
		{"empty body", "/rest/api/2/issue/EHR-1/comment", map[string]any{"body": "  "}, 400, "comment"},
		{"unknown key", "/rest/api/2/issue/EHR-1/comment", map[string]any{"text": "x"}, 400, ""},
		{"no such issue", "/rest/api/2/issue/EHR-9/comment", map[string]any{"body": "x"}, 404, ""},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := c.post(tt.path, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			e := decode[struct{ Errors map[string]string }](t, r)
			if tt.field != "" && e.Errors[tt.field] == "" {
				t.Errorf("no error for %s: %s", tt.field, r.body)
			}
		})
	}
	if got := len(s.Comments("EHR-1")); got != 2 {
		t.Errorf("rejected comments were stored: %d", got)
	}

	req, _ := http.NewRequest(http.MethodPost, c.base+"/rest/api/2/issue/EHR-1/comment", strings.NewReader(`{"body":"x"}`))
	req.SetBasicAuth(testEmail, testToken)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("POST without JSON content type: status %d, want 415", resp.StatusCode)
	}
}

func TestFaults(t *testing.T) {
	const path = "/rest/api/3/search/jql"
	q := url.Values{"jql": {"project = EHR"}}
	s, c := start(t, Options{})
	addN(s, 3)
	normal := c.get(path, q)

	t.Run("rate limit with Retry-After", func(t *testing.T) {
		s.Inject(Fault{Path: path, Status: 429, Header: map[string]string{"Retry-After": "2"}})
		r := c.get(path, q)
		if r.status != 429 || r.header.Get("Retry-After") != "2" ||
			string(r.body) != `{"errorMessages":["Rate limit exceeded"],"errors":{}}` {
			t.Errorf("got %d %v %s", r.status, r.header, r.body)
		}
		if r := c.get(path, q); r.status != 200 {
			t.Errorf("second request: status %d, want 200", r.status)
		}
	})
	t.Run("times and order", func(t *testing.T) {
		s.Inject(Fault{Status: 503, Times: 2})
		s.Inject(Fault{Status: 500, Body: `{"errorMessages":["Internal server error"]}`})
		var got []int
		for range 4 {
			got = append(got, c.get(path, q).status)
		}
		if want := []int{503, 503, 500, 200}; !equalInts(got, want) {
			t.Errorf("statuses %v, want %v", got, want)
		}
	})
	t.Run("method and path filter", func(t *testing.T) {
		s.Inject(Fault{Method: http.MethodPost, Path: path, Status: 502})
		if r := c.get(path, q); r.status != 200 {
			t.Errorf("GET hit a POST fault: %d", r.status)
		}
		if r := c.get("/rest/api/3/myself", nil); r.status != 200 {
			t.Errorf("other path hit the fault: %d", r.status)
		}
		if r := c.post(path, map[string]any{"jql": "project = EHR"}); r.status != 502 {
			t.Errorf("POST: status %d, want 502", r.status)
		}
	})
	t.Run("before authentication", func(t *testing.T) {
		s.Inject(Fault{Status: 500})
		anon := &client{t: t, base: c.base, hc: c.hc}
		if r := anon.get(path, q); r.status != 500 {
			t.Errorf("status %d, want the fault's 500", r.status)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		s.Inject(Fault{Malformed: true})
		r := c.get(path, q)
		if r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
		var v any
		if err := json.Unmarshal(r.body, &v); err == nil {
			t.Errorf("malformed body decoded: %s", r.body)
		}
		if len(r.body) == 0 || !strings.HasPrefix(string(normal.body), string(r.body)) {
			t.Errorf("body %q is not a prefix of the normal answer %q", r.body, normal.body)
		}
	})
	t.Run("delay respects cancellation", func(t *testing.T) {
		s.Inject(Fault{Path: path, Delay: time.Minute, Status: 500})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path+"?"+q.Encode(), nil)
		c.auth(req)
		began := time.Now()
		_, err := c.hc.Do(req)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want deadline exceeded", err)
		}
		if d := time.Since(began); d > 10*time.Second {
			t.Errorf("request took %v", d)
		}
	})
	t.Run("delay only", func(t *testing.T) {
		s.Inject(Fault{Delay: 20 * time.Millisecond})
		began := time.Now()
		r := c.get(path, q)
		if r.status != 200 || string(r.body) != string(normal.body) {
			t.Errorf("status %d body %s", r.status, r.body)
		}
		if d := time.Since(began); d < 20*time.Millisecond {
			t.Errorf("answered after %v, before the delay", d)
		}
	})
	t.Run("standing fault", func(t *testing.T) {
		s.Inject(Fault{Status: 503, Times: -1})
		for range 3 {
			if r := c.get(path, q); r.status != 503 {
				t.Fatalf("status %d, want 503", r.status)
			}
		}
		s.ClearFaults()
		if r := c.get(path, q); r.status != 200 {
			t.Errorf("after ClearFaults: status %d", r.status)
		}
	})
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCalls(t *testing.T) {
	s, c := start(t, Options{})
	s.Inject(Fault{Status: 500})
	c.get("/rest/api/3/myself", url.Values{"expand": {"groups"}})
	c.post("/rest/api/3/search/jql", map[string]any{"jql": "ORDER BY key"})
	calls := s.Calls()
	if len(calls) != 2 {
		t.Fatalf("%d calls, want 2", len(calls))
	}
	if calls[0].Method != "GET" || calls[0].Path != "/rest/api/3/myself" || calls[0].Query.Get("expand") != "groups" {
		t.Errorf("first call %+v", calls[0])
	}
	if calls[1].Method != "POST" || string(calls[1].Body) != `{"jql":"ORDER BY key"}` {
		t.Errorf("second call %+v", calls[1])
	}
	s.ResetCalls()
	if n := len(s.Calls()); n != 0 {
		t.Errorf("%d calls after reset", n)
	}
}

func TestIssueStore(t *testing.T) {
	clock := testNow()
	s := New(Options{Now: func() time.Time { return clock }})
	keys := s.Add(
		Issue{Project: "EHR", Summary: "a"},
		Issue{Key: "EHR-10", Summary: "b"},
		Issue{Project: "EHR", Summary: "c"},
		Issue{ID: "20000", Project: "PACS", Summary: "d"},
		Issue{Project: "PACS", Summary: "e"},
		Issue{ID: "15000", Project: "PACS", Summary: "f", Labels: []string{"x"}},
	)
	if want := "EHR-1,EHR-10,EHR-11,PACS-1,PACS-2,PACS-3"; joinKeys(keys) != want {
		t.Errorf("keys %v, want %s", keys, want)
	}
	var ids []string
	for _, is := range s.Issues() {
		ids = append(ids, is.ID+"="+is.Key)
	}
	if want := "10000=EHR-1,10001=EHR-10,10002=EHR-11,15000=PACS-3,20000=PACS-1,20001=PACS-2"; joinKeys(ids) != want {
		t.Errorf("issues by id %v, want %s", ids, want)
	}
	is, _ := s.Issue("EHR-1")
	if !is.Created.Equal(clock) || !is.Updated.Equal(clock) || is.Status != "To Do" || is.StatusCategory != "new" || is.Type != "Task" {
		t.Errorf("defaults: %+v", is)
	}

	clock = clock.Add(time.Hour)
	if err := s.Update("PACS-3", func(is *Issue) {
		is.Summary = "f2"
		is.Key = "EHR-99"
		is.Labels[0] = "y"
		is.Status = "done"
	}); err != nil {
		t.Fatal(err)
	}
	is, ok := s.Issue("PACS-3")
	if !ok || is.Summary != "f2" || !is.Updated.Equal(clock) || is.Labels[0] != "y" || is.Status != "Done" || is.StatusCategory != "done" {
		t.Errorf("after update: %+v", is)
	}
	is.Labels[0] = "mutated"
	if again, _ := s.Issue("PACS-3"); again.Labels[0] != "y" {
		t.Error("Issue returned shared labels")
	}
	if err := s.Update("EHR-404", func(*Issue) {}); !errors.Is(err, ErrNotFound) {
		t.Errorf("update missing: %v", err)
	}
	if err := s.Delete("EHR-10"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Issue("EHR-10"); ok {
		t.Error("deleted issue still there")
	}
	if err := s.Delete("EHR-10"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if n := len(s.Issues()); n != 5 {
		t.Errorf("%d issues after delete, want 5", n)
	}
}

func TestAddRejectsImpossibleIssues(t *testing.T) {
	tests := []struct {
		name  string
		issue Issue
	}{
		{"no project", Issue{Summary: "x"}},
		{"lower-case project", Issue{Project: "ehr"}},
		{"malformed key", Issue{Key: "EHR1"}},
		{"key outside project", Issue{Key: "PACS-1", Project: "EHR"}},
		{"duplicate key", Issue{Key: "EHR-1"}},
		{"non-numeric id", Issue{Project: "EHR", ID: "abc"}},
		{"bad due date", Issue{Project: "EHR", Due: "03/01/2026"}},
		{"bad category", Issue{Project: "EHR", StatusCategory: "finished"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{Now: testNow})
			s.Add(Issue{Key: "EHR-1"})
			defer func() {
				if recover() == nil {
					t.Error("Add did not panic")
				}
			}()
			s.Add(tt.issue)
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	s, c := start(t, Options{})
	addN(s, 200)
	search := func() error {
		q := url.Values{"jql": {"project = EHR ORDER BY updated"}, "fields": {"summary"}}
		req, err := http.NewRequest(http.MethodGet, c.base+"/rest/api/3/search/jql?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		c.auth(req)
		resp, err := c.hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var p cloudPage
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || len(p.Issues) != 50 {
			return fmt.Errorf("status %d, %d issues", resp.StatusCode, len(p.Issues))
		}
		return nil
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if g%2 == 0 {
					if err := search(); err != nil {
						t.Errorf("search: %v", err)
					}
				} else {
					key := "EHR-" + strconv.Itoa(1+(g*20+i)%200)
					if err := s.Update(key, func(is *Issue) { is.Summary += "!" }); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	if n := len(s.Calls()); n != 40 {
		t.Errorf("%d calls recorded, want 40", n)
	}
}
