package smartsheetsim

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// ErrNotFound is returned by the Go helpers for an unknown sheet, row or
// column.
var ErrNotFound = errors.New("not found")

// Row is a row as the Go helpers report it: cell values by column title in
// their stored form (string, float64, bool, Contact, []Contact, []string).
type Row struct {
	ID         int64
	ParentID   int64
	RowNumber  int
	ModifiedAt time.Time
	Cells      map[string]any
}

// CreateSheet adds an empty sheet and returns its id. Unlike Smartsheet the
// fake accepts duplicate column titles, so that clients can be tested
// against them. The first column is primary unless another one says so.
func (s *Server) CreateSheet(name string, cols []ColumnSpec) (int64, error) {
	if len(cols) == 0 {
		return 0, errors.New("create sheet: a sheet needs at least one column")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	sh := &sheet{id: s.newID(), name: name, version: 1, createdAt: now, modifiedAt: now}
	sh.token = strconv.FormatInt(sh.id*7+13, 36)
	primary := slices.ContainsFunc(cols, func(c ColumnSpec) bool { return c.Primary })
	for i, c := range cols {
		typ := c.Type
		if typ == "" {
			typ = TextNumber
		}
		sh.columns = append(sh.columns, &column{
			id: s.newID(), title: c.Title, typ: typ, options: slices.Clone(c.Options),
			validation: c.Validation, format: c.Format, primary: c.Primary || (!primary && i == 0),
		})
	}
	s.sheets[sh.id] = sh
	return sh.id, nil
}

func (s *Server) sheetLocked(id int64) (*sheet, error) {
	sh := s.sheets[id]
	if sh == nil {
		return nil, fmt.Errorf("sheet %d: %w", id, ErrNotFound)
	}
	return sh, nil
}

// cellsLocked converts cell values by column title into stored cells.
func cellsLocked(sh *sheet, in map[string]any) (map[int64]cell, error) {
	out := make(map[int64]cell, len(in))
	for title, v := range in {
		c := sh.column(title)
		if c == nil {
			return nil, fmt.Errorf("sheet %d column %q: %w", sh.id, title, ErrNotFound)
		}
		stored, err := coerce(c, v)
		if err != nil {
			return nil, fmt.Errorf("sheet %d column %q: %w", sh.id, title, err)
		}
		out[c.id] = stored
	}
	return out, nil
}

// AddRow appends a row (as the last child of parentID when it is not 0) and
// returns its id. Cells are keyed by column title.
func (s *Server) AddRow(sheetID, parentID int64, cells map[string]any) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, err := s.sheetLocked(sheetID)
	if err != nil {
		return 0, fmt.Errorf("add row: %w", err)
	}
	stored, err := cellsLocked(sh, cells)
	if err != nil {
		return 0, fmt.Errorf("add row: %w", err)
	}
	at, err := sh.insertAt(parentID)
	if err != nil {
		return 0, fmt.Errorf("add row: parent %d: %w", parentID, ErrNotFound)
	}
	now := s.now()
	rw := &row{id: s.newID(), parentID: parentID, createdAt: now, modifiedAt: now, cells: map[int64]cell{}}
	for id, v := range stored {
		if v != nil {
			rw.cells[id] = v
		}
	}
	sh.rows = slices.Insert(sh.rows, at, rw)
	sh.version++
	sh.modifiedAt = now
	return rw.id, nil
}

// UpdateRow sets cells of a row (nil or "" clears one), stamps its
// modifiedAt and moves the sheet version.
func (s *Server) UpdateRow(sheetID, rowID int64, cells map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, err := s.sheetLocked(sheetID)
	if err != nil {
		return fmt.Errorf("update row: %w", err)
	}
	i := sh.rowIndex(rowID)
	if i < 0 {
		return fmt.Errorf("update row %d: %w", rowID, ErrNotFound)
	}
	stored, err := cellsLocked(sh, cells)
	if err != nil {
		return fmt.Errorf("update row %d: %w", rowID, err)
	}
	rw := sh.rows[i]
	for id, v := range stored {
		if v == nil {
			delete(rw.cells, id)
		} else {
			rw.cells[id] = v
		}
	}
	now := s.now()
	rw.modifiedAt = now
	sh.version++
	sh.modifiedAt = now
	return nil
}

// DeleteRow removes a row and, as Smartsheet does, its child rows.
func (s *Server) DeleteRow(sheetID, rowID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, err := s.sheetLocked(sheetID)
	if err != nil {
		return fmt.Errorf("delete row: %w", err)
	}
	if sh.rowIndex(rowID) < 0 {
		return fmt.Errorf("delete row %d: %w", rowID, ErrNotFound)
	}
	s.deleteLocked(sh, rowID)
	return nil
}

func (s *Server) deleteLocked(sh *sheet, rowID int64) {
	parents := sh.parents()
	sh.rows = slices.DeleteFunc(sh.rows, func(r *row) bool { return r.id == rowID || descends(parents, r.id, rowID) })
	sh.version++
	sh.modifiedAt = s.now()
}

// RenameColumn changes a column title, which moves the sheet version but no
// row's modifiedAt, as in Smartsheet.
func (s *Server) RenameColumn(sheetID int64, from, to string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, err := s.sheetLocked(sheetID)
	if err != nil {
		return fmt.Errorf("rename column: %w", err)
	}
	c := sh.column(from)
	if c == nil {
		return fmt.Errorf("rename column %q: %w", from, ErrNotFound)
	}
	c.title = to
	sh.version++
	sh.modifiedAt = s.now()
	return nil
}

// Version returns a sheet's current version (0 for an unknown sheet).
func (s *Server) Version(sheetID int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sh := s.sheets[sheetID]; sh != nil {
		return sh.version
	}
	return 0
}

// Permalink returns a sheet's web link ("" for an unknown sheet).
func (s *Server) Permalink(sheetID int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sh := s.sheets[sheetID]; sh != nil {
		return sh.permalink(s.opts.PermalinkBase)
	}
	return ""
}

// Rows returns a sheet's rows in sheet order.
func (s *Server) Rows(sheetID int64) ([]Row, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, err := s.sheetLocked(sheetID)
	if err != nil {
		return nil, fmt.Errorf("rows: %w", err)
	}
	out := make([]Row, len(sh.rows))
	for i, rw := range sh.rows {
		cells := map[string]any{}
		for _, c := range sh.columns {
			if v, ok := rw.cells[c.id]; ok {
				cells[c.title] = v
			}
		}
		out[i] = Row{ID: rw.id, ParentID: rw.parentID, RowNumber: i + 1, ModifiedAt: rw.modifiedAt, Cells: cells}
	}
	return out, nil
}

// RowIDs returns the ids of a sheet's rows in sheet order.
func (s *Server) RowIDs(sheetID int64) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.sheets[sheetID]
	if sh == nil {
		return nil
	}
	out := make([]int64, len(sh.rows))
	for i, rw := range sh.rows {
		out[i] = rw.id
	}
	return out
}

// SetFormula puts a formula into a cell with the value it computes now, as
// a person typing it would: the row's modifiedAt and the sheet version
// move. Answers then carry the cell's "formula".
func (s *Server) SetFormula(sheetID, rowID int64, title, formula string, value any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, rw, col, err := s.cellLocked(sheetID, rowID, title)
	if err != nil {
		return fmt.Errorf("set formula: %w", err)
	}
	if err := s.setLocked(sh, rw, col, value); err != nil {
		return fmt.Errorf("set formula: %w", err)
	}
	if rw.formulas == nil {
		rw.formulas = map[int64]string{}
	}
	rw.formulas[col.id] = formula
	now := s.now()
	rw.modifiedAt = now
	sh.version++
	sh.modifiedAt = now
	return nil
}

// Recalculate changes the value a formula cell computes, as Smartsheet does
// when cells it refers to change elsewhere (a parent's roll-up of its
// children, a cross-sheet reference, TODAY() on a new day): the sheet
// version moves but the row's modifiedAt does not, since Smartsheet's
// Modified records data changes made to the row itself.
func (s *Server) Recalculate(sheetID, rowID int64, title string, value any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, rw, col, err := s.cellLocked(sheetID, rowID, title)
	if err != nil {
		return fmt.Errorf("recalculate: %w", err)
	}
	if rw.formulas[col.id] == "" {
		return fmt.Errorf("recalculate: row %d column %q holds no formula", rowID, title)
	}
	if err := s.setLocked(sh, rw, col, value); err != nil {
		return fmt.Errorf("recalculate: %w", err)
	}
	sh.version++
	sh.modifiedAt = s.now()
	return nil
}

// cellLocked finds a sheet, a row and a column by title; the caller holds
// s.mu.
func (s *Server) cellLocked(sheetID, rowID int64, title string) (*sheet, *row, *column, error) {
	sh, err := s.sheetLocked(sheetID)
	if err != nil {
		return nil, nil, nil, err
	}
	i := sh.rowIndex(rowID)
	if i < 0 {
		return nil, nil, nil, fmt.Errorf("row %d: %w", rowID, ErrNotFound)
	}
	col := sh.column(title)
	if col == nil {
		return nil, nil, nil, fmt.Errorf("column %q: %w", title, ErrNotFound)
	}
	return sh, sh.rows[i], col, nil
}

// setLocked stores one cell value, converted for its column.
func (s *Server) setLocked(sh *sheet, rw *row, col *column, value any) error {
	stored, err := cellsLocked(sh, map[string]any{col.title: value})
	if err != nil {
		return err
	}
	if v := stored[col.id]; v == nil {
		delete(rw.cells, col.id)
	} else {
		rw.cells[col.id] = v
	}
	return nil
}
