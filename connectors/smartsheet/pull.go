package smartsheet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/httpapi"
)

// ErrMissingColumn is wrapped by the error of a pull whose sheet lacks a
// column the mapping reads (Scope.Fields), typically after a rename.
var ErrMissingColumn = errors.New("column missing from the sheet")

// ErrDuplicateColumn is wrapped by the error of a pull whose sheet has two
// columns with the same title.
var ErrDuplicateColumn = errors.New("duplicate column title")

// errSheetMoved says the sheet version changed between the pages of one
// read, so the pages do not add up to one snapshot.
var errSheetMoved = errors.New("sheet changed while its pages were read")

// snapshotTries bounds how often a read is restarted because the sheet kept
// changing under it.
const snapshotTries = 3

// cursorVersion is the version of the cursor format. Version 2 records
// whether the sheet computes cells; a version 1 cursor never looked, so it
// is answered with a full read that does.
const cursorVersion = 2

// cursor is the connector's position in a sheet: the sheet version last
// read and the newest row modifiedAt seen.
type cursor struct {
	V       int    `json:"v"`
	Version int64  `json:"version"`
	Since   string `json:"since,omitempty"`
	// Columns is the sheet's width when last read, so that the next read
	// sizes its first page by cells too.
	Columns int `json:"columns,omitempty"`
	// Formulas records that the sheet computes cells (a column formula or
	// a cell formula was seen), and Read the UTC day it was last read in
	// full. A computed value changes without its row's modifiedAt moving
	// (see Pull), so such a sheet is read in full whenever its version
	// moves, and at least once a day for TODAY().
	Formulas bool   `json:"formulas,omitempty"`
	Read     string `json:"read,omitempty"`
}

func (c cursor) encode() connectors.Cursor {
	b, _ := json.Marshal(c) // a struct of ints and a string always marshals
	return connectors.Cursor(b)
}

// parseCursor reads a saved cursor; the empty cursor is the zero position.
func parseCursor(raw connectors.Cursor) (cursor, error) {
	var c cursor
	if raw == "" {
		return c, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return cursor{}, fmt.Errorf("%w: %v", connectors.ErrCursorInvalid, err)
	}
	if c.V != cursorVersion || c.Version <= 0 {
		return cursor{}, fmt.Errorf("%w: smartsheet cursor format %d, version %d", connectors.ErrCursorInvalid, c.V, c.Version)
	}
	if c.Since != "" {
		if _, err := time.Parse(time.RFC3339, c.Since); err != nil {
			return cursor{}, fmt.Errorf("%w: since %q is not RFC 3339", connectors.ErrCursorInvalid, c.Since)
		}
	}
	return c, nil
}

// recordKeys are the Data keys the connector sets besides the cells; a
// Scope.Fields entry naming one of them is not a column.
func recordKeys() []string {
	return []string{"id", "rowNumber", "parentId", "parent", "parent_type", "modifiedAt", "primary",
		"cells", "cells_display", "cells_email", "sheet"}
}

// Pull streams the rows of the scope's sheet changed since cur. The empty
// cursor reads the whole sheet. A saved cursor first asks whether the sheet
// moved past its version (ifVersionAfter: one small request when nothing
// changed, which ends the pull without a page); when it did, it reads the
// rows modified since the cursor (less Overlap) and lists every row id, so
// that the last page carries the complete live list. Records come in pages
// of at most PageRecords; only the last page carries the new cursor.
//
// A sheet that computes cells (a column or cell formula) is read in full
// whenever its version moves, and on its first pull of each UTC day:
// rowsModifiedSince selects rows by modifiedAt, which Smartsheet moves for
// a data change made to the row, not for a value a formula recomputed
// because something elsewhere changed (a parent's roll-up of its children,
// a cross-sheet reference, TODAY()).
//
// Before any page, the sheet's columns are checked: a column the mapping
// reads (Scope.Fields) that the sheet lacks — typically renamed — or a
// duplicated column title fails the pull, so nothing stored changes.
func (c *Connector) Pull(ctx context.Context, scope connectors.Scope, cur connectors.Cursor, page func(connectors.Page) error) error {
	sc, err := connectors.ScopeConfig(Kind, scope, CheckScope)
	if err != nil {
		return fmt.Errorf("smartsheet connection %q: %w", c.name, err)
	}
	pos, err := parseCursor(cur)
	if err != nil {
		return err
	}
	id, _ := sheetID(sc.Sheet) // CheckScope vouched for it
	var last error
	// A sheet comes in one streamed answer unless the connection asks for
	// pages (RowPageSize), or one answer proved too much.
	paged := c.RowPageSize > 0
	for try := 0; try < snapshotTries; try++ {
		switch {
		case pos.Version == 0:
			last = c.pullAll(ctx, scope, id, paged, page)
		case pos.Formulas && pos.Read != c.today():
			c.log.Debug().Str("source", scope.Source).Msg("sheet computes cells and was not read in full today, reading in full")
			last = c.pullAll(ctx, scope, id, paged, page)
		case pos.Formulas:
			last = c.pullIfMoved(ctx, scope, id, pos, paged, page)
		default:
			last = c.pullChanges(ctx, scope, id, pos, cur, paged, page)
		}
		if errors.Is(last, errStreamTooLarge) && !paged {
			c.log.Debug().Str("source", scope.Source).Str("err", last.Error()).Msg("sheet too large for one answer, reading in pages")
			paged = true
			try--
			continue
		}
		if !errors.Is(last, errSheetMoved) {
			return last
		}
		c.log.Debug().Str("source", scope.Source).Msg("sheet changed while read, reading again")
	}
	return fmt.Errorf("smartsheet connection %q: read sheet %d: %w %d times in a row; try again when editing calms down", c.name, id, errSheetMoved, snapshotTries)
}

// today is the UTC day, the unit of the daily full read of a sheet with
// formulas.
func (c *Connector) today() string { return c.now().UTC().Format(time.DateOnly) }

// pullIfMoved reads a sheet with formulas in full when its version moved:
// rowsModifiedSince finds rows by their modifiedAt, which Smartsheet moves
// for a data change made to the row, not for a formula whose result changed
// because of cells elsewhere (a parent's roll-up of its children, a
// cross-sheet reference, TODAY()), so only a full read sees every computed
// value. An unchanged version costs the one ifVersionAfter request.
func (c *Connector) pullIfMoved(ctx context.Context, scope connectors.Scope, id int64, pos cursor, paged bool, page func(connectors.Page) error) error {
	var doc sheetDoc
	// ifVersionAfter with the smallest page there is: an unchanged sheet
	// answers with its version alone, a changed one with a row at most.
	if err := c.api.GetJSON(ctx, "/sheets/"+strconv.FormatInt(id, 10), url.Values{
		"ifVersionAfter": {strconv.FormatInt(pos.Version, 10)}, "pageSize": {"1"}, "page": {"1"},
	}, &doc); err != nil {
		return c.readFail(id, fmt.Errorf("get sheet %d: %w", id, err))
	}
	if doc.unchanged() {
		c.log.Debug().Str("source", scope.Source).Int64("version", pos.Version).Msg("sheet unchanged")
		return nil
	}
	c.log.Debug().Str("source", scope.Source).Msg("sheet with formulas changed, reading in full")
	return c.pullAll(ctx, scope, id, paged, page)
}

// emitter batches records into pages of at most PageRecords, holding the
// last batch back so that it leaves with the cursor and live list.
type emitter struct {
	ctx     context.Context
	page    func(connectors.Page) error
	keep    connectors.Cursor // the cursor intermediate pages carry
	pending []pmsync.Record
}

func (e *emitter) add(r pmsync.Record) error {
	if len(e.pending) == PageRecords {
		if err := e.send(connectors.Page{Records: e.pending, Next: e.keep}); err != nil {
			return err
		}
		e.pending = make([]pmsync.Record, 0, PageRecords)
	}
	e.pending = append(e.pending, r)
	return nil
}

func (e *emitter) send(p connectors.Page) error {
	if err := e.ctx.Err(); err != nil {
		return err
	}
	return e.page(p)
}

func (e *emitter) finish(live []string, next connectors.Cursor) error {
	return e.send(connectors.Page{Records: e.pending, Live: live, HasLive: true, Next: next})
}

// dataQuery asks for cells with contacts' emails and multi-value columns as
// lists, without the never-filled cells.
func dataQuery() url.Values {
	return url.Values{
		"include": {"objectValue"},
		"level":   {"2"},
		"exclude": {"nonexistentCells"},
	}
}

// readSheet reads every page of GET /sheets/{id} with query q, calling each
// with the page's document. It fails with errSheetMoved when the version
// moves between pages. A first answer for an unchanged sheet (ifVersionAfter)
// is passed on alone.
//
// Pages are sized by cells: cols is how many columns each row brings (0
// when not known yet, in which case the first page's columns tell). A page
// whose answer passes the response cap or the attempt timeout is asked for
// again in smaller pages.
func (c *Connector) readSheet(ctx context.Context, id int64, q url.Values, cols int, paged bool, each func(*sheetDoc) error) error {
	if !paged {
		return c.streamSheet(ctx, id, q, each)
	}
	size := c.rowsPerPage(cols)
	path := "/sheets/" + strconv.FormatInt(id, 10)
	var version int64
	offset := 0 // rows read so far: a multiple of size
	var lastFirst int64
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		pq := url.Values{}
		for k, v := range q {
			pq[k] = v
		}
		page := offset/size + 1
		pq.Set("pageSize", strconv.Itoa(size))
		pq.Set("page", strconv.Itoa(page))
		var doc sheetDoc
		_, err := c.api.DoJSON(ctx, httpapi.Request{Path: path, Query: pq, NoTimeoutRetry: true}, &doc)
		if err != nil {
			if size > 1 && tooLarge(ctx, err) {
				smaller := fit(offset, size/2)
				c.log.Debug().Int64("sheet", id).Int("rows", size).Int("page_rows", smaller).Str("err", err.Error()).
					Msg("sheet page too large, asking for fewer rows")
				size = smaller
				n--
				continue
			}
			return fmt.Errorf("get sheet %d page %d (%d rows a page): %w", id, page, size, err)
		}
		switch {
		case n == 1 && doc.unchanged() && q.Get("ifVersionAfter") != "":
			return each(&doc)
		case doc.ID != id:
			return fmt.Errorf("get sheet %d page %d: the answer is not that sheet (id %d, %d columns)", id, page, doc.ID, len(doc.Columns))
		case n == 1:
			version = doc.Version
		case doc.Version != version:
			return errSheetMoved
		}
		// Past the last page Smartsheet may repeat the last one rather than
		// answer empty; a repeated first row ends the read either way.
		if len(doc.Rows) > 0 && n > 1 && doc.Rows[0].ID == lastFirst {
			return nil
		}
		if len(doc.Rows) > 0 {
			lastFirst = doc.Rows[0].ID
		}
		if err := each(&doc); err != nil {
			return err
		}
		offset += len(doc.Rows)
		if len(doc.Rows) < size || (q.Get("rowsModifiedSince") == "" && q.Get("rowIds") == "" && offset >= doc.TotalRowCount) {
			return nil
		}
		if cols == 0 && len(doc.Columns) > 0 {
			// The sheet's width is known now: later pages keep to the cell
			// budget, in a size that divides the rows read so far, since
			// Smartsheet pages by number.
			cols = len(doc.Columns)
			if want := c.rowsPerPage(cols); want < size {
				size = fit(offset, want)
			}
		}
	}
}

// streamSheet reads GET /sheets/{id} with query q as one answer, without
// paging, decoding it as it arrives and calling each with chunks of
// PageRecords rows (see streamSheet in stream.go): one request for the
// whole sheet, in the memory of a chunk. An answer that runs past the
// attempt timeout, or that a gateway gives up on, fails with
// errStreamTooLarge: the pull starts again in pages.
func (c *Connector) streamSheet(ctx context.Context, id int64, q url.Values, each func(*sheetDoc) error) error {
	path := "/sheets/" + strconv.FormatInt(id, 10)
	first := true
	var eachErr error // the callback's own failure, passed on as it is
	_, err := c.api.Do(ctx, httpapi.Request{Path: path, Query: q, NoTimeoutRetry: true, Stream: func(body io.Reader) error {
		return streamSheet(body, PageRecords, func(doc *sheetDoc) error {
			if first {
				first = false
				if doc.unchanged() && q.Get("ifVersionAfter") != "" {
					eachErr = each(doc)
					return eachErr
				}
			}
			if doc.ID != id {
				return fmt.Errorf("the answer is not that sheet (id %d, %d columns)", doc.ID, len(doc.Columns))
			}
			eachErr = each(doc)
			return eachErr
		})
	}})
	switch {
	case err == nil:
		return nil
	case eachErr != nil:
		return eachErr
	case tooLarge(ctx, err):
		return fmt.Errorf("get sheet %d: %w: %w", id, errStreamTooLarge, err)
	}
	return fmt.Errorf("get sheet %d: %w", id, err)
}

// rowsPerPage is how many rows a page asks for when each brings cols cells
// (0: not known).
func (c *Connector) rowsPerPage(cols int) int {
	size := c.RowPageSize
	if size <= 0 {
		size = DefaultRowPageSize
	}
	cells := c.PageCells
	if cells <= 0 {
		cells = DefaultPageCells
	}
	if cols > 0 {
		size = min(size, max(1, cells/cols))
	}
	return size
}

// fit is the largest page size up to limit that divides offset, so that the
// next page by number starts right after the rows already read.
func fit(offset, limit int) int {
	limit = max(limit, 1)
	if offset == 0 {
		return limit
	}
	for d := limit; d > 1; d-- {
		if offset%d == 0 {
			return d
		}
	}
	return 1
}

// tooLarge reports whether a failed page read may succeed as smaller
// pages: its answer passed the response cap, its attempt timed out, or a
// gateway gave up waiting for Smartsheet (504, after the client's own
// retries).
func tooLarge(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	return errors.Is(err, httpapi.ErrBodyTooLarge) || errors.Is(err, httpapi.ErrAttemptTimeout) ||
		connectors.StatusOf(err) == http.StatusGatewayTimeout
}

// checkColumns indexes the columns and checks that every column the
// mapping reads is there.
func (c *Connector) checkColumns(doc *sheetDoc, scope connectors.Scope) (*columns, error) {
	cols, err := newColumns(doc.Columns)
	if err != nil {
		return nil, fmt.Errorf("smartsheet connection %q: sheet %d (%q): %w", c.name, doc.ID, doc.Name, err)
	}
	var missing []string
	keys := recordKeys()
	for _, f := range scope.Fields {
		f = strings.TrimSpace(f)
		if f == "" || cols.has(f) || slices.Contains(keys, f) || slices.Contains(missing, f) {
			continue
		}
		missing = append(missing, f)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("smartsheet connection %q: sheet %d (%q): %w: the mapping reads %s but the sheet's columns are %s; was a column renamed? nothing from this pull was stored",
			c.name, doc.ID, doc.Name, ErrMissingColumn, quoteList(missing), quoteList(cols.titles()))
	}
	return cols, nil
}

// pullAll reads the whole sheet, streaming records as the pages arrive;
// parents precede their children in sheet order, so every parent's Type is
// known by the time a child needs it.
func (c *Connector) pullAll(ctx context.Context, scope connectors.Scope, id int64, paged bool, page func(connectors.Page) error) error {
	out := &emitter{ctx: ctx, page: page}
	var (
		first    *sheetDoc
		cols     *columns
		types    = map[int64]any{}
		live     []string
		since    time.Time
		formulas bool
	)
	err := c.readSheet(ctx, id, dataQuery(), 0, paged, func(doc *sheetDoc) error {
		if first == nil {
			var err error
			if cols, err = c.checkColumns(doc, scope); err != nil {
				return err
			}
			first = doc
		}
		formulas = formulas || hasFormulas(doc.Columns, doc.Rows)
		for i := range doc.Rows {
			r := &doc.Rows[i]
			rec, typ := c.record(scope, first, cols, r, types[r.ParentID])
			types[r.ID] = typ
			live = append(live, rec.ExternalID)
			if r.ModifiedAt.After(since) {
				since = r.ModifiedAt.Time
			}
			if err := out.add(rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return c.readFail(id, err)
	}
	next := cursor{V: cursorVersion, Version: first.Version, Columns: len(first.Columns), Formulas: formulas}
	if formulas {
		next.Read = c.today()
	}
	if !since.IsZero() {
		next.Since = since.Format(time.RFC3339)
	}
	c.log.Debug().Str("source", scope.Source).Int("records", len(live)).Msg("sheet read in full")
	return out.finish(live, next.encode())
}

// readFail wraps a read error, leaving the sentinels and ctx errors
// findable.
func (c *Connector) readFail(id int64, err error) error {
	switch {
	case errors.Is(err, errSheetMoved), errors.Is(err, ErrMissingColumn), errors.Is(err, ErrDuplicateColumn):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return c.fail(fmt.Sprintf("read sheet %d", id), err)
}

// pullChanges is the incremental pull: one ifVersionAfter request when the
// sheet did not move; else the rows modified since the cursor and the list
// of every row id (one cell each) for deletions and parent types.
func (c *Connector) pullChanges(ctx context.Context, scope connectors.Scope, id int64, pos cursor, cur connectors.Cursor, paged bool, page func(connectors.Page) error) error {
	q := dataQuery()
	q.Set("ifVersionAfter", strconv.FormatInt(pos.Version, 10))
	since, _ := time.Parse(time.RFC3339, pos.Since) // parseCursor vouched for it
	if !since.IsZero() {
		q.Set("rowsModifiedSince", since.Add(-c.Overlap).UTC().Format(time.RFC3339))
	}
	var (
		first   *sheetDoc
		cols    *columns
		changed []rowDoc
	)
	err := c.readSheet(ctx, id, q, pos.Columns, paged, func(doc *sheetDoc) error {
		if doc.unchanged() {
			return nil
		}
		if first == nil {
			var err error
			if cols, err = c.checkColumns(doc, scope); err != nil {
				return err
			}
			first = doc
		}
		changed = append(changed, doc.Rows...)
		return nil
	})
	if err != nil {
		return c.readFail(id, err)
	}
	if first == nil {
		c.log.Debug().Str("source", scope.Source).Int64("version", pos.Version).Msg("sheet unchanged")
		return nil
	}
	if hasFormulas(first.Columns, changed) {
		// Formulas appeared since the last read; the values they compute
		// elsewhere moved no modifiedAt, so only a full read sees them.
		c.log.Debug().Str("source", scope.Source).Msg("sheet now computes cells, reading in full")
		return c.pullAll(ctx, scope, id, paged, page)
	}

	live, types, err := c.listRows(ctx, id, cols, paged)
	if err != nil {
		return c.readFail(id, err)
	}
	out := &emitter{ctx: ctx, page: page, keep: cur}
	newest := since
	for i := range changed {
		r := &changed[i]
		rec, _ := c.record(scope, first, cols, r, types[r.ParentID])
		if r.ModifiedAt.After(newest) {
			newest = r.ModifiedAt.Time
		}
		if err := out.add(rec); err != nil {
			return err
		}
	}
	next := cursor{V: cursorVersion, Version: first.Version, Columns: len(first.Columns)}
	if !newest.IsZero() {
		next.Since = newest.Format(time.RFC3339)
	}
	c.log.Debug().Str("source", scope.Source).Int("records", len(changed)).Int("live", len(live)).Msg("sheet changes read")
	return out.finish(live, next.encode())
}

// listRows lists every row id of the sheet with its Type cell, fetching that one column only (the primary column when the sheet
// has no Type column): the cheapest honest way to learn which rows still
// exist, since rowsModifiedSince leaves unchanged rows out.
func (c *Connector) listRows(ctx context.Context, id int64, cols *columns, paged bool) (live []string, types map[int64]any, err error) {
	col := cols.typ
	if col == nil {
		col = cols.primary
	}
	if col == nil && len(cols.list) > 0 {
		col = &cols.list[0]
	}
	q := url.Values{"exclude": {"nonexistentCells"}}
	if col != nil {
		q.Set("columnIds", strconv.FormatInt(col.ID, 10))
	}
	types = map[int64]any{}
	err = c.readSheet(ctx, id, q, 1, paged, func(doc *sheetDoc) error {
		for _, r := range doc.Rows {
			live = append(live, strconv.FormatInt(r.ID, 10))
			if cols.typ == nil {
				continue
			}
			for i := range r.Cells {
				if r.Cells[i].ColumnID == cols.typ.ID {
					types[r.ID] = normalize(cols.typ, &r.Cells[i]).value
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if live == nil {
		live = []string{}
	}
	return live, types, nil
}

// record builds the record of one row and returns the row's Type value for
// its children.
func (c *Connector) record(scope connectors.Scope, sheet *sheetDoc, cols *columns, r *rowDoc, parentType any) (pmsync.Record, any) {
	byCol := make(map[int64]*cellDoc, len(r.Cells))
	for i := range r.Cells {
		byCol[r.Cells[i].ColumnID] = &r.Cells[i]
	}
	cells := make(map[string]any, len(cols.list))
	display := make(map[string]any, len(cols.list))
	emails := map[string]any{}
	var primary, typ any
	for i := range cols.list {
		col := &cols.list[i]
		n := normalize(col, byCol[col.ID])
		cells[col.Title] = n.value
		display[col.Title] = n.display
		if n.email != nil {
			emails[col.Title] = n.email
		}
		if col == cols.primary {
			primary = n.value
			if primary != nil {
				primary = text(primary)
			}
		}
		if col == cols.typ {
			typ = n.value
		}
	}
	ext := strconv.FormatInt(r.ID, 10)
	data := map[string]any{
		"id":            r.ID,
		"rowNumber":     r.RowNumber,
		"parentId":      nil,
		"parent":        nil,
		"parent_type":   parentType,
		"modifiedAt":    nil,
		"primary":       primary,
		"cells":         cells,
		"cells_display": display,
		"cells_email":   emails,
		"sheet":         map[string]any{"id": sheet.ID, "name": sheet.Name, "version": sheet.Version},
	}
	if r.ParentID != 0 {
		data["parentId"] = r.ParentID
		data["parent"] = strconv.FormatInt(r.ParentID, 10)
	}
	if !r.ModifiedAt.IsZero() {
		data["modifiedAt"] = r.ModifiedAt.Format(time.RFC3339)
	}
	return pmsync.Record{
		Source:     scope.Source,
		ExternalID: ext,
		UpdatedAt:  r.ModifiedAt.Time,
		URL:        rowURL(sheet.Permalink, ext),
		Data:       data,
	}, typ
}

// rowURL links a row: the sheet permalink with the rowId Smartsheet's own
// row links carry.
func rowURL(permalink, rowID string) string {
	if permalink == "" || rowID == "" {
		return permalink
	}
	sep := "?"
	if strings.Contains(permalink, "?") {
		sep = "&"
	}
	return permalink + sep + "rowId=" + rowID
}
