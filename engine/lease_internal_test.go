package engine

import (
	"fmt"
	"os"
	"testing"
)

func TestDeadHolder(t *testing.T) {
	host, _ := os.Hostname()
	self := fmt.Sprintf("%s/%d/aaaa", host, os.Getpid())
	tests := []struct {
		holder string
		dead   bool
	}{
		{self, false}, // ourselves
		{fmt.Sprintf("%s/%d/bbbb", host, os.Getpid()), true},    // an earlier process that had our pid
		{fmt.Sprintf("%s/%d/cccc", host, os.Getppid()), false},  // our parent runs
		{fmt.Sprintf("%s/%d/dddd", host, 1<<22+12345), true},    // no such pid
		{fmt.Sprintf("other-host/%d/eeee", 1<<22+12345), false}, // another host: cannot tell
		{"garbage", false},
	}
	for _, tc := range tests {
		if got := deadHolder(tc.holder, self); got != tc.dead {
			t.Errorf("deadHolder(%q) = %v, want %v", tc.holder, got, tc.dead)
		}
	}
}
