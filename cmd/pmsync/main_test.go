package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"github.com/pmsync/pmsync/sandbox"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync/sandbox/jirasim"
	"github.com/pmsync/pmsync/store"
	"github.com/pmsync/pmsync/store/sqlite"
)

// TestMain lets a test run this binary as the pmsync command: the crash
// test starts it as a child process and kills it.
func TestMain(m *testing.M) {
	if os.Getenv("PMSYNC_TEST_AS_MAIN") == "1" {
		os.Unsetenv("PMSYNC_TEST_AS_MAIN") // not a variable pmsync reads
		main()
	}
	os.Exit(m.Run())
}

const (
	email = "pmo-bot@example.org"
	token = "jira-token-Q9vLm2"
)

func startJira(t *testing.T, clk *sandbox.Clock) (*jirasim.Server, string) {
	t.Helper()
	sim := jirasim.New(jirasim.Options{Flavor: jirasim.Cloud, Email: email, Token: token, TimeZone: "Europe/Berlin", Now: clk.Now, MaxResults: 50})
	srv := sim.Start()
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

func writeConfig(t *testing.T, dir, url, db string) string {
	t.Helper()
	body := fmt.Sprintf(`database: %s
timezone: UTC
connections:
  - name: jira
    kind: jira
    base_url: %s
    flavor: cloud
    auth: { email_env: JIRA_EMAIL, token_env: JIRA_TOKEN }
programs:
  - id: ehr
    name: EHR Upgrade
    start: 2026-01-05
    end: 2026-12-18
    sources:
      - { name: ehr-jira, connection: jira, scope: { project: EHR } }
`, db, url)
	path := filepath.Join(dir, "pmsync.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestValidateReportsEveryMistakeWithFileAndLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.yaml")
	body := `database: pmsync.db
schedule: { sync: "every fifteen minutes" }
connections:
  - name: jira
    kind: jira
    base_url: http://jira.example.org
    auth: { email_env: JIRA_EMAIL, token_env: JIRA_TOKEN }
programs:
  - id: ehr
    name: EHR Upgrade
    sources:
      - { connection: jra, scope: { project: EHR } }
`
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"validate", "--config", path}, &stdout, &stderr, envOf(map[string]string{"JIRA_EMAIL": email, "JIRA_TOKEN": token}))
	if code != 1 {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", code, stderr.String())
	}
	// Three mistakes: the cron spec (line 2), plain http to a remote host
	// (line 6) and a source naming an unknown connection (line 12).
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if strings.HasPrefix(l, path+":") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 3 {
		t.Fatalf("got %d problem lines, want 3:\n%s", len(lines), stderr.String())
	}
	for i, want := range []string{path + ":2:", path + ":6:", path + ":12:"} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("problem %d = %q, want it at %s", i+1, lines[i], want)
		}
	}
}

func TestWrongTokenIsOneClearLineAndNeverLeaks(t *testing.T) {
	clk := sandbox.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	sim, url := startJira(t, clk)
	sim.Add(jirasim.Issue{Project: "EHR", Type: "Task", Summary: "Interface build", Status: "To Do", StatusCategory: "new"})
	dir := t.TempDir()
	db := filepath.Join(dir, "pmsync.db")
	path := writeConfig(t, dir, url, db)
	const wrong = "WRONG-token-7f3a9c1e"
	var stdout, stderr bytes.Buffer
	code := run([]string{"sync", "--config", path}, &stdout, &stderr, envOf(map[string]string{"JIRA_EMAIL": email, "JIRA_TOKEN": wrong}))
	if code == 0 {
		t.Fatalf("sync with a wrong token exited 0")
	}
	var errLines []string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.HasPrefix(l, "pmsync sync:") {
			errLines = append(errLines, l)
		}
	}
	if len(errLines) != 1 || !strings.Contains(errLines[0], "connection jira") || !strings.Contains(errLines[0], "401") {
		t.Errorf("want one line naming connection jira and HTTP 401, got:\n%s", stderr.String())
	}
	for name, text := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String()} {
		if strings.Contains(text, wrong) {
			t.Errorf("%s contains the token", name)
		}
	}
	for _, f := range []string{db, db + "-wal"} {
		b, err := os.ReadFile(f)
		if err == nil && bytes.Contains(b, []byte(wrong)) {
			t.Errorf("%s contains the token", f)
		}
	}
}

// TestKillNineConverges kills a sync subprocess with SIGKILL at several
// points of a full sync; after a final run the database must hold exactly
// what a clean full sync produces.
func TestKillNineConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	clk := sandbox.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	sim, url := startJira(t, clk)
	sim.Add(jirasim.Generate("EHR", 600, 3, clk.Now())...)
	// Slow every search page down so that kills land mid-run.
	sim.Inject(jirasim.Fault{Path: "/rest/api/3/search/jql", Delay: 15 * time.Millisecond, Times: 1 << 20})

	dir := t.TempDir()
	crashed := writeConfig(t, dir, url, filepath.Join(dir, "crashed.db"))
	vars := []string{"PMSYNC_TEST_AS_MAIN=1", "JIRA_EMAIL=" + email, "JIRA_TOKEN=" + token}

	searches := func() int { return searchCalls(sim) }
	partial := 0
	for i, killAfter := range []int{2, 4, 7, 3} {
		if i == 2 { // the source changes between crashes too
			clk.Advance(time.Hour)
			for _, is := range sim.Issues()[10:20] {
				_ = sim.Update(is.Key, func(x *jirasim.Issue) { x.Status, x.StatusCategory = "Done", "done" })
			}
		}
		sim.ResetCalls()
		cmd := exec.Command(os.Args[0], "sync", "--config", crashed)
		cmd.Env = append(os.Environ(), vars...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for searches() < killAfter && time.Now().Before(deadline) {
			time.Sleep(2 * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		live, _ := countItems(t, filepath.Join(dir, "crashed.db"))
		t.Logf("killed after %d search requests: %d items stored", killAfter, live)
		if live > 0 && live < 600 {
			partial++
		}
	}
	if partial == 0 {
		t.Fatalf("no kill landed mid-sync; the test proves nothing")
	}
	// Final uninterrupted run, then a clean full sync into a fresh database.
	for _, c := range []struct{ cfg string }{{crashed}, {writeConfig(t, t.TempDir(), url, filepath.Join(dir, "clean.db"))}} {
		var out, errb bytes.Buffer
		if code := run([]string{"sync", "--config", c.cfg}, &out, &errb, envOf(map[string]string{"JIRA_EMAIL": email, "JIRA_TOKEN": token})); code != 0 {
			t.Fatalf("sync exit %d: %s", code, errb.String())
		}
	}
	// The killed runs are closed as abandoned by the run after them.
	{
		db, err := sqlite.Open(context.Background(), filepath.Join(dir, "crashed.db"))
		if err != nil {
			t.Fatal(err)
		}
		runs, err := db.Runs(context.Background(), "ehr-jira", 0)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		abandoned := 0
		for _, r := range runs {
			switch r.Status {
			case store.RunAbandoned:
				abandoned++
			case store.RunRunning:
				t.Errorf("run %d is still marked running", r.ID)
			}
		}
		if abandoned != 4 {
			t.Errorf("%d runs abandoned, want the 4 killed ones", abandoned)
		}
	}
	read := func(name string) any {
		db, err := sqlite.Open(context.Background(), filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		items, err := db.Items(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return items
	}
	if diff := cmp.Diff(read("clean.db"), read("crashed.db")); diff != "" {
		t.Errorf("crashed-and-resumed database differs from a clean sync (-clean +crashed):\n%s", diff)
	}
}

func countItems(t *testing.T, path string) (int, int) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	live, deleted, err := db.CountItems(context.Background(), "ehr-jira")
	if err != nil {
		t.Fatal(err)
	}
	return live, deleted
}

// TestSIGTERMFinishesThePageAndExitsZero stops a sync with SIGTERM while a
// page is in flight: that page is stored, no further page is requested, the
// run is recorded as stopped and the process exits 0.
func TestSIGTERMFinishesThePageAndExitsZero(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	clk := sandbox.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	sim, url := startJira(t, clk)
	sim.Add(jirasim.Generate("EHR", 600, 5, clk.Now())...)
	// Each page takes 300ms to answer, so the signal lands while one is in flight.
	sim.Inject(jirasim.Fault{Path: "/rest/api/3/search/jql", Delay: 300 * time.Millisecond, Times: 1 << 20})
	dir := t.TempDir()
	path := writeConfig(t, dir, url, filepath.Join(dir, "pmsync.db"))
	cmd := exec.Command(os.Args[0], "sync", "--config", path)
	cmd.Env = append(os.Environ(), "PMSYNC_TEST_AS_MAIN=1", "JIRA_EMAIL="+email, "JIRA_TOKEN="+token)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	searches := func() int { return searchCalls(sim) }
	deadline := time.Now().Add(20 * time.Second)
	for searches() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the third page is now in flight
	inFlight := searches()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if err != nil {
		t.Fatalf("sync after SIGTERM: %v\n%s", err, out.String())
	}
	if after := searches(); after != inFlight {
		t.Errorf("%d search requests after SIGTERM; the sync should stop after the page in flight", after-inFlight)
	}
	live, _ := countItems(t, filepath.Join(dir, "pmsync.db"))
	if live != 50*inFlight {
		t.Errorf("%d items stored, want %d: every requested page (50 issues each) including the one in flight", live, 50*inFlight)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "pmsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	runs, err := db.Runs(context.Background(), "ehr-jira", 1)
	if err != nil || len(runs) != 1 || runs[0].Status != "stopped" {
		t.Errorf("last run %+v (%v), want status stopped", runs, err)
	}
}

// TestRunServesAndStopsOnSIGTERM runs the daemon: it syncs at start, serves
// the rollup over HTTP and exits 0 on SIGTERM.
func TestRunServesAndStopsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	clk := sandbox.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	sim, url := startJira(t, clk)
	sim.Add(jirasim.Generate("EHR", 120, 9, clk.Now())...)
	dir := t.TempDir()
	path := writeConfig(t, dir, url, filepath.Join(dir, "pmsync.db"))
	cmd := exec.Command(os.Args[0], "run", "--config", path)
	cmd.Env = append(os.Environ(), "PMSYNC_TEST_AS_MAIN=1", "JIRA_EMAIL="+email, "JIRA_TOKEN="+token, "PMSYNC_HTTP_LISTEN=127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "dashboard on http://") {
		t.Fatalf("first line %q (%v); logs:\n%s", line, err, logs.String())
	}
	base := strings.TrimSuffix(strings.Fields(line)[2], "/")
	get := func(p string) (int, string) {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d", code)
	}
	// The dashboard answers at once; the startup sync fills it.
	var code int
	var body string
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if code, body = get("/api/v1/rollup"); strings.Contains(body, `"live": 120`) {
			break
		}
	}
	if code != 200 || !strings.Contains(body, `"schema": "pmsync.rollup/v1"`) || !strings.Contains(body, `"live": 120`) {
		t.Errorf("/api/v1/rollup = %d:\n%.600s", code, body)
	}
	if code, body := get("/"); code != 200 || !strings.Contains(body, "EHR Upgrade") {
		t.Errorf("dashboard = %d:\n%.300s", code, body)
	}
	// The run is counted when it is recorded as finished, a moment after
	// its last page is visible.
	host, _ := os.Hostname()
	want := `pmsync_sync_runs_total{replica="` + host + `",source="ehr-jira",status="ok"} 1`
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if code, body = get("/metrics"); strings.Contains(body, want) {
			break
		}
	}
	if code != 200 || !strings.Contains(body, want) {
		t.Errorf("/metrics = %d, missing the startup run", code)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("run after SIGTERM: %v\n%s", err, logs.String())
	}
}

// TestQuarantineKeepsTheStoredItemAndIsListed: an issue that stops mapping
// is quarantined with its reason, its stored item stays as it was, and both
// `pmsync quarantine` and the rollup show it.
func TestQuarantineKeepsTheStoredItemAndIsListed(t *testing.T) {
	clk := sandbox.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	sim, url := startJira(t, clk)
	keys := sim.Add(jirasim.Issue{Project: "EHR", Type: "Task", Summary: "Order sets build", Status: "In Progress", StatusCategory: "indeterminate",
		Created: clk.Now().Add(-time.Hour), Updated: clk.Now().Add(-time.Hour)})
	dir := t.TempDir()
	path := writeConfig(t, dir, url, filepath.Join(dir, "pmsync.db"))
	env := envOf(map[string]string{"JIRA_EMAIL": email, "JIRA_TOKEN": token})
	do := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(append(args, "--config", path), &out, &errb, env); code != 0 {
			t.Fatalf("pmsync %v: exit %d\n%s", args, code, errb.String())
		}
		return out.String()
	}
	do("sync")
	clk.Advance(time.Hour)
	if err := sim.Update(keys[0], func(i *jirasim.Issue) { i.Summary = "" }); err != nil {
		t.Fatal(err)
	}
	if out := do("sync"); !strings.Contains(out, "ehr-jira") {
		t.Fatalf("sync output:\n%s", out)
	}
	out := do("quarantine")
	if !strings.Contains(out, "title") || !strings.Contains(out, "1 record(s) quarantined") {
		t.Errorf("quarantine listing lacks the record or its reason:\n%s", out)
	}
	// Read-only commands need no vendor credentials.
	var out2, errb2 bytes.Buffer
	if code := run([]string{"rollup", "--config", path}, &out2, &errb2, envOf(nil)); code != 0 || !strings.Contains(out2.String(), "EHR Upgrade") {
		t.Errorf("rollup without credentials: exit %d\n%s%s", code, out2.String(), errb2.String())
	}
	if code := run([]string{"sync", "--config", path}, &out2, &errb2, envOf(nil)); code != 1 {
		t.Errorf("sync without credentials: exit %d, want 1", code)
	}
	rollup := do("rollup", "--format", "json")
	if !strings.Contains(rollup, `"quarantined": 1`) || !strings.Contains(rollup, `"live": 1`) {
		t.Errorf("rollup should still count the stored item and show 1 quarantined:\n%s", rollup)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "pmsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	issue, _ := sim.Issue(keys[0])
	it, ok, err := db.Item(context.Background(), "ehr-jira", issue.ID)
	if err != nil || !ok || it.Title != "Order sets build" {
		t.Errorf("stored item %+v (%v, %v): the last good version must stay", it, ok, err)
	}
}

// TestValidateProbeReportsUnmappedValues: --probe checks the credentials,
// maps a sample and names the values no rule covers, in a stable order; a
// value that falls to its rule's default is covered and not reported.
func TestValidateProbeReportsUnmappedValues(t *testing.T) {
	clk := sandbox.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	sim, url := startJira(t, clk)
	sim.Add(
		jirasim.Issue{Project: "EHR", Type: "Task", Summary: "Interface testing", Status: "QA Review", StatusCategory: "indeterminate", Priority: "Medium"},
		jirasim.Issue{Project: "EHR", Type: "Task", Summary: "Order sets", Status: "To Do", StatusCategory: "new", Priority: "Medium"},
		jirasim.Issue{Project: "EHR", Type: "Milestone", Summary: "Go-live", Status: "To Do", StatusCategory: "new", Priority: "Low"},
	)
	dir := t.TempDir()
	path := writeConfig(t, dir, url, filepath.Join(dir, "pmsync.db"))
	body, _ := os.ReadFile(path)
	custom := strings.Replace(string(body), "scope: { project: EHR } }", "scope: { project: EHR }, mapping: strict }", 1) +
		"mappings:\n  strict:\n    extends: jira-default\n" +
		"    state: { path: fields.status.name, map: { To Do: todo, In Progress: in_progress, Done: done }, default: todo }\n" +
		"    priority: { path: fields.priority.name, map: { High: P1 } }\n"
	if err := os.WriteFile(path, []byte(custom), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"validate", "--probe", "--config", path}, &out, &errb, envOf(map[string]string{"JIRA_EMAIL": email, "JIRA_TOKEN": token}))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errb.String())
	}
	want := path + ": ok (1 connections, 1 programs, 1 sources)\n" +
		"source ehr-jira: 3 sample records, 3 mapped with strict\n" +
		"  redacted values: ssn 0, mrn 0, dob 0, email 0, phone 0\n" +
		"  unmapped value priority \"Medium\" (2 records): add it to the mapping's map\n" +
		"  unmapped value priority \"Low\" (1 records): add it to the mapping's map\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("probe output (-want +got):\n%s", diff)
	}
	// A wrong token fails the probe with the connection and the status.
	out.Reset()
	errb.Reset()
	code = run([]string{"validate", "--probe", "--config", path}, &out, &errb, envOf(map[string]string{"JIRA_EMAIL": email, "JIRA_TOKEN": "nope-123456"}))
	if code != 1 || !strings.Contains(errb.String(), "jira") || !strings.Contains(errb.String(), "401") {
		t.Errorf("probe with a wrong token: exit %d\n%s", code, errb.String())
	}
}

// searchCalls counts the search requests the fake Jira received.
func searchCalls(sim *jirasim.Server) int {
	n := 0
	for _, c := range sim.Calls() {
		if strings.Contains(c.Path, "/search/jql") {
			n++
		}
	}
	return n
}
