package pmsync

import (
	"testing"
	"time"
)

// TestDateTimeMatchesParse: the hand-read form accepts and refuses what
// time.Parse does, day for day.
func TestDateTimeMatchesParse(t *testing.T) {
	cases := []Date{"", "2026-07-02", "2024-02-29", "2026-02-29", "2026-02-28", "2000-02-29", "1900-02-29", "2026-13-01", "2026-00-10",
		"2026-04-31", "2026-12-31", "0001-01-01", "9999-12-31", "2026-7-02", "2026/07/02", "2026-07-0x", "+026-07-02", "2026-07-02T10:00:00Z", "２０２６-07-02"}
	start := time.Date(1999, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range 800 {
		cases = append(cases, Date(start.AddDate(0, 0, i).Format(DateLayout)))
	}
	for _, d := range cases {
		want, err := time.Parse(DateLayout, string(d))
		if err != nil {
			want = time.Time{}
		}
		if got := d.Time(); !got.Equal(want) || got.Location() != want.Location() {
			t.Errorf("Date(%q).Time() = %v, time.Parse gives %v", d, got, want)
		}
	}
}
