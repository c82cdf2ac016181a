package smartsheet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// errStreamTooLarge says a sheet read as one streamed answer ran past the
// attempt timeout or a gateway gave up on it: the pull starts again and
// reads the sheet in pages.
var errStreamTooLarge = errors.New("the sheet is too large to read in one answer")

// streamSheet decodes a GET /sheets/{id} answer as it arrives and hands its
// rows to each in chunks of up to chunk rows, so that no more than a chunk
// of a sheet of any size is held at once. Every call gets the same
// *sheetDoc, its Rows the chunk, its other fields what the answer said
// before the chunk; the last call comes after the whole answer, with every
// field set and the remaining rows (none, possibly). Rows that arrive
// before the sheet's id and columns wait for them.
//
// The last call alone carries an abbreviated answer (ifVersionAfter naming
// the current version): no id, columns or rows.
func streamSheet(r io.Reader, chunk int, each func(*sheetDoc) error) error {
	dec := json.NewDecoder(r)
	if err := expect(dec, '{'); err != nil {
		return err
	}
	doc := &sheetDoc{}
	var rows []rowDoc // read, not handed over yet
	rowsSeen := false
	read := 0 // rows decoded so far
	flush := func() error {
		doc.Rows, rows = rows, make([]rowDoc, 0, chunk)
		return each(doc)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("read sheet key: %w", err)
		}
		key, _ := tok.(string)
		var dst any
		switch key {
		case "id":
			dst = &doc.ID
		case "name":
			dst = &doc.Name
		case "version":
			dst = &doc.Version
		case "totalRowCount":
			dst = &doc.TotalRowCount
		case "permalink":
			dst = &doc.Permalink
		case "columns":
			dst = &doc.Columns
		case "rows":
			rowsSeen = true
			if rows == nil {
				rows = make([]rowDoc, 0, chunk)
			}
			if err := streamRows(dec, &rows, &read, func() error {
				if len(rows) < chunk || doc.ID == 0 || doc.Columns == nil {
					return nil
				}
				return flush()
			}); err != nil {
				return err
			}
			continue
		default:
			dst = new(json.RawMessage)
		}
		if err := dec.Decode(dst); err != nil {
			return fmt.Errorf("read sheet %q: %w", key, err)
		}
	}
	if err := expect(dec, '}'); err != nil {
		return err
	}
	if !rowsSeen {
		doc.Rows = nil
		return each(doc)
	}
	return flush()
}

// streamRows reads the rows array, calling after each row appended.
func streamRows(dec *json.Decoder, rows *[]rowDoc, read *int, after func() error) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("read sheet rows: %w", err)
	}
	if tok == nil { // "rows": null
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("read sheet rows: got %v, want an array", tok)
	}
	for dec.More() {
		var r rowDoc
		*read++
		if err := dec.Decode(&r); err != nil {
			return fmt.Errorf("read sheet row %d: %w", *read, err)
		}
		*rows = append(*rows, r)
		if err := after(); err != nil {
			return err
		}
	}
	if err := expect(dec, ']'); err != nil {
		return fmt.Errorf("read sheet rows: %w", err)
	}
	return nil
}

// expect reads one delimiter.
func expect(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("read sheet: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("read sheet: got %v, want %q", tok, want)
	}
	return nil
}
