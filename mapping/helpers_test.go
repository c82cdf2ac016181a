package mapping

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pmsync/pmsync"
)

// compileYAML parses and compiles one rule set, failing the test on error.
func compileYAML(t testing.TB, name, src string) *Set {
	t.Helper()
	spec, err := Parse(name, []byte(src))
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	s, err := Compile(name, spec, nil)
	if err != nil {
		t.Fatalf("Compile(%s): %v", name, err)
	}
	return s
}

// loadRecord decodes a testdata JSON file the way a connector would.
func loadRecord(t testing.TB, file string) pmsync.Record {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatalf("reading %s: %v", file, err)
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatalf("decoding %s: %v", file, err)
	}
	return pmsync.Record{
		Source:     "jira",
		ExternalID: "EHR-42",
		UpdatedAt:  time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC),
		Data:       data,
	}
}

// rec builds a record around data for table tests.
func rec(data map[string]any) pmsync.Record {
	return pmsync.Record{
		Source:     "test",
		ExternalID: "T-1",
		URL:        "https://tracker.example.test/T-1",
		UpdatedAt:  time.Date(2026, 2, 1, 8, 30, 0, 0, time.UTC),
		Data:       data,
	}
}

func ptr(f float64) *float64 { return &f }

// base is the minimum a set needs; tests add the rule under test.
const base = `
kind: { value: task }
title: { value: "A task" }
state: { value: todo }
`
