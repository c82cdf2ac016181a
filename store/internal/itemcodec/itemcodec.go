// Package itemcodec checks and encodes the parts of an item that both
// stores keep alike: dates as YYYY-MM-DD text, numbers only when finite,
// labels and fields as JSON text. Both backends therefore accept the same
// items and give back equal ones; each keeps its own column types.
package itemcodec

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/pmsync/pmsync"
)

// Values are an item's checked dates and numbers and its encoded labels and
// fields.
type Values struct {
	Start, Due               string   // YYYY-MM-DD; "" when unset
	Percent, Planned, Actual *float64 // finite; nil when unset
	Labels                   string   // a JSON array; "[]" when none
	Fields                   string   // a JSON object; "{}" when none
}

// Encode checks what the columns cannot hold faithfully and encodes the
// labels and fields. Equal items give equal text: map keys marshal sorted.
func Encode(it pmsync.Item) (Values, error) {
	v := Values{Labels: "[]", Fields: "{}"}
	var err error
	if v.Start, err = Date(it.Start); err != nil {
		return Values{}, fmt.Errorf("start: %w", err)
	}
	if v.Due, err = Date(it.Due); err != nil {
		return Values{}, fmt.Errorf("due: %w", err)
	}
	for _, f := range []struct {
		name string
		in   *float64
		out  **float64
	}{
		{"percent complete", it.PercentComplete, &v.Percent},
		{"planned cost", it.PlannedCost, &v.Planned},
		{"actual cost", it.ActualCost, &v.Actual},
	} {
		if *f.out, err = Float(f.in); err != nil {
			return Values{}, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if len(it.Labels) > 0 {
		b, err := json.Marshal(it.Labels)
		if err != nil {
			return Values{}, fmt.Errorf("labels: %w", err)
		}
		v.Labels = string(b)
	}
	if len(it.Fields) > 0 {
		b, err := json.Marshal(it.Fields)
		if err != nil {
			return Values{}, fmt.Errorf("fields: %w", err)
		}
		v.Fields = string(b)
	}
	return v, nil
}

// DecodeJSON sets its labels and fields from their stored JSON text;
// none of either is nil.
func DecodeJSON(labels, fields string, it *pmsync.Item) error {
	it.Labels, it.Fields = nil, nil
	if err := json.Unmarshal([]byte(labels), &it.Labels); err != nil {
		return fmt.Errorf("labels: %w", err)
	}
	if len(it.Labels) == 0 {
		it.Labels = nil
	}
	if err := json.Unmarshal([]byte(fields), &it.Fields); err != nil {
		return fmt.Errorf("fields: %w", err)
	}
	if len(it.Fields) == 0 {
		it.Fields = nil
	}
	return nil
}

// Date checks that d is exactly YYYY-MM-DD, the form that sorts and
// compares as text; unset is "".
func Date(d pmsync.Date) (string, error) {
	if d.IsZero() {
		return "", nil
	}
	if _, err := time.Parse(pmsync.DateLayout, string(d)); err != nil || len(d) != len(pmsync.DateLayout) {
		return "", fmt.Errorf("date %q is not YYYY-MM-DD", string(d))
	}
	return string(d), nil
}

// Float refuses NaN and infinities: SQLite would turn them into NULL or a
// value that never compares equal, so neither backend takes them. It
// returns a copy of f.
func Float(f *float64) (*float64, error) {
	if f == nil {
		return nil, nil
	}
	if math.IsNaN(*f) || math.IsInf(*f, 0) {
		return nil, fmt.Errorf("%g is not a finite number", *f)
	}
	v := *f
	return &v, nil
}
