package pmsync

import "testing"

func TestMoney(t *testing.T) {
	tests := []struct {
		f    float64
		dec  int
		want string
	}{
		{0, 0, "0"},
		{999, 0, "999"},
		{1000, 0, "1,000"},
		{2500000, 0, "2,500,000"},
		{98000.5, 2, "98,000.50"},
		{98000.5, 0, "98,000"}, // exactly halfway: strconv rounds to even
		{-1234, 0, "-1,234"},
		{-0.4, 0, "0"},
		{-0.004, 2, "0.00"},
		{1234567.891, 2, "1,234,567.89"},
	}
	for _, tc := range tests {
		if got := Money(tc.f, tc.dec); got != tc.want {
			t.Errorf("Money(%v, %d) = %q, want %q", tc.f, tc.dec, got, tc.want)
		}
	}
}
