package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/jirasim"
	"github.com/pmsync/pmsync/sandbox/pki"
)

// withPush writes the test config with a push of the rollup to issue key,
// and extra top-level YAML.
func withPush(t *testing.T, dir, url, key, extra string) string {
	t.Helper()
	path := writeConfig(t, dir, url, filepath.Join(dir, "pmsync.db"))
	body, _ := os.ReadFile(path)
	text := string(body) + "push:\n  - { connection: jira, target: { issue: " + key + " }, programs: [ehr] }\n" + extra
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAuditListsEveryDelivery: after a delivery and a failed attempt,
// `pmsync audit` lists both with the filters narrowing them, in a table
// and in JSON with the full hash; the payload only when configured.
func TestAuditListsEveryDelivery(t *testing.T) {
	clk := sandbox.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	sim, url := startJira(t, clk)
	sim.Add(jirasim.Issue{Project: "EHR", Type: "Task", Summary: "Interface build", Status: "To Do", StatusCategory: "new"})
	status := sim.Add(jirasim.Issue{Project: "PMO", Type: "Task", Summary: "Executive status", Status: "In Progress", StatusCategory: "indeterminate"})[0]
	dir := t.TempDir()
	path := withPush(t, dir, url, status, "audit: { keep_payloads: true }\n")
	env := map[string]string{"JIRA_EMAIL": email, "JIRA_TOKEN": token}
	for _, args := range [][]string{{"sync"}, {"push"}} {
		if code, out, errOut := do(env, append(args, "--config", path)...); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	// A second program version meets a failing server.
	for _, is := range sim.Issues() {
		if is.Project == "EHR" {
			_ = sim.Update(is.Key, func(i *jirasim.Issue) { i.Status, i.StatusCategory = "Done", "done" })
		}
	}
	clk.Advance(time.Hour)
	if code, _, errOut := do(env, "sync", "--config", path); code != 0 {
		t.Fatalf("sync: exit %d\n%s", code, errOut)
	}
	sim.Inject(jirasim.Fault{Method: "POST", Status: 503, Times: -1})
	if code, _, _ := do(env, "push", "--config", path); code == 0 {
		t.Fatal("push to a failing server exited 0")
	}

	// The audit needs no vendor credential.
	code, out, errOut := do(nil, "audit", "--config", path)
	if code != 0 {
		t.Fatalf("audit: exit %d\n%s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "AT (UTC)") || !strings.Contains(lines[3], "2 delivery outcome(s)") {
		t.Fatalf("audit table:\n%s", out)
	}
	target := "jira:issue=" + status
	if !strings.Contains(lines[1], target) || !strings.Contains(lines[1], " failed ") || !strings.Contains(lines[1], "503") {
		t.Errorf("newest entry is not the failure: %s", lines[1])
	}
	if !strings.Contains(lines[2], target) || !strings.Contains(lines[2], " delivered ") || !strings.Contains(lines[2], "/browse/"+status) {
		t.Errorf("older entry is not the delivery with its comment link: %s", lines[2])
	}

	code, out, errOut = do(nil, "audit", "--config", path, "--outcome", "delivered", "--format", "json")
	if code != 0 {
		t.Fatalf("audit --format json: exit %d\n%s", code, errOut)
	}
	var doc struct {
		Schema     string `json:"schema"`
		Deliveries []struct {
			Target  string          `json:"target"`
			Program string          `json:"program"`
			Outcome string          `json:"outcome"`
			Attempt int             `json:"attempt"`
			Hash    string          `json:"payload_sha256"`
			Payload json.RawMessage `json:"payload"`
		} `json:"deliveries"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("audit JSON: %v\n%s", err, out)
	}
	if doc.Schema != "pmsync.audit/v1" || len(doc.Deliveries) != 1 {
		t.Fatalf("audit JSON: %s", out)
	}
	d := doc.Deliveries[0]
	if d.Target != target || d.Program != "ehr" || d.Outcome != "delivered" || d.Attempt != 1 || len(d.Hash) != 64 {
		t.Errorf("delivery %+v", d)
	}
	if !bytes.Contains(d.Payload, []byte(`"id":"ehr"`)) && !bytes.Contains(d.Payload, []byte(`"id": "ehr"`)) {
		t.Errorf("kept payload is not the rollup: %.200s", d.Payload)
	}

	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	for _, tt := range []struct {
		args []string
		want int
	}{
		{[]string{"--program", "ehr"}, 2},
		{[]string{"--program", "pacs"}, 0},
		{[]string{"--target", target, "--outcome", "failed"}, 1},
		{[]string{"--connection", "jira"}, 2},
		{[]string{"--connection", "asana"}, 0},
		// The commands stamp entries with the wall clock.
		{[]string{"--since", tomorrow}, 0},
		{[]string{"--since", "1h"}, 2},
		{[]string{"--until", tomorrow}, 2},
		{[]string{"--until", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, 0},
		{[]string{"--limit", "1"}, 1},
	} {
		code, out, errOut := do(nil, append([]string{"audit", "--config", path, "--format", "json"}, tt.args...)...)
		if code != 0 {
			t.Errorf("audit %v: exit %d\n%s", tt.args, code, errOut)
			continue
		}
		_ = json.Unmarshal([]byte(out), &doc)
		if len(doc.Deliveries) != tt.want {
			t.Errorf("audit %v: %d entries, want %d", tt.args, len(doc.Deliveries), tt.want)
		}
	}
	for _, bad := range [][]string{{"--outcome", "lost"}, {"--since", "last week"}, {"--format", "csv"}, {"--limit", "-1"}} {
		if code, _, _ := do(nil, append([]string{"audit", "--config", path}, bad...)...); code != 2 {
			t.Errorf("audit %v: exit %d, want 2 (usage)", bad, code)
		}
	}
}

// TestProbeCountsRedactions: validate --probe names every redaction rule
// of the mapping with the number of sample values it changed.
func TestProbeCountsRedactions(t *testing.T) {
	clk := sandbox.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	sim, url := startJira(t, clk)
	sim.Add(
		jirasim.Issue{Project: "EHR", Type: "Task", Summary: "Allergy import for MRN 40012345", Status: "To Do", StatusCategory: "new", Labels: []string{"call-555-201-7788"}},
		jirasim.Issue{Project: "EHR", Type: "Task", Summary: "Send consent to jane.roe@mail.example, MRN 40012346", Status: "To Do", StatusCategory: "new"},
		jirasim.Issue{Project: "EHR", Type: "Task", Summary: "Badge BDG-004211 access", Status: "To Do", StatusCategory: "new"},
		jirasim.Issue{Project: "EHR", Type: "Task", Summary: "Order sets", Status: "To Do", StatusCategory: "new"},
	)
	dir := t.TempDir()
	path := writeConfig(t, dir, url, filepath.Join(dir, "pmsync.db"))
	body, _ := os.ReadFile(path)
	custom := strings.Replace(string(body), "scope: { project: EHR } }", "scope: { project: EHR }, mapping: ehr }", 1) +
		"mappings:\n  ehr:\n    extends: jira-default\n    redact: [builtin, { name: badge, pattern: 'BDG-\\d{6}' }]\n"
	if err := os.WriteFile(path, []byte(custom), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := do(map[string]string{"JIRA_EMAIL": email, "JIRA_TOKEN": token}, "validate", "--probe", "--config", path)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	// Counted by hand from the four summaries and one label above.
	want := "  redacted values: ssn 0, mrn 2, dob 0, email 1, phone 1, badge 1\n"
	if !strings.Contains(out, want) {
		t.Errorf("probe output lacks %q:\n%s", want, out)
	}
	if strings.Contains(out, "40012345") || strings.Contains(out, "jane.roe") {
		t.Errorf("the probe report quotes a redacted value:\n%s", out)
	}
}

// TestPlainDashboardBeyondLoopbackWarns: a listen address that reaches
// other machines without TLS says the token travels in clear text; a
// loopback one, or one with TLS, does not.
func TestPlainDashboardBeyondLoopbackWarns(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("dashboard root")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.WriteFiles(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")); err != nil {
		t.Fatal(err)
	}
	const clearText = "bearer token travels in clear text"
	for _, tt := range []struct {
		name, http string
		scheme     string
		warns      bool
	}{
		{"loopback", `{ listen: "127.0.0.1:0" }`, "http", false},
		{"every interface, plain", `{ listen: "0.0.0.0:0", auth_token_env: HTTP_TOKEN }`, "http", true},
		{"every interface, TLS", `{ listen: "0.0.0.0:0", auth_token_env: HTTP_TOKEN, tls: { cert_file: cert.pem, key_file: key.pem } }`, "https", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "pmsync.yaml")
			text := fmt.Sprintf("http: %s\nconnections:\n  - { name: jira, kind: jira, base_url: https://acme.atlassian.net, auth: { email_env: E, token_env: T } }\n"+
				"programs:\n  - id: ehr\n    sources:\n      - { connection: jira, scope: { project: EHR } }\n", tt.http)
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(path, connectors.Default, envOf(map[string]string{"E": email, "T": token, "HTTP_TOKEN": "dashboard-token-5e1f"}))
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			ln, scheme, err := listenDashboard(cfg, zerolog.New(&logs))
			if err != nil {
				t.Fatal(err)
			}
			ln.Close()
			if scheme != tt.scheme || strings.Contains(logs.String(), clearText) != tt.warns {
				t.Errorf("scheme %s, logs %q; want %s, warning %v", scheme, logs.String(), tt.scheme, tt.warns)
			}
		})
	}
}
