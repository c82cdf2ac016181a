package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
)

func rollupEnv() map[string]string {
	env := testEnv()
	env["SLACK_WEBHOOK_URL"] = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
	env["HOOK_SECRET"] = "hmac-secret-6e1f"
	env["PLAIN_HTTP_HOOK"] = "http://hooks.example.org/x"
	return env
}

func TestRollupKeys(t *testing.T) {
	cfg, err := Load("testdata/rollup.good.yml", testRegistry(), lookup(rollupEnv()))
	if err != nil {
		t.Fatal(err)
	}
	progs := cfg.ProgramList()
	if progs[0].Portfolio != "Clinical systems" || progs[0].Owner != "Dana Whitfield (CMIO)" || progs[1].Portfolio != "Clinical systems" || progs[1].Owner != "" {
		t.Errorf("programs = %+v", progs)
	}

	exprs := func(rs []pmsync.HealthRule) []string {
		if rs == nil {
			return nil
		}
		out := []string{}
		for _, r := range rs {
			out = append(out, r.Expr)
		}
		return out
	}
	// The top level's lists apply to pacs; ehr keeps the red list and has
	// no amber rules at all.
	for _, tc := range []struct {
		program    string
		red, amber []string
	}{
		{"pacs", []string{"milestones.late > 0", "budget.variance_points > 20"}, []string{"milestones.at_risk > 0", "sources.quarantined > 0"}},
		{"ehr", []string{"milestones.late > 0", "budget.variance_points > 20"}, []string{}},
	} {
		r := cfg.RulesFor(tc.program)
		if diff := cmp.Diff(tc.red, exprs(r.Health.Red)); diff != "" {
			t.Errorf("%s red (-want +got):\n%s", tc.program, diff)
		}
		if diff := cmp.Diff(tc.amber, exprs(r.Health.Amber)); diff != "" {
			t.Errorf("%s amber (-want +got):\n%s", tc.program, diff)
		}
		if r.DueSoonDays != 10 {
			t.Errorf("%s due_soon_days = %d", tc.program, r.DueSoonDays)
		}
	}
	// A config without health rules keeps the defaults (nil lists).
	plain, err := Load("testdata/minimal.good.yml", testRegistry(), lookup(testEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if r := plain.RulesFor("ehr"); r.Health.Red != nil || r.Health.Amber != nil {
		t.Errorf("default health rules = %+v, want nil lists", r.Health)
	}

	if len(cfg.Push) != 4 {
		t.Fatalf("push = %+v", cfg.Push)
	}
	slack, hub, md, csv := cfg.Push[0], cfg.Push[1], cfg.Push[2], cfg.Push[3]
	if slack.Key() != "webhook:SLACK_WEBHOOK_URL" || slack.Webhook.Format != "slack" || slack.Webhook.URL.Reveal() != "https://hooks.slack.com/services/T000/B000/XXXXSECRET" ||
		slack.Webhook.Secret != "" || !cmp.Equal(slack.Programs, []string{"ehr", "pacs"}) {
		t.Errorf("slack push = %+v %+v", slack, slack.Webhook)
	}
	if hub.Key() != "webhook:pmo-hub" || hub.Webhook.URL.Reveal() != "https://hooks.example.org/pmsync?sig=abc" || hub.Webhook.Secret.Reveal() != "hmac-secret-6e1f" ||
		hub.Webhook.Timeout.Seconds() != 20 || !cmp.Equal(hub.Programs, []string{"ehr"}) {
		t.Errorf("hub push = %+v %+v", hub, hub.Webhook)
	}
	if md.Key() != "file:testdata/out/rollup.md" || md.File.Format != "md" || csv.File.Format != "csv" {
		t.Errorf("file pushes = %+v %+v", md.File, csv.File)
	}
	// Secrets never print.
	for _, s := range []string{strings.Join([]string{slack.Webhook.URL.String(), hub.Webhook.Secret.String()}, " ")} {
		if strings.Contains(s, "SECRET") || strings.Contains(s, "hmac") {
			t.Errorf("a secret printed: %s", s)
		}
	}
}

func TestRollupKeyProblems(t *testing.T) {
	_, err := Load("testdata/rollup.bad.yml", testRegistry(), lookup(rollupEnv()))
	if err == nil {
		t.Fatal("loaded without error")
	}
	want := []string{
		`testdata/rollup.bad.yml:8: rules.health.red[1]: health rule "milestones.lat > 0": type pmsync.envMilestones has no field lat (1:12) (rules read the figures of the rollup document such as milestones.late or budget.variance_points and rules.*)`,
		`testdata/rollup.bad.yml:9: rules.health.amber[0]: health rule "budget.burn_percent + 1": expected bool, but got float64 (rules read the figures of the rollup document such as milestones.late or budget.variance_points and rules.*)`,
		`testdata/rollup.bad.yml:13: programs[0].rules.health.red[0]: health rule "risks.red_flags >": unexpected token EOF (1:17) (rules read the figures of the rollup document such as milestones.late or budget.variance_points and rules.*)`,
		`testdata/rollup.bad.yml:17: push[0].webhook.format: "discord" is not one of slack, teams, json`,
		`testdata/rollup.bad.yml:17: push[0].webhook.url_env: the webhook URL must use https (http is allowed for loopback hosts only)`,
		`testdata/rollup.bad.yml:18: push[1].webhook: url_env or url_file is required: a webhook URL often carries a token, so it is never written in the file`,
		`testdata/rollup.bad.yml:19: push[2].file.format: "xml" is not one of json, csv, md`,
		`testdata/rollup.bad.yml:19: push[2].file.path: directory testdata/no-such-dir does not exist`,
		`testdata/rollup.bad.yml:20: push[3]: give only one of connection, webhook and file`,
		`testdata/rollup.bad.yml:22: push[5]: pushes to the same target as push[4] (file:testdata/out/r.json); list the programs in one entry`,
	}
	got := strings.Split(err.Error(), "\n")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if strings.Contains(err.Error(), "hooks.example.org") {
		t.Error("a problem repeats the webhook URL")
	}
}
