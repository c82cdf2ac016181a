package smartsheet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/httpapi"
)

// PushError reports the programs whose rows a push could not write. The
// other programs of the same push were written and have receipts.
type PushError struct {
	Sheet    string
	Total    int // programs in the push
	Failures []RowFailure
}

// RowFailure is one program whose rollup row was not written.
type RowFailure struct {
	Program string // program id
	Name    string // program name, as in the Program column
	RowID   string // the existing row, "" for a row that was to be added
	Code    string // Smartsheet errorCode
	Message string
	RefID   string
}

// Error names every failed program with Smartsheet's reason, code and
// refId, the details support asks for.
func (e *PushError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "smartsheet: push to rollup sheet %s: %d of %d rows failed", e.Sheet, len(e.Failures), e.Total)
	for i, f := range e.Failures {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "program %q", f.Program)
		if f.Name != "" && f.Name != f.Program {
			fmt.Fprintf(&b, " (%s)", f.Name)
		}
		if f.RowID != "" {
			fmt.Fprintf(&b, " row %s", f.RowID)
		} else {
			b.WriteString(" new row")
		}
		b.WriteString(": " + f.Message)
		var extra []string
		if f.Code != "" {
			extra = append(extra, "code "+f.Code)
		}
		if f.RefID != "" {
			extra = append(extra, "refId "+f.RefID)
		}
		if len(extra) > 0 {
			b.WriteString(" (" + strings.Join(extra, ", ") + ")")
		}
	}
	return b.String()
}

// rollupSheet is the rollup sheet as read before a push.
type rollupSheet struct {
	id        int64
	permalink string
	cols      map[string]*columnDoc // by target option key
	rows      []rowDoc
}

// readRollupSheet reads the rollup sheet and finds its columns by title.
func (c *Connector) readRollupSheet(ctx context.Context, id int64, options map[string]string) (*rollupSheet, error) {
	var (
		doc  *sheetDoc
		rows []rowDoc
		err  error
	)
	for range snapshotTries {
		doc, rows = nil, nil
		err = c.readSheet(ctx, id, url.Values{"level": {"2"}, "include": {"objectValue"}, "exclude": {"nonexistentCells"}}, 0, true, func(d *sheetDoc) error {
			if doc == nil {
				doc = d
			}
			rows = append(rows, d.Rows...)
			return nil
		})
		if !errors.Is(err, errSheetMoved) {
			break
		}
	}
	if err != nil {
		return nil, c.readFail(id, err)
	}
	cols, err := newColumns(doc.Columns)
	if err != nil {
		return nil, fmt.Errorf("smartsheet connection %q: rollup sheet %d (%q): %w", c.name, id, doc.Name, err)
	}
	rs := &rollupSheet{id: id, permalink: doc.Permalink, cols: map[string]*columnDoc{}, rows: rows}
	var missing, keys []string
	for _, rc := range rollupColumns() {
		key, title := rc[0], rc[1]
		if t := strings.TrimSpace(options[key]); t != "" {
			title = t
		}
		col := findColumn(cols, title)
		switch {
		case col != nil:
			rs.cols[key] = col
		case key == OptVersionColumn:
			// Optional: without it, pushes compare the values instead.
		default:
			missing = append(missing, title)
			keys = append(keys, key)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("smartsheet connection %q: rollup sheet %d (%q) has no column %s (its columns are %s); add them or name the columns to use with the target options %s",
			c.name, id, doc.Name, quoteList(missing), quoteList(cols.titles()), strings.Join(keys, ", "))
	}
	return rs, nil
}

// findColumn finds a column by exact title, then ignoring case and
// surrounding spaces.
func findColumn(cols *columns, title string) *columnDoc {
	for i := range cols.list {
		if cols.list[i].Title == title {
			return &cols.list[i]
		}
	}
	for i := range cols.list {
		if strings.EqualFold(strings.TrimSpace(cols.list[i].Title), strings.TrimSpace(title)) {
			return &cols.list[i]
		}
	}
	return nil
}

// healthOption is the value written for a colour: the Health column's own
// picklist option for it (amber is also "Yellow"), matched ignoring case,
// first whole and then as the start of the option ("Green - on track").
// Without options the colour is written as a word.
func healthOption(col *columnDoc, status pmsync.HealthStatus) (string, error) {
	names := map[pmsync.HealthStatus][]string{
		pmsync.Green: {"green"},
		pmsync.Amber: {"amber", "yellow"},
		pmsync.Red:   {"red"},
	}[status]
	if names == nil {
		return "", fmt.Errorf("health %q is not green, amber or red", status)
	}
	if len(col.Options) == 0 {
		return strings.ToUpper(names[0][:1]) + names[0][1:], nil
	}
	for _, prefix := range []bool{false, true} {
		for _, n := range names {
			for _, o := range col.Options {
				lo := strings.ToLower(strings.TrimSpace(o))
				if lo == n || (prefix && strings.HasPrefix(lo, n)) {
					return o, nil
				}
			}
		}
	}
	return "", fmt.Errorf("the %q column has no option for %s (its options are %s)", col.Title, status, quoteList(col.Options))
}

// desired is the cells one program's row should hold.
type desired struct {
	rollup     pmsync.Rollup
	name       string
	cells      []cellWrite
	versionCol *columnDoc // nil when the sheet has no version column
}

type cellWrite struct {
	col   *columnDoc
	value any // string, float64 or nil (clear)
}

func round4(f float64) float64 { return math.Round(f*10000) / 10000 }

// want computes a program's row. Percentages are written as fractions
// (40% is 0.4), the form Smartsheet stores in a percent-formatted column.
func (rs *rollupSheet) want(r pmsync.Rollup) (desired, error) {
	d := desired{rollup: r, name: r.Name}
	if d.name == "" {
		d.name = r.ID
	}
	health, err := healthOption(rs.cols[OptHealthColumn], r.Health.Status)
	if err != nil {
		return d, err
	}
	var burn, updated any
	if r.Budget.BurnPercent != nil {
		burn = round4(*r.Budget.BurnPercent / 100)
	}
	if r.AsOf != "" {
		updated = string(r.AsOf)
	}
	d.cells = []cellWrite{
		{rs.cols[OptProgramColumn], d.name},
		{rs.cols[OptHealthColumn], health},
		{rs.cols[OptPercentColumn], round4(r.Progress.Percent / 100)},
		{rs.cols[OptLateColumn], float64(r.Milestones.Late)},
		{rs.cols[OptRedFlagsColumn], float64(r.Risks.RedFlags)},
		{rs.cols[OptBurnColumn], burn},
		{rs.cols[OptUpdatedColumn], updated},
	}
	if col := rs.cols[OptVersionColumn]; col != nil {
		d.versionCol = col
		d.cells = append(d.cells, cellWrite{col, r.Version})
	}
	return d, nil
}

// same reports whether a stored cell value already says what would be
// written: numbers within rounding, anything else by its text.
func same(have, want any) bool {
	hf, hok := have.(float64)
	wf, wok := want.(float64)
	if hok && wok {
		return math.Abs(hf-wf) < 1e-9
	}
	return text(have) == text(want)
}

// upToDate reports whether an existing row already holds the program's
// rollup: its Rollup Version when the sheet has that column, else every
// value.
func upToDate(row *rowDoc, d desired) bool {
	byCol := make(map[int64]*cellDoc, len(row.Cells))
	for i := range row.Cells {
		byCol[row.Cells[i].ColumnID] = &row.Cells[i]
	}
	if d.versionCol != nil {
		return same(normalize(d.versionCol, byCol[d.versionCol.ID]).value, d.rollup.Version)
	}
	for _, cw := range d.cells {
		if !same(normalize(cw.col, byCol[cw.col.ID]).value, cw.value) {
			return false
		}
	}
	return true
}

// rowWrite is one row of a bulk write request.
type rowWrite struct {
	ID       int64       `json:"id,omitempty"`
	ToBottom bool        `json:"toBottom,omitempty"`
	Cells    []cellValue `json:"cells"`
}

type cellValue struct {
	ColumnID int64 `json:"columnId"`
	Value    any   `json:"value"`
}

// writeResult is Smartsheet's Result object for a bulk row write.
type writeResult struct {
	Message     string       `json:"message"`
	ResultCode  int          `json:"resultCode"`
	Version     int64        `json:"version"`
	Result      []rowDoc     `json:"result"`
	FailedItems []failedItem `json:"failedItems"`
}

type failedItem struct {
	Index int       `json:"index"`
	RowID *int64    `json:"rowId"`
	Error errorBody `json:"error"`
}

// pending is a program row waiting to be written.
type pending struct {
	at    int   // index into the rollups
	rowID int64 // 0 for a new row
	d     desired
}

// Push upserts one row per program into the rollup sheet: rows are found
// by the Program cell (the program's name, or its id), updated in place with
// PUT and added with POST, at most MaxRowsPerWrite per request, with
// allowPartialSuccess. A row that already holds the rollup (its Rollup
// Version, or every value when the sheet has no such column) is not written
// again and its receipt says Existing. When some rows fail the others are
// still written: their receipts come back with a *PushError naming each
// failed program and Smartsheet's reason.
func (c *Connector) Push(ctx context.Context, target connectors.Target, rollups []pmsync.Rollup) ([]connectors.Receipt, error) {
	t, err := connectors.TargetConfig(Kind, target, CheckTarget)
	if err != nil {
		return nil, fmt.Errorf("smartsheet connection %q: %w", c.name, err)
	}
	if len(rollups) == 0 {
		return nil, nil
	}
	id, _ := sheetID(t.Sheet) // CheckTarget vouched for it
	rs, err := c.readRollupSheet(ctx, id, t.Options)
	if err != nil {
		return nil, err
	}
	progCol := rs.cols[OptProgramColumn]
	byProgram := map[string]*rowDoc{}
	for i := range rs.rows {
		r := &rs.rows[i]
		for _, cell := range r.Cells {
			if cell.ColumnID == progCol.ID {
				if k := programKey(normalize(progCol, &cell).value); k != "" {
					if _, dup := byProgram[k]; !dup {
						byProgram[k] = r
					}
				}
			}
		}
	}

	receipts := make([]*connectors.Receipt, len(rollups))
	perr := &PushError{Sheet: t.Sheet, Total: len(rollups)}
	var updates, adds []pending
	for i, r := range rollups {
		d, err := rs.want(r)
		if err != nil {
			perr.Failures = append(perr.Failures, RowFailure{Program: r.ID, Name: r.Name, Message: err.Error()})
			continue
		}
		row := byProgram[programKey(d.name)]
		if row == nil {
			row = byProgram[programKey(r.ID)]
		}
		switch {
		case row == nil:
			adds = append(adds, pending{at: i, d: d})
		case upToDate(row, d):
			rid := strconv.FormatInt(row.ID, 10)
			receipts[i] = &connectors.Receipt{Program: r.ID, ID: rid, URL: rowURL(rs.permalink, rid), Existing: true}
		default:
			updates = append(updates, pending{at: i, rowID: row.ID, d: d})
		}
	}

	var werr error
	for _, batch := range [][]pending{updates, adds} {
		for len(batch) > 0 && werr == nil {
			n := min(len(batch), MaxRowsPerWrite)
			werr = c.write(ctx, rs, batch[:n], receipts, perr)
			batch = batch[n:]
		}
	}

	out := make([]connectors.Receipt, 0, len(rollups))
	for _, r := range receipts {
		if r != nil {
			out = append(out, *r)
		}
	}
	c.log.Debug().Int("records", len(out)).Msg("rollups pushed")
	switch {
	case werr != nil && len(perr.Failures) > 0:
		return out, errors.Join(werr, perr)
	case werr != nil:
		return out, werr
	case len(perr.Failures) > 0:
		return out, perr
	}
	return out, nil
}

// programKey is how Program cells and program names are matched.
func programKey(v any) string { return strings.ToLower(strings.TrimSpace(text(v))) }

// write sends one bulk PUT (rows with an id) or POST (new rows) and records
// receipts and per-row failures.
func (c *Connector) write(ctx context.Context, rs *rollupSheet, batch []pending, receipts []*connectors.Receipt, perr *PushError) error {
	update := batch[0].rowID != 0
	method := "POST"
	if update {
		method = "PUT"
	}
	body := make([]rowWrite, len(batch))
	for i, p := range batch {
		rw := rowWrite{ID: p.rowID, ToBottom: !update}
		for _, cw := range p.d.cells {
			v := cw.value
			if v == nil {
				v = "" // Smartsheet clears a cell written with an empty string
			}
			rw.Cells = append(rw.Cells, cellValue{ColumnID: cw.col.ID, Value: v})
		}
		body[i] = rw
	}
	var res writeResult
	// A POST is not retried (Idempotent stays false): a lost answer after the
	// rows were added would add them twice; the next push finds them by
	// program and updates them instead.
	_, err := c.api.DoJSON(ctx, httpapi.Request{
		Method: method,
		Path:   "/sheets/" + strconv.FormatInt(rs.id, 10) + "/rows",
		Query:  url.Values{"allowPartialSuccess": {"true"}},
		JSON:   body,
	}, &res)
	if err != nil {
		return c.fail(fmt.Sprintf("write %d rollup rows to sheet %d", len(batch), rs.id), err)
	}

	failed := map[int]bool{}
	for _, fi := range res.FailedItems {
		if fi.Index < 0 || fi.Index >= len(batch) {
			continue
		}
		failed[fi.Index] = true
		p := batch[fi.Index]
		f := RowFailure{Program: p.d.rollup.ID, Name: p.d.name, Code: fi.Error.ErrorCode.String(),
			Message: httpapi.Shorten(strings.TrimSpace(fi.Error.Message), maxErrorText), RefID: fi.Error.RefID}
		if p.rowID != 0 {
			f.RowID = strconv.FormatInt(p.rowID, 10)
		}
		perr.Failures = append(perr.Failures, f)
	}
	// Added rows come back in request order, failed ones left out; they are
	// matched by their Program cell, which names the program unambiguously.
	progCol := rs.cols[OptProgramColumn]
	created := map[string]int64{}
	for _, r := range res.Result {
		for i := range r.Cells {
			if r.Cells[i].ColumnID == progCol.ID {
				created[programKey(normalize(progCol, &r.Cells[i]).value)] = r.ID
			}
		}
	}
	for i, p := range batch {
		if failed[i] {
			continue
		}
		rowID := p.rowID
		if rowID == 0 {
			rowID = created[programKey(p.d.name)]
		}
		rid := ""
		if rowID != 0 {
			rid = strconv.FormatInt(rowID, 10)
		}
		receipts[p.at] = &connectors.Receipt{Program: p.d.rollup.ID, ID: rid, URL: rowURL(rs.permalink, rid)}
	}
	return nil
}
