package engine

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
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

// A zombie (exited, not yet reaped) is dead: a restart right after kill -9
// must not wait for its lease to run out.
func TestZombieHolderIsDead(t *testing.T) {
	host, _ := os.Hostname()
	ns := pidNamespace()
	if ns == "" {
		t.Skip("no /proc/self/ns/pid here")
	}
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	defer func() { _ = cmd.Wait() }()
	// Not waited for, the child stays a zombie once it exits.
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d did not become a zombie: %s", pid, stat)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("signalling the zombie failed (%v); the test needs it to succeed", err)
	}
	self := fmt.Sprintf("%s/%s/%d/aaaa", host, ns, os.Getpid())
	if !deadHolder(fmt.Sprintf("%s/%s/%d/bbbb", host, ns, pid), self) {
		t.Errorf("a zombie holder (pid %d) is taken for alive", pid)
	}
}

// Each process offers the connections in the configuration's order rotated
// to a start of its own, so that replicas starting together reach for
// different connections first.
func TestFeedOrderRotatesByHolder(t *testing.T) {
	groups := [][]int{{0}, {1, 2}, {3}, {4}, {5}, {6}, {7, 8}, {9}}
	starts := map[int]int{}
	for pid := 1000; pid < 1200; pid++ {
		holder := fmt.Sprintf("vm/4026531836/%d/%04x", pid, pid*7919%65536)
		order := feedOrder(groups, holder)
		if len(order) != len(groups) {
			t.Fatalf("%s: %d groups offered, want %d", holder, len(order), len(groups))
		}
		// A rotation: each group follows the one before it in the
		// configuration, wrapping around once.
		first := order[0][0]
		k := slices.IndexFunc(groups, func(g []int) bool { return g[0] == first })
		for i, g := range order {
			if want := groups[(k+i)%len(groups)]; !slices.Equal(g, want) {
				t.Fatalf("%s: group %d offered is %v, want %v (a rotation of the configuration's order)", holder, i, g, want)
			}
		}
		if again := feedOrder(groups, holder); !slices.Equal(again[0], order[0]) {
			t.Fatalf("%s: the order changed between two calls", holder)
		}
		starts[k]++
	}
	// 200 holders over 8 places: every place is somebody's start, and no
	// place takes more than twice its share (25).
	for k := range groups {
		if n := starts[k]; n == 0 || n > 50 {
			t.Errorf("%d of 200 holders start at connection %d; starts %v", n, k, starts)
		}
	}
	if got := feedOrder(groups[:1], "any"); len(got) != 1 {
		t.Errorf("one group: %v", got)
	}
}
