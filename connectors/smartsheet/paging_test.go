package smartsheet

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/httpapi"
	"github.com/pmsync/pmsync/sandbox/smartsheetsim"
)

// wideSheet creates a sheet of cols text columns and rows rows, every cell
// filled with a short text, and returns its id and its row ids in order.
func wideSheet(t *testing.T, e *env, cols, rows int) (int64, []string) {
	t.Helper()
	specs := make([]smartsheetsim.ColumnSpec, cols)
	for i := range specs {
		specs[i] = smartsheetsim.ColumnSpec{Title: fmt.Sprintf("Site %03d", i)}
	}
	specs[0].Title = "Task Name"
	id, err := e.sim.CreateSheet("Wide site readiness tracker", specs)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, rows)
	for r := range rows {
		cells := make(map[string]any, cols)
		for _, s := range specs {
			cells[s.Title] = fmt.Sprintf("ready r%d", r)
		}
		rid, err := e.sim.AddRow(id, 0, cells)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, itoa(rid))
	}
	return id, ids
}

// sheetReads lists the (page, pageSize) of every GET /sheets/{id} the fake
// answered, with the status it answered.
func sheetReads(e *env, id int64) [][3]int {
	var out [][3]int
	for _, c := range e.sim.Calls() {
		if c.Method != http.MethodGet || c.Path != "/sheets/"+itoa(id) {
			continue
		}
		q, _ := url.ParseQuery(c.Query)
		page, _ := strconv.Atoi(q.Get("page"))
		size, _ := strconv.Atoi(q.Get("pageSize"))
		out = append(out, [3]int{page, size, c.Status})
	}
	return out
}

func TestPagesAreSizedByCells(t *testing.T) {
	e := newEnv(t, connectors.Params{Options: Options{PageCells: 3000}})
	e.conn.RowPageSize = 500
	id, ids := wideSheet(t, e, 30, 1500)
	st := newStore()
	pages := st.pull(t, e.conn, scopeOf(id))
	if len(st.items) != len(ids) || !slices.Equal(pages[len(pages)-1].Live, ids) {
		t.Fatalf("%d items, live %d; want all %d rows", len(st.items), len(pages[len(pages)-1].Live), len(ids))
	}
	// The first page's width is unknown: 500 rows; then 3,000 cells ÷ 30
	// columns = 100 rows a page, from row 501 on (page 6 of 100).
	reads := sheetReads(e, id)
	want := [][3]int{{1, 500, 200}}
	for p := 6; p <= 15; p++ {
		want = append(want, [3]int{p, 100, 200})
	}
	if !slices.Equal(reads, want) {
		t.Errorf("reads (page, pageSize, status) = %v, want %v", reads, want)
	}
	if cur, _ := parseCursor(st.cursor); cur.Columns != 30 {
		t.Errorf("cursor %s does not record the 30 columns", st.cursor)
	}

	// The next read knows the width from its first page on.
	e.clk.Advance(time.Hour)
	rows, _ := e.sim.Rows(id)
	for _, r := range rows[:150] {
		if err := e.sim.UpdateRow(id, r.ID, map[string]any{"Site 007": "blocked"}); err != nil {
			t.Fatal(err)
		}
	}
	e.sim.ResetCalls()
	st.pull(t, e.conn, scopeOf(id))
	if reads := sheetReads(e, id); len(reads) < 2 || reads[0] != [3]int{1, 100, 200} || reads[1] != [3]int{2, 100, 200} {
		t.Errorf("incremental reads %v, want the changed rows in pages of 100", reads)
	}
}

// Defect: a sheet whose 10,000-row page passed the response cap could never
// be pulled. The page is now asked for again in halves until it fits.
func TestPageOverTheCapIsReadInSmallerPages(t *testing.T) {
	e := newEnv(t, connectors.Params{})
	cfg := apiConfig(connectors.Params{Credentials: connectors.Credentials{Token: secret}, Sleep: e.sleeps.Sleep, Now: e.clk.Now},
		smartsheetsim.BaseURL(e.ts), e.conn.log)
	cfg.MaxBody = 1 << 20 // a stand-in for the 64 MiB cap, at a test's scale
	api, err := httpapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.conn.api = api
	e.conn.RowPageSize = DefaultRowPageSize // pages, as page_cells asks
	id, ids := wideSheet(t, e, 40, 1500)

	st := newStore()
	pages := st.pull(t, e.conn, scopeOf(id))
	if len(st.items) != len(ids) || !slices.Equal(pages[len(pages)-1].Live, ids) {
		t.Fatalf("%d items stored, want all %d rows", len(st.items), len(ids))
	}
	for ext, n := range st.upserts {
		if n != 1 {
			t.Errorf("row %s stored %d times", ext, n)
		}
	}
	var sizes []int
	last := 0
	for _, r := range sheetReads(e, id) {
		if r[1] != last {
			sizes = append(sizes, r[1])
			last = r[1]
		}
	}
	// Halved from 10,000 until a page fits, then kept.
	if len(sizes) < 2 || sizes[0] != DefaultRowPageSize || sizes[len(sizes)-1] >= 1500 {
		t.Errorf("page sizes asked for %v, want 10000 halved until a page fits under the cap", sizes)
	}
	for i := 1; i < len(sizes); i++ {
		if sizes[i] != sizes[i-1]/2 {
			t.Errorf("page sizes %v: each retry asks for half", sizes)
		}
	}
}

// TestOneAnswerPastTheCap: by default a sheet comes in one answer, decoded
// as it arrives, so the response cap does not bound the sheet.
func TestOneAnswerPastTheCap(t *testing.T) {
	e := newEnv(t, connectors.Params{})
	cfg := apiConfig(connectors.Params{Credentials: connectors.Credentials{Token: secret}, Sleep: e.sleeps.Sleep, Now: e.clk.Now},
		smartsheetsim.BaseURL(e.ts), e.conn.log)
	cfg.MaxBody = 1 << 20
	api, err := httpapi.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.conn.api = api
	id, ids := wideSheet(t, e, 40, 1500)
	st := newStore()
	pages := st.pull(t, e.conn, scopeOf(id))
	if len(st.items) != len(ids) || !slices.Equal(pages[len(pages)-1].Live, ids) {
		t.Fatalf("%d items stored, want all %d rows", len(st.items), len(ids))
	}
	if got := e.conn.Requests(); got != 1 {
		t.Errorf("%d requests, want the one GET of the whole sheet", got)
	}
	if reads := sheetReads(e, id); len(reads) != 1 || reads[0][1] != 0 {
		t.Errorf("sheet reads %v, want one without paging", reads)
	}
	for _, p := range pages {
		if len(p.Records) > PageRecords {
			t.Errorf("a page of %d records, want at most %d", len(p.Records), PageRecords)
		}
	}
}

// hangOnBigPages makes every sheet read of more than limit rows (or of
// the whole sheet) hang until the client gives up, as a slow answer for a
// wide sheet would.
type hangOnBigPages struct {
	next  http.RoundTripper
	limit int
}

func (h *hangOnBigPages) RoundTrip(r *http.Request) (*http.Response, error) {
	if n, err := strconv.Atoi(r.URL.Query().Get("pageSize")); err != nil || n > h.limit {
		<-r.Context().Done()
		return nil, r.Context().Err()
	}
	return h.next.RoundTrip(r)
}

func TestPageThatTimesOutIsReadInSmallerPages(t *testing.T) {
	tr := &hangOnBigPages{limit: 700}
	e := newEnv(t, connectors.Params{Transport: tr, Timeout: 100 * time.Millisecond})
	tr.next = e.ts.Client().Transport
	id, ids := wideSheet(t, e, 5, 2000)
	st := newStore()
	st.pull(t, e.conn, scopeOf(id))
	if len(st.items) != len(ids) {
		t.Fatalf("%d items stored, want %d", len(st.items), len(ids))
	}
	// The whole sheet in one answer times out; then pages of 10000, 5000,
	// 2500, 1250 time out once each (no retry at the same size); 625 rows
	// a page then read the sheet in 4 pages.
	if got := e.conn.Requests(); got != 1+4+4 {
		t.Errorf("%d requests, want 9 (one whole-sheet and 4 page timeouts, 4 pages)", got)
	}
}

func TestFit(t *testing.T) {
	for _, tc := range []struct{ offset, limit, want int }{
		{0, 5000, 5000},
		{10000, 5000, 5000},
		{10000, 3333, 2500},
		{1000, 100, 100},
		{625, 312, 125},
		{7, 3, 1},
		{5, 0, 1},
	} {
		if got := fit(tc.offset, tc.limit); got != tc.want {
			t.Errorf("fit(%d, %d) = %d, want %d", tc.offset, tc.limit, got, tc.want)
		}
	}
}

func TestPageCellsOption(t *testing.T) {
	tok := connectors.Credentials{Token: "t"}
	if err := CheckParams(connectors.Params{Credentials: tok, Options: Options{PageCells: 500}}); err == nil {
		t.Error("page_cells 500 accepted, want an error naming the minimum")
	}
	c, err := New(connectors.Params{Credentials: tok, Options: Options{PageCells: 20000}})
	if err != nil || c.PageCells != 20000 {
		t.Errorf("New with page_cells 20000: %v, PageCells %d", err, c.PageCells)
	}
	c, err = New(connectors.Params{Credentials: tok})
	if err != nil || c.PageCells != DefaultPageCells {
		t.Errorf("New without page_cells: %v, PageCells %d, want %d", err, c.PageCells, DefaultPageCells)
	}
}
