package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse loads arbitrary config files. Whatever the input, Parse must
// not panic or hang, and a file it refuses is described by Problems, each
// naming the file and a message, and placed on a line the file has.
func FuzzParse(f *testing.F) {
	names, err := filepath.Glob(filepath.Join("testdata", "*.yml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	reg := testRegistry()
	env := lookup(testEnv())
	// The file sits in testdata, so that relative secret files resolve to
	// testdata/secrets as in the checked-in files.
	path := filepath.Join("testdata", "fuzzed.yml")
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(path, data, reg, env)
		if err == nil {
			if cfg == nil || len(cfg.Programs) == 0 || cfg.Location() == nil {
				t.Fatalf("Parse accepted the file but returned %+v", cfg)
			}
			for _, src := range cfg.Sources() {
				if cfg.Mapping(src.Mapping) == nil {
					t.Errorf("source %s names mapping %q, which is not compiled", src.Name, src.Mapping)
				}
			}
			return
		}
		var probs Problems
		if !errors.As(err, &probs) || len(probs) == 0 {
			t.Fatalf("Parse failed with %q (%T), want Problems", err, err)
		}
		// YAML breaks lines at \n, \r\n and a lone \r.
		lines := strings.Count(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n") + strings.Count(strings.ReplaceAll(string(data), "\r\n", ""), "\r") + 1
		for _, p := range probs {
			if p.File != path || strings.TrimSpace(p.Msg) == "" {
				t.Errorf("problem %q does not name the file and say what is wrong", p)
			}
			if p.Line < 0 || p.Line > lines {
				t.Errorf("problem %q is on line %d of a %d-line file", p, p.Line, lines)
			}
		}
	})
}
