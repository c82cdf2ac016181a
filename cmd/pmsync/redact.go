package main

import (
	"fmt"
	"strings"

	"github.com/pmsync/pmsync/mapping"
)

// redactionReport says, for `validate --probe`, how many values of the
// sample each of a mapping's redaction rules changed, every rule named
// (a rule that redacted nothing shows 0).
func redactionReport(set *mapping.Set, counts map[string]int) string {
	rules := set.Redactions()
	if len(rules) == 0 {
		return "redaction off (the mapping has redact: [])"
	}
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = fmt.Sprintf("%s %d", r, counts[r])
	}
	return "redacted values: " + strings.Join(parts, ", ")
}
