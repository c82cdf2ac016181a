package smartsheet

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Smartsheet column types the connector normalizes.
const (
	typeTextNumber       = "TEXT_NUMBER"
	typeDate             = "DATE"
	typeDateTime         = "DATETIME"
	typeAbstractDateTime = "ABSTRACT_DATETIME"
	typeCheckbox         = "CHECKBOX"
	typePicklist         = "PICKLIST"
	typeMultiPicklist    = "MULTI_PICKLIST"
	typeContactList      = "CONTACT_LIST"
	typeMultiContactList = "MULTI_CONTACT_LIST"
	typeDuration         = "DURATION"
	typePredecessor      = "PREDECESSOR"
)

// TypeColumn is the column whose value, on a parent row, the connector
// copies into parent_type of its child rows: the PMO template's Type.
const TypeColumn = "Type"

// sheetDoc is the part of a Smartsheet Sheet object the connector reads. An
// answer to ifVersionAfter for an unchanged sheet holds only the version.
type sheetDoc struct {
	ID            int64       `json:"id"`
	Name          string      `json:"name"`
	Version       int64       `json:"version"`
	TotalRowCount int         `json:"totalRowCount"`
	Permalink     string      `json:"permalink"`
	Columns       []columnDoc `json:"columns"`
	Rows          []rowDoc    `json:"rows"`
}

// unchanged reports whether the document is the abbreviated sheet
// Smartsheet sends when ifVersionAfter still names the current version.
func (d *sheetDoc) unchanged() bool { return d.ID == 0 && d.Columns == nil && d.Rows == nil }

type columnDoc struct {
	ID      int64    `json:"id"`
	Index   int      `json:"index"`
	Title   string   `json:"title"`
	Type    string   `json:"type"`
	Primary bool     `json:"primary"`
	Options []string `json:"options"`
	// Formula is the column formula, when the whole column is computed.
	Formula string `json:"formula"`
}

type rowDoc struct {
	ID         int64     `json:"id"`
	RowNumber  int       `json:"rowNumber"`
	ParentID   int64     `json:"parentId"`
	ModifiedAt timestamp `json:"modifiedAt"`
	Cells      []cellDoc `json:"cells"`
}

type cellDoc struct {
	ColumnID     int64        `json:"columnId"`
	Value        any          `json:"value"`
	DisplayValue *string      `json:"displayValue"`
	ObjectValue  *objectValue `json:"objectValue"`
	// Formula is the cell's formula when its value is computed.
	Formula string `json:"formula"`
}

// objectValue is a cell's typed value (include=objectValue): a CONTACT
// carries email and name, MULTI_CONTACT and MULTI_PICKLIST a list.
type objectValue struct {
	ObjectType string `json:"objectType"`
	Email      string `json:"email"`
	Name       string `json:"name"`
	Values     []any  `json:"values"`
}

// timestamp reads Smartsheet's times: ISO-8601 strings, or epoch
// milliseconds when a client asked for numericDates.
type timestamp struct{ time.Time }

func (t *timestamp) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] != '"' {
		ms, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return fmt.Errorf("timestamp %s is neither ISO-8601 nor epoch milliseconds", b)
		}
		t.Time = time.UnixMilli(ms).UTC()
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("timestamp %q is not ISO-8601: %w", s, err)
	}
	t.Time = v.UTC()
	return nil
}

// columns is a sheet's columns by id, with the titles mappings address.
type columns struct {
	list    []columnDoc
	byID    map[int64]*columnDoc
	primary *columnDoc
	typ     *columnDoc // the Type column, nil when the sheet has none
}

// newColumns indexes a sheet's columns. Titles must be unique, since
// mappings address cells by title.
func newColumns(list []columnDoc) (*columns, error) {
	cs := &columns{list: list, byID: make(map[int64]*columnDoc, len(list))}
	seen := map[string]bool{}
	var dups []string
	for i := range list {
		c := &list[i]
		cs.byID[c.ID] = c
		if seen[c.Title] && !slices.Contains(dups, c.Title) {
			dups = append(dups, c.Title)
		}
		seen[c.Title] = true
		if c.Primary && cs.primary == nil {
			cs.primary = c
		}
		if c.Title == TypeColumn && cs.typ == nil {
			cs.typ = c
		}
	}
	if len(dups) > 0 {
		return nil, fmt.Errorf("%w: %s appear(s) more than once; rename the duplicates so that mappings can address each column by title", ErrDuplicateColumn, quoteList(dups))
	}
	return cs, nil
}

// has reports whether the sheet has a column with this title.
func (cs *columns) has(title string) bool {
	return slices.ContainsFunc(cs.list, func(c columnDoc) bool { return c.Title == title })
}

// titles lists the column titles in sheet order.
func (cs *columns) titles() []string {
	out := make([]string, len(cs.list))
	for i, c := range cs.list {
		out[i] = c.Title
	}
	return out
}

// normalized is one cell as mappings see it.
type normalized struct {
	value   any // string, float64, bool, []any or nil
	display any // the displayValue string, or nil
	email   any // CONTACT_LIST: the email; MULTI_CONTACT_LIST: a list of them
}

// normalize turns a cell into the value mappings read, by column type:
// DATE and ABSTRACT_DATETIME give "YYYY-MM-DD", DATETIME an RFC 3339 time,
// CHECKBOX a bool (false when empty), contacts the name (the email goes to
// email), DURATION and PREDECESSOR their display text, multi-value columns a
// list, PICKLIST text and TEXT_NUMBER a float64 for numbers or the text.
func normalize(c *columnDoc, cell *cellDoc) normalized {
	var n normalized
	if cell == nil {
		cell = &cellDoc{}
	}
	if cell.DisplayValue != nil {
		n.display = *cell.DisplayValue
	}
	display := ""
	if cell.DisplayValue != nil {
		display = *cell.DisplayValue
	}
	ov := cell.ObjectValue
	switch c.Type {
	case typeCheckbox:
		switch v := cell.Value.(type) {
		case bool:
			n.value = v
		case string:
			b, _ := strconv.ParseBool(v)
			n.value = b
		default:
			n.value = false
		}
	case typeDate, typeAbstractDateTime:
		n.value = dateOf(cell.Value)
	case typeDateTime:
		n.value = instantOf(cell.Value)
	case typeContactList:
		name, email := display, text(cell.Value)
		if ov != nil {
			email = cmp.Or(ov.Email, email)
			name = cmp.Or(ov.Name, name)
		}
		if !strings.Contains(email, "@") {
			email = ""
		}
		n.value = nilIfEmpty(cmp.Or(name, email))
		n.email = nilIfEmpty(email)
	case typeMultiContactList:
		if ov != nil && len(ov.Values) > 0 {
			names, emails := make([]any, 0, len(ov.Values)), make([]any, 0, len(ov.Values))
			for _, v := range ov.Values {
				m, _ := v.(map[string]any)
				name, _ := m["name"].(string)
				email, _ := m["email"].(string)
				names = append(names, cmp.Or(name, email))
				if email != "" {
					emails = append(emails, email)
				}
			}
			n.value, n.email = names, emails
		} else {
			n.value = splitList(cmp.Or(display, text(cell.Value)))
		}
	case typeMultiPicklist:
		if ov != nil && len(ov.Values) > 0 {
			vals := make([]any, 0, len(ov.Values))
			for _, v := range ov.Values {
				vals = append(vals, text(v))
			}
			n.value = vals
		} else {
			n.value = splitList(cmp.Or(display, text(cell.Value)))
		}
	case typeDuration, typePredecessor:
		n.value = nilIfEmpty(cmp.Or(display, text(cell.Value)))
	case typePicklist:
		n.value = nilIfEmpty(text(cell.Value))
	default: // TEXT_NUMBER and types added later
		switch v := cell.Value.(type) {
		case float64, bool:
			n.value = v
		case string:
			n.value = nilIfEmpty(v)
		case nil:
		default:
			n.value = nilIfEmpty(text(v))
		}
	}
	return n
}

// text is the plain text form of a cell value; numbers are written without
// an exponent or a needless fraction.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// dateOf keeps the date of a DATE or ABSTRACT_DATETIME value as written
// ("2026-01-05", "2026-01-05T08:00:00"); epoch milliseconds are read in UTC.
func dateOf(v any) any {
	switch x := v.(type) {
	case string:
		if len(x) >= 10 {
			if _, err := time.Parse("2006-01-02", x[:10]); err == nil {
				return x[:10]
			}
		}
		return nilIfEmpty(x)
	case float64:
		return time.UnixMilli(int64(x)).UTC().Format("2006-01-02")
	}
	return nil
}

// instantOf renders a DATETIME value as RFC 3339 in UTC.
func instantOf(v any) any {
	switch x := v.(type) {
	case string:
		if t, err := time.Parse(time.RFC3339, x); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
		return nilIfEmpty(x)
	case float64:
		return time.UnixMilli(int64(x)).UTC().Format(time.RFC3339)
	}
	return nil
}

func splitList(s string) any {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	out := make([]any, 0, len(parts))
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// hasFormulas reports whether any of the columns is a formula column or any
// cell of the rows holds a formula.
func hasFormulas(cols []columnDoc, rows []rowDoc) bool {
	for i := range cols {
		if cols[i].Formula != "" {
			return true
		}
	}
	for i := range rows {
		for j := range rows[i].Cells {
			if rows[i].Cells[j].Formula != "" {
				return true
			}
		}
	}
	return false
}
