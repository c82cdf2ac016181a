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

// Time returns midnight UTC of the date (zero time when unset or not a
// date).
func (d Date) Time() time.Time {
	// Rollups compare and count days of many dates: the common form is
	// read by hand, which is several times faster than time.Parse and
	// accepts and refuses exactly what it does.
	if y, m, day, ok := d.parts(); ok {
		return time.Date(y, time.Month(m), day, 0, 0, 0, 0, time.UTC)
	}
	t, err := time.Parse(DateLayout, string(d))
	if err != nil {
		return time.Time{}
	}
	return t
}

// parts reads a YYYY-MM-DD date that exists on the calendar; ok is false
// for anything else (time.Parse then decides).
func (d Date) parts() (y, m, day int, ok bool) {
	s := string(d)
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, 0, 0, false
	}
	num := func(t string) (int, bool) {
		n := 0
		for i := 0; i < len(t); i++ {
			c := t[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(s[:4])
	m, ok2 := num(s[5:7])
	day, ok3 := num(s[8:])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || day < 1 || day > daysIn(time.Month(m), y) {
		return 0, 0, 0, false
	}
	return y, m, day, true
}

// daysIn is the number of days of month m of year y.
func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
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
