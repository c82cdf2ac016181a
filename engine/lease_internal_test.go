package engine

import (
	"fmt"
	"os"
	"testing"
)

func TestDeadHolder(t *testing.T) {
	host, _ := os.Hostname()
	ns := pidNamespace()
	if ns == "" {
		t.Skip("no /proc/self/ns/pid here")
	}
	self := fmt.Sprintf("%s/%s/%d/aaaa", host, ns, os.Getpid())
	if got := holderName(); len(got) <= len(host) || got[:len(host)+len(ns)+1] != host+"/"+ns {
		t.Errorf("holderName() = %q, want it to start with %s/%s", got, host, ns)
	}
	tests := []struct {
		holder string
		dead   bool
	}{
		{self, false}, // ourselves
		{fmt.Sprintf("%s/%s/%d/bbbb", host, ns, os.Getpid()), true},      // an earlier process that had our pid
		{fmt.Sprintf("%s/%s/%d/cccc", host, ns, os.Getppid()), false},    // our parent runs
		{fmt.Sprintf("%s/%s/%d/dddd", host, ns, 1<<22+12345), true},      // no such pid
		{fmt.Sprintf("%s/4026539999/%d/eeee", host, 1<<22+12345), false}, // another PID namespace: cannot tell
		{fmt.Sprintf("other-host/%s/%d/ffff", ns, 1<<22+12345), false},   // another host: cannot tell
		{"garbage", false},
	}
	for _, tc := range tests {
		if got := deadHolder(tc.holder, self); got != tc.dead {
			t.Errorf("deadHolder(%q) = %v, want %v", tc.holder, got, tc.dead)
		}
	}
}
