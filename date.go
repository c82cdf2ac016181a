package pmsync

import (
	"fmt"
	"time"
)

// Date is a calendar date in ISO form (YYYY-MM-DD), or "" when unset. Dates
// of the same form compare correctly as strings, which keeps them readable in
// SQLite and JSON alike.
type Date string

// DateLayout is the layout of a Date.
const DateLayout = "2006-01-02"

// ParseDate parses an ISO date. It also accepts an RFC 3339 timestamp or a
// date followed by a time, keeping only the date as written.
func ParseDate(s string) (Date, error) {
	if s == "" {
		return "", nil
	}
	if len(s) >= 10 {
		if t, err := time.Parse(DateLayout, s[:10]); err == nil && (len(s) == 10 || s[10] == 'T' || s[10] == ' ') {
			return Date(t.Format(DateLayout)), nil
		}
	}
	return "", fmt.Errorf("date %q is not YYYY-MM-DD", s)
}

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	if t.IsZero() {
		return ""
	}
	return Date(t.Format(DateLayout))
}

// IsZero reports whether the date is unset.
func (d Date) IsZero() bool { return d == "" }

// Time returns midnight UTC of the date (zero time when unset).
func (d Date) Time() time.Time {
	t, err := time.Parse(DateLayout, string(d))
	if err != nil {
		return time.Time{}
	}
	return t
}

// AddDays returns the date n days later (earlier when n < 0).
func (d Date) AddDays(n int) Date {
	if d == "" {
		return ""
	}
	return DateOf(d.Time().AddDate(0, 0, n))
}

// DaysUntil returns the whole days from d to e (negative when e is earlier).
func (d Date) DaysUntil(e Date) int {
	return int(e.Time().Sub(d.Time()).Hours() / 24)
}

// Before reports whether d is strictly before e. Unset dates are never before.
func (d Date) Before(e Date) bool { return d != "" && e != "" && d < e }

// String returns the ISO form.
func (d Date) String() string { return string(d) }
