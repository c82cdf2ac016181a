package asana

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox/asanasim"
)

func decodeCursor(t *testing.T, c connectors.Cursor) cursor {
	t.Helper()
	var cur cursor
	if err := json.Unmarshal([]byte(c), &cur); err != nil {
		t.Fatalf("cursor %q: %v", c, err)
	}
	return cur
}

// Acceptance: 1,000 tasks over at least 10 pages land exactly once.
func TestFullPullThousandTasksOnce(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 1000})
	pages := f.pull(t, "")

	got := recordIDs(pages)
	want := taskGIDs(f.sim.Tasks(f.project))
	if len(pages) < 10 {
		t.Errorf("%d pages, want at least 10", len(pages))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pulled %d records, want the fake's %d tasks each once in project order", len(got), len(want))
	}
	if n := len(f.calls("GET", "/tasks")); n != 10 {
		t.Errorf("%d task requests for 1,000 tasks, want 10 (100 a page)", n)
	}
	for i, p := range pages[:len(pages)-1] {
		if p.HasLive || len(p.Deleted) > 0 {
			t.Errorf("page %d carries deletions or the live list; only the last may", i)
		}
		// The position stays the starting one; the walk in progress is
		// recorded beside it so that an interrupted pull resumes.
		cur := decodeCursor(t, p.Next)
		if cur.Since != "" || cur.Sync != "" || cur.Walk == nil || cur.Walk.Offset == "" || !cur.Walk.Full || cur.Walk.Sync == "" {
			t.Errorf("page %d cursor = %s, want the starting position with the walk's next offset", i, p.Next)
		}
	}
	last := pages[len(pages)-1]
	if !last.HasLive || !slices.Equal(last.Live, want) {
		t.Errorf("last page: HasLive %v with %d live ids, want the %d tasks", last.HasLive, len(last.Live), len(want))
	}
	cur := decodeCursor(t, last.Next)
	newest := time.Time{}
	for _, tk := range f.sim.Tasks(f.project) {
		if tk.ModifiedAt.After(newest) {
			newest = tk.ModifiedAt
		}
	}
	if cur.Since != newest.UTC().Format(time.RFC3339Nano) || cur.Sync == "" {
		t.Errorf("final cursor %+v, want since %s (the newest modified_at) and a sync token", cur, newest.Format(time.RFC3339Nano))
	}
	for _, c := range f.calls("GET", "/tasks") {
		if c.Query.Get("limit") != "100" || c.Query.Get("project") != f.project || c.Query.Has("modified_since") {
			t.Errorf("full walk query %v", c.Query)
		}
		if strings.Contains(c.Query.Get("opt_fields"), "notes") {
			t.Errorf("opt_fields asks for notes: %s", c.Query.Get("opt_fields"))
		}
	}
}

// overlapping lists, from the fake's own data, the tasks an incremental
// pull from since must return: those modified since the cursor less the
// overlap.
func overlapping(f *fixture, since time.Time) []string {
	from := since.Add(-DefaultOverlap).Truncate(time.Second)
	var out []string
	for _, tk := range f.sim.Tasks(f.project) {
		if !tk.ModifiedAt.Before(from) {
			out = append(out, tk.GID)
		}
	}
	return out
}

// Acceptance: a change to 3 tasks is picked up by an incremental run that
// fetches only the changed pages.
func TestIncrementalFetchesOnlyChanges(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 1000})
	pages := f.pull(t, "")
	cur := pages[len(pages)-1].Next
	prev := decodeCursor(t, cur)

	f.clock.Advance(2 * time.Hour)
	tasks := f.sim.Tasks(f.project)
	changed := []string{tasks[5].GID, tasks[450].GID, tasks[999].GID}
	for _, g := range changed {
		if err := f.sim.UpdateTask(g, func(t *asanasim.Task) { t.DueOn = "2027-01-15" }); err != nil {
			t.Fatal(err)
		}
	}
	f.sim.ResetCalls()
	pages = f.pull(t, cur)

	// The changed tasks, plus those the overlap re-reads.
	since, _ := time.Parse(time.RFC3339Nano, prev.Since)
	want := overlapping(f, since)
	if got := recordIDs(pages); !slices.Equal(got, want) || len(want) > len(changed)+5 {
		t.Errorf("incremental pull returned %v, want %v (the 3 changed tasks and the overlap)", got, want)
	}
	for _, g := range changed {
		if !slices.Contains(want, g) {
			t.Errorf("changed task %s not expected: test data is wrong", g)
		}
	}
	calls := f.calls("GET", "/tasks")
	if len(calls) != 1 {
		t.Fatalf("%d task requests, want 1", len(calls))
	}
	wantSince := since.Add(-DefaultOverlap).UTC().Format(time.RFC3339)
	if got := calls[0].Query.Get("modified_since"); got != wantSince {
		t.Errorf("modified_since = %s, want the cursor less the overlap, %s", got, wantSince)
	}
	if n := len(f.sim.Calls()); n != 2 {
		t.Errorf("%d requests in all, want 2 (events, one task page)", n)
	}
	next := decodeCursor(t, pages[len(pages)-1].Next)
	if next.Since != t0.Add(2*time.Hour).Format(time.RFC3339Nano) || next.Sync == prev.Sync {
		t.Errorf("cursor after the change %+v, want since %s and a new sync token", next, t0.Add(2*time.Hour).Format(time.RFC3339Nano))
	}
	if pages[len(pages)-1].HasLive {
		t.Error("an incremental pull sent a live list")
	}
}

// Acceptance: a deleted task is tombstoned via events (and so is a task
// removed from the project).
func TestDeletionsComeFromEvents(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 300})
	pages := f.pull(t, "")
	cur := pages[len(pages)-1].Next
	tasks := f.sim.Tasks(f.project)
	deleted, removed, movedBack := tasks[10].GID, tasks[20].GID, tasks[30].GID
	if err := f.sim.DeleteTask(deleted); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.RemoveFromProject(removed); err != nil {
		t.Fatal(err)
	}
	if err := f.sim.UpdateTask(movedBack, func(t *asanasim.Task) { t.Section = "Go-Live & Hypercare" }); err != nil {
		t.Fatal(err)
	}

	pages = f.pull(t, cur)
	last := pages[len(pages)-1]
	if want := []string{deleted, removed}; !slices.Equal(last.Deleted, want) {
		t.Errorf("Deleted = %v, want %v", last.Deleted, want)
	}
	if slices.Contains(recordIDs(pages), deleted) || slices.Contains(recordIDs(pages), removed) {
		t.Error("a deleted or removed task came back as a record")
	}
	// The deletions travel with the cursor that moves past their events.
	if decodeCursor(t, last.Next).Sync == decodeCursor(t, cur).Sync {
		t.Error("the page with the deletions did not advance the sync token")
	}
	// Next time they are not reported again.
	pages = f.pull(t, last.Next)
	if d := pages[len(pages)-1].Deleted; len(d) != 0 {
		t.Errorf("deletions reported twice: %v", d)
	}
}

// Acceptance: an expired sync token leads to a correct full re-list.
func TestExpiredSyncTokenRelists(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 450})
	pages := f.pull(t, "")
	cur := pages[len(pages)-1].Next
	old := decodeCursor(t, cur)

	tasks := f.sim.Tasks(f.project)
	gone := tasks[200].GID
	if err := f.sim.DeleteTask(gone); err != nil {
		t.Fatal(err)
	}
	// A day without syncing: Asana drops the token and its events.
	f.clock.Advance(25 * time.Hour)
	f.sim.ResetCalls()

	pages = f.pull(t, cur)
	want := taskGIDs(f.sim.Tasks(f.project))
	last := pages[len(pages)-1]
	if !last.HasLive || !slices.Equal(last.Live, want) {
		t.Fatalf("re-list: HasLive %v, %d live ids; want the %d remaining tasks", last.HasLive, len(last.Live), len(want))
	}
	if slices.Contains(last.Live, gone) {
		t.Errorf("deleted task %s is in the live list", gone)
	}
	if got := recordIDs(pages); !slices.Equal(got, want) {
		t.Errorf("re-list returned %d records, want all %d tasks", len(got), len(want))
	}
	for _, c := range f.calls("GET", "/tasks") {
		if c.Query.Has("modified_since") {
			t.Errorf("re-list filtered by modified_since: %v", c.Query)
		}
	}
	for i, p := range pages[:len(pages)-1] {
		if pc := decodeCursor(t, p.Next); pc.Since != old.Since || pc.Sync != old.Sync || pc.Walk == nil {
			t.Errorf("page %d moved the cursor before the re-list ended: %s", i, p.Next)
		}
	}
	next := decodeCursor(t, last.Next)
	if next.Sync == "" || next.Sync == old.Sync {
		t.Errorf("re-list kept sync token %q", next.Sync)
	}
	// The fresh token works: the next pull is incremental again and reads
	// only the overlap.
	f.sim.ResetCalls()
	since, _ := time.Parse(time.RFC3339Nano, next.Since)
	pages = f.pull(t, last.Next)
	if got, want := recordIDs(pages), overlapping(f, since); pages[len(pages)-1].HasLive || !slices.Equal(got, want) {
		t.Errorf("pull after the re-list: HasLive %v, records %v; want an incremental pull of %v", pages[len(pages)-1].HasLive, got, want)
	}
}

func TestExpiredOffsetRestartsWalkOnce(t *testing.T) {
	tests := []struct {
		name     string
		expireAt []int // page numbers (1-based) after which offsets expire
		wantErr  bool
	}{
		{"once", []int{2}, false},
		{"twice", []int{1, 2}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{tasks: 450})
			var pages []connectors.Page
			err := f.c.Pull(context.Background(), f.scope, "", func(p connectors.Page) error {
				pages = append(pages, p)
				if slices.Contains(tt.expireAt, len(pages)) {
					f.sim.ExpireOffsets()
				}
				return nil
			})
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), asanasim.MsgOffsetExpired) {
					t.Fatalf("Pull = %v, want the expired-offset error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Pull: %v", err)
			}
			want := taskGIDs(f.sim.Tasks(f.project))
			// Restarted once: nothing unchanged is handed over twice and the
			// live list is whole.
			if got := recordIDs(pages); !slices.Equal(got, want) {
				t.Errorf("%d records, want each of the %d tasks once", len(got), len(want))
			}
			last := pages[len(pages)-1]
			if !slices.Equal(last.Live, want) {
				t.Errorf("live list has %d ids, want %d", len(last.Live), len(want))
			}
			if n := len(f.calls("GET", "/tasks")); n != 5+3 {
				t.Errorf("%d task requests, want 8 (2 pages, a refused offset, 5 pages)", n)
			}
		})
	}
}

func TestRecordShape(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 0})
	project := f.sim.AddProject("Shapes", asanasim.PMOFields()...)
	f.scope.Config = Scope{Project: project}
	parent, err := f.sim.AddTask(project, asanasim.Task{Name: "Build e-check-in questionnaire", Section: "Clinical Workflows"})
	if err != nil {
		t.Fatal(err)
	}
	gid, err := f.sim.AddTask(project, asanasim.Task{
		Name: "Interface engine upgrade slips", Section: "Risks", Assignee: "Priya Raman", Parent: parent,
		DueOn: "2026-12-15", StartOn: "2026-11-01", Notes: "free text that must never be fetched",
		Custom: map[string]any{
			asanasim.FieldStatus: asanasim.StatusInProgress, asanasim.FieldLikelihood: 4.0, asanasim.FieldImpact: 5.0,
			"Sites": []string{"Main Campus", "Pediatrics"}, "Clinical Lead": []string{"Grace Liu"},
			"Target Date": "2026-12-20", "Vendor Ref": "RISK-042",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	pages := f.pull(t, "")
	var rec map[string]any
	for _, p := range pages {
		for _, r := range p.Records {
			if r.ExternalID == gid {
				rec = r.Data
				if r.URL != "https://app.asana.com/0/"+project+"/"+gid || r.Source != f.scope.Source || !r.UpdatedAt.Equal(t0) {
					t.Errorf("record header: url %s source %s updated %v", r.URL, r.Source, r.UpdatedAt)
				}
			}
		}
	}
	wantCustom := map[string]any{
		"Status": "In Progress", "Likelihood": 4.0, "Impact": 5.0,
		"Planned Cost": nil, "Actual Cost": nil,
		"Sites": []any{"Main Campus", "Pediatrics"}, "Clinical Lead": []any{"Grace Liu"},
		"Target Date": "2026-12-20", "Vendor Ref": "RISK-042",
	}
	if d := cmp.Diff(wantCustom, rec["custom"]); d != "" {
		t.Errorf("custom (-want +got):\n%s", d)
	}
	checks := map[string]any{
		"section":          "Risks",
		"name":             "Interface engine upgrade slips",
		"resource_subtype": "default_task",
		"due_on":           "2026-12-15",
		"start_on":         "2026-11-01",
		"completed":        false,
	}
	for k, want := range checks {
		if rec[k] != want {
			t.Errorf("%s = %v, want %v", k, rec[k], want)
		}
	}
	if got := rec["assignee"].(map[string]any)["name"]; got != "Priya Raman" {
		t.Errorf("assignee.name = %v", got)
	}
	if got := rec["parent"].(map[string]any)["gid"]; got != parent {
		t.Errorf("parent.gid = %v, want %s", got, parent)
	}
	if _, ok := rec["notes"]; ok {
		t.Error("notes reached the record")
	}
}

func TestCustomValue(t *testing.T) {
	tests := []struct {
		name string
		cf   string
		want any
	}{
		{"number", `{"resource_subtype":"number","number_value":12.5}`, 12.5},
		{"number unset", `{"resource_subtype":"number","number_value":null}`, nil},
		{"enum", `{"resource_subtype":"enum","enum_value":{"gid":"1","name":"Blocked"}}`, "Blocked"},
		{"enum unset", `{"resource_subtype":"enum","enum_value":null}`, nil},
		{"multi enum", `{"resource_subtype":"multi_enum","multi_enum_values":[{"name":"A"},{"name":"B"}]}`, []any{"A", "B"}},
		{"text", `{"resource_subtype":"text","text_value":"V-1"}`, "V-1"},
		{"date", `{"resource_subtype":"date","date_value":{"date":"2026-12-01","date_time":null}}`, "2026-12-01"},
		{"date with time only", `{"resource_subtype":"date","date_value":{"date_time":"2026-12-01T22:00:00.000Z"}}`, "2026-12-01"},
		{"date unset", `{"resource_subtype":"date","date_value":null}`, nil},
		{"people", `{"resource_subtype":"people","people_value":[{"gid":"9","name":"Sam Patel"}]}`, []any{"Sam Patel"}},
		{"deprecated type key", `{"type":"number","number_value":3}`, 3.0},
		{"formula shows display value", `{"resource_subtype":"formula","display_value":"42%"}`, "42%"},
		// Percentage fields store fractions; the UI (and display_value)
		// shows the percentage, to the field's precision.
		{"percentage", `{"resource_subtype":"number","format":"percentage","precision":0,"number_value":0.25,"display_value":"25%"}`, 25.0},
		{"percentage with a decimal", `{"resource_subtype":"number","format":"percentage","precision":1,"number_value":0.251,"display_value":"25.1%"}`, 25.1},
		{"percentage rounded as shown", `{"resource_subtype":"number","format":"percentage","precision":0,"number_value":0.3333,"display_value":"33%"}`, 33.0},
		{"percentage without precision", `{"resource_subtype":"number","format":"percentage","number_value":0.29}`, 29.0},
		{"percentage unset", `{"resource_subtype":"number","format":"percentage","precision":0,"number_value":null}`, nil},
		{"currency stays the amount", `{"resource_subtype":"number","format":"currency","precision":2,"number_value":1250.5}`, 1250.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cf map[string]any
			if err := json.Unmarshal([]byte(tt.cf), &cf); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, customValue(cf)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestEventsDecisions(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 20})
	pages := f.pull(t, "")
	cur := pages[len(pages)-1].Next
	tasks := f.sim.Tasks(f.project)
	// Deleted then nothing; removed then added back elsewhere is not ours to
	// know: only this project's membership counts.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.sim.DeleteTask(tasks[0].GID))
	must(f.sim.RemoveFromProject(tasks[1].GID))
	for i := range 120 { // more than one events page
		must(f.sim.UpdateTask(tasks[2+i%10].GID, func(t *asanasim.Task) { t.Name += "." }))
	}
	must(f.sim.DeleteTask(tasks[15].GID))
	f.sim.ResetCalls()
	pages = f.pull(t, cur)
	if got, want := pages[len(pages)-1].Deleted, []string{tasks[0].GID, tasks[1].GID, tasks[15].GID}; !slices.Equal(got, want) {
		t.Errorf("Deleted = %v, want %v", got, want)
	}
	if n := len(f.calls("GET", "/events")); n != 2 {
		t.Errorf("%d events requests for 123 events, want 2 (has_more followed)", n)
	}
}

func TestCursorErrors(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 5})
	tests := []struct {
		name string
		cur  connectors.Cursor
	}{
		{"not json", "garbage"},
		{"other version", `{"v":2,"since":"","sync":""}`},
		{"bad time", `{"v":1,"since":"yesterday","sync":"x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.c.Pull(context.Background(), f.scope, tt.cur, func(connectors.Page) error { return nil })
			if !errors.Is(err, connectors.ErrCursorInvalid) {
				t.Errorf("Pull = %v, want ErrCursorInvalid", err)
			}
		})
	}
}

func TestScopeFieldsAddOnlyKnownTaskProperties(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 3})
	f.scope.Fields = []string{"tags.name", "notes", "html_notes", "Planned Cost", "created_at"}
	f.pull(t, "")
	got := strings.Split(f.calls("GET", "/tasks")[0].Query.Get("opt_fields"), ",")
	want := append(strings.Split(taskFields, ","), "tags.name", "created_at")
	if !slices.Equal(got, want) {
		t.Errorf("opt_fields = %v, want the defaults plus tags.name and created_at", got)
	}
}

func TestNewSince(t *testing.T) {
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	now := func() time.Time { return at(100) }
	tests := []struct {
		name                string
		prev, newest, start time.Time
		want                time.Time
	}{
		{"newest seen before the walk", time.Time{}, at(-30), at(0), at(-30)},
		{"a task changed during the walk", time.Time{}, at(5), at(0), at(0)},
		{"nothing seen: the walk's start", at(-60), time.Time{}, at(0), at(0)},
		{"never before the previous cursor", at(-10), at(-12), at(0), at(-10)},
		{"no Date header: our clock", time.Time{}, time.Time{}, time.Time{}, at(100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := walk{newest: tt.newest, start: tt.start}
			if got := w.newSince(tt.prev, now); !got.Equal(tt.want) {
				t.Errorf("newSince = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestOverlapParam checks that Params.Overlap replaces the default overlap:
// from since 06:00:00Z an incremental pull asks for tasks modified since
// 05:55:00Z by default and since 05:30:00Z with a 30-minute overlap.
func TestOverlapParam(t *testing.T) {
	for _, tc := range []struct {
		overlap time.Duration
		want    string
	}{
		{0, "2026-11-26T05:55:00Z"},
		{30 * time.Minute, "2026-11-26T05:30:00Z"},
	} {
		f := newFixture(t, fixtureOpts{tasks: 20, params: func(p *connectors.Params) { p.Overlap = tc.overlap }})
		pages := f.pull(t, "")
		// The sync token must be a live one, or the pull re-lists in full.
		cur := decodeCursor(t, pages[len(pages)-1].Next)
		cur.Since = "2026-11-26T06:00:00Z"
		f.sim.ResetCalls()
		f.pull(t, cur.encode())
		calls := f.calls("GET", "/tasks")
		if len(calls) != 1 || calls[0].Query.Get("modified_since") != tc.want {
			t.Errorf("overlap %v: task requests %v, want one with modified_since %s", tc.overlap, calls, tc.want)
		}
	}
}

// TestReportsDeletions checks that the engine can skip listing task ids:
// the events feed already brings deletions.
func TestReportsDeletions(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	r, ok := any(f.c).(connectors.DeletionReporter)
	if !ok || !r.ReportsDeletions() {
		t.Errorf("the Asana connector does not report that its pages carry deletions")
	}
}

// Defect: a percentage field reached mappings as the stored fraction (0.4
// for 40%); the pull now asks for each field's format and precision and
// hands over the percentage as Asana shows it.
func TestPercentFieldAsShown(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 0})
	project := f.sim.AddProject("Percent", asanasim.CustomField{Name: "% Complete", Type: asanasim.TypeNumber, Format: "percentage", Precision: 0},
		asanasim.CustomField{Name: "Planned Cost", Type: asanasim.TypeNumber, Precision: 2})
	f.scope.Config = Scope{Project: project}
	gid, err := f.sim.AddTask(project, asanasim.Task{Name: "Train clinic staff", Custom: map[string]any{"% Complete": 0.4, "Planned Cost": 1200.0}})
	if err != nil {
		t.Fatal(err)
	}
	pages := f.pull(t, "")
	recs := pages[len(pages)-1].Records
	if len(recs) != 1 || recs[0].ExternalID != gid {
		t.Fatalf("records %v, want the one task", recs)
	}
	custom := recs[0].Data["custom"].(map[string]any)
	if custom["% Complete"] != 40.0 || custom["Planned Cost"] != 1200.0 {
		t.Errorf("custom = %v, want %% Complete 40 (shown as 40%%) and Planned Cost 1200", custom)
	}
	fields := f.calls("GET", "/tasks")[0].Query.Get("opt_fields")
	for _, want := range []string{"custom_fields.format", "custom_fields.precision", "custom_fields.number_value"} {
		if !slices.Contains(strings.Split(fields, ","), want) {
			t.Errorf("opt_fields %s lacks %s", fields, want)
		}
	}
}
