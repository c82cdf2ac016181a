package config

import (
	"errors"
	"strings"
	_ "time/tzdata" // zone lookups must not depend on the test machine

	"github.com/pmsync/pmsync/config/yamlnode"
	"github.com/pmsync/pmsync/connectors"
)

// testRegistry holds connector kinds that stand in for real ones, with
// checks simple enough to state in the test tables. cfgtest-jira and
// cfgtest-sheet have options of their own (flavor, region), as real kinds
// do.
func testRegistry() *connectors.Registry {
	reg := connectors.NewRegistry()
	for _, s := range testKinds() {
		reg.Register(s)
	}
	return reg
}

// testMapping is a default mapping every test kind ships.
const testMapping = `
kind: { value: task }
title: { path: title, required: true }
state: { path: state, map: { open: todo, closed: done }, default: todo }
`

// Blocks of the test kinds.
type (
	jiraOptions struct {
		Flavor string `yaml:"flavor"`
	}
	sheetOptions struct {
		Region string `yaml:"region"`
	}
	jiraScope    struct{ JQL, Project string }
	projectScope struct{ Project string }
	sheetScope   struct{ Sheet string }
	boardScope   struct{ Board string }
	issueTarget  struct{ Issue string }
	sheetTarget  struct {
		Sheet   string
		Options map[string]string
	}
)

func testKinds() []connectors.Spec {
	newConn := func(connectors.Params) (connectors.Connector, error) {
		return nil, errors.New("test kinds only take part in config validation")
	}
	jiraOpts := func(b *yamlnode.Block) any {
		var o jiraOptions
		if b.Decode(&o) && o.Flavor != "" && o.Flavor != "cloud" && o.Flavor != "datacenter" {
			b.Errorf("flavor", "%q is not one of cloud, datacenter", o.Flavor)
		}
		return o
	}
	sheetOpts := func(b *yamlnode.Block) any {
		var o sheetOptions
		if b.Decode(&o) && o.Region != "" && o.Region != "us" && o.Region != "eu" {
			b.Errorf("region", "%q is not one of us, eu", o.Region)
		}
		return o
	}
	jiraScopeOf := func(b *yamlnode.Block) any {
		var s jiraScope
		if b.Decode(&s) && (s.JQL == "") == (s.Project == "") {
			b.Errorf("", "give exactly one of jql or project")
		}
		return s
	}
	jiraTarget := func(b *yamlnode.Block) connectors.Target {
		var t issueTarget
		if b.Decode(&t) && t.Issue == "" {
			b.Errorf("", "issue is required")
		}
		return connectors.Target{Key: "issue=" + t.Issue, Config: t}
	}
	jiraParams := func(p connectors.Params) error {
		if p.BaseURL == "" {
			return errors.New("base_url is required")
		}
		if connectors.Options[jiraOptions](p).Flavor == "cloud" && p.Credentials.Email == "" {
			return errors.New("jira cloud needs email_env or email_file")
		}
		return nil
	}
	project := func(b *yamlnode.Block) any {
		var s projectScope
		if b.Decode(&s) && s.Project == "" {
			b.Errorf("", "project is required")
		}
		return s
	}
	projectTarget := func(b *yamlnode.Block) connectors.Target {
		var t projectScope
		if b.Decode(&t) && t.Project == "" {
			b.Errorf("", "project is required")
		}
		return connectors.Target{Key: "project=" + t.Project, Config: t}
	}
	sheet := func(b *yamlnode.Block) any {
		var s sheetScope
		if b.Decode(&s) {
			numeric(b, "sheet", s.Sheet)
		}
		return s
	}
	sheetTargetOf := func(b *yamlnode.Block) connectors.Target {
		var t sheetTarget
		if b.Decode(&t) {
			numeric(b, "sheet", t.Sheet)
		}
		return connectors.Target{Key: "sheet=" + t.Sheet, Config: t}
	}
	board := func(b *yamlnode.Block) any {
		var s boardScope
		if b.Decode(&s) && s.Board == "" {
			b.Errorf("", "board is required")
		}
		return s
	}
	spec := func(kind string, scope func(*yamlnode.Block) any, target func(*yamlnode.Block) connectors.Target, params func(connectors.Params) error, auth ...string) connectors.Spec {
		return connectors.Spec{
			Kind: kind, New: newConn, Scope: scope, Target: target, CheckParams: params, AuthKeys: auth,
			DefaultMapping: kind + "-default", DefaultMappingYAML: []byte(testMapping),
		}
	}
	pullOnly := spec("cfgtest-pullonly", board, nil, nil, "key", "token")
	pullOnly.DefaultMapping, pullOnly.DefaultMappingYAML = "", nil
	jira := spec("cfgtest-jira", jiraScopeOf, jiraTarget, jiraParams, "email?", "token")
	jira.Options = jiraOpts
	sheets := spec("cfgtest-sheet", sheet, sheetTargetOf, nil, "token")
	sheets.Options = sheetOpts
	return []connectors.Spec{jira, spec("cfgtest-asana", project, projectTarget, nil, "token"), sheets, pullOnly}
}

func numeric(b *yamlnode.Block, key, v string) {
	if v == "" || strings.Trim(v, "0123456789") != "" {
		b.Errorf(key, "%s must be a numeric id", key)
	}
}

// testEnv is the environment most tests load with: every secret the test
// files name, and no overrides.
func testEnv() map[string]string {
	return map[string]string{
		"JIRA_EMAIL":        "pmo@example-hospital.org",
		"JIRA_API_TOKEN":    "jira-secret-7f3a",
		"ASANA_TOKEN":       "asana-secret-91bc",
		"SMARTSHEET_TOKEN":  "sheet-secret-55de",
		"TRELLO_KEY":        "trello-key-secret-0a1b",
		"TRELLO_TOKEN":      "trello-token-secret-2c3d",
		"PMSYNC_HTTP_TOKEN": "http-secret-c0ffee",
	}
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}
