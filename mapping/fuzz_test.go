package mapping

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmsync/pmsync"
)

// FuzzCompile parses and compiles arbitrary rule sets. Whatever the input,
// it must not panic, and a rule set that is refused says why, naming the
// set: every problem is an *Error (or several joined).
func FuzzCompile(f *testing.F) {
	for _, name := range []string{"jira.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(base))
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := Parse("fuzzed", data)
		if err != nil {
			checkErrors(t, err)
			return
		}
		set, err := Compile("fuzzed", spec, nil)
		if err != nil {
			checkErrors(t, err)
			return
		}
		if set.Name() != "fuzzed" || set.Fingerprint() == "" {
			t.Errorf("compiled set has name %q, fingerprint %q", set.Name(), set.Fingerprint())
		}
		// A compiled set maps a plain record without panicking, and what
		// it maps is storable.
		it, err := set.Map(rec(map[string]any{"key": "T-1", "fields": map[string]any{"summary": "Interface build"}}))
		checkMapped(t, it, err)
	})
}

// checkErrors fails the test unless every error in err is an *Error naming
// the rule set, with a message.
func checkErrors(t *testing.T, err error) {
	t.Helper()
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		var me *Error
		if !errors.As(e, &me) || me.Mapping != "fuzzed" || strings.TrimSpace(e.Error()) == "" {
			t.Errorf("problem %q (%T) is not an *Error naming the rule set", e, e)
		}
	}
}

// checkMapped fails the test unless a mapped item is valid for storage, or
// a failure names the field that failed.
func checkMapped(t *testing.T, it pmsync.Item, err error) {
	t.Helper()
	if err != nil {
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field == "" {
			t.Errorf("mapping failed with %q (%T), want a *FieldError naming the field", err, err)
		}
		return
	}
	if verr := it.Validate(); verr != nil {
		t.Errorf("mapped item is not storable: %v (%+v)", verr, it)
	}
}

// FuzzMap evaluates fixed rule sets (the Jira template's, and one leaning
// on expressions and conversions) against arbitrary record data: a record
// maps to a storable item or fails with the field that failed, and never
// panics.
func FuzzMap(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "jira.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	sets := []*Set{compileYAML(f, "jira", string(b)), compileYAML(f, "conversions", fuzzConversions)}
	issue, err := os.ReadFile(filepath.Join("testdata", "jira-issue.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(issue)
	f.Add([]byte(`{"key":"X-1","title":"t","kind":"Risk","state":"Done","due":"2026-02-30","pct":"150%","cost":"1e400","score":"9"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m map[string]any
		if json.Unmarshal(data, &m) != nil {
			return // connectors hand mappings decoded JSON only
		}
		r := pmsync.Record{Source: "fuzz", ExternalID: "F-1", URL: "https://tracker.example.test/F-1",
			UpdatedAt: time.Date(2026, 2, 1, 8, 30, 0, 0, time.UTC), Data: m}
		for _, s := range sets {
			it, err := s.Map(r)
			checkMapped(t, it, err)
			it2, _, err2 := s.Explain(r)
			if (err == nil) != (err2 == nil) || (err == nil && it.Title != it2.Title) {
				t.Errorf("%s: Map and Explain disagree: %v / %v", s.Name(), err, err2)
			}
		}
	})
}

// fuzzConversions reads every target through the conversions a mapping
// offers: value maps, defaults, dates, numbers, scores, percentages, labels
// and expressions with the helper functions.
const fuzzConversions = `
kind: { path: kind, map: { Risk: risk, Milestone: milestone }, default: task }
title: { path: title, required: true }
url: { expr: 'has(record, "url") ? record.url : ""' }
owner: { path: owner.name }
priority: { path: priority }
status: { path: state }
state: { path: state, map: { Done: done, Blocked: blocked, "In Progress": in_progress, Cancelled: cancelled }, default: todo }
start: { path: start }
due: { path: due }
done_at: { path: done }
updated_at: { path: updated }
percent_complete: { path: pct }
planned_cost: { path: cost }
actual_cost: { expr: 'num(actual)' }
likelihood: { path: score }
impact: { path: impact.value }
milestone: { path: parent.milestone }
parent: { path: parent.key }
labels: { expr: 'concat(labels, names(components, "name"))' }
fields:
  team: { path: 'custom["Team"].value' }
  when: { expr: 'date(due)' }
`
