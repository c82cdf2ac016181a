package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pmsync/pmsync/store/postgres/pgtest"
)

// measured is a child's result with what the parent measured around it.
type measured struct {
	childResult
	// CPU is the child's user + system time: pmsync's (or the floor's)
	// side of the loopback.
	CPU time.Duration `json:"cpu"`
	// FakeCPU is the parent's own CPU time while the child ran: the
	// simulator serving it, since the parent does nothing else meanwhile.
	FakeCPU time.Duration `json:"fake_cpu"`
}

// spawner runs jobs in child processes of the benchmark binary.
type spawner struct {
	exe  string // the binary to run; it must dispatch on childEnv
	work string // where job files go
	seq  int
	// pg is the PostgreSQL server the syncs write to; nil for SQLite.
	pg *pgtest.Server
}

// run writes the job to a file, runs a child on it with extra variables
// added to its environment, and reads back its result.
func (s *spawner) run(ctx context.Context, j job, env map[string]string) (measured, error) {
	s.seq++
	path := filepath.Join(s.work, fmt.Sprintf("job-%03d-%s.json", s.seq, j.Kind))
	data, err := json.Marshal(j)
	if err != nil {
		return measured{}, fmt.Errorf("write %s job: %w", j.Kind, err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return measured{}, fmt.Errorf("write %s job: %w", j.Kind, err)
	}
	cmd := exec.CommandContext(ctx, s.exe)
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	before, err := selfCPU()
	if err != nil {
		return measured{}, err
	}
	err = cmd.Run()
	after, cpuErr := selfCPU()
	if err != nil {
		return measured{}, fmt.Errorf("run %s child: %w: %s", j.Kind, err, lastLines(stderr.String(), 5))
	}
	if cpuErr != nil {
		return measured{}, cpuErr
	}
	var m measured
	if err := json.Unmarshal(stdout.Bytes(), &m.childResult); err != nil {
		return measured{}, fmt.Errorf("read %s child result: %w", j.Kind, err)
	}
	m.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	m.FakeCPU = after - before
	return m, nil
}

// selfCPU is this process's user + system time so far.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("read own cpu time: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// lastLines keeps the end of a child's stderr for an error message.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// machine describes where the benchmark ran.
type machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	MemoryGiB int    `json:"memory_gib"`
	GoVersion string `json:"go_version"`
	OSArch    string `json:"os_arch"`
	// LoadStart and LoadEnd are the one-minute load averages when the
	// benchmark started and ended: above the CPU count, other work competed
	// for the CPUs and the wall times are inflated.
	LoadStart string `json:"load_start,omitempty"`
	LoadEnd   string `json:"load_end,omitempty"`
	// Env holds the variables set in the environment that change the
	// Go runtime's or the C allocator's behaviour, and so the numbers.
	Env map[string]string `json:"env,omitempty"`
}

// loadAverage is the one-minute load average from /proc/loadavg; "" where
// there is none.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// revision reads the commit the binary was built from out of its build
// information (go run and go build stamp it inside a git checkout).
func revision() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" && dirty {
		rev += "+dirty"
	}
	return rev
}

// tuningEnv returns those of the runtime and allocator variables that are
// set.
func tuningEnv() map[string]string {
	out := map[string]string{}
	for _, k := range []string{"GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GODEBUG", "MALLOC_ARENA_MAX", "GLIBC_TUNABLES"} {
		if v, ok := os.LookupEnv(k); ok {
			out[k] = v
		}
	}
	return out
}

// cpuModel reads the first "model name" of /proc/cpuinfo; "" elsewhere.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// memoryGiB reads MemTotal from /proc/meminfo, rounded to GiB; 0 elsewhere.
func memoryGiB() int {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 2 {
			kib, err := strconv.ParseInt(f[0], 10, 64)
			if err == nil {
				return int((kib + 1<<19) >> 20)
			}
		}
	}
	return 0
}
