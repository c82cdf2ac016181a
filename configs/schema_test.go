package configs_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/configs"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox"
)

var update = flag.Bool("update", false, "rewrite pmsync.schema.json from the config types")

const schemaFile = "pmsync.schema.json"

// TestSchemaIsCurrent fails when the config types or a connector kind's
// blocks changed without the checked-in schema being regenerated:
//
//	go test ./configs -run TestSchemaIsCurrent -update
func TestSchemaIsCurrent(t *testing.T) {
	got, err := config.Schema(connectors.Default)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v (generate it with go test ./configs -run TestSchemaIsCurrent -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s is out of date; regenerate it with go test ./configs -run TestSchemaIsCurrent -update\n(-checked in +generated):\n%s", schemaFile, diff)
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaFile, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// instance reads YAML the way an editor hands it to a schema validator.
func instance(t *testing.T, text []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(text, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(plain(v))
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// plain turns the YAML decoder's values into JSON's: an unquoted date is
// text to an editor (YAML 1.2 has no timestamps).
func plain(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = plain(e)
		}
	case []any:
		for i, e := range x {
			x[i] = plain(e)
		}
	case time.Time:
		return x.Format(time.DateOnly)
	}
	return v
}

// TestConfigsMatchTheSchema checks every shipped config against the
// schema, and that each references it for editors.
func TestConfigsMatchTheSchema(t *testing.T) {
	s := compileSchema(t)
	files, _ := filepath.Glob("*.yaml")
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte("# yaml-language-server: $schema=pmsync.schema.json\n")) {
				t.Errorf("%s does not reference the schema for editors", f)
			}
			if f == "demo.yaml" {
				demo, err := sandbox.Start(time.Now())
				if err != nil {
					t.Fatal(err)
				}
				defer demo.Close()
				if data, err = demo.Config(configs.Demo, "demo.db"); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Validate(instance(t, data)); err != nil {
				t.Errorf("%s does not match the schema: %v", f, err)
			}
		})
	}
}

// TestSchemaRejectsMistakes: the schema is strict where pmsync is, down
// to each kind's own keys.
func TestSchemaRejectsMistakes(t *testing.T) {
	s := compileSchema(t)
	base := `connections:
  - { name: jira, kind: jira, base_url: "https://acme.atlassian.net", flavor: cloud, auth: { email_env: E, token_env: T } }
  - { name: sheets, kind: smartsheet, region: eu, auth: { token_env: S } }
programs:
  - id: ehr
    start: 2026-01-05
    sources:
      - { connection: jira, scope: { jql: "project = EHR" } }
      - { connection: sheets, scope: { sheet: 4583173393803140 } }
push:
  - { connection: sheets, target: { sheet: 7395800218136452, options: { health_column: RAG } }, programs: all }
mappings:
  m: { extends: jira-default, state: { path: fields.status.name, map: { QA: in_progress }, default: todo } }
`
	if err := s.Validate(instance(t, []byte(base))); err != nil {
		t.Fatalf("a sound config fails the schema: %v", err)
	}
	for _, tt := range []struct{ name, from, to string }{
		{"misspelt top-level key", "programs:", "programmes:"},
		{"option of another kind", "flavor: cloud", "region: us"},
		{"auth key the kind does not read", "auth: { token_env: S }", "auth: { token_env: S, email_env: X }"},
		{"unknown scope key", "scope: { sheet: 4583173393803140 }", "scope: { sheets: 4583173393803140 }"},
		{"unknown kind", "kind: smartsheet", "kind: smartsheets"},
		{"literal secret", "auth: { token_env: S }", "auth: { token: s3cr3t }"},
		{"bad date", "start: 2026-01-05", "start: 5 January"},
		{"bad duration", "programs:", "sync: { overlap: five minutes }\nprograms:"},
		{"bad push programs", "programs: all", "programs: some"},
		{"unknown mapping rule key", "default: todo", "fallback: todo"},
		{"bad log level", "programs:", "log: { level: verbose }\nprograms:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bad := strings.Replace(base, tt.from, tt.to, 1)
			if bad == base {
				t.Fatalf("%q not found", tt.from)
			}
			if err := s.Validate(instance(t, []byte(bad))); err == nil {
				t.Errorf("the schema accepts it")
			}
		})
	}
}
