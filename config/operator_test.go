package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Syntax errors are placed at the line and column of the mistake, which
// the YAML parser often reports a line or more away (where the enclosing
// construct began).
func TestSyntaxErrorPlaces(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"tab indents a key", "database: a.db\nhttp:\n\tlisten: 127.0.0.1:8080\n",
			"p.yaml:3:1: a tab in the indentation; YAML indents with spaces only"},
		// The parser names line 3 here, the line before the tab.
		{"tab after spaces", "database: a.db\nhttp:\n  listen: 127.0.0.1:8080\n  \tauth_token_env: T\n",
			"p.yaml:4:3: a tab in the indentation; YAML indents with spaces only"},
		// The parser names the end of the file.
		{"quote never closed", "database: \"a.db\ntimezone: UTC\nlog: { level: info }\n",
			"p.yaml:1:11: this quoted value is never closed"},
		{"second colon", "connections:\n  - name: jira\n    base_url: https://x: y\n",
			`p.yaml:3:24: a second ": " in this value; quote the value`},
		{"bracket never closed", "database: a.db\nschedule: { sync: \"@hourly\"\nlog: { level: info }\n",
			"p.yaml:2:11: the { opened here is not closed"},
		{"at sign", "database: a.db\ntimezone: @home\n",
			"p.yaml:2:11: found character that cannot start any token (a value starting with @ must be quoted)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.text), testRegistry(), lookup(nil))
			if diff := cmp.Diff([]string{tt.want}, problemsOf(t, err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

const expandConfig = `database: ${STATE_DIR}/pmsync.db
timezone: ${TZ_NAME:-UTC}
sync: { overlap: "${OVERLAP}" , run_timeout: "${RUN_TIMEOUT:-10m}" }
rules:
  due_soon_days: ${DUE_SOON}
connections:
  - name: jira
    kind: cfgtest-jira
    base_url: https://${JIRA_SITE}.atlassian.net
    auth: { email_env: JIRA_EMAIL, token_env: JIRA_API_TOKEN }
programs:
  - id: ehr
    name: "Costs in $${CURRENCY}"
    budget: { planned: "${BUDGET}" }
    sources:
      - { connection: jira, scope: { jql: "project = ${JIRA_PROJECT:-EHR}" } }
`

func TestExpandEnvironmentVariables(t *testing.T) {
	env := testEnv()
	env["STATE_DIR"] = "/var/lib/pmsync"
	env["OVERLAP"] = "7m"
	env["DUE_SOON"] = "21"
	env["JIRA_SITE"] = "stmarys"
	env["TZ_NAME"] = ""       // empty: the default applies
	env["BUDGET"] = "2500000" // quoted in the file, a number once expanded
	cfg, err := Parse("p.yaml", []byte(expandConfig), testRegistry(), lookup(env))
	if err != nil {
		t.Fatal(err)
	}
	got := []string{cfg.Database, cfg.Timezone, cfg.Sync.Overlap.String(), cfg.Sync.RunTimeout.String(),
		cfg.Connections[0].BaseURL, cfg.Programs[0].Name, cfg.Programs[0].Sources[0].Scope.(jiraScope).JQL}
	want := []string{"/var/lib/pmsync/pmsync.db", "UTC", "7m0s", "10m0s",
		"https://stmarys.atlassian.net", "Costs in ${CURRENCY}", "project = EHR"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("expanded values (-want +got):\n%s", diff)
	}
	if b := cfg.Programs[0].Budget.Planned; b == nil || *b != 2500000 {
		t.Errorf("budget.planned = %v, want 2500000", b)
	}
	if cfg.Rules.DueSoonDays == nil || *cfg.Rules.DueSoonDays != 21 {
		t.Errorf("rules.due_soon_days = %v, want 21 read as a number", cfg.Rules.DueSoonDays)
	}
	// Settings say which values came through a variable.
	from := map[string]string{}
	for _, s := range cfg.Settings() {
		from[s.Key] = s.From
	}
	if from["connections[0].base_url"] != "file, ${JIRA_SITE} from env" || from["database"] != "file, ${STATE_DIR} from env" {
		t.Errorf("origins: base_url %q, database %q", from["connections[0].base_url"], from["database"])
	}
}

func TestExpandProblems(t *testing.T) {
	text := `database: ${STATE_DIR}/pmsync.db
connections:
  - name: jira
    kind: cfgtest-jira
    base_url: https://acme.atlassian.net
    auth: { token_env: "${TOKEN_VAR}" }
programs:
  - id: ehr
    name: "${1BAD}"
    sources: [ { connection: jira, scope: { jql: "project = ${PROJECT" } } ]
`
	_, err := Parse("p.yaml", []byte(text), testRegistry(), lookup(testEnv()))
	want := []string{
		"p.yaml:1: database: environment variable STATE_DIR is not set (write ${STATE_DIR:-default} to give a default)",
		"p.yaml:6: connections[0].auth.token_env: names an environment variable itself; ${…} is not expanded here",
		`p.yaml:9: programs[0].name: ${1BAD}: "1BAD" is not an environment variable name`,
		`p.yaml:10: programs[0].sources[0].scope.jql: "project = ${PROJECT" has ${ without a closing }`,
	}
	got := problemsOf(t, err)
	// Later checks may add their own lines (the unset token variable);
	// the expansion problems come first on their lines.
	var exp []string
	for _, g := range got {
		if strings.Contains(g, "${") || strings.Contains(g, "STATE_DIR") {
			exp = append(exp, g)
		}
	}
	if diff := cmp.Diff(want, exp); diff != "" {
		t.Errorf("problems (-want +got):\n%s\nall:\n%s", diff, strings.Join(got, "\n"))
	}
}

func TestSecretsOnly(t *testing.T) {
	text := `http: { listen: 127.0.0.1:8080, auth_token_env: HTTP_TOKEN }
connections:
  - { name: jira, kind: cfgtest-jira, base_url: https://acme.atlassian.net, auth: { email_env: JIRA_EMAIL, token_env: JIRA_API_TOKEN } }
  - { name: asana, kind: cfgtest-asana, auth: { token_env: ASANA_TOKEN } }
programs:
  - id: ehr
    sources: [ { connection: jira, scope: { project: EHR } }, { connection: asana, scope: { project: "12" } } ]
`
	env := map[string]string{"ASANA_TOKEN": "asana-secret"} // nothing for jira, nor the dashboard
	if _, err := Parse("p.yaml", []byte(text), testRegistry(), lookup(env)); err == nil {
		t.Fatal("loaded with every secret required though jira's are unset")
	}
	cfg, err := Parse("p.yaml", []byte(text), testRegistry(), lookup(env), SecretsOnly("asana"))
	if err != nil {
		t.Fatalf("SecretsOnly(asana): %v", err)
	}
	pa, _ := cfg.Params("asana")
	pj, _ := cfg.Params("jira")
	if pa.Credentials.Token.Reveal() != "asana-secret" || pj.Credentials.Token != "" || cfg.HTTPToken() != "" {
		t.Errorf("credentials: asana %q, jira %q, http %q", pa.Credentials.Token.Reveal(), pj.Credentials.Token.Reveal(), cfg.HTTPToken().Reveal())
	}
	// The secrets it does read are still checked.
	_, err = Parse("p.yaml", []byte(text), testRegistry(), lookup(nil), SecretsOnly("asana"))
	if diff := cmp.Diff([]string{"p.yaml:4: connections[1].auth.token_env: environment variable ASANA_TOKEN is not set"}, problemsOf(t, err)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestCheckDatabase(t *testing.T) {
	if os.Geteuid() == 0 {
		// root writes anywhere; only the missing directory can be shown.
		t.Log("running as root: the read-only directory case is skipped")
	}
	dir := t.TempDir()
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	base := "connections:\n  - { name: jira, kind: cfgtest-jira, base_url: https://acme.atlassian.net, auth: { token_env: JIRA_API_TOKEN } }\nprograms:\n  - { id: ehr, sources: [ { connection: jira, scope: { project: EHR } } ] }\n"
	tests := []struct {
		name, db, want string
	}{
		{"fine", filepath.Join(dir, "pmsync.db"), ""},
		{"no directory", filepath.Join(dir, "missing", "pmsync.db"), "p.yaml:1: database: directory " + filepath.Join(dir, "missing") + " does not exist"},
		{"read-only directory", filepath.Join(ro, "pmsync.db"), "p.yaml:1: database: directory " + ro + " is not writable: permission denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "read-only directory" && os.Geteuid() == 0 {
				t.Skip("root may write to a 0500 directory")
			}
			text := []byte("database: " + tt.db + "\n" + base)
			_, err := Parse("p.yaml", text, testRegistry(), lookup(testEnv()), CheckDatabase())
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if diff := cmp.Diff([]string{tt.want}, problemsOf(t, err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			// Without the option the file loads: rollup reads need no write access.
			if _, err := Parse("p.yaml", text, testRegistry(), lookup(testEnv())); err != nil {
				t.Errorf("without CheckDatabase: %v", err)
			}
		})
	}
}

func TestSettingsSayWhereEachValueCameFrom(t *testing.T) {
	env := testEnv()
	env["PMSYNC_LOG_LEVEL"] = "debug"
	text := `database: /srv/pmsync/pmsync.db
http: { listen: 127.0.0.1:9000, auth_token_env: PMSYNC_HTTP_TOKEN }
connections:
  - name: jira
    kind: cfgtest-jira
    base_url: https://acme.atlassian.net
    auth: { email_env: JIRA_EMAIL, token_env: JIRA_API_TOKEN }
programs:
  - id: ehr
    sources:
      - { connection: jira, scope: { project: EHR } }
`
	cfg, err := Parse("p.yaml", []byte(text), testRegistry(), lookup(env))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Setting{}
	var order []string
	for _, s := range cfg.Settings() {
		got[s.Key] = s
		order = append(order, s.Key)
	}
	want := []Setting{
		{"database", "/srv/pmsync/pmsync.db", "file"},
		{"log.level", "debug", "env PMSYNC_LOG_LEVEL"},
		{"log.format", "auto", "default"},
		{"http.listen", "127.0.0.1:9000", "file"},
		{"http.auth_token", "<secret>", "env PMSYNC_HTTP_TOKEN"},
		{"schedule.sync", DefaultSync, "default"},
		{"sync.overlap", "5m0s", "default"},
		{"rules.red_flag_score", "15", "default"},
		{"connections[0].base_url", "https://acme.atlassian.net", "file"},
		{"connections[0].auth.token_env", "JIRA_API_TOKEN", "file"},
		{"connections[0].auth.email", "<secret>", "env JIRA_EMAIL"},
		{"connections[0].auth.token", "<secret>", "env JIRA_API_TOKEN"},
		{"programs[0].sources[0].scope.project", "EHR", "file"},
		{"programs[0].sources[0].name", "ehr/jira", "default"},
		{"programs[0].sources[0].mapping", "cfgtest-jira-default", "default"},
	}
	for _, w := range want {
		if diff := cmp.Diff(w, got[w.Key]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", w.Key, diff)
		}
	}
	for _, s := range cfg.Settings() {
		for _, secret := range testEnv() {
			if strings.Contains(s.Value, secret) {
				t.Errorf("%s shows a secret", s.Key)
			}
		}
	}
	if order[0] != "database" || order[len(order)-1] != "programs[0].sources[0].mapping" {
		t.Errorf("order: first %s, last %s", order[0], order[len(order)-1])
	}
	_ = time.Second
}

func TestUnknownEnv(t *testing.T) {
	names := []string{
		"PATH=/usr/bin",
		"PMSYNC_DATABASE=/x.db",     // an override
		"PMSYNC_CONFIG=/etc/p.yaml", // read by the command line
		"PMSYNC_DATABSE=/y.db",      // misspelt
		"PMSYNC_HTTP_TOKEN=t",       // named by the file's auth_token_env
		"PMSYNC_COLOUR=blue",        // nothing like a known name
	}
	got := UnknownEnv(names, "PMSYNC_HTTP_TOKEN")
	want := []string{
		"environment variable PMSYNC_COLOUR is not one pmsync reads (overrides: PMSYNC_DATABASE, PMSYNC_TIMEZONE, PMSYNC_HTTP_LISTEN, PMSYNC_LOG_LEVEL, PMSYNC_LOG_FORMAT, PMSYNC_SCHEDULE_SYNC, PMSYNC_SCHEDULE_ROLLUP, PMSYNC_SCHEDULE_DELETIONS)",
		"environment variable PMSYNC_DATABSE is not one pmsync reads; did you mean PMSYNC_DATABASE?",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}
