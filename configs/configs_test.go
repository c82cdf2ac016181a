package configs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/configs"
	"github.com/pmsync/pmsync/connectors"
	_ "github.com/pmsync/pmsync/connectors/all"
	"github.com/pmsync/pmsync/sandbox"
)

// TestEveryConfigLoads loads every YAML file shipped in configs/ with the
// real connectors, so an example can never drift from what pmsync accepts.
func TestEveryConfigLoads(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("found %v (%v), want at least demo.yaml and example.yaml", files, err)
	}
	secrets := map[string]string{}
	env := func(k string) (string, bool) {
		if strings.HasSuffix(k, "_URL") {
			return "https://hooks.example.org/" + strings.ToLower(k), true
		}
		if strings.HasSuffix(k, "_EMAIL") || strings.HasSuffix(k, "_TOKEN") || strings.HasSuffix(k, "_KEY") || strings.HasSuffix(k, "_SECRET") {
			if _, ok := secrets[k]; !ok {
				secrets[k] = "secret-for-" + strings.ToLower(k)
			}
			return secrets[k], true
		}
		return "", false
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			lookup := env
			if f == "demo.yaml" {
				demo, err := sandbox.Start(time.Now())
				if err != nil {
					t.Fatal(err)
				}
				defer demo.Close()
				if data, err = demo.Config(configs.Demo, filepath.Join(t.TempDir(), "demo.db")); err != nil {
					t.Fatal(err)
				}
				lookup = demo.Lookup
			}
			cfg, err := config.Parse(f, data, connectors.Default, lookup)
			if err != nil {
				t.Fatalf("%s does not load:\n%v", f, err)
			}
			if len(cfg.Programs) == 0 || len(cfg.Sources()) == 0 {
				t.Errorf("%s declares no programs or sources", f)
			}
		})
	}
}
