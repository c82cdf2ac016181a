package pgtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersionOrder(t *testing.T) {
	if got := version("/usr/lib/postgresql/15/bin"); got != 15 {
		t.Errorf("version = %d, want 15", got)
	}
	if got := version("/usr/lib/postgresql/x/bin"); got != 0 {
		t.Errorf("version of a non-number = %d, want 0", got)
	}
}

func TestSearchable(t *testing.T) {
	dir := t.TempDir()
	closed := filepath.Join(dir, "closed")
	if err := os.Mkdir(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	// The directory named is checked too: the server's own directory
	// goes inside it.
	err := searchable(closed)
	if err == nil || !strings.Contains(err.Error(), closed) || !strings.Contains(err.Error(), "chmod o+x") {
		t.Errorf("searchable(%s) = %v, want an error naming it and the fix", closed, err)
	}
}
