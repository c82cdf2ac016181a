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

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/jirasim"
)

type rollupCLI struct {
	t    *testing.T
	path string
	env  func(string) (string, bool)
}

func (c rollupCLI) do(args ...string) string {
	c.t.Helper()
	var out, errb bytes.Buffer
	if code := run(append(args, "--config", c.path), &out, &errb, c.env); code != 0 {
		c.t.Fatalf("pmsync %v: exit %d\n%s%s", args, code, out.String(), errb.String())
	}
	return out.String()
}

func (c rollupCLI) fails(code int, args ...string) string {
	c.t.Helper()
	var out, errb bytes.Buffer
	if got := run(append(args, "--config", c.path), &out, &errb, c.env); got != code {
		c.t.Fatalf("pmsync %v: exit %d, want %d\n%s%s", args, got, code, out.String(), errb.String())
	}
	return errb.String()
}

// The engine runs on the wall clock here, so the simulator does too and
// the milestone is due years ahead.
func newCLI(t *testing.T, extra string) (rollupCLI, *jirasim.Server, *sandbox.Clock) {
	t.Helper()
	clk := sandbox.NewClock(time.Now().Add(-time.Hour))
	sim, url := startJira(t, clk)
	dir := t.TempDir()
	path := writeConfig(t, dir, url, filepath.Join(dir, "pmsync.db"))
	if extra != "" {
		b, _ := os.ReadFile(path)
		if err := os.WriteFile(path, append(b, []byte(strings.ReplaceAll(extra, "DIR", dir))...), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return rollupCLI{t: t, path: path, env: envOf(map[string]string{"JIRA_EMAIL": email, "JIRA_TOKEN": token})}, sim, clk
}

// A milestone's due date moves later between two syncs; `pmsync rollup`
// shows the slip with its days in the table and in the JSON document.
func TestSlipInTheCLI(t *testing.T) {
	c, sim, clk := newCLI(t, "")
	now := clk.Now()
	keys := sim.Add(
		jirasim.Issue{Project: "EHR", Type: "Milestone", Summary: "Go-live", Status: "To Do", Due: "2030-07-15", Created: now, Updated: now},
		jirasim.Issue{Project: "EHR", Type: "Task", Summary: "Cutover plan", Status: "To Do", Created: now, Updated: now},
	)
	c.do("sync")
	if out := c.do("rollup"); strings.Contains(out, "slipped: Go-live") {
		t.Fatalf("a slip before the date moved:\n%s", out)
	}
	clk.Advance(time.Minute)
	if err := sim.Update(keys[0], func(is *jirasim.Issue) { is.Due = "2030-08-05" }); err != nil {
		t.Fatal(err)
	}
	c.do("sync")
	table := c.do("rollup")
	// 2030-07-15 → 2030-08-05: 21 days.
	for _, want := range []string{
		"slipped: Go-live +21 days (baseline 2030-07-15, due 2030-08-05, 1 later move)",
		"1 slipped (21 days)",
		"next: 2030-08-05 Go-live [on track]",
		"slipped 21 days from 2030-07-15",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("rollup table lacks %q:\n%s", want, table)
		}
	}
	var doc pmsync.Report
	if err := json.Unmarshal([]byte(c.do("rollup", "--format", "json")), &doc); err != nil {
		t.Fatal(err)
	}
	p := doc.Programs[0]
	if p.Milestones.Slipped != 1 || p.Milestones.SlipDays != 21 || len(p.Slips) != 1 || p.Slips[0].Days != 21 ||
		p.Slips[0].Baseline != "2030-07-15" || len(p.Slips[0].Moves) != 1 || p.Slips[0].Moves[0].Days != 21 {
		t.Errorf("JSON: milestones %+v slips %+v", p.Milestones, p.Slips)
	}
	// The explanation names it, with its link.
	ex := c.do("rollup", "--explain", "--program", "ehr")
	if !strings.Contains(ex, "milestones.slipped = 1") || !strings.Contains(ex, "baseline 2030-07-15, due 2030-08-05: 21 days later") || !strings.Contains(ex, "/browse/"+keys[0]) {
		t.Errorf("explain output:\n%s", ex)
	}
}

func TestRollupFlags(t *testing.T) {
	c, sim, clk := newCLI(t, "")
	now := clk.Now()
	sim.Add(jirasim.Issue{Project: "EHR", Type: "Task", Summary: "Build", Status: "To Do", Created: now, Updated: now})
	c.do("sync")
	today := pmsync.DateOf(time.Now().In(time.UTC))

	var doc pmsync.Report
	if err := json.Unmarshal([]byte(c.do("rollup", "--format", "json", "--since", "2w")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Programs[0].Trend.Since != today.AddDays(-14) || doc.Portfolio.Trend.Since != today.AddDays(-14) {
		t.Errorf("--since 2w: trend since %s / %s, want %s", doc.Programs[0].Trend.Since, doc.Portfolio.Trend.Since, today.AddDays(-14))
	}
	doc = pmsync.Report{}
	if err := json.Unmarshal([]byte(c.do("rollup", "--format", "json", "--since", string(today.AddDays(-10)), "--changes-since", "3d")), &doc); err != nil {
		t.Fatal(err)
	}
	cs := doc.Programs[0].ChangesSince
	if doc.Programs[0].Trend.Since != today.AddDays(-10) || cs == nil || cs.Since != today.AddDays(-3) || cs.From != nil {
		t.Errorf("--since DATE --changes-since 3d: trend since %s, changes since %+v", doc.Programs[0].Trend.Since, cs)
	}
	if out := c.do("rollup", "--changes-since", "3d"); !strings.Contains(out, fmt.Sprintf("changed since %s: unknown (no rollup on or before that day)", today.AddDays(-3))) {
		t.Errorf("table without a rollup that old:\n%s", out)
	}
	for _, bad := range [][]string{{"--since", "soon"}, {"--since", "-3d"}, {"--changes-since", "2099-01-01"}} {
		if msg := c.fails(2, append([]string{"rollup"}, bad...)...); !strings.Contains(msg, bad[0]) {
			t.Errorf("%v: %s", bad, msg)
		}
	}
	var ex pmsync.ExplainReport
	if err := json.Unmarshal([]byte(c.do("rollup", "--explain", "--format", "json")), &ex); err != nil || ex.Schema != pmsync.ExplainSchema || len(ex.Programs) != 1 {
		t.Fatalf("explain json: %v %+v", err, ex)
	}
	for _, f := range ex.Programs[0].Figures {
		if f.Name == "progress.total" && (len(f.Items) != 1 || f.Items[0].Title != "Build" || f.Items[0].Kind != pmsync.KindTask) {
			t.Errorf("progress.total items: %+v", f.Items)
		}
	}
}

// `push --dry-run` prints exactly what each target would receive and
// writes nothing; after a push, it names the targets already up to date.
func TestPushDryRunShowsPayloadsAndUnchangedTargets(t *testing.T) {
	c, sim, clk := newCLI(t, `push:
  - file: { path: DIR/rollup.md }
  - file: { path: DIR/rollup.json }
`)
	now := clk.Now()
	keys := sim.Add(jirasim.Issue{Project: "EHR", Type: "Task", Summary: "Build", Status: "To Do", Created: now, Updated: now})
	// The tool's own target too: a comment on that issue.
	b, _ := os.ReadFile(c.path)
	if err := os.WriteFile(c.path, append(b, []byte("  - { connection: jira, target: { issue: "+keys[0]+" } }\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	c.do("sync")
	dir := filepath.Dir(c.path)
	// A dry run needs no vendor credential, and still shows the comment.
	var dryOut, dryErr bytes.Buffer
	if code := run([]string{"push", "--dry-run", "--config", c.path}, &dryOut, &dryErr, envOf(nil)); code != 0 {
		t.Fatalf("dry run without credentials: exit %d\n%s", code, dryErr.String())
	}
	out := dryOut.String()
	if !strings.Contains(out, "=== file:"+dir+"/rollup.md: report version") || !strings.Contains(out, "write "+dir+"/rollup.md\n# Portfolio rollup — ") ||
		!strings.Contains(out, `"schema": "pmsync.rollup/v1"`) || strings.Contains(out, "unchanged") ||
		!strings.Contains(out, "=== jira:issue="+keys[0]+": program ehr version") || !strings.Contains(out, "a comment on issue "+keys[0]) ||
		!strings.Contains(out, "*EHR Upgrade: ") {
		t.Errorf("dry run:\n%s", out)
	}
	if n := len(sim.Comments(keys[0])); n != 0 {
		t.Fatalf("the dry run commented %d times", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "rollup.md")); !os.IsNotExist(err) {
		t.Fatalf("the dry run wrote a file: %v", err)
	}
	c.do("push")
	md, err := os.ReadFile(filepath.Join(dir, "rollup.md"))
	if err != nil || !strings.Contains(out, string(md)) {
		t.Errorf("the file written is not what the dry run showed (%v)", err)
	}
	if n := len(sim.Comments(keys[0])); n != 1 {
		t.Errorf("the push commented %d times, want once", n)
	}
	out = c.do("push", "--dry-run")
	want := fmt.Sprintf("unchanged (already delivered): file:%s/rollup.json, file:%s/rollup.md, jira:issue=%s", dir, dir, keys[0])
	if !strings.Contains(out, want) || strings.Contains(out, "===") {
		t.Errorf("dry run after the push lacks %q:\n%s", want, out)
	}
}
