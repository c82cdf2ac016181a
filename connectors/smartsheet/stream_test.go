package smartsheet

import (
	"slices"
	"strings"
	"testing"
)

// TestStreamSheet: rows come in chunks once the sheet's id and columns are
// known, whatever the key order; every call sees the same document, whose
// fields are complete at the last call; an abbreviated answer is one call
// without rows; a cut-off answer fails.
func TestStreamSheet(t *testing.T) {
	row := func(id string) string { return `{"id":` + id + `,"rowNumber":1,"cells":[]}` }
	rows := `"rows":[` + row("11") + `,` + row("12") + `,` + row("13") + `,` + row("14") + `,` + row("15") + `]`
	cols := `"columns":[{"id":1,"title":"Task","primary":true}]`
	for _, tc := range []struct {
		name   string
		body   string
		chunks []int // rows per call
		err    string
	}{
		{"header first", `{"id":7,"name":"Plan","version":3,` + cols + `,` + rows + `,"totalRowCount":5}`, []int{2, 2, 1}, ""},
		{"sorted keys, version last", `{` + cols + `,"id":7,"name":"Plan",` + rows + `,"totalRowCount":5,"version":3}`, []int{2, 2, 1}, ""},
		{"rows before the columns wait", `{"id":7,"version":3,` + rows + `,` + cols + `}`, []int{5}, ""},
		{"unknown keys skipped", `{"id":7,"version":3,"gantt":{"a":[1,{"b":2}]},` + cols + `,` + rows + `,"extra":[1,2]}`, []int{2, 2, 1}, ""},
		{"no rows", `{"id":7,"version":3,` + cols + `,"rows":[]}`, []int{0}, ""},
		{"abbreviated", `{"version":3}`, []int{-1}, ""},
		{"cut off", `{"id":7,"version":3,` + cols + `,"rows":[` + row("11") + `,{"id":`, nil, "read sheet row 2"},
		{"not an object", `[1,2]`, nil, `want "{"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []int
			var doc0 *sheetDoc
			var ids []int64
			err := streamSheet(strings.NewReader(tc.body), 2, func(d *sheetDoc) error {
				if doc0 == nil {
					doc0 = d
				} else if d != doc0 {
					t.Error("a call got another document")
				}
				if d.Rows == nil {
					got = append(got, -1)
				} else {
					got = append(got, len(d.Rows))
				}
				if len(d.Rows) > 0 && (d.ID != 7 || len(d.Columns) != 1) {
					t.Errorf("rows handed over before the header: id %d, %d columns", d.ID, len(d.Columns))
				}
				for _, r := range d.Rows {
					ids = append(ids, r.ID)
				}
				return nil
			})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.chunks) {
				t.Errorf("chunks %v, want %v", got, tc.chunks)
			}
			if doc0.Version != 3 {
				t.Errorf("version %d at the end, want 3", doc0.Version)
			}
			if want := tc.chunks[0] == 5 || len(tc.chunks) == 3; want && len(ids) != 5 {
				t.Errorf("row ids %v, want 11-15", ids)
			}
			for i, id := range ids {
				if id != int64(11+i) {
					t.Errorf("row %d has id %d, want %d", i, id, 11+i)
				}
			}
		})
	}
}
