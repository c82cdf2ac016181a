package store_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEngineAndWebImportNoDriver holds the storage boundary: engine and web
// speak the contract of package store, never a backend, so a second backend
// does not drag the first one's driver (cgo SQLite) along.
func TestEngineAndWebImportNoDriver(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go tool")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/pmsync/pmsync/engine", "github.com/pmsync/pmsync/web").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 20 {
		t.Fatalf("go list gave %d packages; expected the whole dependency tree", len(deps))
	}
	for _, d := range deps {
		for _, banned := range []string{"github.com/mattn/go-sqlite3", "github.com/jackc/pgx", "github.com/pmsync/pmsync/store/"} {
			if strings.HasPrefix(d, banned) {
				t.Errorf("engine or web depends on %s", d)
			}
		}
	}
}
