package smartsheet

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox"
)

// recorded answers from testdata: a route is a method, a path and query
// values the request must carry ("" for a key that must be absent),
// answered with a status and a file.
type recorded struct {
	t      *testing.T
	mu     sync.Mutex
	routes []*route
}

type route struct {
	method, path string
	query        map[string]string
	status       int
	file         string
	times        int // 0: any number
	hits         int
}

func (rc *recorded) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+secret {
		rc.t.Errorf("%s %s without the token", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/2.0")
	q := r.URL.Query()
	for _, rt := range rc.routes {
		if rt.method != r.Method || rt.path != path || (rt.times > 0 && rt.hits >= rt.times) {
			continue
		}
		match := true
		for k, v := range rt.query {
			if (v == "" && q.Has(k)) || (v != "" && q.Get(k) != v) {
				match = false
			}
		}
		if !match {
			continue
		}
		rt.hits++
		body, err := os.ReadFile(filepath.Join("testdata", rt.file))
		if err != nil {
			rc.t.Error(err)
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(rt.status)
		_, _ = w.Write(body)
		return
	}
	rc.t.Errorf("unexpected request %s %s?%s", r.Method, path, r.URL.RawQuery)
	w.WriteHeader(http.StatusNotFound)
}

// recordedConnector serves the routes behind Smartsheet's contract and
// returns a connector on them and its sleeps.
func recordedConnector(t *testing.T, routes ...*route) (*Connector, *sandbox.Sleeps) {
	t.Helper()
	v := loadSmartsheetContract(t).Wrap(&recorded{t: t, routes: routes})
	ts := httptest.NewServer(v)
	t.Cleanup(func() {
		ts.Close()
		// The recorded answers are the vendor's shapes: they must keep the
		// contract too.
		v.Check(t)
	})
	sl := &sandbox.Sleeps{}
	c, err := New(connectors.Params{Name: "recorded", Kind: Kind, BaseURL: ts.URL + "/2.0",
		Credentials: connectors.Credentials{Token: secret}, Sleep: sl.Sleep,
		Now: func() time.Time { return time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return c, sl
}

const recordedSheet = "/sheets/4583173393803140"

var recordedScope = connectors.Scope{Source: "recorded", Config: Scope{Sheet: "4583173393803140"}}

func pullRecorded(t *testing.T, c *Connector, cur connectors.Cursor) ([]connectors.Page, error) {
	t.Helper()
	var pages []connectors.Page
	err := c.Pull(context.Background(), recordedScope, cur, func(p connectors.Page) error {
		pages = append(pages, p)
		return nil
	})
	return pages, err
}

func TestRecordedSheetOfEveryColumnType(t *testing.T) {
	c, _ := recordedConnector(t,
		&route{method: "GET", path: recordedSheet, query: map[string]string{"page": "1", "pageSize": "3", "level": "2", "include": "objectValue"}, status: 200, file: "sheet_page1.json"},
		&route{method: "GET", path: recordedSheet, query: map[string]string{"page": "2", "pageSize": "3"}, status: 200, file: "sheet_page2.json"},
	)
	c.RowPageSize = 3
	pages, err := pullRecorded(t, c, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"6572427401553796", "2068827774183300", "4320627587868548", "8824227215239044"}
	if got := recordsOf(pages); !slices.Equal(got, want) {
		t.Fatalf("records %v, want the four recorded rows", got)
	}
	last := pages[len(pages)-1]
	if !last.HasLive || !slices.Equal(last.Live, want) {
		t.Errorf("live %v, want the four rows", last.Live)
	}
	var row map[string]any
	for _, r := range last.Records {
		if r.ExternalID == "2068827774183300" {
			row = r.Data
			if r.URL != "https://app.smartsheet.com/sheets/9P4hm5pXW4fGmvJmFRHGG5Rh5V6pFRqwqRxHRcM1?rowId=2068827774183300" {
				t.Errorf("row url %s", r.URL)
			}
		}
	}
	// Every column type as the file holds it, normalized.
	wantCells := map[string]any{
		"Task Name": "Radiologist UAT sign-off", "Type": "Milestone",
		"Team": []any{"John Doe", "Jane Roe"}, "Assigned To": "John Doe",
		"Sites": []any{"A", "B"}, "Start Date": "2026-01-05", "Logged At": "2026-01-05T14:30:00Z",
		"Baseline Finish": "2026-02-27", "Done": true, "Duration": "3d", "Predecessors": "1FS",
		"% Complete": 0.5, "Planned Cost": 12500.0,
	}
	if d := cmp.Diff(wantCells, row["cells"]); d != "" {
		t.Errorf("cells (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]any{"Assigned To": "john.doe@smartsheet.com", "Team": []any{"john.doe@smartsheet.com", "jane.roe@smartsheet.com"}}, row["cells_email"]); d != "" {
		t.Errorf("cells_email (-want +got):\n%s", d)
	}
	if row["parent"] != "6572427401553796" || row["parent_type"] != "Task" {
		t.Errorf("parent %v of type %v, want row 6572427401553796, a Task", row["parent"], row["parent_type"])
	}
	cur, _ := parseCursor(last.Next)
	if cur.Version != 7 || cur.Columns != 13 || cur.Since != "2026-01-05T14:30:00Z" {
		t.Errorf("cursor %+v, want version 7, 13 columns, since the newest modifiedAt", cur)
	}
}

func TestRecordedEmptyAndUnchangedSheet(t *testing.T) {
	c, _ := recordedConnector(t,
		&route{method: "GET", path: recordedSheet, query: map[string]string{"ifVersionAfter": ""}, status: 200, file: "sheet_empty.json"},
		&route{method: "GET", path: recordedSheet, query: map[string]string{"ifVersionAfter": "7"}, status: 200, file: "sheet_unchanged.json"},
	)
	pages, err := pullRecorded(t, c, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 1 || len(pages[0].Records) != 0 || !pages[0].HasLive || len(pages[0].Live) != 0 {
		t.Fatalf("empty sheet: pages %+v, want one page with an empty live list", pages)
	}
	pages, err = pullRecorded(t, c, pages[0].Next)
	if err != nil || len(pages) != 0 {
		t.Errorf("unchanged sheet: %d pages, %v; want none", len(pages), err)
	}
}

func TestRecordedErrors(t *testing.T) {
	t.Run("404", func(t *testing.T) {
		c, _ := recordedConnector(t, &route{method: "GET", path: recordedSheet, status: 404, file: "error_404.json"})
		_, err := pullRecorded(t, c, "")
		var ae *connectors.APIError
		if !errors.As(err, &ae) || ae.Code != "1006" || ae.Message != "Not Found" || ae.RefID != "exlxshtxlpl8" || !strings.Contains(err.Error(), "check the sheet id") {
			t.Errorf("error %v, want the 404's code, message and refId with advice", err)
		}
	})
	t.Run("429 waits the minute", func(t *testing.T) {
		c, sl := recordedConnector(t,
			&route{method: "GET", path: recordedSheet, status: 429, file: "error_429.json", times: 1},
			&route{method: "GET", path: recordedSheet, status: 200, file: "sheet_empty.json"},
		)
		if _, err := pullRecorded(t, c, ""); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(sl.Waits(), RateLimitWait) {
			t.Errorf("waits %v, want the minute errorCode 4003 asks for", sl.Waits())
		}
	})
	t.Run("4004 retried", func(t *testing.T) {
		c, _ := recordedConnector(t,
			&route{method: "GET", path: recordedSheet, status: 500, file: "error_4004.json", times: 1},
			&route{method: "GET", path: recordedSheet, status: 200, file: "sheet_empty.json"},
		)
		if _, err := pullRecorded(t, c, ""); err != nil {
			t.Errorf("a read refused once with 4004: %v, want it read again", err)
		}
	})
}

func TestRecordedPartialRowUpdate(t *testing.T) {
	c, _ := recordedConnector(t,
		&route{method: "GET", path: "/sheets/5190835902932868", status: 200, file: "rollup_sheet.json"},
		&route{method: "PUT", path: "/sheets/5190835902932868/rows", query: map[string]string{"allowPartialSuccess": "true"}, status: 200, file: "rows_put_partial.json"},
	)
	receipts, err := c.Push(context.Background(), sheetTarget(5190835902932868, nil), rollups("v9", 45)[:2])
	var perr *PushError
	if !errors.As(err, &perr) || len(perr.Failures) != 1 {
		t.Fatalf("push = %v, want a PushError for the locked row", err)
	}
	f := perr.Failures[0]
	if f.Program != "telehealth" || f.RowID != "3166598690301828" || f.Code != "1050" || f.Message != "You cannot edit a locked row." || f.RefID != "exlxshtxlpl8" {
		t.Errorf("failure %+v", f)
	}
	if len(receipts) != 1 || receipts[0].Program != "ehr-upgrade" || receipts[0].ID != "7670198317672324" {
		t.Errorf("receipts %+v, want EHR Upgrade's row", receipts)
	}
}
