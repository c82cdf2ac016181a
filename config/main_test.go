package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	_ "time/tzdata" // zone lookups must not depend on the test machine

	"github.com/pmsync/pmsync/connectors"
)

// TestMain registers connector kinds that stand in for the real ones, with
// checks simple enough to state in the test tables: the cfgtest-* kinds for
// most tests, and kinds named like the real vendors for the tests that need
// those names (Jira flavor, Smartsheet region, configs/example.yaml).
func TestMain(m *testing.M) {
	for _, s := range testKinds() {
		connectors.Register(s)
	}
	os.Exit(m.Run())
}

// testMapping is a default mapping every test kind ships.
const testMapping = `
kind: { value: task }
title: { path: title, required: true }
state: { path: state, map: { open: todo, closed: done }, default: todo }
`

func testKinds() []connectors.Spec {
	newConn := func(connectors.Params) (connectors.Connector, error) {
		return nil, errors.New("test kinds only take part in config validation")
	}
	jiraScope := func(s connectors.Scope) error {
		if (s.JQL == "") == (s.Project == "") {
			return errors.New("give exactly one of jql or project")
		}
		return nil
	}
	jiraTarget := func(t connectors.Target) error {
		if t.Issue == "" {
			return errors.New("issue is required")
		}
		return nil
	}
	jiraParams := func(p connectors.Params) error {
		if p.BaseURL == "" {
			return errors.New("base_url is required")
		}
		if p.Flavor == "cloud" && p.Credentials.Email == "" {
			return errors.New("jira cloud needs email_env or email_file")
		}
		return nil
	}
	project := func(s connectors.Scope) error {
		if s.Project == "" {
			return errors.New("project is required")
		}
		return nil
	}
	projectTarget := func(t connectors.Target) error {
		if t.Project == "" {
			return errors.New("project is required")
		}
		return nil
	}
	sheet := func(s connectors.Scope) error { return numeric("sheet", s.Sheet) }
	sheetTarget := func(t connectors.Target) error { return numeric("sheet", t.Sheet) }
	board := func(s connectors.Scope) error {
		if s.Board == "" {
			return errors.New("board is required")
		}
		return nil
	}
	spec := func(kind string, scope func(connectors.Scope) error, target func(connectors.Target) error, params func(connectors.Params) error, auth ...string) connectors.Spec {
		return connectors.Spec{
			Kind: kind, New: newConn, CheckScope: scope, CheckTarget: target, CheckParams: params, AuthKeys: auth,
			DefaultMapping: kind + "-default", DefaultMappingYAML: []byte(testMapping),
		}
	}
	pullOnly := spec("cfgtest-pullonly", board, nil, nil, "key", "token")
	pullOnly.DefaultMapping, pullOnly.DefaultMappingYAML = "", nil
	return []connectors.Spec{
		spec("cfgtest-jira", jiraScope, jiraTarget, jiraParams, "email?", "token"),
		spec("cfgtest-asana", project, projectTarget, nil, "token"),
		spec("cfgtest-sheet", sheet, sheetTarget, nil, "token"),
		pullOnly,
		spec("jira", jiraScope, jiraTarget, jiraParams, "email?", "token"),
		spec("asana", project, projectTarget, nil, "token"),
		spec("smartsheet", sheet, sheetTarget, nil, "token"),
	}
}

func numeric(key, v string) error {
	if v == "" || strings.Trim(v, "0123456789") != "" {
		return errors.New(key + " must be a numeric id")
	}
	return nil
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
