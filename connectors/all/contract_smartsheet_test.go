package all_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/smartsheetsim"
)

func init() {
	profiles["smartsheet"] = []profile{{
		name:    "smartsheet",
		records: 1234,
		start: func(t *testing.T, clk *sandbox.Clock, n int) (string, string, map[string]string, fake) {
			sim := smartsheetsim.New(smartsheetsim.Options{Token: "sheet-contract-token", Now: clk.Now})
			ts := sim.Start()
			t.Cleanup(ts.Close)
			sheet := sim.Generate("PACS Viewer Integration", n, 11, t0)
			conn := "base_url: " + smartsheetsim.BaseURL(ts) + "\nauth: { token_env: SMARTSHEET_TOKEN }"
			return conn, "{ sheet: " + strconv.FormatInt(sheet, 10) + " }", map[string]string{"SMARTSHEET_TOKEN": "sheet-contract-token"},
				sheetFake{sim: sim, clk: clk, sheet: sheet}
		},
	}}
}

type sheetFake struct {
	sim   *smartsheetsim.Server
	clk   *sandbox.Clock
	sheet int64
}

func (f sheetFake) Change(t *testing.T, k int) []string {
	t.Helper()
	f.clk.Set(t0.Add(time.Hour)) // past the connector's overlap
	rows, err := f.sim.Rows(f.sheet)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; len(ids) < k; i += 7 {
		if err := f.sim.UpdateRow(f.sheet, rows[i].ID, map[string]any{"Status": "Blocked"}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, strconv.FormatInt(rows[i].ID, 10))
	}
	return ids
}

func (f sheetFake) Delete(t *testing.T) string {
	t.Helper()
	rows, err := f.sim.Rows(f.sheet)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows { // a task row: a milestone would take its tasks along
		if r.Cells["Type"] == "Task" {
			if err := f.sim.DeleteRow(f.sheet, r.ID); err != nil {
				t.Fatal(err)
			}
			return strconv.FormatInt(r.ID, 10)
		}
	}
	t.Fatal("the generated sheet has no task row")
	return ""
}

func (f sheetFake) Fail(t *testing.T, status, times int) {
	fault := smartsheetsim.Fault{Method: "GET", Path: "/sheets", Status: status, Times: times}
	if status == 429 {
		fault.ErrorCode, fault.Message = 4003, "Rate limit exceeded."
	}
	f.sim.Inject(fault)
}

func (f sheetFake) Malformed(t *testing.T) {
	fault := smartsheetsim.Malformed()
	fault.Method, fault.Path = "GET", "/sheets"
	f.sim.Inject(fault)
}
