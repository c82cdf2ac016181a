package smartsheetsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const token = "sim-token"

var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func start(t *testing.T) (*Server, *httptest.Server, *clock) {
	t.Helper()
	clk := &clock{now: t0}
	s := New(Options{Token: token, Now: clk.Now})
	ts := s.Start()
	t.Cleanup(ts.Close)
	return s, ts, clk
}

// call sends one request and decodes the JSON answer into a generic map.
func call(t *testing.T, ts *httptest.Server, method, path, auth string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, BaseURL(ts)+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, raw, err)
	}
	return resp.StatusCode, out
}

func smallSheet(t *testing.T, s *Server) (int64, map[string]int64) {
	t.Helper()
	id, err := s.CreateSheet("Plan", []ColumnSpec{
		{Title: "Task Name"},
		{Title: "Status", Type: Picklist, Options: []string{"Not Started", "Complete"}, Validation: true},
		{Title: "End Date", Type: Date},
		{Title: "Assigned To", Type: ContactList},
		{Title: "% Complete", Format: FormatPercent},
		{Title: "Done", Type: Checkbox},
	})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int64{}
	add := func(name string, parent int64, cells map[string]any) {
		cells["Task Name"] = name
		rid, err := s.AddRow(id, parent, cells)
		if err != nil {
			t.Fatal(err)
		}
		rows[name] = rid
	}
	add("Go-live", 0, map[string]any{"Status": "Not Started", "End Date": "2026-03-01"})
	add("Train super-users", rows["Go-live"], map[string]any{
		"Status": "Complete", "Assigned To": Contact{"Priya Raman", "priya.raman@hospital.example"}, "% Complete": 1.0, "Done": true,
	})
	add("Risk: bandwidth", 0, map[string]any{"% Complete": 0.25})
	return id, rows
}

func TestAuth(t *testing.T) {
	s, ts, _ := start(t)
	id, _ := smallSheet(t, s)
	for _, tc := range []struct {
		auth       string
		status     int
		code       float64
		messageHas string
	}{
		{"", 401, 1001, "Access Token is required"},
		{"wrong", 401, 1002, "Your Access Token is invalid."},
		{token, 200, 0, ""},
	} {
		status, body := call(t, ts, "GET", fmt.Sprintf("/sheets/%d", id), tc.auth, nil)
		if status != tc.status {
			t.Errorf("auth %q: status %d, want %d", tc.auth, status, tc.status)
		}
		if tc.code != 0 {
			if body["errorCode"] != tc.code || !strings.Contains(fmt.Sprint(body["message"]), tc.messageHas) || body["refId"] == "" {
				t.Errorf("auth %q: body %v, want errorCode %v with message %q and a refId", tc.auth, body, tc.code, tc.messageHas)
			}
		}
	}
}

func TestGetSheetShapes(t *testing.T) {
	s, ts, _ := start(t)
	id, rows := smallSheet(t, s)
	_, body := call(t, ts, "GET", fmt.Sprintf("/sheets/%d?include=objectValue&level=2", id), token, nil)
	if body["version"] != float64(4) || body["totalRowCount"] != float64(3) {
		t.Errorf("version %v rows %v, want 4 (created + 3 rows) and 3", body["version"], body["totalRowCount"])
	}
	cols := body["columns"].([]any)
	colID := map[string]float64{}
	for _, c := range cols {
		m := c.(map[string]any)
		colID[m["title"].(string)] = m["id"].(float64)
	}
	if first := cols[0].(map[string]any); first["primary"] != true {
		t.Errorf("first column %v is not primary", first)
	}
	rs := body["rows"].([]any)
	task := rs[1].(map[string]any)
	if task["id"] != float64(rows["Train super-users"]) || task["parentId"] != float64(rows["Go-live"]) || task["rowNumber"] != float64(2) {
		t.Errorf("task row %v: want id %d, parentId %d, rowNumber 2", task, rows["Train super-users"], rows["Go-live"])
	}
	if task["modifiedAt"] != "2026-01-05T10:00:00Z" {
		t.Errorf("modifiedAt %v, want 2026-01-05T10:00:00Z", task["modifiedAt"])
	}
	cells := map[float64]map[string]any{}
	for _, c := range task["cells"].([]any) {
		m := c.(map[string]any)
		cells[m["columnId"].(float64)] = m
	}
	want := map[string]map[string]any{
		"Assigned To": {"columnId": colID["Assigned To"], "value": "priya.raman@hospital.example", "displayValue": "Priya Raman",
			"objectValue": map[string]any{"objectType": "CONTACT", "email": "priya.raman@hospital.example", "name": "Priya Raman"}},
		"% Complete": {"columnId": colID["% Complete"], "value": 1.0, "displayValue": "100%"},
		"Done":       {"columnId": colID["Done"], "value": true},
		"Status":     {"columnId": colID["Status"], "value": "Complete", "displayValue": "Complete"},
		"End Date":   {"columnId": colID["End Date"]}, // never filled
	}
	for title, w := range want {
		if d := cmp.Diff(w, cells[colID[title]]); d != "" {
			t.Errorf("cell %q (-want +got):\n%s", title, d)
		}
	}
	ms := rs[0].(map[string]any)
	for _, c := range ms["cells"].([]any) {
		m := c.(map[string]any)
		if m["columnId"] == colID["End Date"] && (m["value"] != "2026-03-01" || m["displayValue"] != "03/01/26") {
			t.Errorf("date cell %v, want value 2026-03-01 shown as 03/01/26", m)
		}
	}
}

func TestIfVersionAfterAndRowsModifiedSince(t *testing.T) {
	s, ts, clk := start(t)
	id, rows := smallSheet(t, s)
	v := s.Version(id)

	s.ResetCalls()
	_, body := call(t, ts, "GET", fmt.Sprintf("/sheets/%d?ifVersionAfter=%d", id, v), token, nil)
	if d := cmp.Diff(map[string]any{"version": float64(v)}, body); d != "" {
		t.Errorf("unchanged sheet answer (-want +got):\n%s", d)
	}
	if c := s.Calls(); len(c) != 1 || c[0].Bytes > 20 {
		t.Errorf("calls %+v, want one answer of a few bytes", c)
	}

	clk.now = t0.Add(time.Hour)
	if err := s.UpdateRow(id, rows["Risk: bandwidth"], map[string]any{"% Complete": 0.5}); err != nil {
		t.Fatal(err)
	}
	_, body = call(t, ts, "GET", fmt.Sprintf("/sheets/%d?ifVersionAfter=%d&rowsModifiedSince=2026-01-05T10:30:00Z", id, v), token, nil)
	if body["version"] != float64(v+1) {
		t.Errorf("version %v, want %d", body["version"], v+1)
	}
	got := body["rows"].([]any)
	if len(got) != 1 || got[0].(map[string]any)["id"] != float64(rows["Risk: bandwidth"]) {
		t.Errorf("rows modified since 10:30: %v, want only the risk row", got)
	}
	if body["totalRowCount"] != float64(3) {
		t.Errorf("totalRowCount %v, want the sheet's 3", body["totalRowCount"])
	}
}

func TestColumnIdsAndPaging(t *testing.T) {
	s, ts, _ := start(t)
	id := s.Generate("PACS", 25, 1, t0)
	all, _ := s.Rows(id)
	_, body := call(t, ts, "GET", fmt.Sprintf("/sheets/%d", id), token, nil)
	typeCol := body["columns"].([]any)[1].(map[string]any)["id"].(float64)

	var ids []float64
	for page := 1; page <= 4; page++ {
		_, body := call(t, ts, "GET", fmt.Sprintf("/sheets/%d?columnIds=%d&pageSize=10&page=%d", id, int64(typeCol), page), token, nil)
		if n := len(body["columns"].([]any)); n != 1 {
			t.Fatalf("columnIds gave %d columns, want 1", n)
		}
		for _, r := range body["rows"].([]any) {
			m := r.(map[string]any)
			ids = append(ids, m["id"].(float64))
			if n := len(m["cells"].([]any)); n != 1 {
				t.Errorf("row %v has %d cells, want the Type cell only", m["id"], n)
			}
		}
	}
	if len(ids) != 25 {
		t.Fatalf("paged listing gave %d rows, want 25", len(ids))
	}
	for i, r := range all {
		if ids[i] != float64(r.ID) {
			t.Fatalf("row %d is %v, want %d", i, ids[i], r.ID)
		}
	}
}

func TestBulkWrites(t *testing.T) {
	s, ts, clk := start(t)
	id, rows := smallSheet(t, s)
	_, sheetBody := call(t, ts, "GET", fmt.Sprintf("/sheets/%d", id), token, nil)
	col := map[string]float64{}
	for _, c := range sheetBody["columns"].([]any) {
		m := c.(map[string]any)
		col[m["title"].(string)] = m["id"].(float64)
	}
	clk.now = t0.Add(time.Hour)
	v := s.Version(id)

	tooMany := make([]map[string]any, 501)
	for i := range tooMany {
		tooMany[i] = map[string]any{"toBottom": true, "cells": []any{map[string]any{"columnId": col["Task Name"], "value": fmt.Sprint(i)}}}
	}
	status, body := call(t, ts, "POST", fmt.Sprintf("/sheets/%d/rows", id), token, tooMany)
	if status != 400 || body["errorCode"] != float64(1061) {
		t.Errorf("501 rows: %d %v, want 400 with errorCode 1061", status, body)
	}

	update := []map[string]any{
		{"id": rows["Go-live"], "cells": []any{map[string]any{"columnId": col["Status"], "value": "Complete"}}},
		{"id": rows["Risk: bandwidth"], "cells": []any{map[string]any{"columnId": col["Status"], "value": "Purple"}}},
	}
	status, body = call(t, ts, "PUT", fmt.Sprintf("/sheets/%d/rows", id), token, update)
	if status != 400 || body["errorCode"] != float64(1042) {
		t.Errorf("invalid picklist value without partial success: %d %v, want 400 errorCode 1042", status, body)
	}
	if s.Version(id) != v {
		t.Errorf("a failed bulk write moved the version to %d", s.Version(id))
	}

	status, body = call(t, ts, "PUT", fmt.Sprintf("/sheets/%d/rows?allowPartialSuccess=true", id), token, update)
	if status != 200 || body["message"] != "PARTIAL_SUCCESS" || body["resultCode"] != float64(3) {
		t.Fatalf("partial write: %d %v", status, body)
	}
	failed := body["failedItems"].([]any)
	fi := failed[0].(map[string]any)
	if len(failed) != 1 || fi["index"] != float64(1) || fi["rowId"] != float64(rows["Risk: bandwidth"]) ||
		fi["error"].(map[string]any)["errorCode"] != float64(1042) || fi["error"].(map[string]any)["refId"] == "" {
		t.Errorf("failedItems %v, want index 1, the risk row, errorCode 1042 and a refId", failed)
	}
	got, _ := s.Rows(id)
	if got[0].Cells["Status"] != "Complete" || !got[0].ModifiedAt.Equal(clk.now) || got[2].Cells["Status"] != nil {
		t.Errorf("after the partial write rows are %+v; want the milestone Complete and stamped, the risk untouched", got)
	}
	if s.Version(id) != v+1 {
		t.Errorf("version %d, want %d", s.Version(id), v+1)
	}

	s.Inject(Fault{Method: "POST", FailRows: []int{0}, ErrorCode: 1050, Message: "You cannot edit a locked row."})
	add := []map[string]any{
		{"toBottom": true, "cells": []any{map[string]any{"columnId": col["Task Name"], "value": "A"}}},
		{"parentId": rows["Go-live"], "cells": []any{map[string]any{"columnId": col["Task Name"], "value": "B"}}},
	}
	_, body = call(t, ts, "POST", fmt.Sprintf("/sheets/%d/rows?allowPartialSuccess=true", id), token, add)
	res := body["result"].([]any)
	if body["message"] != "PARTIAL_SUCCESS" || len(res) != 1 {
		t.Fatalf("injected row failure: %v", body)
	}
	got, _ = s.Rows(id)
	var names []any
	for _, r := range got {
		names = append(names, r.Cells["Task Name"])
	}
	// B goes under Go-live, after its existing child.
	if d := cmp.Diff([]any{"Go-live", "Train super-users", "B", "Risk: bandwidth"}, names); d != "" {
		t.Errorf("rows after adding B (-want +got):\n%s", d)
	}
}

func TestFaults(t *testing.T) {
	s, ts, _ := start(t)
	id, _ := smallSheet(t, s)
	path := fmt.Sprintf("/sheets/%d", id)
	s.Inject(RateLimited())
	s.Inject(Fault{Path: path, Status: 503, Times: 2})
	for i, want := range []struct {
		status int
		code   float64
	}{{429, 4003}, {503, 4001}, {503, 4001}, {200, 0}} {
		status, body := call(t, ts, "GET", path, token, nil)
		if status != want.status || (want.code != 0 && body["errorCode"] != want.code) {
			t.Errorf("request %d: %d %v, want %d with errorCode %v", i, status, body, want.status, want.code)
		}
	}
	s.Inject(Malformed())
	req, _ := http.NewRequest("GET", BaseURL(ts)+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || json.Valid(raw) {
		t.Errorf("malformed fault: %d %q, want 200 with broken JSON", resp.StatusCode, raw)
	}
	calls := s.Calls()
	if len(calls) != 5 || calls[0].Status != 429 || calls[4].Path != path {
		t.Errorf("calls %+v, want 5 with the first a 429", calls)
	}
}

func TestRateLimit(t *testing.T) {
	s := New(Options{Token: token, RatePerMinute: 2})
	ts := s.Start()
	defer ts.Close()
	var statuses []int
	for range 3 {
		st, _ := call(t, ts, "GET", "/users/me", token, nil)
		statuses = append(statuses, st)
	}
	if d := cmp.Diff([]int{200, 200, 429}, statuses); d != "" {
		t.Errorf("statuses over a 2/min budget (-want +got):\n%s", d)
	}
}

func TestDeleteRowTakesChildren(t *testing.T) {
	s, ts, _ := start(t)
	id, rows := smallSheet(t, s)
	if err := s.DeleteRow(id, rows["Go-live"]); err != nil {
		t.Fatal(err)
	}
	if got := s.RowIDs(id); len(got) != 1 || got[0] != rows["Risk: bandwidth"] {
		t.Errorf("rows left %v, want only the risk %d", got, rows["Risk: bandwidth"])
	}
	status, body := call(t, ts, "DELETE", fmt.Sprintf("/sheets/%d/rows?ids=%d", id, rows["Risk: bandwidth"]), token, nil)
	if status != 200 || len(s.RowIDs(id)) != 0 {
		t.Errorf("DELETE rows: %d %v; rows left %v", status, body, s.RowIDs(id))
	}
}

func TestGenerate(t *testing.T) {
	s := New(Options{Token: token})
	id := s.Generate("PACS viewer integration", 200, 42, t0)
	rows, err := s.Rows(id)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 200 {
		t.Fatalf("%d rows, want 200", len(rows))
	}
	kinds := map[any]int{}
	typeOf := map[int64]any{}
	for _, r := range rows {
		kinds[r.Cells["Type"]]++
		typeOf[r.ID] = r.Cells["Type"]
	}
	if d := cmp.Diff(map[any]int{"Milestone": 20, "Risk": 20, "Task": 160}, kinds); d != "" {
		t.Errorf("row types (-want +got):\n%s", d)
	}
	for _, r := range rows {
		switch r.Cells["Type"] {
		case "Task":
			if typeOf[r.ParentID] != "Milestone" {
				t.Errorf("task %v sits under %v, want a milestone", r.Cells["Task Name"], typeOf[r.ParentID])
			}
			pct, _ := r.Cells["% Complete"].(float64)
			if pct < 0 || pct > 1 || (r.Cells["Status"] == "Complete") != (pct == 1) {
				t.Errorf("task %v: status %v with %% complete %v", r.Cells["Task Name"], r.Cells["Status"], pct)
			}
			if _, ok := r.Cells["Assigned To"].(Contact); !ok {
				t.Errorf("task %v has no contact", r.Cells["Task Name"])
			}
		case "Risk":
			if r.ParentID != 0 || r.Cells["Likelihood"] == nil || r.Cells["Impact"] == nil {
				t.Errorf("risk %+v: want top level with likelihood and impact", r)
			}
		}
		if r.ModifiedAt.After(t0) || r.ModifiedAt.Before(t0.Add(-30*24*time.Hour)) || r.ModifiedAt.Nanosecond() != 0 {
			t.Errorf("row %d modifiedAt %v outside the last 30 days in whole seconds", r.ID, r.ModifiedAt)
		}
	}
	again := New(Options{Token: token})
	rows2, _ := again.Rows(again.Generate("PACS viewer integration", 200, 42, t0))
	for i := range rows {
		if d := cmp.Diff(rows[i].Cells, rows2[i].Cells); d != "" {
			t.Fatalf("the same seed gave a different row %d:\n%s", i, d)
		}
	}
}

func TestFormulaCells(t *testing.T) {
	s, ts, clk := start(t)
	id, err := s.CreateSheet("Plan", []ColumnSpec{{Title: "Task"}, {Title: "% Complete", Format: FormatPercent}})
	if err != nil {
		t.Fatal(err)
	}
	parent, _ := s.AddRow(id, 0, map[string]any{"Task": "Phase 1"})
	if _, err := s.AddRow(id, parent, map[string]any{"Task": "Step", "% Complete": 0.5}); err != nil {
		t.Fatal(err)
	}
	if err := s.Recalculate(id, parent, "% Complete", 0.5); err == nil {
		t.Error("Recalculate of a cell without a formula succeeded")
	}
	if err := s.SetFormula(id, parent, "% Complete", "=AVG(CHILDREN())", 0.5); err != nil {
		t.Fatal(err)
	}
	clk.now = t0.Add(time.Hour)
	v := s.Version(id)
	if err := s.Recalculate(id, parent, "% Complete", 0.75); err != nil {
		t.Fatal(err)
	}
	if s.Version(id) != v+1 {
		t.Errorf("version %d after a recalculation, want %d", s.Version(id), v+1)
	}
	status, body := call(t, ts, "GET", fmt.Sprintf("/sheets/%d", id), token, nil)
	if status != 200 {
		t.Fatalf("GET sheet: %d", status)
	}
	row := body["rows"].([]any)[0].(map[string]any)
	cell := row["cells"].([]any)[1].(map[string]any)
	if cell["formula"] != "=AVG(CHILDREN())" || cell["value"] != 0.75 || row["modifiedAt"] != "2026-01-05T10:00:00Z" {
		t.Errorf("parent row %v: want the formula, its new value 0.75 and modifiedAt unchanged at 10:00", row)
	}
}
