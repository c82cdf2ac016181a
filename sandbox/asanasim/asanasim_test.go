package asanasim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const token = "test-token"

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var t0 = time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)

func newSim(t *testing.T) (*Server, *httptest.Server, *clock) {
	t.Helper()
	c := &clock{t: t0}
	s := New(Options{Token: token, Now: c.Now})
	ts := s.Start()
	t.Cleanup(ts.Close)
	return s, ts, c
}

// get sends an authenticated request and decodes the JSON answer.
func get(t *testing.T, ts *httptest.Server, method, path string, q url.Values, body any) (int, http.Header, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	u := ts.URL + BasePath + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		m = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, resp.Header, m
}

func firstMessage(m map[string]any) string {
	errs, _ := m["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	e, _ := errs[0].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

func gids(m map[string]any) []string {
	var out []string
	data, _ := m["data"].([]any)
	for _, d := range data {
		out = append(out, d.(map[string]any)["gid"].(string))
	}
	return out
}

func TestAuth(t *testing.T) {
	_, ts, _ := newSim(t)
	tests := []struct {
		name   string
		header string
		want   int
	}{
		{"no header", "", 401},
		{"wrong token", "Bearer nope", 401},
		{"basic scheme", "Basic " + token, 401},
		{"right token", "Bearer " + token, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", ts.URL+BasePath+"/users/me", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == 401 && string(raw) != `{"errors":[{"message":"Not Authorized"}]}` {
				t.Errorf("401 body = %s", raw)
			}
		})
	}
}

func TestTasksCompactUnlessOptFields(t *testing.T) {
	s, ts, _ := newSim(t)
	p := s.AddProject("P", PMOFields()...)
	gid, err := s.AddTask(p, Task{Name: "Go-live", Subtype: "milestone", Section: "Risks", Notes: "secret notes", Assignee: "Grace Liu",
		DueOn: "2026-12-01", Custom: map[string]any{FieldStatus: StatusInProgress, FieldPlannedCost: 1200.5, "Sites": []string{"Pediatrics"}, "Clinical Lead": []string{"Sam Patel"}, "Target Date": "2026-12-02", "Vendor Ref": "V-1"}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, compact := get(t, ts, "GET", "/tasks", url.Values{"project": {p}}, nil)
	want := map[string]any{"data": []any{map[string]any{"gid": gid, "resource_type": "task", "name": "Go-live", "resource_subtype": "milestone"}}}
	if d := cmp.Diff(want, compact); d != "" {
		t.Errorf("compact (-want +got):\n%s", d)
	}

	q := url.Values{"project": {p}, "opt_fields": {"assignee.name,due_on,memberships.section.name,custom_fields.name,custom_fields.number_value,custom_fields.enum_value.name,custom_fields.multi_enum_values.name,custom_fields.people_value.name,custom_fields.date_value,custom_fields.text_value"}}
	_, _, full := get(t, ts, "GET", "/tasks", q, nil)
	task := full["data"].([]any)[0].(map[string]any)
	if _, ok := task["notes"]; ok {
		t.Errorf("notes sent without being asked for")
	}
	if got := task["assignee"].(map[string]any)["name"]; got != "Grace Liu" {
		t.Errorf("assignee.name = %v", got)
	}
	if got := task["memberships"].([]any)[0].(map[string]any)["section"].(map[string]any)["name"]; got != "Risks" {
		t.Errorf("section name = %v", got)
	}
	byName := map[string]map[string]any{}
	for _, cf := range task["custom_fields"].([]any) {
		m := cf.(map[string]any)
		byName[m["name"].(string)] = m
	}
	checks := []struct {
		field, key string
		want       any
	}{
		{FieldPlannedCost, "number_value", 1200.5},
		{FieldActualCost, "number_value", nil},
		{FieldStatus, "enum_value", map[string]any{"gid": byName[FieldStatus]["enum_value"].(map[string]any)["gid"], "resource_type": "enum_option", "name": StatusInProgress}},
		{"Sites", "multi_enum_values", []any{map[string]any{"gid": byName["Sites"]["multi_enum_values"].([]any)[0].(map[string]any)["gid"], "resource_type": "enum_option", "name": "Pediatrics"}}},
		{"Clinical Lead", "people_value", []any{map[string]any{"gid": byName["Clinical Lead"]["people_value"].([]any)[0].(map[string]any)["gid"], "resource_type": "user", "name": "Sam Patel"}}},
		{"Target Date", "date_value", map[string]any{"date": "2026-12-02", "date_time": nil}},
		{"Vendor Ref", "text_value", "V-1"},
	}
	for _, c := range checks {
		if d := cmp.Diff(c.want, byName[c.field][c.key]); d != "" {
			t.Errorf("%s.%s (-want +got):\n%s", c.field, c.key, d)
		}
	}
	if _, ok := byName[FieldPlannedCost]["enum_value"]; ok {
		t.Errorf("a number field carries enum_value")
	}
}

func TestLimitAndOffsets(t *testing.T) {
	s, ts, c := newSim(t)
	p := s.Generate("Telehealth", 250, 1, t0)
	tests := []struct {
		limit  string
		status int
		msg    string
	}{
		{"0", 400, MsgLimitRange},
		{"101", 400, MsgLimitRange},
		{"x", 400, MsgLimitRange},
		{"100", 200, ""},
		{"1", 200, ""},
	}
	for _, tt := range tests {
		st, _, m := get(t, ts, "GET", "/tasks", url.Values{"project": {p}, "limit": {tt.limit}}, nil)
		if st != tt.status || firstMessage(m) != tt.msg {
			t.Errorf("limit=%s: %d %q, want %d %q", tt.limit, st, firstMessage(m), tt.status, tt.msg)
		}
	}

	// Walk every page: each task once, in project order, next_page null at
	// the end.
	var seen []string
	offset := ""
	pages := 0
	for {
		q := url.Values{"project": {p}, "limit": {"100"}}
		if offset != "" {
			q.Set("offset", offset)
		}
		st, _, m := get(t, ts, "GET", "/tasks", q, nil)
		if st != 200 {
			t.Fatalf("page %d: status %d %v", pages, st, m)
		}
		pages++
		seen = append(seen, gids(m)...)
		np, present := m["next_page"]
		if !present {
			t.Fatal("next_page missing although limit was given")
		}
		if np == nil {
			break
		}
		offset = np.(map[string]any)["offset"].(string)
	}
	var want []string
	for _, tk := range s.Tasks(p) {
		want = append(want, tk.GID)
	}
	if pages != 3 || !slices.Equal(seen, want) {
		t.Fatalf("pages = %d, %d gids; want 3 pages and the %d tasks in order", pages, len(seen), len(want))
	}

	_, _, m := get(t, ts, "GET", "/tasks", url.Values{"project": {p}, "limit": {"100"}}, nil)
	next := m["next_page"].(map[string]any)["offset"].(string)
	other := url.Values{"project": {p}, "limit": {"100"}, "offset": {next}, "modified_since": {"2026-01-01T00:00:00Z"}}
	if st, _, m := get(t, ts, "GET", "/tasks", other, nil); st != 400 || firstMessage(m) != "offset: Invalid offset" {
		t.Errorf("offset reused on another query: %d %q", st, firstMessage(m))
	}
	c.Add(31 * time.Minute)
	if st, _, m := get(t, ts, "GET", "/tasks", url.Values{"project": {p}, "limit": {"100"}, "offset": {next}}, nil); st != 400 || firstMessage(m) != MsgOffsetExpired {
		t.Errorf("offset after TTL: %d %q", st, firstMessage(m))
	}
	_, _, m = get(t, ts, "GET", "/tasks", url.Values{"project": {p}, "limit": {"100"}}, nil)
	next = m["next_page"].(map[string]any)["offset"].(string)
	s.ExpireOffsets()
	if st, _, m := get(t, ts, "GET", "/tasks", url.Values{"project": {p}, "limit": {"100"}, "offset": {next}}, nil); st != 400 || firstMessage(m) != MsgOffsetExpired {
		t.Errorf("offset after ExpireOffsets: %d %q", st, firstMessage(m))
	}
}

func TestModifiedSince(t *testing.T) {
	s, ts, c := newSim(t)
	p := s.Generate("Telehealth", 40, 2, t0)
	c.Add(time.Hour)
	tasks := s.Tasks(p)
	changed := []string{tasks[3].GID, tasks[17].GID, tasks[29].GID}
	for _, g := range changed {
		if err := s.UpdateTask(g, func(t *Task) { t.Name += " (rescheduled)" }); err != nil {
			t.Fatal(err)
		}
	}
	since := t0.Add(30 * time.Minute).Format(time.RFC3339)
	_, _, m := get(t, ts, "GET", "/tasks", url.Values{"project": {p}, "modified_since": {since}, "limit": {"100"}}, nil)
	if got := gids(m); !slices.Equal(got, changed) {
		t.Errorf("modified_since = %v, want %v", got, changed)
	}
	if st, _, m := get(t, ts, "GET", "/tasks", url.Values{"project": {p}, "modified_since": {"yesterday"}}, nil); st != 400 {
		t.Errorf("bad modified_since: %d %v", st, m)
	}
}

func TestEvents(t *testing.T) {
	s, ts, c := newSim(t)
	p := s.Generate("Telehealth", 30, 3, t0)
	tasks := s.Tasks(p)

	st, _, m := get(t, ts, "GET", "/events", url.Values{"resource": {p}}, nil)
	if st != 412 || firstMessage(m) != MsgSyncInvalid || m["sync"] == "" {
		t.Fatalf("first call: %d %v", st, m)
	}
	tok := m["sync"].(string)

	if err := s.DeleteTask(tasks[0].GID); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveFromProject(tasks[1].GID); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateTask(tasks[2].GID, func(t *Task) { t.Completed = true }); err != nil {
		t.Fatal(err)
	}
	st, _, m = get(t, ts, "GET", "/events", url.Values{"resource": {p}, "sync": {tok}}, nil)
	if st != 200 {
		t.Fatalf("events: %d %v", st, m)
	}
	type ev struct{ Action, Task, Parent string }
	var got []ev
	for _, d := range m["data"].([]any) {
		e := d.(map[string]any)
		x := ev{Action: e["action"].(string), Task: e["resource"].(map[string]any)["gid"].(string)}
		if par, ok := e["parent"].(map[string]any); ok {
			x.Parent = par["gid"].(string)
		}
		got = append(got, x)
	}
	want := []ev{{"deleted", tasks[0].GID, ""}, {"removed", tasks[1].GID, p}, {"changed", tasks[2].GID, ""}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if m["has_more"] != false {
		t.Errorf("has_more = %v", m["has_more"])
	}
	tok = m["sync"].(string)

	// More than 100 events come in several calls.
	for i := 3; i < 28; i++ {
		for range 5 {
			_ = s.UpdateTask(tasks[i].GID, func(t *Task) { t.Name += "." })
		}
	}
	total, calls := 0, 0
	for {
		_, _, m = get(t, ts, "GET", "/events", url.Values{"resource": {p}, "sync": {tok}}, nil)
		calls++
		total += len(m["data"].([]any))
		tok = m["sync"].(string)
		if m["has_more"] != true {
			break
		}
	}
	if total != 125 || calls != 2 {
		t.Errorf("125 events came as %d in %d calls, want 125 in 2", total, calls)
	}

	c.Add(25 * time.Hour)
	st, _, m = get(t, ts, "GET", "/events", url.Values{"resource": {p}, "sync": {tok}}, nil)
	if st != 412 || m["sync"] == tok {
		t.Errorf("expired token: %d, sync %v", st, m["sync"])
	}
	fresh := m["sync"].(string)
	s.ExpireSyncTokens()
	if st, _, _ := get(t, ts, "GET", "/events", url.Values{"resource": {p}, "sync": {fresh}}, nil); st != 412 {
		t.Errorf("token after ExpireSyncTokens: %d", st)
	}
}

func TestStatusUpdates(t *testing.T) {
	s, ts, _ := newSim(t)
	p := s.AddProject("P")
	post := func(title, typ, text string) (int, map[string]any) {
		st, _, m := get(t, ts, "POST", "/status_updates", nil, map[string]any{"data": map[string]any{"parent": p, "status_type": typ, "title": title, "text": text}})
		return st, m
	}
	tests := []struct {
		title, typ, text string
		status           int
	}{
		{"one", "on_track", "all good", 201},
		{"two", "at_risk", "watch", 201},
		{"bad type", "green", "x", 400},
		{"no text", "on_track", "", 400},
	}
	for _, tt := range tests {
		if st, m := post(tt.title, tt.typ, tt.text); st != tt.status {
			t.Errorf("post %q: %d %v", tt.title, st, m)
		}
	}
	_, _, m := get(t, ts, "GET", "/status_updates", url.Values{"parent": {p}, "opt_fields": {"title,text,status_type"}}, nil)
	var titles []string
	for _, d := range m["data"].([]any) {
		titles = append(titles, d.(map[string]any)["title"].(string))
	}
	if !slices.Equal(titles, []string{"two", "one"}) {
		t.Errorf("listed %v, want newest first [two one]", titles)
	}
	if got := len(s.StatusUpdates(p)); got != 2 {
		t.Errorf("stored %d updates, want 2", got)
	}
}

func TestFaults(t *testing.T) {
	s, ts, _ := newSim(t)
	p := s.Generate("Telehealth", 5, 4, t0)
	tests := []struct {
		name       string
		fault      Fault
		wantStatus []int // statuses of three consecutive GET /tasks
		wantMsg    string
		retryAfter string
	}{
		{"429 with Retry-After", Fault{Path: "/tasks", Status: 429, RetryAfter: 7}, []int{429, 200, 200}, MsgRateLimited, "7"},
		{"500 twice", Fault{Path: "/tasks", Status: 500, Times: 2}, []int{500, 500, 200}, "Server Error", ""},
		{"401", Fault{Status: 401}, []int{401, 200, 200}, MsgNotAuthorized, ""},
		{"malformed 200", Fault{Method: "GET", Path: "/tasks", Status: 200}, []int{200, 200, 200}, "", ""},
		{"other path untouched", Fault{Path: "/events", Status: 500}, []int{200, 200, 200}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Inject(tt.fault)
			var got []int
			for i := range 3 {
				st, h, m := get(t, ts, "GET", "/tasks", url.Values{"project": {p}}, nil)
				got = append(got, st)
				if i == 0 && tt.wantMsg != "" && firstMessage(m) != tt.wantMsg {
					t.Errorf("message = %q, want %q", firstMessage(m), tt.wantMsg)
				}
				if i == 0 && tt.retryAfter != "" && h.Get("Retry-After") != tt.retryAfter {
					t.Errorf("Retry-After = %q", h.Get("Retry-After"))
				}
				if i == 0 && tt.name == "malformed 200" && m["raw"] == nil {
					t.Errorf("body decoded as JSON: %v", m)
				}
			}
			if !slices.Equal(got, tt.wantStatus) {
				t.Errorf("statuses %v, want %v", got, tt.wantStatus)
			}
		})
		s.mu.Lock()
		s.faults = nil
		s.mu.Unlock()
	}

	// An After fault lets the write happen and loses the answer.
	s.Inject(Fault{Method: "POST", Path: "/status_updates", Status: 504, After: true})
	st, _, _ := get(t, ts, "POST", "/status_updates", nil, map[string]any{"data": map[string]any{"parent": p, "status_type": "on_track", "title": "t", "text": "x"}})
	if st != 504 || len(s.StatusUpdates(p)) != 1 {
		t.Errorf("after-fault: status %d, %d stored; want 504 and 1", st, len(s.StatusUpdates(p)))
	}
}

func TestCallsLog(t *testing.T) {
	s, ts, _ := newSim(t)
	p := s.AddProject("P")
	get(t, ts, "GET", "/tasks", url.Values{"project": {p}, "limit": {"10"}}, nil)
	get(t, ts, "GET", "/nowhere", nil, nil)
	calls := s.Calls()
	want := []Call{
		{Method: "GET", Path: "/tasks", Query: url.Values{"project": {p}, "limit": {"10"}}, Status: 200},
		{Method: "GET", Path: "/nowhere", Query: url.Values{}, Status: 404},
	}
	if d := cmp.Diff(want, calls); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
	s.ResetCalls()
	if len(s.Calls()) != 0 {
		t.Error("ResetCalls kept calls")
	}
}

func TestDateHeaderFollowsClock(t *testing.T) {
	_, ts, _ := newSim(t)
	_, h, _ := get(t, ts, "GET", "/users/me", nil, nil)
	if got, want := h.Get("Date"), t0.Format(http.TimeFormat); got != want {
		t.Errorf("Date = %q, want %q", got, want)
	}
}

func TestGenerate(t *testing.T) {
	a := New(Options{Token: token, Now: func() time.Time { return t0 }})
	b := New(Options{Token: token, Now: func() time.Time { return t0 }})
	pa := a.Generate("Telehealth Launch", 1200, 42, t0)
	pb := b.Generate("Telehealth Launch", 1200, 42, t0)
	ta, tb := a.Tasks(pa), b.Tasks(pb)
	if d := cmp.Diff(ta, tb); d != "" {
		t.Fatalf("same seed, different plans:\n%s", d)
	}
	var milestones, risks, done, cancelledDone, planned int
	for _, tk := range ta {
		switch {
		case tk.Subtype == "milestone":
			milestones++
		case tk.Section == SectionRisks:
			risks++
			l, i := tk.Custom[FieldLikelihood].(float64), tk.Custom[FieldImpact].(float64)
			if l < 1 || l > 5 || i < 1 || i > 5 {
				t.Errorf("risk %s: likelihood %v impact %v outside 1..5", tk.GID, l, i)
			}
		}
		if tk.Completed {
			done++
			if tk.Custom[FieldStatus] == StatusCancelled {
				cancelledDone++
			}
		}
		if _, ok := tk.Custom[FieldPlannedCost]; ok {
			planned++
		}
		if tk.ModifiedAt.After(t0.Add(-time.Hour)) {
			t.Errorf("task %s modified %v, less than an hour before now", tk.GID, tk.ModifiedAt)
		}
		if tk.Assignee == "" || tk.DueOn == "" {
			t.Errorf("task %s lacks assignee or due date", tk.GID)
		}
	}
	// 1 in 12 are milestones and 1 in 10 risks, by construction.
	if milestones != 100 || risks != 120 {
		t.Errorf("milestones %d, risks %d; want 100 and 120", milestones, risks)
	}
	if done == 0 || cancelledDone == 0 || planned == 0 {
		t.Errorf("done %d, cancelled-but-ticked %d, with planned cost %d: want all > 0", done, cancelledDone, planned)
	}
}
