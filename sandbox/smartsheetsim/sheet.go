package smartsheetsim

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Column types, as Smartsheet names them.
const (
	TextNumber       = "TEXT_NUMBER"
	Date             = "DATE"
	DateTime         = "DATETIME"
	AbstractDateTime = "ABSTRACT_DATETIME"
	Checkbox         = "CHECKBOX"
	Picklist         = "PICKLIST"
	MultiPicklist    = "MULTI_PICKLIST"
	ContactList      = "CONTACT_LIST"
	MultiContactList = "MULTI_CONTACT_LIST"
	Duration         = "DURATION"
	Predecessor      = "PREDECESSOR"
)

// Number formats a TEXT_NUMBER column can display its numbers with.
const (
	FormatPlain    = ""
	FormatPercent  = "percent"
	FormatCurrency = "currency"
)

// ColumnSpec describes one column of a sheet to create.
type ColumnSpec struct {
	Title string
	Type  string // one of the column type constants; "" is TEXT_NUMBER
	// Options are the choices of a PICKLIST or MULTI_PICKLIST column.
	Options []string
	// Validation restricts a PICKLIST to its options: writing another value
	// fails with errorCode 1042, as in Smartsheet.
	Validation bool
	// Format is how TEXT_NUMBER numbers are displayed (displayValue).
	Format  string
	Primary bool
}

// Contact is the value of a CONTACT_LIST cell.
type Contact struct {
	Name  string
	Email string
}

type column struct {
	id         int64
	title      string
	typ        string
	options    []string
	validation bool
	format     string
	primary    bool
}

// cell is a stored cell value: string, float64 or bool, or a Contact,
// []Contact or []string for the contact and multi-value types.
type cell = any

type row struct {
	id         int64
	parentID   int64
	createdAt  time.Time
	modifiedAt time.Time
	cells      map[int64]cell // by column id; absent = never filled
	// formulas are the cells whose value a formula computes, by column id.
	formulas map[int64]string
}

type sheet struct {
	id         int64
	name       string
	version    int64
	token      string // permalink token
	createdAt  time.Time
	modifiedAt time.Time
	columns    []*column
	rows       []*row // in sheet order: every child follows its parent
}

func (s *sheet) column(title string) *column {
	for _, c := range s.columns {
		if c.title == title {
			return c
		}
	}
	return nil
}

func (s *sheet) columnByID(id int64) *column {
	for _, c := range s.columns {
		if c.id == id {
			return c
		}
	}
	return nil
}

func (s *sheet) rowIndex(id int64) int {
	for i, r := range s.rows {
		if r.id == id {
			return i
		}
	}
	return -1
}

// insertAt returns where a new row with the given parent goes: after the
// parent's last descendant, or at the bottom for a top-level row.
func (s *sheet) insertAt(parentID int64) (int, error) {
	if parentID == 0 {
		return len(s.rows), nil
	}
	i := s.rowIndex(parentID)
	if i < 0 {
		return 0, &cellError{1063, fmt.Sprintf("Invalid parentId: %d.", parentID)}
	}
	parents := s.parents()
	j := i + 1
	for j < len(s.rows) && descends(parents, s.rows[j].id, parentID) {
		j++
	}
	return j, nil
}

// parents maps every row id to its parent's id (0 for top-level rows).
func (s *sheet) parents() map[int64]int64 {
	m := make(map[int64]int64, len(s.rows))
	for _, r := range s.rows {
		m[r.id] = r.parentID
	}
	return m
}

// descends reports whether row id sits somewhere below ancestor.
func descends(parents map[int64]int64, id, ancestor int64) bool {
	for p := parents[id]; p != 0; p = parents[p] {
		if p == ancestor {
			return true
		}
	}
	return false
}

// cellError is a per-cell write failure with its Smartsheet errorCode.
type cellError struct {
	code int
	msg  string
}

func (e *cellError) Error() string { return e.msg }

// coerce turns a value written through the API or the Go helpers into the
// stored form for the column's type, enforcing what Smartsheet enforces.
func coerce(c *column, v any) (cell, error) {
	bad := func() error {
		return &cellError{1042, fmt.Sprintf("The value for cell in column %d, %v, did not conform to the strict requirements for type %s.", c.id, v, c.typ)}
	}
	if v == nil {
		return nil, nil
	}
	if s, ok := v.(string); ok && s == "" {
		return nil, nil // Smartsheet turns empty strings into null
	}
	switch c.typ {
	case Checkbox:
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			if p, err := strconv.ParseBool(b); err == nil {
				return p, nil
			}
		}
		return nil, bad()
	case Date:
		switch d := v.(type) {
		case time.Time:
			return d.UTC().Format("2006-01-02"), nil
		case string:
			if t, err := time.Parse("2006-01-02", d); err == nil {
				return t.Format("2006-01-02"), nil
			}
			if t, err := time.Parse(time.RFC3339, d); err == nil {
				return t.UTC().Format("2006-01-02"), nil
			}
		}
		return nil, bad()
	case AbstractDateTime, DateTime:
		switch d := v.(type) {
		case time.Time:
			return d.UTC().Format("2006-01-02T15:04:05"), nil
		case string:
			for _, layout := range []string{"2006-01-02T15:04:05", time.RFC3339, "2006-01-02"} {
				if t, err := time.Parse(layout, d); err == nil {
					return t.UTC().Format("2006-01-02T15:04:05"), nil
				}
			}
		}
		return nil, bad()
	case ContactList:
		switch ct := v.(type) {
		case Contact:
			return ct, nil
		case string:
			return Contact{Email: ct}, nil
		case map[string]any: // objectValue written through the API
			name, _ := ct["name"].(string)
			email, _ := ct["email"].(string)
			return Contact{Name: name, Email: email}, nil
		}
		return nil, bad()
	case MultiContactList:
		if cs, ok := v.([]Contact); ok {
			return slices.Clone(cs), nil
		}
		return nil, bad()
	case MultiPicklist:
		if ss, ok := v.([]string); ok {
			return slices.Clone(ss), nil
		}
		return nil, bad()
	case Picklist:
		s := fmt.Sprint(number(v))
		if c.validation && !slices.Contains(c.options, s) {
			return nil, bad()
		}
		return s, nil
	case Duration, Predecessor:
		return fmt.Sprint(v), nil
	default: // TEXT_NUMBER
		switch n := v.(type) {
		case string, bool:
			return n, nil
		}
		if f, ok := toFloat(v); ok {
			return f, nil
		}
		return nil, bad()
	}
}

// number renders integral floats without a fraction so that a PICKLIST
// option "3" matches a written 3.
func number(v any) any {
	if f, ok := v.(float64); ok && f == math.Trunc(f) {
		return int64(f)
	}
	return v
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	}
	return 0, false
}

// renderOpts are the query options that shape a sheet response.
type renderOpts struct {
	level        int
	objectValue  bool
	columnType   bool
	rowPermalink bool
	nonexistent  bool // include cells that were never filled
	columnIDs    map[int64]bool
}

// reportedType is the column type a client sees at a given API level:
// multi-value columns look like TEXT_NUMBER to old clients.
func reportedType(c *column, level int) string {
	switch {
	case c.typ == MultiContactList && level < 1, c.typ == MultiPicklist && level < 2:
		return TextNumber
	}
	return c.typ
}

func renderColumn(c *column, index, level int) map[string]any {
	m := map[string]any{
		"id":      c.id,
		"index":   index,
		"title":   c.title,
		"type":    reportedType(c, level),
		"width":   150,
		"version": 0,
	}
	switch c.typ {
	case MultiContactList:
		m["version"] = 1
	case MultiPicklist:
		m["version"] = 2
	}
	if c.primary {
		m["primary"] = true
	}
	if len(c.options) > 0 {
		m["options"] = slices.Clone(c.options)
	}
	if c.validation {
		m["validation"] = true
	}
	return m
}

// cellJSON is a cell as the API renders it. Structs rather than maps keep
// the encoding of 100k-row sheets fast.
type cellJSON struct {
	ColumnID     int64  `json:"columnId"`
	ColumnType   string `json:"columnType,omitempty"`
	Value        any    `json:"value,omitempty"`
	DisplayValue string `json:"displayValue,omitempty"`
	ObjectValue  any    `json:"objectValue,omitempty"`
	Formula      string `json:"formula,omitempty"`
}

type contactJSON struct {
	ObjectType string `json:"objectType"`
	Email      string `json:"email,omitempty"`
	Name       string `json:"name,omitempty"`
}

type listJSON struct {
	ObjectType string `json:"objectType"`
	Values     any    `json:"values"`
}

func renderCell(c *column, v cell, o renderOpts) cellJSON {
	m := cellJSON{ColumnID: c.id}
	if o.columnType {
		m.ColumnType = reportedType(c, o.level)
	}
	if v == nil {
		if c.typ == Checkbox {
			m.Value = false
		}
		return m
	}
	switch x := v.(type) {
	case Contact:
		m.Value = x.Email
		m.DisplayValue = cmp.Or(x.Name, x.Email)
		if o.objectValue {
			m.ObjectValue = contactJSON{"CONTACT", x.Email, x.Name}
		}
	case []Contact:
		names := make([]string, len(x))
		vals := make([]contactJSON, len(x))
		for i, ct := range x {
			names[i] = cmp.Or(ct.Name, ct.Email)
			vals[i] = contactJSON{"CONTACT", ct.Email, ct.Name}
		}
		m.DisplayValue = strings.Join(names, ", ")
		if o.level < 1 {
			m.Value = m.DisplayValue
		} else if o.objectValue {
			m.ObjectValue = listJSON{"MULTI_CONTACT", vals}
		}
	case []string:
		m.DisplayValue = strings.Join(x, ", ")
		if o.level < 2 {
			m.Value = m.DisplayValue
		} else if o.objectValue {
			m.ObjectValue = listJSON{"MULTI_PICKLIST", slices.Clone(x)}
		}
	case bool:
		m.Value = x
	case float64:
		m.Value = x
		m.DisplayValue = formatNumber(x, c.format)
	case string:
		m.Value = x
		switch c.typ {
		case Date:
			if t, err := time.Parse("2006-01-02", x); err == nil {
				m.DisplayValue = t.Format("01/02/06")
			}
		case AbstractDateTime, DateTime:
			if t, err := time.Parse("2006-01-02T15:04:05", x); err == nil {
				m.DisplayValue = t.Format("01/02/06")
			}
		default:
			m.DisplayValue = x
		}
	}
	return m
}

// formatNumber renders a number the way the Smartsheet UI shows it.
func formatNumber(f float64, format string) string {
	switch format {
	case FormatPercent:
		return strconv.FormatFloat(math.Round(f*10000)/100, 'f', -1, 64) + "%"
	case FormatCurrency:
		s := strconv.FormatFloat(math.Abs(f), 'f', 2, 64)
		whole, frac, _ := strings.Cut(s, ".")
		var b strings.Builder
		for i, d := range whole {
			if i > 0 && (len(whole)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(d)
		}
		sign := ""
		if f < 0 {
			sign = "-"
		}
		return sign + "$" + b.String() + "." + frac
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// rowJSON is a row as the API renders it.
type rowJSON struct {
	ID         int64      `json:"id"`
	SheetID    int64      `json:"sheetId"`
	RowNumber  int        `json:"rowNumber"`
	ParentID   int64      `json:"parentId,omitempty"`
	SiblingID  int64      `json:"siblingId,omitempty"`
	Expanded   bool       `json:"expanded"`
	CreatedAt  string     `json:"createdAt"`
	ModifiedAt string     `json:"modifiedAt"`
	Permalink  string     `json:"permalink,omitempty"`
	Cells      []cellJSON `json:"cells"`
}

// renderRow renders one row; number is its 1-based position in the sheet.
func (s *sheet) renderRow(r *row, number int, sibling int64, o renderOpts, permalinkBase string) rowJSON {
	m := rowJSON{
		ID:         r.id,
		SheetID:    s.id,
		RowNumber:  number,
		ParentID:   r.parentID,
		SiblingID:  sibling,
		Expanded:   true,
		CreatedAt:  stamp(r.createdAt),
		ModifiedAt: stamp(r.modifiedAt),
		Cells:      make([]cellJSON, 0, len(s.columns)),
	}
	if o.rowPermalink {
		m.Permalink = s.permalink(permalinkBase) + "?rowId=" + strconv.FormatInt(r.id, 10)
	}
	for _, c := range s.columns {
		if o.columnIDs != nil && !o.columnIDs[c.id] {
			continue
		}
		v, filled := r.cells[c.id]
		if !filled && !o.nonexistent {
			continue
		}
		cj := renderCell(c, v, o)
		cj.Formula = r.formulas[c.id]
		m.Cells = append(m.Cells, cj)
	}
	return m
}

func (s *sheet) permalink(base string) string { return base + "/sheets/" + s.token }

// siblings returns, for each row index, the id of the previous row with the
// same parent (Smartsheet's siblingId), or 0.
func (s *sheet) siblings() []int64 {
	out := make([]int64, len(s.rows))
	last := map[int64]int64{}
	for i, r := range s.rows {
		out[i] = last[r.parentID]
		last[r.parentID] = r.id
	}
	return out
}
