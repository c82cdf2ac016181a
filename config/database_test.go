package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDatabase(t *testing.T) {
	const rest = `
connections:
  - { name: asana, kind: cfgtest-asana, auth: { token_env: ASANA_TOKEN } }
programs:
  - { id: ehr, sources: [ { connection: asana, scope: { project: "1" } } ] }
`
	for _, tc := range []struct {
		name     string
		database string // the database line; "" leaves it out
		env      map[string]string
		files    map[string]string
		wantPath string // relative to the file's directory
		wantURL  string
		problems []string // with the file's path cut off
	}{
		{name: "default", wantPath: "pmsync.db"},
		{name: "a path", database: "database: state/pmsync.db", wantPath: "state/pmsync.db"},
		{name: "a path in a mapping", database: "database: { path: state/pmsync.db }", wantPath: "state/pmsync.db"},
		{name: "a url without a password", database: "database: postgres://pmsync@db.hospital.example:5432/pmsync?sslmode=verify-full",
			wantURL: "postgres://pmsync@db.hospital.example:5432/pmsync?sslmode=verify-full"},
		{name: "a url from the environment", database: "database: { url_env: PG_URL }",
			env: map[string]string{"PG_URL": "postgresql://pmsync:s3cr3t@db/pmsync"}, wantURL: "postgresql://pmsync:s3cr3t@db/pmsync"},
		{name: "a url from a file", database: "database: { url_file: pg-url }",
			files: map[string]string{"pg-url": "postgres://pmsync:s3cr3t@db/pmsync\n"}, wantURL: "postgres://pmsync:s3cr3t@db/pmsync"},
		{name: "the environment overrides the file", database: "database: state/pmsync.db",
			env: map[string]string{"PMSYNC_DATABASE": "postgres://pmsync:s3cr3t@db/pmsync"}, wantURL: "postgres://pmsync:s3cr3t@db/pmsync"},
		{name: "a password in the file", database: "database: postgres://pmsync:s3cr3t@db/pmsync",
			problems: []string{":1: database: holds a password: a password never sits in the config file; use database: { url_env: NAME } or url_file"}},
		{name: "two forms at once", database: "database: { path: a.db, url_env: PG_URL }", env: map[string]string{"PG_URL": "postgres://db/pmsync"},
			problems: []string{":1: database: give exactly one of path, url_env or url_file"}},
		{name: "not a postgres url", database: "database: { url_file: pg-url }", files: map[string]string{"pg-url": "mysql://u:s3cr3t@db/x"},
			problems: []string{":1: database.url_file: does not hold a postgres:// or postgresql:// URL"}},
		{name: "unset variable", database: "database: { url_env: PG_URL }",
			problems: []string{":1: database.url_env: environment variable PG_URL is not set"}},
		{name: "a typo", database: "database: { url_evn: PG_URL }",
			problems: []string{`:1: database.url_evn: unknown key; did you mean "url_env"?`}},
		{name: "a list", database: "database: [a.db]",
			problems: []string{`:1: database: expected a file path, a postgres:// URL or a mapping with path, url_env or url_file, got a list`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv()
			for k, v := range tc.env {
				env[k] = v
			}
			path := writeConfig(t, tc.database+rest, tc.files)
			cfg, err := Load(path, testRegistry(), lookup(env))
			if tc.problems != nil {
				var got []string
				for _, p := range problemsOf(t, err) {
					got = append(got, strings.TrimPrefix(p, path))
				}
				if diff := cmp.Diff(tc.problems, got); diff != "" {
					t.Errorf("problems (-want +got):\n%s", diff)
				}
				if strings.Contains(err.Error(), "s3cr3t") {
					t.Errorf("a problem shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantPath := ""
			if tc.wantPath != "" {
				wantPath = filepath.Join(filepath.Dir(path), tc.wantPath)
			}
			if cfg.Database != wantPath || cfg.PostgresURL().Reveal() != tc.wantURL {
				t.Errorf("Database %q, PostgresURL %q; want %q, %q", cfg.Database, cfg.PostgresURL().Reveal(), wantPath, tc.wantURL)
			}
		})
	}
}
