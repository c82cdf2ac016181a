// Package storetest is the storage contract suite: one set of tests, with
// one set of expected values, that every backend of package store passes.
// A backend's own tests call Run with a function that opens a fresh, empty
// store:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
//	}
//
// The expected values are worked out by hand from the contract's doc
// comments (package store), never taken from a backend's output. What is
// specific to one backend (SQLite's WAL and pragmas, files, migrations)
// stays in that backend's own tests.
//
// Times: a backend keeps times to the microsecond at least (PostgreSQL's
// resolution), so the suite uses times on whole microseconds, and checks
// separately that finer times round-trip to within a microsecond and do not
// make an unchanged item look changed.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
)

// Opener opens a fresh, empty store for one test and arranges for it to be
// closed when the test ends.
type Opener func(t *testing.T) store.Store

// Run runs the whole contract suite, each test on a fresh store.
func Run(t *testing.T, open Opener) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Items", items},
		{"Facts", facts},
		{"Runs", runs},
		{"Meta", []test{{"SetAndRead", testMeta}}},
		{"Snapshots", []test{{"SaveAndList", testSnapshots}}},
		{"History", history},
		{"Outbox", outbox},
		{"Audit", audit},
		{"Leases", leases},
		{"Retention", retention},
		{"Concurrency", concurrency},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tt := range g.tests {
				t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
			}
		})
	}
}

// test is one named test of the suite.
type test = struct {
	name string
	fn   func(*testing.T, Opener)
}

// t0 is the suite's reference time, on a whole second.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// task returns a valid item of source "jira" with the given id; mods adjust it.
func task(id string, mods ...func(*pmsync.Item)) pmsync.Item {
	it := pmsync.Item{
		Source: "jira", ExternalID: id, Kind: pmsync.KindTask, Title: "Task " + id,
		State: pmsync.StateTodo, Due: "2026-04-01", UpdatedAt: t0,
	}
	for _, m := range mods {
		m(&it)
	}
	return it
}

func ptr(f float64) *float64 { return &f }

// apply writes a page (of source "jira" unless it names another) and fails
// the test on an error.
func apply(t *testing.T, db store.Store, w store.PageWrite) store.PageResult {
	t.Helper()
	if w.Source == "" {
		w.Source = "jira"
	}
	res, err := db.ApplyPage(context.Background(), w)
	if err != nil {
		t.Fatalf("ApplyPage: %v", err)
	}
	return res
}
