package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// configs/example.yaml loads with the stand-in jira, asana and smartsheet
// kinds of TestMain, given the variables it names.
func TestExample(t *testing.T) {
	env := map[string]string{
		"JIRA_EMAIL":        "pmo@stmarys-health.org",
		"JIRA_API_TOKEN":    "cloud-token",
		"JIRA_DC_TOKEN":     "dc-token",
		"ASANA_TOKEN":       "asana-token",
		"SMARTSHEET_TOKEN":  "sheet-token",
		"PMSYNC_HTTP_TOKEN": "http-token",
	}
	cfg, err := Load("../configs/example.yaml", lookup(env))
	if err != nil {
		t.Fatal(err)
	}
	type conn struct{ Name, Kind, Flavor, Region string }
	var conns []conn
	for _, c := range cfg.Connections {
		conns = append(conns, conn{c.Name, c.Kind, c.Flavor, c.Region})
	}
	wantConns := []conn{
		{"jira", "jira", "cloud", ""},
		{"jira-dc", "jira", "datacenter", ""},
		{"asana", "asana", "", ""},
		{"smartsheet", "smartsheet", "", "us"},
	}
	if diff := cmp.Diff(wantConns, conns); diff != "" {
		t.Errorf("connections (-want +got):\n%s", diff)
	}

	type source struct{ Program, Name, Mapping, Connection string }
	var sources []source
	for _, s := range cfg.Sources() {
		sources = append(sources, source{s.Program, s.Name, s.Mapping, s.Connection.Name})
	}
	wantSources := []source{
		{"ehr-upgrade", "ehr-jira", "ehr-jira", "jira"},
		{"ehr-upgrade", "ehr-interfaces", "jira-default", "jira-dc"},
		{"telehealth-launch", "telehealth-launch/asana", "asana-default", "asana"},
		{"pacs-viewer", "pacs-sheet", "smartsheet-default", "smartsheet"},
	}
	if diff := cmp.Diff(wantSources, sources); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}

	var push [][]string
	for _, p := range cfg.Push {
		push = append(push, append([]string{p.Connection}, p.Programs...))
	}
	wantPush := [][]string{
		{"smartsheet", "ehr-upgrade", "telehealth-launch", "pacs-viewer"},
		{"asana", "telehealth-launch"},
		{"jira", "ehr-upgrade"},
	}
	if diff := cmp.Diff(wantPush, push); diff != "" {
		t.Errorf("push (-want +got):\n%s", diff)
	}
	if got := cfg.Push[0].Target.Sheet; got != "7395800218136452" {
		t.Errorf("rollup sheet = %q, want 7395800218136452", got)
	}
	if got := cfg.RulesFor("ehr-upgrade").DueSoonDays; got != 21 {
		t.Errorf("ehr-upgrade due_soon_days = %d, want 21", got)
	}
	if cfg.Mapping("ehr-jira") == nil {
		t.Error("mapping ehr-jira was not compiled")
	}
}
