package pmsync

import (
	"encoding/json"
	"testing"
	"time"
)

// The document's times carry whole seconds, and a ratio without a base is
// null rather than zero.
func TestDocumentJSONValues(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"last success in seconds", SourceStatus{Source: "s", Connection: "c",
			LastSuccess: time.Date(2026, 11, 26, 6, 55, 0, 315346248, time.FixedZone("CET", 3600))},
			`{"source":"s","connection":"c","last_success":"2026-11-26T05:55:00Z","stale":false,"quarantined":0}`},
		{"never synced", SourceStatus{Source: "s", Connection: "c", Stale: true},
			`{"source":"s","connection":"c","last_success":null,"stale":true,"quarantined":0}`},
		{"backed off", SourceStatus{Source: "s", Connection: "c", LastError: "HTTP 503", Failures: 4, Breaker: BreakerOpen,
			RetryAt: time.Date(2026, 11, 26, 8, 20, 0, 999999999, time.FixedZone("CET", 3600))},
			`{"source":"s","connection":"c","last_success":null,"last_error":"HTTP 503","stale":false,"quarantined":0,"failures":4,"breaker":"open","retry_at":"2026-11-26T07:20:00Z"}`},
		{"no work yet", Progress{}, `{"done":0,"total":0,"percent":null}`},
		{"some work", Progress{Done: 1, Total: 3, Percent: 33.33}, `{"done":1,"total":3,"percent":33.33}`},
		{"nothing done of some work", Progress{Total: 3}, `{"done":0,"total":3,"percent":0}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("got  %s\nwant %s", b, tt.want)
			}
		})
	}
}
