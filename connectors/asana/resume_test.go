package asana

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox/asanasim"
)

// pullUntilFault runs a pull that a 429 with a Retry-After past the
// client's ceiling cuts short after `after` pages, and returns the pages
// handed over before it.
func pullUntilFault(t *testing.T, f *fixture, cur connectors.Cursor, after int) []connectors.Page {
	t.Helper()
	var pages []connectors.Page
	err := f.c.Pull(context.Background(), f.scope, cur, func(p connectors.Page) error {
		pages = append(pages, p)
		if len(pages) == after {
			f.sim.Inject(asanasim.Fault{Path: "/tasks", Status: 429, RetryAfter: 120})
		}
		return nil
	})
	var ae *connectors.APIError
	if !errors.As(err, &ae) || ae.Status != 429 || ae.RetryAfter != 120*time.Second {
		t.Fatalf("Pull = %v, want the 429 with its 120s Retry-After for the schedule to act on", err)
	}
	if len(pages) != after {
		t.Fatalf("%d pages before the fault, want %d", len(pages), after)
	}
	return pages
}

// Defect: a full walk cut short started again from the first page, since
// every page but the last carried the cursor the pull began with.
func TestFullWalkResumesFromTheNextPage(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 1000})
	all := taskGIDs(f.sim.Tasks(f.project))
	first := pullUntilFault(t, f, "", 4)
	saved := first[len(first)-1].Next
	walkSync := decodeCursor(t, saved).Walk.Sync

	f.sim.ResetCalls()
	rest := f.pull(t, saved)

	if got, want := recordIDs(rest), all[400:]; !slices.Equal(got, want) {
		t.Errorf("resumed pull handed over %d records, want the %d tasks after the first 4 pages", len(got), len(want))
	}
	if got := append(recordIDs(first), recordIDs(rest)...); !slices.Equal(got, all) {
		t.Errorf("the two pulls together handed over %d records, want each of the %d tasks once", len(got), len(all))
	}
	if n := len(f.calls("GET", "/events")); n != 0 {
		t.Errorf("resumed pull read events %d times; the walk's events were read when it began", n)
	}
	// 6 pages of the walk, then 10 pages of gids for the live list, since
	// this pull saw only part of the project.
	var walkCalls, listCalls int
	for i, c := range f.calls("GET", "/tasks") {
		if i == 0 && c.Query.Get("offset") == "" {
			t.Errorf("resumed pull began at the first page: %v", c.Query)
		}
		if c.Query.Get("opt_fields") == "resource_subtype" {
			listCalls++
		} else {
			walkCalls++
		}
	}
	if walkCalls != 6 || listCalls != 10 {
		t.Errorf("%d walk and %d listing requests, want 6 and 10", walkCalls, listCalls)
	}
	last := rest[len(rest)-1]
	if !last.HasLive || !slices.Equal(last.Live, all) {
		t.Errorf("last page: HasLive %v with %d live ids, want all %d tasks", last.HasLive, len(last.Live), len(all))
	}
	for i, p := range rest[:len(rest)-1] {
		if p.HasLive || len(p.Deleted) > 0 {
			t.Errorf("resumed page %d carries deletions or a live list", i)
		}
	}
	newest := time.Time{}
	for _, tk := range f.sim.Tasks(f.project) {
		if tk.ModifiedAt.After(newest) {
			newest = tk.ModifiedAt
		}
	}
	end := decodeCursor(t, last.Next)
	if end.Walk != nil || end.Sync != walkSync || end.Since != newest.UTC().Format(time.RFC3339Nano) {
		t.Errorf("final cursor %+v, want no walk, sync %s (read when the walk began) and since %s", end, walkSync, newest.Format(time.RFC3339Nano))
	}
}

// An offset that expired between the pulls restarts the walk at its first
// page, which then sees every task and needs no separate listing.
func TestResumedWalkWithExpiredOffsetStartsOver(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 450})
	all := taskGIDs(f.sim.Tasks(f.project))
	first := pullUntilFault(t, f, "", 2)
	f.sim.ExpireOffsets()
	f.sim.ResetCalls()
	rest := f.pull(t, first[len(first)-1].Next)

	if got := recordIDs(rest); !slices.Equal(got, all) {
		t.Errorf("restarted walk handed over %d records, want all %d", len(got), len(all))
	}
	if n := len(f.calls("GET", "/tasks")); n != 1+5 {
		t.Errorf("%d task requests, want 6 (the refused offset, then 5 pages)", n)
	}
	last := rest[len(rest)-1]
	if !last.HasLive || !slices.Equal(last.Live, all) {
		t.Errorf("last page: HasLive %v with %d live ids, want all %d", last.HasLive, len(last.Live), len(all))
	}
}

// An incremental walk resumes too; its deletions left with its first page
// and are not reported again, and the new sync token is saved only at the
// end.
func TestIncrementalWalkResumes(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 400})
	pages := f.pull(t, "")
	start := pages[len(pages)-1].Next
	tasks := f.sim.Tasks(f.project)
	gone := tasks[0].GID
	if err := f.sim.DeleteTask(gone); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Hour)
	var changed []string
	for _, tk := range tasks[1:251] {
		if err := f.sim.UpdateTask(tk.GID, func(t *asanasim.Task) { t.Name += " (replanned)" }); err != nil {
			t.Fatal(err)
		}
		changed = append(changed, tk.GID)
	}

	first := pullUntilFault(t, f, start, 1)
	if !slices.Equal(first[0].Deleted, []string{gone}) {
		t.Errorf("first page Deleted = %v, want [%s]", first[0].Deleted, gone)
	}
	mid := decodeCursor(t, first[0].Next)
	if mid.Sync != decodeCursor(t, start).Sync || mid.Walk == nil || mid.Walk.Full || mid.Walk.Since == "" {
		t.Fatalf("cursor after the first page %+v, want the old token and an incremental walk", mid)
	}

	f.sim.ResetCalls()
	rest := f.pull(t, first[0].Next)
	if got := append(recordIDs(first), recordIDs(rest)...); !slices.Equal(got, changed) {
		t.Errorf("the two pulls handed over %d records, want the %d changed tasks once each", len(got), len(changed))
	}
	for i, p := range rest {
		if len(p.Deleted) > 0 || p.HasLive {
			t.Errorf("resumed page %d: Deleted %v, HasLive %v; want neither", i, p.Deleted, p.HasLive)
		}
	}
	for _, c := range f.calls("GET", "/tasks") {
		if c.Query.Get("modified_since") != mid.Walk.Since[:len("2006-01-02T15:04:05")]+"Z" {
			t.Errorf("resumed request modified_since %q, want the walk's %s", c.Query.Get("modified_since"), mid.Walk.Since)
		}
	}
	end := decodeCursor(t, rest[len(rest)-1].Next)
	if end.Walk != nil || end.Sync != mid.Walk.Sync {
		t.Errorf("final cursor %+v, want the token read when the walk began (%s)", end, mid.Walk.Sync)
	}
}

func TestWalkCursorErrors(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 5})
	for _, cur := range []connectors.Cursor{
		`{"v":1,"since":"","sync":"","walk":{"offset":"","sync":"x"}}`,
		`{"v":1,"since":"","sync":"","walk":{"offset":"o","sync":""}}`,
		`{"v":1,"since":"","sync":"","walk":{"offset":"o","sync":"x","start":"noon"}}`,
	} {
		err := f.c.Pull(context.Background(), f.scope, cur, func(connectors.Page) error { return nil })
		if !errors.Is(err, connectors.ErrCursorInvalid) {
			t.Errorf("Pull(%s) = %v, want ErrCursorInvalid", cur, err)
		}
	}
}
