package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pmsync/pmsync/configs"
	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/pki"
)

// The recognisable fake secrets the test hands pmsync. Each is unique and
// appears nowhere in the code or the simulators' data, so finding one
// anywhere means it leaked.
var canaries = sandbox.Credentials{
	JiraEmail:       "canary-bot@canary.example",
	JiraToken:       "CANARY-jira-token-q8Xw2",
	AsanaToken:      "CANARY-asana-token-L3mp9",
	SmartsheetToken: "CANARY-sheet-token-V7nz4",
	TrelloKey:       "CANARY-trello-key-H2kd6",
	TrelloToken:     "CANARY-trello-token-R5tc1",
}

const (
	canaryHTTPToken   = "CANARY-http-token-Z9pq3"
	canaryWrongVendor = "CANARY-wrong-asana-token-M4bv8"
	canaryWrongHTTP   = "CANARY-wrong-http-token-K1xs0"
)

// secretForms lists every form in which a secret could leak: the raw
// values and the encoded header values built from them.
func secretForms() []string {
	c := canaries
	return []string{
		c.JiraToken, c.AsanaToken, c.SmartsheetToken, c.TrelloKey, c.TrelloToken,
		base64.StdEncoding.EncodeToString([]byte(c.JiraEmail + ":" + c.JiraToken)),
		canaryHTTPToken, canaryWrongVendor, canaryWrongHTTP,
	}
}

// scan records what the test looked at and every secret found in it.
type scan struct {
	t        *testing.T
	outputs  int // command outputs and log streams
	requests int // HTTP responses
	files    int
	bytes    int
	found    []string
}

func (s *scan) check(where string, data []byte) {
	s.bytes += len(data)
	for _, secret := range secretForms() {
		if bytes.Contains(data, []byte(secret)) {
			s.found = append(s.found, fmt.Sprintf("%s holds %q", where, secret))
		}
	}
}

// TestNoSecretLeaks runs every command, the daemon and its dashboard with
// recognisable fake credentials for all four tools and the dashboard
// token, including runs that fail on a wrong token, and looks for them in
// stdout, stderr (the logs, at debug level), every file pmsync wrote, the
// database, /metrics and every HTTP response the dashboard gave.
func TestNoSecretLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess and the simulators")
	}
	demo, err := sandbox.StartWith(time.Now(), canaries)
	if err != nil {
		t.Fatal(err)
	}
	defer demo.Close()
	dir := t.TempDir()
	ca, err := pki.NewCA("dashboard root")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "dashboard.pem"), filepath.Join(dir, "dashboard-key.pem")
	if err := leaf.WriteFiles(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	text, err := demo.Config(configs.Demo, filepath.Join(dir, "pmsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfgText := string(text)
	for from, to := range map[string]string{
		"log: { level: warn }": "log: { level: debug, format: json }\naudit: { keep_payloads: true }",
		`http: { listen: "127.0.0.1:8080" }`: fmt.Sprintf(`http: { listen: "127.0.0.1:0", auth_token_env: CANARY_HTTP_TOKEN, tls: { cert_file: %s, key_file: %s } }`,
			certFile, keyFile),
	} {
		if !strings.Contains(cfgText, from) {
			t.Fatalf("the demo configuration no longer has %q", from)
		}
		cfgText = strings.Replace(cfgText, from, to, 1)
	}
	path := filepath.Join(dir, "pmsync.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	env := maps.Clone(demo.Env)
	env["CANARY_HTTP_TOKEN"] = canaryHTTPToken
	wrong := maps.Clone(env)
	wrong["DEMO_ASANA_TOKEN"] = canaryWrongVendor

	s := &scan{t: t}
	// Every command, some several ways; a command missing here fails the
	// test, so that a new one is looked at too.
	runs := map[string][][]string{
		"sync":       {{"sync"}, {"sync", "--deletions"}, {"sync", "--full", "--source", "ehr-jira"}},
		"rollup":     {{"rollup"}, {"rollup", "--format", "json"}},
		"push":       {{"push", "--dry-run"}, {"push"}},
		"validate":   {{"validate"}, {"validate", "--probe"}},
		"quarantine": {{"quarantine"}},
		"audit":      {{"audit"}, {"audit", "--format", "json"}},
		"config":     {{"config"}},
		"init":       {{"init", "--output", filepath.Join(dir, "init", "pmsync.yaml")}, {"init", "--output", "-"}},
		"schema":     {{"schema"}},
		"demo":       {{"demo", "--log-level", "debug"}},
		"completion": {{"completion", "bash"}},
		"version":    {{"version"}},
		"help":       {{"help"}, {"help", "run"}},
		"run":        nil, // the daemon, below
	}
	if err := os.MkdirAll(filepath.Join(dir, "init"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range commandNames() {
		invocations, ok := runs[name]
		if !ok {
			t.Errorf("command %s is not run by this test; add it", name)
		}
		for _, args := range invocations {
			if name != "init" && name != "demo" && name != "completion" && name != "version" && name != "help" && name != "schema" {
				args = append(args, "--config", path)
			}
			code, out, errOut := do(env, args...)
			if code != 0 {
				t.Errorf("pmsync %v: exit %d\n%s", args, code, errOut)
			}
			s.outputs += 2
			s.check(fmt.Sprintf("stdout of %v", args), []byte(out))
			s.check(fmt.Sprintf("stderr of %v", args), []byte(errOut))
		}
	}
	// The tokens were used: the simulators answered every sync above.
	if len(demo.Jira.Calls()) == 0 || len(demo.Asana.Calls()) == 0 || len(demo.Smartsheet.Calls()) == 0 || len(demo.Trello.Requests()) == 0 {
		t.Fatal("a simulator saw no request: the credentials were not exercised")
	}
	// Failures print errors: a wrong token on the way in and on the way out.
	for _, args := range [][]string{{"sync", "--full"}, {"validate", "--probe"}, {"push"}} {
		args = append(args, "--config", path)
		code, out, errOut := do(wrong, args...)
		if code == 0 && args[0] != "push" {
			t.Errorf("pmsync %v with a wrong token exited 0", args)
		}
		s.outputs += 2
		s.check(fmt.Sprintf("stdout of %v with a wrong token", args), []byte(out))
		s.check(fmt.Sprintf("stderr of %v with a wrong token", args), []byte(errOut))
	}

	daemon(t, s, path, env, ca)

	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == keyFile {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s.files++
		s.check(p, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range s.found {
		t.Error(f)
	}
	t.Logf("looked at %d outputs and logs, %d HTTP responses and %d files (%d bytes) for %d secret forms: %d found",
		s.outputs, s.requests, s.files, s.bytes, len(secretForms()), len(s.found))
}

// daemon runs `pmsync run` over HTTPS, asks its dashboard everything it
// serves with the token, without it and with a wrong one, stops it and
// checks every answer and its logs.
func daemon(t *testing.T, s *scan, path string, env map[string]string, ca *pki.CA) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "run", "--config", path)
	cmd.Env = append(os.Environ(), "PMSYNC_TEST_AS_MAIN=1")
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
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
	r := bufio.NewReader(stdout)
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "dashboard on https://") {
		t.Fatalf("first line %q (%v); logs:\n%s", line, err, logs.String())
	}
	var rest bytes.Buffer
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&rest, r); close(copied) }()
	base := strings.TrimSuffix(strings.Fields(line)[2], "/")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	get := func(p, token string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+p, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		dump, err := httputil.DumpResponse(resp, true)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		s.requests++
		s.check(fmt.Sprintf("response to GET %s", p), dump)
		return resp.StatusCode, dump
	}
	// The startup sync of all four sources fills the rollup.
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, body := get("/api/v1/rollup", canaryHTTPToken)
		if bytes.Count(body, []byte(`"last_success": "`)) == 4 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the startup sync did not finish; logs:\n%s", logs.String())
		}
	}
	for _, tt := range []struct {
		path, token string
		want        int
	}{
		{"/", canaryHTTPToken, 200},
		{"/api/v1/rollup", canaryHTTPToken, 200},
		{"/metrics", canaryHTTPToken, 200},
		{"/healthz", "", 200},
		{"/readyz", "", 200},
		{"/nothing-here", canaryHTTPToken, 404},
		{"/", "", 401},
		{"/api/v1/rollup", "", 401},
		{"/metrics", "", 401},
		{"/api/v1/rollup", canaryWrongHTTP, 401},
		{"/metrics", canaryWrongHTTP, 401},
	} {
		if code, _ := get(tt.path, tt.token); code != tt.want {
			t.Errorf("GET %s (token %v): %d, want %d", tt.path, tt.token != "", code, tt.want)
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("run after SIGTERM: %v", err)
	}
	<-copied
	if !strings.Contains(logs.String(), `"level":"debug"`) {
		t.Errorf("the daemon logged nothing at debug level; the test would miss what only debug shows")
	}
	s.outputs += 2
	s.check("stdout of pmsync run", append([]byte(line), rest.Bytes()...))
	s.check("logs of pmsync run", []byte(logs.String()))
}
