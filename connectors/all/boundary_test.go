package all_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pmsync/pmsync/connectors"
)

// TestConfigAndEngineNameNoVendor holds the boundary: config/ and engine/
// know connectors only through the registry, so no vendor (no registered
// kind) is named in their code. Adding a tool must not need an edit there.
func TestConfigAndEngineNameNoVendor(t *testing.T) {
	kinds := connectors.Default.Kinds()
	var names []string
	for _, k := range kinds {
		names = append(names, regexp.QuoteMeta(k))
	}
	// Vendors spelt as people write them, beside the kind names.
	pattern := regexp.MustCompile(`(?i)(` + strings.Join(names, "|") + `)`)
	checked := 0
	for _, dir := range []string{"../../config", "../../engine"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			checked++
			for i, line := range strings.Split(string(data), "\n") {
				if m := pattern.FindString(line); m != "" {
					t.Errorf("%s:%d names the vendor %q: %s", path, i+1, m, strings.TrimSpace(line))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 10 {
		t.Fatalf("checked only %d files; the walk is not looking where config/ and engine/ are", checked)
	}
}
