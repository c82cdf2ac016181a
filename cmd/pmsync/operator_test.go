package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/jirasim"
)

// do runs one command line and returns its exit code and outputs.
func do(env map[string]string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb, envOf(env))
	return code, out.String(), errb.String()
}

// TestDemoJSONIsTheOnlyOutput: `demo --format json` writes the document
// and nothing else to stdout; the banner, tables and hint go to stderr,
// the hint naming the command as it was run.
func TestDemoJSONIsTheOnlyOutput(t *testing.T) {
	code, out, errOut := do(nil, "demo", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	var doc struct {
		Schema      string `json:"schema"`
		GeneratedAt string `json:"generated_at"`
		Programs    []struct {
			ID       string `json:"id"`
			Progress struct {
				Percent *float64 `json:"percent"`
			} `json:"progress"`
			Changes []string `json:"changes"`
			Sources []struct {
				LastSuccess string `json:"last_success"`
			} `json:"sources"`
		} `json:"programs"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%.300s", err, out)
	}
	if doc.Schema != "pmsync.rollup/v1" || len(doc.Programs) < 3 {
		t.Fatalf("document: schema %q, %d programs", doc.Schema, len(doc.Programs))
	}
	rfc3339 := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
	if !rfc3339.MatchString(doc.GeneratedAt) {
		t.Errorf("generated_at %q is not RFC 3339 in seconds", doc.GeneratedAt)
	}
	for _, p := range doc.Programs {
		if p.Changes == nil {
			t.Errorf("%s: changes is missing or null", p.ID)
		}
		for _, s := range p.Sources {
			if !rfc3339.MatchString(s.LastSuccess) {
				t.Errorf("%s: last_success %q is not RFC 3339 in seconds", p.ID, s.LastSuccess)
			}
		}
	}
	if !strings.Contains(out, `"changes": []`) {
		t.Errorf("changes is not written as an empty list")
	}
	for _, want := range []string{"pmsync demo: simulated", "SOURCE", "PUSHED TO", "Run 'pmsync demo --serve'"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "go run") {
		t.Errorf("the hint names go run though the command ran as pmsync")
	}
	if got := progName("/tmp/go-build123/b001/exe/pmsync"); got != "go run ./cmd/pmsync" {
		t.Errorf("progName(build cache) = %q", got)
	}
	if got := progName("/usr/local/bin/pmsync"); got != "/usr/local/bin/pmsync" {
		t.Errorf("progName(installed) = %q", got)
	}
}

// twoConnections writes a config with a good Jira connection and one whose
// token variable holds a wrong token, each feeding one source.
func twoConnections(t *testing.T, url string) string {
	t.Helper()
	dir := t.TempDir()
	body := fmt.Sprintf(`database: %s
timezone: UTC
connections:
  - { name: jira, kind: jira, base_url: %q, flavor: cloud, auth: { email_env: JIRA_EMAIL, token_env: JIRA_TOKEN } }
  - { name: jira-old, kind: jira, base_url: %q, flavor: cloud, auth: { email_env: JIRA_EMAIL, token_env: OLD_TOKEN } }
programs:
  - id: ehr
    name: EHR Upgrade
    sources:
      - { name: ehr-jira, connection: jira, scope: { project: EHR } }
      - { name: ehr-old, connection: jira-old, scope: { project: EHR } }
push:
  - { connection: jira, target: { issue: EHR-1 }, programs: all }
`, filepath.Join(dir, "pmsync.db"), url, url)
	path := filepath.Join(dir, "pmsync.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestExitCodes: an unknown program or source is a usage error (2) for
// every command; some sources failing while others sync is 3; all failing
// is 1.
func TestExitCodes(t *testing.T) {
	clk := sandbox.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	sim, url := startJira(t, clk)
	sim.Add(jirasim.Issue{Project: "EHR", Type: "Task", Summary: "Interface build", Status: "To Do", StatusCategory: "new"})
	path := twoConnections(t, url)
	good := map[string]string{"JIRA_EMAIL": email, "JIRA_TOKEN": token, "OLD_TOKEN": "revoked-token-1"}
	if code, _, errOut := do(good, "sync", "--config", path, "--source", "ehr-jira"); code != 0 {
		t.Fatalf("sync of the good source: exit %d\n%s", code, errOut)
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"rollup of an unknown program", nil, []string{"rollup", "--program", "radiology"}, 2, `no such program "radiology"`},
		{"sync of an unknown source", good, []string{"sync", "--source", "radiology"}, 2, `no source or connection named "radiology"`},
		{"quarantine of an unknown source", nil, []string{"quarantine", "--source", "radiology"}, 2, `no source named "radiology"`},
		{"probe of an unknown source", good, []string{"validate", "--probe", "--source", "radiology"}, 2, `no source or connection named "radiology"`},
		{"unknown flag", nil, []string{"rollup", "--programme", "ehr"}, 2, "flag provided but not defined: --programme"},
		{"unknown format", nil, []string{"rollup", "--format", "xml"}, 2, `--format "xml"`},
		{"bad log level", nil, []string{"rollup", "--log-level", "loud"}, 2, `--log-level "loud"`},
		{"some sources fail", good, []string{"sync"}, 3, "sync ehr-old (connection jira-old)"},
		{"every source fails", map[string]string{"JIRA_EMAIL": email, "JIRA_TOKEN": "bad-1", "OLD_TOKEN": "bad-2"}, []string{"sync"}, 1, "401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := do(tt.env, append(tt.args, "--config", path)...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, want %d; stderr lacks %q?\n%s", code, tt.code, tt.want, errOut)
			}
		})
	}
	if code, _, errOut := do(nil, "snyc"); code != 2 || !strings.Contains(errOut, `did you mean "sync"?`) {
		t.Errorf("unknown command: exit %d\n%s", code, errOut)
	}
}

// TestCommandsReadOnlyTheSecretsTheyUse: a sync of one source needs only
// its connection's credentials; a dry-run push and the rollup need none.
func TestCommandsReadOnlyTheSecretsTheyUse(t *testing.T) {
	clk := sandbox.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	sim, url := startJira(t, clk)
	sim.Add(jirasim.Issue{Project: "EHR", Type: "Task", Summary: "Interface build", Status: "To Do", StatusCategory: "new"})
	path := twoConnections(t, url)
	onlyJira := map[string]string{"JIRA_EMAIL": email, "JIRA_TOKEN": token} // OLD_TOKEN unset
	if code, _, errOut := do(onlyJira, "sync", "--config", path, "--source", "ehr-jira"); code != 0 {
		t.Errorf("sync --source ehr-jira without jira-old's token: exit %d\n%s", code, errOut)
	}
	if code, out, errOut := do(onlyJira, "validate", "--probe", "--source", "ehr-jira", "--config", path); code != 0 || !strings.Contains(out, "source ehr-jira: 1 sample records") || strings.Contains(out, "ehr-old") {
		t.Errorf("validate --probe --source ehr-jira: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := do(onlyJira, "sync", "--config", path); code != 1 || !strings.Contains(errOut, "OLD_TOKEN is not set") {
		t.Errorf("sync of every source without jira-old's token: exit %d, want 1 naming OLD_TOKEN\n%s", code, errOut)
	}
	if code, out, errOut := do(nil, "push", "--dry-run", "--config", path); code != 0 || !strings.Contains(out, "dry-run") {
		t.Errorf("push --dry-run without any credential: exit %d\n%s%s", code, out, errOut)
	}
	// A push needs the credentials of its targets' connections only.
	if code, out, errOut := do(onlyJira, "push", "--config", path); code != 0 || !strings.Contains(out, "delivered") {
		t.Errorf("push without jira-old's token: exit %d\n%s%s", code, out, errOut)
	}
}

// TestHelpAndVersion: help CMD, CMD --help and CMD -h print one text with
// the purpose, --flags and examples; --version, -v and version agree.
func TestHelpAndVersion(t *testing.T) {
	_, viaHelp, _ := do(nil, "help", "sync")
	for _, args := range [][]string{{"sync", "--help"}, {"sync", "-h"}} {
		code, out, errOut := do(nil, args...)
		if code != 0 || out != viaHelp {
			t.Errorf("%v: exit %d, output differs from help sync:\n%s%s", args, code, out, errOut)
		}
	}
	for _, want := range []string{"pmsync sync — pull sources now", "Usage:\n  pmsync sync [flags]", "  --source NAME ", "  --full ", "  --config FILE ", "  --log-level LEVEL ", "Examples:\n  pmsync sync\n"} {
		if !strings.Contains(viaHelp, want) {
			t.Errorf("help sync lacks %q:\n%s", want, viaHelp)
		}
	}
	if regexp.MustCompile(`(?m)^  -[a-z][a-z-]+ `).MatchString(viaHelp) {
		t.Errorf("a flag is shown with a single dash:\n%s", viaHelp)
	}
	for _, cmd := range commandNames() {
		code, out, _ := do(nil, "help", cmd)
		if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "pmsync "+cmd+" — ") {
			t.Errorf("help %s: exit %d:\n%s", cmd, code, out)
		}
	}
	_, version, _ := do(nil, "version")
	for _, args := range []string{"--version", "-v"} {
		if code, out, _ := do(nil, args); code != 0 || out != version {
			t.Errorf("%s: exit %d, %q, want %q", args, code, out, version)
		}
	}
	if !regexp.MustCompile(`^pmsync \S+\ncommit: .+\ndate: +.+\ngo: +go1\.`).MatchString(version) {
		t.Errorf("version output:\n%s", version)
	}
	b := buildInfo{Version: "v1.4.0", Commit: "4f2a9c1", Date: "2026-11-20T10:00:00Z", Modified: true, Go: "go1.26.0", Platform: "linux/amd64"}
	if got, want := b.String(), "pmsync v1.4.0\ncommit: 4f2a9c1 (with uncommitted changes)\ndate:   2026-11-20T10:00:00Z\ngo:     go1.26.0 linux/amd64\n"; got != want {
		t.Errorf("buildInfo =\n%s\nwant\n%s", got, want)
	}
}

// TestEnvironmentAndEffectiveConfig: a misspelt PMSYNC_ variable is
// warned about, `pmsync config` shows where each value came from with
// secrets hidden, and --log-level overrides the file and the environment.
func TestEnvironmentAndEffectiveConfig(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "https://acme.atlassian.net", filepath.Join(dir, "pmsync.db"))
	env := map[string]string{"JIRA_EMAIL": email, "JIRA_TOKEN": token, "PMSYNC_LOG_LEVEL": "error"}
	var out, errb bytes.Buffer
	c := &cli{stdout: &out, stderr: &errb, env: envOf(env), prog: "pmsync",
		environ: []string{"PMSYNC_LOG_LEVEL=error", "PMSYNC_DATABSE=/tmp/x.db", "JIRA_TOKEN=" + token}}
	if code := c.main([]string{"config", "--config", path}); code != 0 {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "warning: environment variable PMSYNC_DATABSE is not one pmsync reads; did you mean PMSYNC_DATABASE?") {
		t.Errorf("no warning about PMSYNC_DATABSE:\n%s", errb.String())
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 {
			rows[f[0]] = f[1:]
		}
	}
	for key, want := range map[string]string{
		"database":                  filepath.Join(dir, "pmsync.db") + " file",
		"log.level":                 "error env PMSYNC_LOG_LEVEL",
		"http.listen":               "127.0.0.1:8080 default",
		"connections[0].auth.token": "<secret> env JIRA_TOKEN",
		"connections[0].base_url":   "https://acme.atlassian.net file",
	} {
		if got := strings.Join(rows[key], " "); got != want {
			t.Errorf("%s: %q, want %q", key, got, want)
		}
	}
	if strings.Contains(out.String(), token) || strings.Contains(out.String(), email) {
		t.Errorf("config shows a secret:\n%s", out.String())
	}
	// The flag outranks the environment.
	out.Reset()
	if code := c.main([]string{"config", "--config", path, "--log-level", "debug"}); code != 0 || !strings.Contains(out.String(), "log.level ") {
		t.Fatalf("exit %d", code)
	}
	if !regexp.MustCompile(`log\.level\s+debug`).MatchString(out.String()) {
		t.Errorf("--log-level debug did not win:\n%s", out.String())
	}
}

// TestConfigFileHints: a missing default config points at pmsync init;
// validate checks the database directory.
func TestConfigFileHints(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	code, _, errOut := do(nil, "validate")
	if code != 1 || !strings.Contains(errOut, "pmsync.yaml") || !strings.Contains(errOut, "'pmsync init --tools jira,asana'") || !strings.Contains(errOut, "configs/example.yaml") {
		t.Errorf("missing default config: exit %d\n%s", code, errOut)
	}
	path := writeConfig(t, dir, "https://acme.atlassian.net", filepath.Join(dir, "state", "pmsync.db"))
	code, _, errOut = do(map[string]string{"JIRA_EMAIL": email, "JIRA_TOKEN": token}, "validate", "--config", path)
	if code != 1 || !strings.Contains(errOut, path+":1: database: directory "+filepath.Join(dir, "state")+" does not exist") {
		t.Errorf("missing database directory: exit %d\n%s", code, errOut)
	}
}

// TestInitWritesAConfigThatValidates: pmsync init writes a starter for
// the named tools whose only gaps are the environment variables it names.
func TestInitWritesAConfigThatValidates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pmsync.yaml")
	code, _, errOut := do(nil, "init", "--tools", "jira,asana,smartsheet", "--output", path)
	if code != 0 {
		t.Fatalf("init: exit %d\n%s", code, errOut)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pmsync.schema.json")); err != nil {
		t.Errorf("no schema beside the config: %v", err)
	}
	if !strings.HasPrefix(string(text), "# yaml-language-server: $schema=pmsync.schema.json\n") {
		t.Errorf("the starter does not reference the schema")
	}
	vars := map[string]string{}
	for _, m := range regexp.MustCompile(`_env: ([A-Z_]+)`).FindAllStringSubmatch(string(text), -1) {
		vars[m[1]] = "secret-" + strings.ToLower(m[1])
	}
	for _, v := range []string{"JIRA_EMAIL", "JIRA_API_TOKEN", "ASANA_TOKEN", "SMARTSHEET_TOKEN"} {
		if _, ok := vars[v]; !ok || !strings.Contains(errOut, v) {
			t.Errorf("%s is not named by the starter and the hint", v)
		}
	}
	if code, out, errOut := do(vars, "validate", "--config", path); code != 0 {
		t.Errorf("validate of the starter with its variables set: exit %d\n%s%s\n%s", code, out, errOut, text)
	}
	delete(vars, "ASANA_TOKEN")
	if code, _, errOut := do(vars, "validate", "--config", path); code != 1 || !strings.Contains(errOut, "ASANA_TOKEN is not set") {
		t.Errorf("validate without ASANA_TOKEN: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := do(nil, "init", "--tools", "jira", "--output", path); code != 1 || !strings.Contains(errOut, "--force") {
		t.Errorf("init over an existing file: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := do(nil, "init", "--tools", "jria", "--output", "-"); code != 2 || !strings.Contains(errOut, `did you mean "jira"?`) {
		t.Errorf("init of an unknown tool: exit %d\n%s", code, errOut)
	}
	// With no --tools, every kind with a sample is in the starter.
	_, all, _ := do(nil, "init", "--output", "-")
	for _, kind := range []string{"kind: jira", "kind: asana", "kind: smartsheet"} {
		if !strings.Contains(all, kind) {
			t.Errorf("init without --tools lacks %s", kind)
		}
	}
}

// TestCompletion: the bash script completes commands and flags; zsh and
// fish scripts list every command.
func TestCompletion(t *testing.T) {
	_, script, _ := do(nil, "completion", "bash")
	if bash, err := exec.LookPath("bash"); err == nil {
		complete := func(words ...string) string {
			prog := script + fmt.Sprintf("\nCOMP_WORDS=(%s); COMP_CWORD=%d; _pmsync; echo \"${COMPREPLY[*]}\"\n", strings.Join(words, " "), len(words)-1)
			out, err := exec.Command(bash, "-c", prog).CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, out)
			}
			return strings.TrimSpace(string(out))
		}
		for _, tt := range []struct {
			words []string
			want  string
		}{
			{[]string{"pmsync", "sy"}, "sync"},
			{[]string{"pmsync", "sync", "--so"}, "--source"},
			{[]string{"pmsync", "rollup", "--format", "j"}, "json"},
			{[]string{"pmsync", "completion", "f"}, "fish"},
		} {
			if got := complete(tt.words...); got != tt.want {
				t.Errorf("complete %v = %q, want %q", tt.words, got, tt.want)
			}
		}
	} else {
		t.Log("no bash here: the bash script is checked by its text only")
	}
	for _, shell := range []string{"zsh", "fish"} {
		code, out, _ := do(nil, "completion", shell)
		if code != 0 {
			t.Fatalf("completion %s: exit %d", shell, code)
		}
		for _, cmd := range commandNames() {
			if !strings.Contains(out, cmd) {
				t.Errorf("%s completion lacks %s", shell, cmd)
			}
		}
		if bin, err := exec.LookPath(shell); err == nil {
			f := filepath.Join(t.TempDir(), "c")
			_ = os.WriteFile(f, []byte(out), 0o600)
			if out, err := exec.Command(bin, "-n", f).CombinedOutput(); err != nil {
				t.Errorf("%s -n: %v\n%s", shell, err, out)
			}
		}
	}
	if code, _, _ := do(nil, "completion", "tcsh"); code != 2 {
		t.Errorf("completion tcsh: exit %d, want 2", code)
	}
}

// TestReloadOnSIGHUP: the daemon reloads its configuration on SIGHUP; a
// broken file is reported and the running configuration stays.
func TestReloadOnSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	clk := sandbox.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	sim, url := startJira(t, clk)
	sim.Add(jirasim.Generate("EHR", 40, 9, clk.Now())...)
	dir := t.TempDir()
	path := writeConfig(t, dir, url, filepath.Join(dir, "pmsync.db"))
	original, _ := os.ReadFile(path)
	cmd := exec.Command(os.Args[0], "run", "--config", path)
	cmd.Env = append(os.Environ(), "PMSYNC_TEST_AS_MAIN=1", "JIRA_EMAIL="+email, "JIRA_TOKEN="+token, "PMSYNC_HTTP_LISTEN=127.0.0.1:0", "PMSYNC_LOG_FORMAT=json")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "dashboard on http://") {
		t.Fatalf("first line %q (%v); logs:\n%s", line, err, logs.String())
	}
	base := strings.TrimSuffix(strings.Fields(line)[2], "/")
	rollupHas := func(s string) bool {
		resp, err := http.Get(base + "/api/v1/rollup")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), s)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if ok() {
				return
			}
		}
		t.Fatalf("timed out waiting for %s; logs:\n%s", what, logs.String())
	}
	waitFor("the startup sync", func() bool { return rollupHas(`"live": 40`) })

	renamed := strings.Replace(string(original), "name: EHR Upgrade", "name: EHR Upgrade Phase 2", 1)
	if err := os.WriteFile(path, []byte(renamed), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Signal(syscall.SIGHUP)
	waitFor("the reload", func() bool { return rollupHas(`"name": "EHR Upgrade Phase 2"`) })
	if !strings.Contains(logs.String(), `"message":"configuration reloaded"`) {
		t.Errorf("no reload line in the logs:\n%s", logs.String())
	}

	broken := strings.Replace(renamed, "timezone: UTC", "timezone: UTC\nschedul: { sync: \"@hourly\" }", 1)
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Signal(syscall.SIGHUP)
	waitFor("the failed reload", func() bool { return strings.Contains(logs.String(), "configuration reload failed") })
	if !strings.Contains(logs.String(), `schedul: unknown key; did you mean \"schedule\"?`) {
		t.Errorf("the failed reload does not say what is wrong:\n%s", logs.String())
	}
	if !rollupHas(`"name": "EHR Upgrade Phase 2"`) {
		t.Errorf("the running configuration did not stay after a failed reload")
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("run after SIGTERM: %v\n%s", err, logs.String())
	}
}

// TestDemoServeMetrics: /metrics of demo --serve has the build info, the
// quarantine gauge and the Go and process collectors.
func TestDemoServeMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	cmd := exec.Command(os.Args[0], "demo", "--serve", "--listen", "127.0.0.1:0", "--format", "json")
	cmd.Env = append(os.Environ(), "PMSYNC_TEST_AS_MAIN=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	r := bufio.NewReader(stderr)
	base := ""
	for base == "" {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("no dashboard line on stderr: %v", err)
		}
		if strings.HasPrefix(line, "dashboard on http://") {
			base = strings.TrimSuffix(strings.Fields(line)[2], "/")
		}
	}
	go func() { _, _ = io.Copy(io.Discard, r) }()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"pmsync_build_info{", "go_goroutines ", "process_resident_memory_bytes ", `pmsync_quarantined_records{source="ehr-jira"} 0`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("demo --serve after SIGTERM: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Errorf("stdout of demo --serve --format json is not one document: %v\n%.300s", err, out.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestReadCommandsNeedADatabase: rollup and quarantine open the database
// read-only; one that does not exist is an error, not an empty rollup, and
// is not created.
func TestReadCommandsNeedADatabase(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "pmsync.db")
	path := writeConfig(t, dir, "https://acme.atlassian.net", db)
	for _, cmd := range []string{"rollup", "quarantine"} {
		code, out, errOut := do(nil, cmd, "--config", path)
		if code != 1 || !strings.Contains(errOut, "database does not exist") || out != "" {
			t.Errorf("%s without a database: exit %d\n%s%s", cmd, code, out, errOut)
		}
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("a read command created %s", db)
	}
}
