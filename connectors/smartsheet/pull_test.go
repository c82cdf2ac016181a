package smartsheet

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox/smartsheetsim"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestFullPullLandsEveryRowOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pageSize int
		requests int
	}{
		{"whole sheet in one request", 0, 1},
		{"pages of 1000 rows", 1000, 5},
		{"pages of 4999 rows", 4999, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, connectors.Params{})
			if tc.pageSize > 0 {
				e.conn.RowPageSize = tc.pageSize
			}
			id := e.sim.Generate("PACS Viewer Integration", 5000, 3, t0)
			st := newStore()
			pages := st.pull(t, e.conn, scopeOf(id))

			if len(st.items) != 5000 {
				t.Fatalf("%d items stored, want 5000", len(st.items))
			}
			for ext, n := range st.upserts {
				if n != 1 {
					t.Errorf("row %s stored %d times", ext, n)
				}
			}
			if len(pages) != 10 {
				t.Errorf("%d pages, want 10 of 500", len(pages))
			}
			for i, p := range pages {
				last := i == len(pages)-1
				if len(p.Records) > PageRecords || (p.Next != "") != last || p.HasLive != last {
					t.Errorf("page %d: %d records, cursor %q, live %v; only the last page carries the cursor and live list", i, len(p.Records), p.Next, p.HasLive)
				}
			}
			if live := pages[len(pages)-1].Live; len(live) != 5000 {
				t.Errorf("live list has %d ids, want 5000", len(live))
			}
			if got := e.conn.Requests(); got != int64(tc.requests) {
				t.Errorf("%d requests, want %d", got, tc.requests)
			}
			if len(st.tombstoned) != 0 {
				t.Errorf("%d rows tombstoned by a full pull", len(st.tombstoned))
			}

			// Nothing changed: one small request, no page, same cursor.
			e.sim.ResetCalls()
			before, cur := e.conn.Requests(), st.cursor
			if pages := st.pull(t, e.conn, scopeOf(id)); len(pages) != 0 {
				t.Errorf("an unchanged sheet gave %d pages", len(pages))
			}
			calls := e.sim.Calls()
			if got := e.conn.Requests() - before; got != 1 || len(calls) != 1 {
				t.Fatalf("no-change pull sent %d requests (fake saw %+v), want exactly 1", got, calls)
			}
			q, _ := url.ParseQuery(calls[0].Query)
			if q.Get("ifVersionAfter") != itoa(e.sim.Version(id)) || calls[0].Bytes > 32 {
				t.Errorf("no-change request %+v: want ifVersionAfter=%d answered in a few bytes", calls[0], e.sim.Version(id))
			}
			if st.cursor != cur {
				t.Errorf("cursor moved from %s to %s without a change", cur, st.cursor)
			}
		})
	}
}

func TestIncrementalPicksUpModifiedRows(t *testing.T) {
	e := newEnv(t, connectors.Params{})
	id := e.sim.Generate("PACS Viewer Integration", 300, 5, t0)
	scope := scopeOf(id)
	st := newStore()
	st.pull(t, e.conn, scope)
	var first cursor
	if err := json.Unmarshal([]byte(st.cursor), &first); err != nil {
		t.Fatal(err)
	}

	e.clk.Set(t0.Add(90 * time.Minute))
	rows, _ := e.sim.Rows(id)
	changed := map[string]string{}
	for i, status := range map[int]string{10: "Blocked", 57: "Complete", 181: "Cancelled"} {
		if err := e.sim.UpdateRow(id, rows[i].ID, map[string]any{"Status": status}); err != nil {
			t.Fatal(err)
		}
		changed[itoa(rows[i].ID)] = status
	}
	// The overlap also re-reads rows saved up to 5 minutes before the
	// newest one of the last pull; the fake's data says which.
	since, _ := time.Parse(time.RFC3339, first.Since)
	want := map[string]bool{}
	rows, _ = e.sim.Rows(id)
	for _, r := range rows {
		if !r.ModifiedAt.Before(since.Add(-DefaultOverlap)) {
			want[itoa(r.ID)] = true
		}
	}

	e.sim.ResetCalls()
	pages := st.pull(t, e.conn, scope)
	got := map[string]bool{}
	for _, p := range pages {
		for _, r := range p.Records {
			got[r.ExternalID] = true
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("rows read again (-want +got):\n%s", d)
	}
	for ext, status := range changed {
		if s := st.items[ext].Data["cells"].(map[string]any)["Status"]; s != status {
			t.Errorf("row %s has Status %v, want %s", ext, s, status)
		}
	}
	if n := len(e.sim.Calls()); n != 2 {
		t.Errorf("%d requests, want 2 (changed rows, row id listing)", n)
	}
	var next cursor
	if err := json.Unmarshal([]byte(st.cursor), &next); err != nil {
		t.Fatal(err)
	}
	if next.Version != e.sim.Version(id) || next.Since != "2026-01-05T11:30:00Z" {
		t.Errorf("cursor %+v, want version %d since 2026-01-05T11:30:00Z", next, e.sim.Version(id))
	}
}

func TestDeletedRowIsTombstoned(t *testing.T) {
	e := newEnv(t, connectors.Params{})
	e.conn.RowPageSize = 100 // the id listing then spans pages too
	id := e.sim.Generate("PACS Viewer Integration", 300, 5, t0)
	scope := scopeOf(id)
	st := newStore()
	st.pull(t, e.conn, scope)

	rows, _ := e.sim.Rows(id)
	var task, milestone smartsheetsim.Row
	children := map[string]bool{}
	for _, r := range rows {
		switch {
		case r.Cells["Type"] == "Task" && task.ID == 0:
			task = r
		case r.Cells["Type"] == "Milestone" && milestone.ID == 0 && r.ID != task.ParentID:
			milestone = r
		}
	}
	for _, r := range rows {
		if r.ParentID == milestone.ID {
			children[itoa(r.ID)] = true
		}
	}
	e.clk.Set(t0.Add(time.Hour))
	if err := e.sim.DeleteRow(id, task.ID); err != nil {
		t.Fatal(err)
	}
	pages := st.pull(t, e.conn, scope)
	last := pages[len(pages)-1]
	if !last.HasLive || len(last.Live) != 299 || slices.Contains(last.Live, itoa(task.ID)) {
		t.Fatalf("last page: live %v with %d ids; want 299 without %d", last.HasLive, len(last.Live), task.ID)
	}
	if d := cmp.Diff(map[string]bool{itoa(task.ID): true}, st.tombstoned); d != "" {
		t.Errorf("tombstones (-want +got):\n%s", d)
	}

	// Deleting a milestone row takes its tasks along.
	e.clk.Set(t0.Add(2 * time.Hour))
	if err := e.sim.DeleteRow(id, milestone.ID); err != nil {
		t.Fatal(err)
	}
	st.pull(t, e.conn, scope)
	want := maps.Clone(children)
	want[itoa(task.ID)], want[itoa(milestone.ID)] = true, true
	if d := cmp.Diff(want, st.tombstoned); d != "" {
		t.Errorf("tombstones after deleting a milestone (-want +got):\n%s", d)
	}
}

func TestRenamedColumnFailsBeforeAnyPage(t *testing.T) {
	e := newEnv(t, connectors.Params{})
	id := e.sim.Generate("PACS Viewer Integration", 300, 5, t0)
	scope := scopeOf(id)
	scope.Fields = []string{"Type", "Status", "Start Date", "End Date", "% Complete", "parent_type", "primary"}
	st := newStore()
	st.pull(t, e.conn, scope)
	items, cur := maps.Clone(st.items), st.cursor

	e.clk.Set(t0.Add(time.Hour))
	if err := e.sim.RenameColumn(id, "End Date", "Finish"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		cursor connectors.Cursor
	}{{"incremental", cur}, {"full", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			pages := 0
			err := e.conn.Pull(context.Background(), scope, tc.cursor, func(connectors.Page) error { pages++; return nil })
			if !errors.Is(err, ErrMissingColumn) {
				t.Fatalf("Pull after the rename returned %v, want ErrMissingColumn", err)
			}
			for _, part := range []string{`"End Date"`, `"PACS Viewer Integration"`, `"Finish"`, itoa(id)} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not mention %s", err, part)
				}
			}
			if pages != 0 {
				t.Errorf("%d pages emitted before the error", pages)
			}
		})
	}
	if !maps.EqualFunc(items, st.items, func(a, b pmsync.Record) bool { return cmp.Equal(a, b) }) || st.cursor != cur {
		t.Errorf("stored items or cursor changed")
	}
}

func TestDuplicateColumnTitles(t *testing.T) {
	e := newEnv(t, connectors.Params{})
	id, err := e.sim.CreateSheet("Risks", []smartsheetsim.ColumnSpec{{Title: "Risk"}, {Title: "Owner"}, {Title: "Owner"}, {Title: "Status"}})
	if err != nil {
		t.Fatal(err)
	}
	pages := 0
	err = e.conn.Pull(context.Background(), scopeOf(id), "", func(connectors.Page) error { pages++; return nil })
	if !errors.Is(err, ErrDuplicateColumn) || !strings.Contains(err.Error(), `"Owner"`) || pages != 0 {
		t.Errorf("Pull of a sheet with two Owner columns: %v after %d pages; want ErrDuplicateColumn naming \"Owner\" and no page", err, pages)
	}
}

func TestCursor(t *testing.T) {
	for _, tc := range []struct {
		raw     connectors.Cursor
		want    cursor
		invalid bool
	}{
		{raw: "", want: cursor{}},
		{raw: `{"v":2,"version":42,"since":"2026-01-05T10:00:00Z"}`, want: cursor{V: 2, Version: 42, Since: "2026-01-05T10:00:00Z"}},
		{raw: `{"v":2,"version":42}`, want: cursor{V: 2, Version: 42}},
		{raw: `{"v":2,"version":42,"columns":12,"formulas":true,"read":"2026-01-05"}`, want: cursor{V: 2, Version: 42, Columns: 12, Formulas: true, Read: "2026-01-05"}},
		// Version 1 never looked for formulas: read the sheet in full once.
		{raw: `{"v":1,"version":42}`, invalid: true},
		{raw: `{"v":3,"version":42}`, invalid: true},
		{raw: `{"v":2,"version":0}`, invalid: true},
		{raw: `{"v":2,"version":3,"since":"yesterday"}`, invalid: true},
		{raw: `{"v":2,"version":3,"page":2}`, invalid: true},
		{raw: "2026-01-05T10:00:00Z", invalid: true},
	} {
		got, err := parseCursor(tc.raw)
		if tc.invalid {
			if !errors.Is(err, connectors.ErrCursorInvalid) {
				t.Errorf("parseCursor(%s) = %v, want ErrCursorInvalid", tc.raw, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseCursor(%s) = %+v, %v; want %+v", tc.raw, got, err, tc.want)
		}
	}
}

// TestOverlapParam checks that Params.Overlap replaces the default overlap:
// from since 10:00:00Z an incremental read asks for rows modified since
// 09:55:00Z by default and since 09:30:00Z with a 30-minute overlap.
func TestOverlapParam(t *testing.T) {
	for _, tc := range []struct {
		overlap time.Duration
		want    string
	}{
		{0, "2026-01-05T09:55:00Z"},
		{30 * time.Minute, "2026-01-05T09:30:00Z"},
	} {
		e := newEnv(t, connectors.Params{Overlap: tc.overlap})
		id := e.sim.Generate("PACS Viewer Integration", 30, 5, t0)
		st := newStore()
		st.pull(t, e.conn, scopeOf(id))
		var first cursor
		if err := json.Unmarshal([]byte(st.cursor), &first); err != nil {
			t.Fatal(err)
		}
		// The sheet must have moved, or the pull ends at ifVersionAfter.
		e.clk.Set(t0.Add(time.Hour))
		rows, _ := e.sim.Rows(id)
		if err := e.sim.UpdateRow(id, rows[3].ID, map[string]any{"Status": "Blocked"}); err != nil {
			t.Fatal(err)
		}
		st.cursor = cursor{V: cursorVersion, Version: first.Version, Since: "2026-01-05T10:00:00Z"}.encode()
		e.sim.ResetCalls()
		st.pull(t, e.conn, scopeOf(id))
		var got []string
		for _, c := range e.sim.Calls() {
			q, err := url.ParseQuery(c.Query)
			if err != nil {
				t.Fatal(err)
			}
			if q.Has("rowsModifiedSince") {
				got = append(got, q.Get("rowsModifiedSince"))
			}
		}
		if !slices.Equal(got, []string{tc.want}) {
			t.Errorf("overlap %v: rowsModifiedSince %v, want [%s]", tc.overlap, got, tc.want)
		}
	}
}

// TestReportsDeletions checks that the engine can skip listing row ids:
// every pull of a changed sheet ends with the live list.
func TestReportsDeletions(t *testing.T) {
	e := newEnv(t, connectors.Params{})
	r, ok := any(e.conn).(connectors.DeletionReporter)
	if !ok || !r.ReportsDeletions() {
		t.Errorf("the Smartsheet connector does not report that its pages carry deletions")
	}
}

// Defect: a value a formula computes changes without its row's modifiedAt
// moving (Smartsheet's Modified records data changes made to the row), so
// rowsModifiedSince never returned a parent whose roll-up of its children
// moved, and its stored value went stale. A sheet with formulas is now read
// in full when its version moves, and once a day for TODAY().
func TestComputedCellsAreReadAgain(t *testing.T) {
	e := newEnv(t, connectors.Params{})
	id := e.sim.Generate("PACS Viewer Integration", 120, 9, t0)
	rows, _ := e.sim.Rows(id)
	var parent, child int64
	for _, r := range rows {
		if r.ParentID != 0 {
			parent, child = r.ParentID, r.ID
			break
		}
	}
	if parent == 0 {
		t.Fatal("the generated plan has no child rows")
	}
	if err := e.sim.SetFormula(id, parent, "% Complete", "=AVG(CHILDREN())", 0.25); err != nil {
		t.Fatal(err)
	}
	// A later edit elsewhere, so that the parent's own modifiedAt is well
	// before the next incremental read's rowsModifiedSince.
	e.clk.Advance(time.Hour)
	if err := e.sim.UpdateRow(id, rows[len(rows)-1].ID, map[string]any{"Status": "Blocked"}); err != nil {
		t.Fatal(err)
	}
	st := newStore()
	st.pull(t, e.conn, scopeOf(id))
	cur, _ := parseCursor(st.cursor)
	if !cur.Formulas || cur.Read != "2026-01-05" {
		t.Fatalf("cursor %s, want formulas noted and the day of the full read", st.cursor)
	}
	percent := func() any { return st.items[itoa(parent)].Data["cells"].(map[string]any)["% Complete"] }
	if got := percent(); got != 0.25 {
		t.Fatalf("parent %% Complete = %v, want 0.25", got)
	}

	// A child moves; the parent's roll-up follows without its row changing.
	e.clk.Advance(time.Hour)
	if err := e.sim.UpdateRow(id, child, map[string]any{"% Complete": 1.0}); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Recalculate(id, parent, "% Complete", 0.5); err != nil {
		t.Fatal(err)
	}
	before := st.upserts[itoa(parent)]
	st.pull(t, e.conn, scopeOf(id))
	if got := percent(); got != 0.5 || st.upserts[itoa(parent)] != before+1 {
		t.Errorf("after the roll-up moved: parent %% Complete = %v (upserted %d times), want 0.5 read again", got, st.upserts[itoa(parent)])
	}

	// Unchanged on the same day: one small request.
	e.sim.ResetCalls()
	st.pull(t, e.conn, scopeOf(id))
	if calls := e.sim.Calls(); len(calls) != 1 {
		t.Errorf("unchanged sheet: %d requests, want the one ifVersionAfter check", len(calls))
	}
	// A new day: TODAY() may have moved values without a new version.
	e.clk.Advance(24 * time.Hour)
	e.sim.ResetCalls()
	pages := st.pull(t, e.conn, scopeOf(id))
	if n := len(recordsOf(pages)); n != 120 {
		t.Errorf("first pull of a new day handed over %d rows, want all 120", n)
	}
	if cur, _ := parseCursor(st.cursor); cur.Read != "2026-01-06" {
		t.Errorf("cursor %s, want the new day's full read recorded", st.cursor)
	}
}

// A sheet without formulas keeps its incremental reads.
func TestSheetWithoutFormulasStaysIncremental(t *testing.T) {
	e := newEnv(t, connectors.Params{})
	id := e.sim.Generate("Plan", 120, 9, t0)
	st := newStore()
	st.pull(t, e.conn, scopeOf(id))
	if cur, _ := parseCursor(st.cursor); cur.Formulas || cur.Read != "" {
		t.Fatalf("cursor %s notes formulas the sheet lacks", st.cursor)
	}
	e.clk.Advance(25 * time.Hour)
	rows, _ := e.sim.Rows(id)
	if err := e.sim.UpdateRow(id, rows[3].ID, map[string]any{"Status": "Blocked"}); err != nil {
		t.Fatal(err)
	}
	pages := st.pull(t, e.conn, scopeOf(id))
	// The changed row, and those the overlap re-reads: not the sheet.
	if got := recordsOf(pages); !slices.Contains(got, itoa(rows[3].ID)) || len(got) > 5 {
		t.Errorf("incremental pull handed over %v, want the changed row and the overlap only", got)
	}
}

func recordsOf(pages []connectors.Page) []string {
	var out []string
	for _, p := range pages {
		for _, r := range p.Records {
			out = append(out, r.ExternalID)
		}
	}
	return out
}
