package mapping

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pmsync/pmsync"
)

func jiraSet(t testing.TB) *Set {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "jira.yaml"))
	if err != nil {
		t.Fatalf("reading jira.yaml: %v", err)
	}
	return compileYAML(t, "jira", string(b))
}

func TestMapJiraIssue(t *testing.T) {
	got, err := jiraSet(t).Map(loadRecord(t, "jira-issue.json"))
	if err != nil {
		t.Fatalf("Map: %v", err)
	}
	want := pmsync.Item{
		Source:      "jira",
		ExternalID:  "EHR-42",
		Kind:        pmsync.KindRisk,
		Title:       "Downtime procedures signed off by nursing",
		URL:         "https://ehr.example.test/browse/EHR-42",
		Owner:       "Dana Whitfield",
		Priority:    "High",
		Status:      "In Progress",
		State:       pmsync.StateInProgress,
		Start:       "2026-01-12",
		Due:         "2026-03-31",
		UpdatedAt:   time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC),
		PlannedCost: ptr(12500.5),
		ActualCost:  ptr(1200.25),
		Likelihood:  4,
		Impact:      4,
		Milestone:   "EHR-7",
		Parent:      "EHR-1",
		Labels:      []string{"go-live", "nursing", "Clinical", "Training"},
		Fields:      map[string]any{"team": "Clinical Informatics", "issue_id": "10042", "source": "jira"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Map (-want +got):\n%s", diff)
	}
}

func TestMapJiraIssueVariants(t *testing.T) {
	s := jiraSet(t)
	tests := []struct {
		name  string
		edit  func(d map[string]any)
		check func(t *testing.T, it pmsync.Item)
	}{
		{
			name: "unassigned and no dates",
			edit: func(d map[string]any) {
				f := d["fields"].(map[string]any)
				f["assignee"] = nil
				delete(f, "duedate")
				delete(d["custom"].(map[string]any), "Start date")
			},
			check: func(t *testing.T, it pmsync.Item) {
				if it.Owner != "" || it.Due != "" || it.Start != "" {
					t.Errorf("owner, due, start = %q, %q, %q; want all empty", it.Owner, it.Due, it.Start)
				}
			},
		},
		{
			name: "blocked status wins over its category",
			edit: func(d map[string]any) {
				d["fields"].(map[string]any)["status"] = map[string]any{"name": "Blocked", "statusCategory": map[string]any{"key": "indeterminate"}}
			},
			check: func(t *testing.T, it pmsync.Item) {
				if it.State != pmsync.StateBlocked || it.Status != "Blocked" {
					t.Errorf("state, status = %q, %q; want blocked, Blocked", it.State, it.Status)
				}
			},
		},
		{
			name: "no status at all falls to the default",
			edit: func(d map[string]any) { delete(d["fields"].(map[string]any), "status") },
			check: func(t *testing.T, it pmsync.Item) {
				if it.State != pmsync.StateTodo {
					t.Errorf("state = %q, want todo", it.State)
				}
			},
		},
		{
			name: "resolved milestone",
			edit: func(d map[string]any) {
				f := d["fields"].(map[string]any)
				f["issuetype"] = map[string]any{"name": "Milestone"}
				f["status"] = map[string]any{"name": "Done", "statusCategory": map[string]any{"key": "done"}}
				f["resolutiondate"] = "2026-02-01T09:30:00.000+0100"
			},
			check: func(t *testing.T, it pmsync.Item) {
				if it.Kind != pmsync.KindMilestone || it.State != pmsync.StateDone {
					t.Errorf("kind, state = %q, %q; want milestone, done", it.Kind, it.State)
				}
				if want := time.Date(2026, 2, 1, 8, 30, 0, 0, time.UTC); !it.DoneAt.Equal(want) {
					t.Errorf("done_at = %v, want %v", it.DoneAt, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := loadRecord(t, "jira-issue.json")
			tt.edit(r.Data)
			it, err := s.Map(r)
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			tt.check(t, it)
		})
	}
}

func TestValueMaps(t *testing.T) {
	s := compileYAML(t, "m", `
kind: { value: task }
title: { value: t }
state:
  path: status
  map: { "Not Started": todo, "In Progress": in_progress, Complete: done, "Won't Do ": cancelled }
  default: todo
likelihood: { path: lk, map: { Low: "1", Medium: "3", High: "5" } }
priority: { path: prio, map: { P1: Highest } }
`)
	tests := []struct {
		name       string
		status     any
		lk         any
		prio       any
		state      pmsync.State
		likelihood int
		priority   string
	}{
		{"exact", "In Progress", "High", "P1", pmsync.StateInProgress, 5, "Highest"},
		{"case folded", "in progress", "medium", "p1", pmsync.StateInProgress, 3, "Highest"},
		{"exact again", "Complete", "Low", nil, pmsync.StateDone, 1, ""},
		{"folded key with spaces", "WON'T DO", nil, nil, pmsync.StateCancelled, 0, ""},
		{"a valid state needs no map", "Blocked", nil, nil, pmsync.StateBlocked, 0, ""},
		{"missing falls to default", "QA Review", nil, nil, pmsync.StateTodo, 0, ""},
		{"empty falls to default", "", nil, nil, pmsync.StateTodo, 0, ""},
		{"nil falls to default", nil, nil, nil, pmsync.StateTodo, 0, ""},
		{"no default passes through", "Done", "2", "Low", pmsync.StateDone, 2, "Low"},
		{"numbers match by text", "Complete", 3.0, 7.0, pmsync.StateDone, 3, "7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it, err := s.Map(rec(map[string]any{"status": tt.status, "lk": tt.lk, "prio": tt.prio}))
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			if it.State != tt.state || it.Likelihood != tt.likelihood || it.Priority != tt.priority {
				t.Errorf("state, likelihood, priority = %q, %d, %q; want %q, %d, %q",
					it.State, it.Likelihood, it.Priority, tt.state, tt.likelihood, tt.priority)
			}
		})
	}
}

func TestMapConversionsThroughRules(t *testing.T) {
	s := compileYAML(t, "m", base+`
url: { path: link }
owner: { path: owner }
start: { path: start, format: "02/01/2006" }
due: { path: due }
done_at: { path: done }
updated_at: { path: updated }
percent_complete: { path: 'cells["% Complete"]', scale: 100 }
planned_cost: { path: 'cells["Planned Cost"]' }
actual_cost: { path: 'cells["Actual Cost"]', default: "0" }
impact: { path: impact }
milestone: { path: ms }
parent: { path: parent }
labels: { path: tags }
fields:
  score: { path: score }
  flags: { path: flags }
  nothing: { path: missing }
`)
	got, err := s.Map(rec(map[string]any{
		"link":    "",
		"owner":   12345.0,
		"start":   "05/01/2026",
		"due":     "2026-03-31T00:00:00",
		"done":    "2026-03-30",
		"updated": nil,
		"cells":   map[string]any{"% Complete": 0.45, "Planned Cost": "$1,200.50"},
		"impact":  "2 - Minor",
		"ms":      10001.0,
		"parent":  "P-1",
		"tags":    "a, b",
		"score":   3,
		"flags":   []any{true, "x"},
	}))
	if err != nil {
		t.Fatalf("Map: %v", err)
	}
	want := pmsync.Item{
		Source: "test", ExternalID: "T-1",
		Kind: pmsync.KindTask, Title: "A task", State: pmsync.StateTodo,
		URL:             "https://tracker.example.test/T-1", // an empty rule result keeps the record's
		Owner:           "12345",
		Start:           "2026-01-05",
		Due:             "2026-03-31",
		DoneAt:          time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC),
		UpdatedAt:       time.Date(2026, 2, 1, 8, 30, 0, 0, time.UTC), // likewise
		PercentComplete: ptr(45),
		PlannedCost:     ptr(1200.5),
		ActualCost:      ptr(0),
		Impact:          2,
		Milestone:       "10001",
		Parent:          "P-1",
		Labels:          []string{"a", "b"},
		Fields:          map[string]any{"score": 3.0, "flags": []any{true, "x"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Map (-want +got):\n%s", diff)
	}
}

func TestMapFieldErrors(t *testing.T) {
	s := compileYAML(t, "m", `
kind: { path: type, default: task }
title: { path: title, default: Untitled }
state: { path: status, map: { Open: todo, Closed: done } }
due: { path: due }
updated_at: { path: updated }
likelihood: { path: lk }
percent_complete: { path: pc, scale: 100 }
planned_cost: { path: cost }
owner: { path: owner }
labels: { path: labels }
milestone: { path: ms, required: true }
fields:
  raw: { path: raw }
`)
	ok := func() map[string]any {
		return map[string]any{"status": "Open", "ms": "M-1"}
	}
	tests := []struct {
		name  string
		edit  func(d map[string]any)
		field string
		msg   string
	}{
		{"bad date", func(d map[string]any) { d["due"] = "31/02/2026" }, "due", `due: "31/02/2026" is not a date`},
		{"bad timestamp", func(d map[string]any) { d["updated"] = "yesterday" }, "updated_at", `updated_at: "yesterday" is not a timestamp`},
		{"likelihood 7", func(d map[string]any) { d["lk"] = 7.0 }, "likelihood", "likelihood: 7 is outside 1..5"},
		{"unknown state", func(d map[string]any) { d["status"] = "QA Review" }, "state", `state: "QA Review" is not one of todo, in_progress, blocked, done, cancelled`},
		{"no state", func(d map[string]any) { delete(d, "status") }, "state", "state: no state (give the rule a default)"},
		{"unknown kind", func(d map[string]any) { d["type"] = "Epic" }, "kind", `kind: "Epic" is not one of task, milestone, risk`},
		{"percent over 100", func(d map[string]any) { d["pc"] = 1.5 }, "percent_complete", "percent_complete: 1.5 is 150 after scale 100, outside 0..100"},
		{"cost not a number", func(d map[string]any) { d["cost"] = "TBD" }, "planned_cost", `planned_cost: "TBD" is not a number`},
		{"owner an object", func(d map[string]any) { d["owner"] = map[string]any{"name": "x"} }, "owner", "owner: {…} is not a single value"},
		{"labels of numbers in objects", func(d map[string]any) { d["labels"] = []any{map[string]any{"id": 1.0}} }, "labels", "labels: […] is a list of objects without a name"},
		{"required but empty", func(d map[string]any) { d["ms"] = "" }, "milestone", "milestone: no value, and the rule is required"},
		{"field an object", func(d map[string]any) { d["raw"] = map[string]any{"a": 1.0} }, "fields.raw", "fields.raw: {…} is an object: map one of its keys, or names(list, key) for a list"},
		{"map on a list", func(d map[string]any) { d["status"] = []any{"Open"} }, "state", "state: […] is not a single value, so map cannot apply"},
		{"long value is cut", func(d map[string]any) {
			d["due"] = "0123456789012345678901234567890123456789012345678901234567890123456789"
		},
			"due", `due: "012345678901234567890123456789012345678901234567890123456789…" is not a date`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := ok()
			tt.edit(d)
			_, err := s.Map(rec(d))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Map error = %v, want a *FieldError", err)
			}
			if fe.Field != tt.field || err.Error() != tt.msg {
				t.Errorf("Map error field %q, %q; want %q, %q", fe.Field, err.Error(), tt.field, tt.msg)
			}
		})
	}

	t.Run("the healthy record maps", func(t *testing.T) {
		it, err := s.Map(rec(ok()))
		if err != nil {
			t.Fatalf("Map: %v", err)
		}
		if it.Title != "Untitled" || it.Kind != pmsync.KindTask {
			t.Errorf("title, kind = %q, %q; want Untitled, task", it.Title, it.Kind)
		}
	})

	for _, tt := range []struct {
		name  string
		rec   pmsync.Record
		field string
	}{
		{"no source", pmsync.Record{ExternalID: "x", Data: ok()}, "source"},
		{"no external id", pmsync.Record{Source: "s", Data: ok()}, "external_id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Map(tt.rec)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Errorf("Map error = %v, want a *FieldError for %s", err, tt.field)
			}
		})
	}
}

func TestMapExpressionErrors(t *testing.T) {
	s := compileYAML(t, "m", base+"owner: { expr: 'fields.assignee.displayName' }\n")
	_, err := s.Map(rec(map[string]any{"fields": map[string]any{"assignee": nil}}))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "owner" {
		t.Fatalf("Map error = %v, want a *FieldError for owner", err)
	}
	if want := "owner: evaluating expr: cannot fetch displayName from <nil> (1:17)"; err.Error() != want {
		t.Errorf("Map error = %q, want %q", err.Error(), want)
	}
}

func TestTitleIsAlwaysRequired(t *testing.T) {
	s := compileYAML(t, "m", "kind: { value: task }\ntitle: { path: name }\nstate: { value: todo }\n")
	_, err := s.Map(rec(map[string]any{"name": "  "}))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "title" || err.Error() != "title: no value: every item needs a title" {
		t.Errorf("Map error = %v, want title: no value: every item needs a title", err)
	}
}

func TestRecordInPathsAndExpressions(t *testing.T) {
	s := compileYAML(t, "m", `
kind: { value: risk }
title: { expr: 'record.source + ":" + record.id' }
state: { value: todo }
owner: { path: record.url }
fields:
  updated: { path: record.updated_at }
  day: { expr: 'date(record.updated_at)' }
  shadowed: { expr: 'record.id' }
`)
	r := rec(map[string]any{"record": map[string]any{"id": "vendor's own"}})
	it, err := s.Map(r)
	if err != nil {
		t.Fatalf("Map: %v", err)
	}
	if it.Title != "test:T-1" || it.Owner != "https://tracker.example.test/T-1" {
		t.Errorf("title, owner = %q, %q; want test:T-1 and the record url", it.Title, it.Owner)
	}
	want := map[string]any{"updated": "2026-02-01T08:30:00Z", "day": "2026-02-01", "shadowed": "T-1"}
	if diff := cmp.Diff(want, it.Fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if got := r.Data["record"].(map[string]any)["id"]; got != "vendor's own" {
		t.Errorf("Map changed the record's data: record.id = %v", got)
	}
}

func TestExpressionFunctions(t *testing.T) {
	s := compileYAML(t, "m", `
kind: { expr: 'has(names(labels, "name"), "milestone") ? "milestone" : has(names(labels, "name"), "risk") ? "risk" : "task"' }
title: { path: name }
state: { expr: 'dueComplete ? "done" : list == "Doing" ? "in_progress" : "todo"' }
planned_cost: { expr: 'num(custom["Planned Cost"])' }
actual_cost: { expr: 'num(custom["Actual Cost"]) ?? 0' }
due: { expr: 'date(due)' }
start: { expr: 'date(start) ?? "2026-01-01"' }
fields:
  has_number: { expr: 'has([1, 2.5], 2.5)' }
  has_scalar: { expr: 'has("Risk", "risk")' }
  has_nil: { expr: 'has(nil, "x")' }
  members: { expr: 'names(idMembers, "fullName")' }
  bad_num: { expr: 'num("n/a") ?? "none"' }
  upper: { expr: 'upper(list)' }
`)
	it, err := s.Map(rec(map[string]any{
		"name":        "Vendor contract signed",
		"labels":      []any{map[string]any{"name": "Milestone", "color": "green"}},
		"dueComplete": false,
		"list":        "Doing",
		"custom":      map[string]any{"Planned Cost": "12,000", "Actual Cost": "pending"},
		"due":         "2026-05-01T17:00:00.000Z",
		"start":       "not a date",
		"idMembers":   []any{map[string]any{"fullName": "Ann"}, "junk", map[string]any{"id": "x"}, map[string]any{"fullName": "Bo"}},
	}))
	if err != nil {
		t.Fatalf("Map: %v", err)
	}
	if it.Kind != pmsync.KindMilestone || it.State != pmsync.StateInProgress {
		t.Errorf("kind, state = %q, %q; want milestone, in_progress", it.Kind, it.State)
	}
	if !cmp.Equal(it.PlannedCost, ptr(12000)) || !cmp.Equal(it.ActualCost, ptr(0)) {
		t.Errorf("planned, actual = %v, %v; want 12000, 0", deref(it.PlannedCost), deref(it.ActualCost))
	}
	if it.Due != "2026-05-01" || it.Start != "2026-01-01" {
		t.Errorf("due, start = %q, %q; want 2026-05-01, 2026-01-01", it.Due, it.Start)
	}
	want := map[string]any{
		"has_number": true, "has_scalar": true, "has_nil": false,
		"members": []any{"Ann", "Bo"}, "bad_num": "none", "upper": "DOING",
	}
	if diff := cmp.Diff(want, it.Fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

func TestExpressionFunctionArity(t *testing.T) {
	spec, err := Parse("m", []byte(base+"owner: { expr: 'names(x)' }\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	_, err = Compile("m", spec, nil)
	var e *Error
	if !errors.As(err, &e) || e.Path != "owner.expr" {
		t.Errorf("Compile = %v, want an owner.expr *Error", err)
	}
}

func TestExplain(t *testing.T) {
	s := compileYAML(t, "m", `
kind: { path: type, map: { Story: task, Milestone: milestone }, default: task }
title: { value: t }
state:
  path: status
  map: { "To Do": todo, Done: done }
  default: in_progress
priority: { path: prio, map: { P1: High } }
fields:
  team: { path: team, map: { core: Core } }
`)
	tests := []struct {
		name   string
		data   map[string]any
		misses []Miss
		state  pmsync.State
		err    string
	}{
		{
			name:   "everything mapped",
			data:   map[string]any{"type": "story", "status": "Done", "prio": "P1", "team": "CORE"},
			misses: []Miss{},
			state:  pmsync.StateDone,
		},
		{
			name: "unmapped values fall to defaults or pass through",
			data: map[string]any{"type": "Bug", "status": "QA Review", "prio": "P3", "team": "Ops"},
			misses: []Miss{
				{Field: "kind", Value: "Bug", Defaulted: true},
				{Field: "priority", Value: "P3"},
				{Field: "state", Value: "QA Review", Defaulted: true},
				{Field: "fields.team", Value: "Ops"},
			},
			state: pmsync.StateInProgress,
		},
		{
			name:   "a value that already is a state is not a miss",
			data:   map[string]any{"type": "Milestone", "status": "Blocked"},
			misses: []Miss{},
			state:  pmsync.StateBlocked,
		},
		{
			name:   "empty values are not misses",
			data:   map[string]any{"status": ""},
			misses: []Miss{},
			state:  pmsync.StateInProgress,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it, misses, err := s.Explain(rec(tt.data))
			if err != nil {
				t.Fatalf("Explain: %v", err)
			}
			if diff := cmp.Diff(tt.misses, misses); diff != "" {
				t.Errorf("misses (-want +got):\n%s", diff)
			}
			if it.State != tt.state {
				t.Errorf("state = %q, want %q", it.State, tt.state)
			}
		})
	}

	t.Run("misses survive a failure", func(t *testing.T) {
		s := compileYAML(t, "m", "kind: { value: task }\ntitle: { value: t }\nstate: { path: status, map: { Open: todo } }\n")
		_, misses, err := s.Explain(rec(map[string]any{"status": "Waiting"}))
		if err == nil {
			t.Fatal("Explain succeeded, want a state error")
		}
		if diff := cmp.Diff([]Miss{{Field: "state", Value: "Waiting"}}, misses); diff != "" {
			t.Errorf("misses (-want +got):\n%s", diff)
		}
	})
}

func TestMapConcurrent(t *testing.T) {
	s := jiraSet(t)
	want, err := s.Map(loadRecord(t, "jira-issue.json"))
	if err != nil {
		t.Fatalf("Map: %v", err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			r := loadRecord(t, "jira-issue.json")
			for range 200 {
				got, err := s.Map(r)
				if err != nil {
					errs <- err.Error()
					return
				}
				if !cmp.Equal(want, got) {
					errs <- cmp.Diff(want, got)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
