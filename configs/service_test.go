package configs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestServiceUnitIsHardened scores configs/pmsync.service with systemd's
// own `systemd-analyze security` (offline: no running systemd needed) and
// wants it rated OK, an exposure of 2.0 or less.
func TestServiceUnitIsHardened(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian package systemd)")
	}
	dir := t.TempDir()
	unit, err := os.ReadFile("pmsync.service")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "pmsync.service")
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "security", "--offline=true", "--root=/", "--no-pager", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for pmsync\.service: ([0-9.]+) (\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no overall exposure in:\n%s", out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	if score > 2.0 {
		t.Errorf("exposure %.1f %s, want 2.0 or less (OK):\n%s", score, m[2], out)
	}
	t.Logf("systemd-analyze security: %.1f %s", score, m[2])
}
