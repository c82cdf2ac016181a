package smartsheet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox/smartsheetsim"
)

func pct(v float64) *float64 { return &v }

// rollups are three programs' executive summaries.
func rollups(version string, progress float64) []pmsync.Rollup {
	mk := func(id, name string, h pmsync.HealthStatus, late, red int, burn *float64) pmsync.Rollup {
		r := pmsync.Rollup{ID: id, Name: name, AsOf: "2026-01-05", Version: version + "-" + id}
		r.Health.Status = h
		r.Progress.Percent = progress
		r.Milestones.Late = late
		r.Risks.RedFlags = red
		r.Budget.BurnPercent = burn
		return r
	}
	return []pmsync.Rollup{
		mk("ehr-upgrade", "EHR Upgrade", pmsync.Green, 0, 0, pct(39.2)),
		mk("telehealth", "Telehealth Launch", pmsync.Amber, 0, 1, pct(61.25)),
		mk("pacs-viewer", "PACS Viewer Integration", pmsync.Red, 2, 3, nil),
	}
}

// sheetCells returns the rollup sheet's rows as program → cells, keyed by
// the cell of column key.
func sheetCells(t *testing.T, e *env, id int64, key string) map[string]map[string]any {
	t.Helper()
	rows, err := e.sim.Rows(id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, r := range rows {
		out[fmt.Sprint(r.Cells[key])] = r.Cells
	}
	return out
}

func methods(e *env) []string {
	var out []string
	for _, c := range e.sim.Calls() {
		out = append(out, c.Method)
	}
	return out
}

func TestPushCreatesThenUpdatesInPlace(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version bool
		health  []string
		amber   string
	}{
		{"green yellow red, no version column", false, nil, "Yellow"},
		{"green amber red with a version column", true, []string{"Green", "Amber", "Red"}, "Amber"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, connectors.Params{})
			id, err := e.sim.CreateSheet("Executive Rollup", smartsheetsim.RollupColumns(tc.version, tc.health...))
			if err != nil {
				t.Fatal(err)
			}
			target := sheetTarget(id, nil)

			receipts, err := e.conn.Push(context.Background(), target, rollups("v1", 40))
			if err != nil {
				t.Fatalf("first push: %v", err)
			}
			if d := cmp.Diff([]string{"GET", "POST"}, methods(e)); d != "" {
				t.Errorf("first push requests (-want +got):\n%s", d)
			}
			want := map[string]map[string]any{
				"EHR Upgrade": {"Program": "EHR Upgrade", "Health": "Green", "Percent Complete": 0.4, "Milestones Late": 0.0,
					"Red Flag Risks": 0.0, "Budget Burn %": 0.392, "Updated": "2026-01-05"},
				"Telehealth Launch": {"Program": "Telehealth Launch", "Health": tc.amber, "Percent Complete": 0.4, "Milestones Late": 0.0,
					"Red Flag Risks": 1.0, "Budget Burn %": 0.6125, "Updated": "2026-01-05"},
				"PACS Viewer Integration": {"Program": "PACS Viewer Integration", "Health": "Red", "Percent Complete": 0.4,
					"Milestones Late": 2.0, "Red Flag Risks": 3.0, "Updated": "2026-01-05"},
			}
			if tc.version {
				want["EHR Upgrade"]["Rollup Version"] = "v1-ehr-upgrade"
				want["Telehealth Launch"]["Rollup Version"] = "v1-telehealth"
				want["PACS Viewer Integration"]["Rollup Version"] = "v1-pacs-viewer"
			}
			if d := cmp.Diff(want, sheetCells(t, e, id, "Program")); d != "" {
				t.Errorf("rollup sheet after the first push (-want +got):\n%s", d)
			}
			rowIDs := map[string]string{}
			rows, _ := e.sim.Rows(id)
			for _, r := range rows {
				rowIDs[fmt.Sprint(r.Cells["Program"])] = itoa(r.ID)
			}
			wantReceipts := func(existing bool) []connectors.Receipt {
				var out []connectors.Receipt
				for _, r := range rollups("", 0) {
					rid := rowIDs[r.Name]
					out = append(out, connectors.Receipt{Program: r.ID, ID: rid, URL: e.sim.Permalink(id) + "?rowId=" + rid, Existing: existing})
				}
				return out
			}
			if d := cmp.Diff(wantReceipts(false), receipts); d != "" {
				t.Errorf("first push receipts (-want +got):\n%s", d)
			}

			// The same rollup version again changes nothing.
			e.sim.ResetCalls()
			version := e.sim.Version(id)
			receipts, err = e.conn.Push(context.Background(), target, rollups("v1", 40))
			if err != nil {
				t.Fatalf("repeated push: %v", err)
			}
			if d := cmp.Diff([]string{"GET"}, methods(e)); d != "" {
				t.Errorf("repeated push requests (-want +got):\n%s", d)
			}
			if d := cmp.Diff(wantReceipts(true), receipts); d != "" {
				t.Errorf("repeated push receipts (-want +got):\n%s", d)
			}
			if e.sim.Version(id) != version {
				t.Errorf("repeated push moved the sheet version")
			}

			// The next rollup version updates the same rows in place.
			e.sim.ResetCalls()
			receipts, err = e.conn.Push(context.Background(), target, rollups("v2", 55.5))
			if err != nil {
				t.Fatalf("next version push: %v", err)
			}
			if d := cmp.Diff([]string{"GET", "PUT"}, methods(e)); d != "" {
				t.Errorf("next version push requests (-want +got):\n%s", d)
			}
			for name := range want {
				want[name]["Percent Complete"] = 0.555
				if tc.version {
					want[name]["Rollup Version"] = strings.Replace(want[name]["Rollup Version"].(string), "v1", "v2", 1)
				}
			}
			if d := cmp.Diff(want, sheetCells(t, e, id, "Program")); d != "" {
				t.Errorf("rollup sheet after the next version (-want +got):\n%s", d)
			}
			if d := cmp.Diff(wantReceipts(false), receipts); d != "" {
				t.Errorf("next version receipts (-want +got):\n%s", d)
			}
		})
	}
}

func TestPushPartialFailureNamesRowAndReason(t *testing.T) {
	e := newEnv(t, connectors.Params{})
	id, err := e.sim.CreateSheet("Executive Rollup", smartsheetsim.RollupColumns(false))
	if err != nil {
		t.Fatal(err)
	}
	target := sheetTarget(id, nil)
	if _, err := e.conn.Push(context.Background(), target, rollups("v1", 40)); err != nil {
		t.Fatal(err)
	}
	rows, _ := e.sim.Rows(id)
	telehealthRow := itoa(rows[1].ID)

	e.sim.Inject(smartsheetsim.Fault{Method: "PUT", FailRows: []int{1}, ErrorCode: 1050, Message: "You cannot edit a locked row."})
	receipts, err := e.conn.Push(context.Background(), target, rollups("v2", 50))
	var perr *PushError
	if !errors.As(err, &perr) {
		t.Fatalf("push with a locked row returned %v, want a *PushError", err)
	}
	if len(perr.Failures) != 1 {
		t.Fatalf("failures %+v, want one", perr.Failures)
	}
	f := perr.Failures[0]
	if f.Program != "telehealth" || f.RowID != telehealthRow || f.Code != "1050" || f.Message != "You cannot edit a locked row." || f.RefID == "" {
		t.Errorf("failure %+v, want telehealth's row %s with code 1050, its message and a refId", f, telehealthRow)
	}
	for _, part := range []string{`"telehealth"`, "Telehealth Launch", telehealthRow, "You cannot edit a locked row.", "code 1050", "refId " + f.RefID, "1 of 3 rows failed"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %s", err, part)
		}
	}
	var got []string
	for _, r := range receipts {
		got = append(got, r.Program)
	}
	if d := cmp.Diff([]string{"ehr-upgrade", "pacs-viewer"}, got); d != "" {
		t.Errorf("receipts for the rows written (-want +got):\n%s", d)
	}
	cells := sheetCells(t, e, id, "Program")
	if cells["EHR Upgrade"]["Percent Complete"] != 0.5 || cells["Telehealth Launch"]["Percent Complete"] != 0.4 {
		t.Errorf("sheet after the partial push: %v; want EHR updated and Telehealth untouched", cells)
	}

	// A new row the sheet refuses (a health option it lacks) fails alone.
	e2 := newEnv(t, connectors.Params{})
	id2, _ := e2.sim.CreateSheet("Executive Rollup", smartsheetsim.RollupColumns(false, "Green", "Red"))
	receipts, err = e2.conn.Push(context.Background(), sheetTarget(id2, nil), rollups("v1", 40))
	if !errors.As(err, &perr) || len(perr.Failures) != 1 || perr.Failures[0].Program != "telehealth" ||
		!strings.Contains(err.Error(), `"Health" column has no option for amber`) || len(receipts) != 2 {
		t.Errorf("push of amber into a Green/Red column: %v with %d receipts; want telehealth failed for its missing option, 2 written", err, len(receipts))
	}
}

func TestPushBatchesOf500(t *testing.T) {
	e := newEnv(t, connectors.Params{})
	id, err := e.sim.CreateSheet("Portfolio Rollup", smartsheetsim.RollupColumns(false))
	if err != nil {
		t.Fatal(err)
	}
	var many []pmsync.Rollup
	for i := range 1201 {
		r := pmsync.Rollup{ID: fmt.Sprintf("p%04d", i), Name: fmt.Sprintf("Program %04d", i), AsOf: "2026-01-05", Version: "v1"}
		r.Health.Status = pmsync.Green
		many = append(many, r)
	}
	receipts, err := e.conn.Push(context.Background(), sheetTarget(id, nil), many)
	if err != nil {
		t.Fatalf("push of 1201 programs: %v", err)
	}
	if d := cmp.Diff([]string{"GET", "POST", "POST", "POST"}, methods(e)); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
	rows, _ := e.sim.Rows(id)
	if len(rows) != 1201 || len(receipts) != 1201 || receipts[1200].ID != itoa(rows[1200].ID) {
		t.Errorf("%d rows, %d receipts; want 1201 each, the last receipt naming the last row", len(rows), len(receipts))
	}
}

func TestPushColumnsByTitle(t *testing.T) {
	e := newEnv(t, connectors.Params{})
	id, err := e.sim.CreateSheet("Rollup", []smartsheetsim.ColumnSpec{
		{Title: "Initiative"}, {Title: "RAG", Type: smartsheetsim.Picklist, Options: []string{"Green - on track", "Amber - at risk", "Red - off track"}},
		{Title: "percent complete"}, {Title: "Milestones Late"}, {Title: "Red Flag Risks"}, {Title: "Budget Burn %"},
		{Title: "As Of", Type: smartsheetsim.Date},
	})
	if err != nil {
		t.Fatal(err)
	}
	target := sheetTarget(id, nil)
	_, err = e.conn.Push(context.Background(), target, rollups("v1", 40))
	for _, part := range []string{`"Program"`, `"Health"`, `"Updated"`, "program_column", "health_column", "updated_column"} {
		if err == nil || !strings.Contains(err.Error(), part) {
			t.Errorf("push into a sheet without Program, Health, Updated: %v; want it to name %s", err, part)
		}
	}
	if n := len(e.sim.RowIDs(id)); n != 0 {
		t.Errorf("%d rows written despite missing columns", n)
	}

	if _, err := e.sim.AddRow(id, 0, map[string]any{"Initiative": "Telehealth Launch"}); err != nil {
		t.Fatal(err)
	}
	target = sheetTarget(id, map[string]string{OptProgramColumn: "Initiative", OptHealthColumn: "RAG", OptUpdatedColumn: "As Of"})
	if _, err := e.conn.Push(context.Background(), target, rollups("v1", 40)); err != nil {
		t.Fatalf("push with renamed columns: %v", err)
	}
	cells := sheetCells(t, e, id, "Initiative")
	want := map[string]any{"Initiative": "Telehealth Launch", "RAG": "Amber - at risk", "percent complete": 0.4,
		"Milestones Late": 0.0, "Red Flag Risks": 1.0, "Budget Burn %": 0.6125, "As Of": "2026-01-05"}
	if d := cmp.Diff(want, cells["Telehealth Launch"]); len(cells) != 3 || d != "" {
		t.Errorf("%d rows; the existing Telehealth row, updated with the sheet's own option text (-want +got):\n%s", len(cells), d)
	}
}

func TestHealthOption(t *testing.T) {
	for _, tc := range []struct {
		options []string
		status  pmsync.HealthStatus
		want    string
		err     bool
	}{
		{[]string{"Green", "Yellow", "Red"}, pmsync.Amber, "Yellow", false},
		{[]string{"Green", "Amber", "Red"}, pmsync.Amber, "Amber", false},
		{[]string{"GREEN", "YELLOW", "RED"}, pmsync.Green, "GREEN", false},
		{[]string{"Red - off track", "Green - on track"}, pmsync.Red, "Red - off track", false},
		{nil, pmsync.Amber, "Amber", false},
		{[]string{"Green", "Red"}, pmsync.Amber, "", true},
		{[]string{"Green", "Amber", "Red"}, pmsync.HealthStatus("blue"), "", true},
	} {
		got, err := healthOption(&columnDoc{Title: "Health", Type: typePicklist, Options: tc.options}, tc.status)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("healthOption(%v, %s) = %q, %v; want %q (error %v)", tc.options, tc.status, got, err, tc.want, tc.err)
		}
	}
}

// Defect: a row write refused with errorCode 4004 (the sheet being updated
// by another request of the same token) failed the push, though
// Smartsheet documents that nothing was saved and asks for the request
// again. Adding rows (POST, not idempotent) and updating them (PUT) are
// both sent again, once each, and land once.
func TestRowWritesRetriedOnSheetBusy(t *testing.T) {
	e := newEnv(t, connectors.Params{})
	id, err := e.sim.CreateSheet("Executive Rollup", smartsheetsim.RollupColumns(true))
	if err != nil {
		t.Fatal(err)
	}
	target := sheetTarget(id, nil)
	for _, method := range []string{"POST", "PUT"} {
		e.sim.ResetCalls()
		busy := smartsheetsim.SheetBusy(id)
		busy.Method = method
		e.sim.Inject(busy)
		receipts, err := e.conn.Push(context.Background(), target, rollups("v-"+method, 40))
		if err != nil || len(receipts) != 3 {
			t.Fatalf("%s refused once with 4004: push = %v with %d receipts, want all 3 written", method, err, len(receipts))
		}
		var writes []int
		for _, c := range e.sim.Calls() {
			if c.Method == method {
				writes = append(writes, c.Status)
			}
		}
		if !slices.Equal(writes, []int{500, 200}) {
			t.Errorf("%s answers %v, want the refused 500 then one 200", method, writes)
		}
		rows, _ := e.sim.Rows(id)
		if len(rows) != 3 {
			t.Errorf("after the %s: %d rows, want one per program", method, len(rows))
		}
	}
	// Any other 500 to an add stays unretried: the rows may have been saved.
	e2 := newEnv(t, connectors.Params{})
	id2, _ := e2.sim.CreateSheet("Executive Rollup", smartsheetsim.RollupColumns(true))
	e2.sim.Inject(smartsheetsim.Fault{Method: "POST", Status: 500, ErrorCode: 4002, Message: "Server timeout exceeded. Request has failed."})
	if _, err := e2.conn.Push(context.Background(), sheetTarget(id2, nil), rollups("v1", 40)); connectors.StatusOf(err) != 500 {
		t.Errorf("POST answered 4002: push = %v, want the 500 reported", err)
	}
	if n := len(methods(e2)); n != 2 {
		t.Errorf("%d requests, want 2 (the sheet read, one POST)", n)
	}
}
