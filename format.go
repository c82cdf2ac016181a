package pmsync

import (
	"math"
	"strconv"
	"strings"
)

// Money writes an amount with thousands separators and the given number of
// decimals, the way budgets read in reports and pushed updates:
// Money(98000.5, 2) is "98,000.50", Money(-1234, 0) is "-1,234". An amount
// that rounds to zero has no sign.
func Money(f float64, decimals int) string {
	s := strconv.FormatFloat(math.Abs(f), 'f', decimals, 64)
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	if f < 0 && strings.Trim(s, "0.") != "" {
		b.WriteByte('-')
	}
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if hasFrac {
		b.WriteString("." + frac)
	}
	return b.String()
}
