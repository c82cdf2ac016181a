package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/mapping"
)

func ptr[T any](v T) *T { return &v }

// problemsOf returns the problems in err as strings, failing the test when
// err is not a Problems.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error is %T (%v), want Problems", err, err)
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func TestBadFiles(t *testing.T) {
	allKinds := "cfgtest-asana, cfgtest-jira, cfgtest-pullonly, cfgtest-sheet"
	allMappings := "cfgtest-asana-default, cfgtest-jira-default, cfgtest-sheet-default"
	tests := []struct {
		file string
		want []string
	}{
		{"three-mistakes.bad.yml", []string{
			`testdata/three-mistakes.bad.yml:4: schedule.sync: invalid cron spec "0 */15 * * * *": expected exactly 5 fields, found 6: [0 */15 * * * *]`,
			`testdata/three-mistakes.bad.yml:10: connections[0].flavour: unknown key; did you mean "flavor"?`,
			`testdata/three-mistakes.bad.yml:15: programs[0].sources[0].connection: no connection named "jra" (connections: jira)`,
		}},
		{"literal-secret.bad.yml", []string{
			`testdata/literal-secret.bad.yml:5: connections[0].auth.token: unknown key; secrets are read from token_env or token_file`,
			`testdata/literal-secret.bad.yml:12: http.auth_token: unknown key; secrets are read from auth_token_env or auth_token_file`,
		}},
		{"types.bad.yml", []string{
			`testdata/types.bad.yml:2: sync.overlap: expected a duration such as 90s, 5m or 1h30m, got "soon"`,
			`testdata/types.bad.yml:4: rules.due_soon_days: expected a whole number, got "two weeks"`,
			`testdata/types.bad.yml:9: connections[0].timeout: expected a duration such as 90s, 5m or 1h30m, got "30"`,
			`testdata/types.bad.yml:12: programs[0]: expected a mapping, got "ehr-upgrade"`,
			`testdata/types.bad.yml:14: programs[1].budget.planned: expected a number, got "lots"`,
		}},
		{"http.bad.yml", []string{
			`testdata/http.bad.yml:2: http.listen: "0.0.0.0:8080" is not a loopback address: set auth_token_env or auth_token_file`,
			`testdata/http.bad.yml:3: http.refresh: 5s is shorter than 10s (0 turns the refresh off)`,
			`testdata/http.bad.yml:11: connections[1].base_url: must use https (http is allowed for loopback hosts only)`,
			`testdata/http.bad.yml:15: connections[2].base_url: must be an absolute URL such as https://example.atlassian.net`,
		}},
		{"values.bad.yml", []string{
			`testdata/values.bad.yml:1: database: must name a file or a PostgreSQL URL`,
			`testdata/values.bad.yml:2: timezone: unknown time zone Mars/Olympus_Mons`,
			`testdata/values.bad.yml:3: log.level: "verbose" is not one of debug, info, warn, error`,
			`testdata/values.bad.yml:6: schedule.rollup: invalid cron spec "0 25 * * *": end of range (25) above maximum (23): 25`,
			`testdata/values.bad.yml:7: schedule.deletions: invalid cron spec "61 * * * *": end of range (61) above maximum (59): 61`,
			`testdata/values.bad.yml:8: sync.overlap: must not be negative`,
			`testdata/values.bad.yml:8: sync.run_timeout: must be positive`,
			`testdata/values.bad.yml:8: sync.lease_ttl: must be at least 3s (it is renewed every third of its length)`,
			`testdata/values.bad.yml:8: sync.workers: 0 is outside 1..64`,
			`testdata/values.bad.yml:9: rules.red_flag_score: 30 is outside 1..25 (likelihood × impact)`,
			`testdata/values.bad.yml:9: rules.red_flags_for_red: must be at least 1`,
			`testdata/values.bad.yml:9: rules.variance_amber_points: variance_amber_points (20) must not exceed variance_red_points (15)`,
			`testdata/values.bad.yml:18: programs[0].end: 2026-01-31 is not after start 2026-02-01`,
			`testdata/values.bad.yml:19: programs[0].budget.planned: must not be negative`,
			`testdata/values.bad.yml:19: programs[0].budget.currency: "usd" is not a three-letter code such as USD`,
			`testdata/values.bad.yml:23: programs[1].start: "2026-13-01" is not a date in the form YYYY-MM-DD`,
			`testdata/values.bad.yml:24: programs[1].rules.variance_red_points: variance_amber_points (20) must not exceed variance_red_points (4)`,
		}},
		{"kinds.bad.yml", []string{
			`testdata/kinds.bad.yml:3: connections[0].kind: unknown connector kind "jiraa" (known: ` + allKinds + `)`,
			`testdata/kinds.bad.yml:8: connections[1].auth.email_env: not used by connector kind cfgtest-pullonly`,
			`testdata/kinds.bad.yml:9: connections[2].auth: token_env or token_file is required for connector kind cfgtest-asana`,
			`testdata/kinds.bad.yml:11: connections[2].region: unknown key; known keys: name, kind, base_url, timeout, rate_limit, auth, tls`,
			`testdata/kinds.bad.yml:12: connections[2].flavor: unknown key; known keys: name, kind, base_url, timeout, rate_limit, auth, tls`,
			`testdata/kinds.bad.yml:17: programs[0].sources[1]: connector kind cfgtest-pullonly has no default mapping; set mapping`,
			`testdata/kinds.bad.yml:18: programs[0].sources[2].mapping: no mapping named "asana-custom" (mappings: ` + allMappings + `)`,
			`testdata/kinds.bad.yml:20: push[0].connection: connector kind cfgtest-pullonly cannot be pushed to`,
			`testdata/kinds.bad.yml:21: push[1].target.sheet: unknown key; known keys: project`,
			`testdata/kinds.bad.yml:21: push[1].programs: must be "all" or a list of program ids`,
		}},
		{"refs.bad.yml", []string{
			`testdata/refs.bad.yml:6: connections[1].name: "jira" is already used on line 2`,
			`testdata/refs.bad.yml:9: connections[2].name: "Asana" may only contain a-z, 0-9, _ and -`,
			`testdata/refs.bad.yml:16: programs[0].sources[1]: source "ehr/jira" is already used on line 15; give sources of one program on one connection their own name`,
			`testdata/refs.bad.yml:17: programs[1].id: "ehr" is already used on line 13`,
			`testdata/refs.bad.yml:19: programs[1].sources[0].name: "EHR Jira" may only contain a-z, 0-9, _, - and /`,
			`testdata/refs.bad.yml:20: programs[2]: at least one source is required`,
			`testdata/refs.bad.yml:22: push[0].programs[2]: "ehr" is listed twice`,
			`testdata/refs.bad.yml:22: push[0].programs[3]: no program named "radiology" (programs: ehr, pacs)`,
			`testdata/refs.bad.yml:23: push[1]: connection is required (or webhook, or file)`,
		}},
		{"syntax.bad.yml", []string{
			`testdata/syntax.bad.yml:3:23: a second ": " in this value; quote the value`,
		}},
		{"duplicates.bad.yml", []string{
			`testdata/duplicates.bad.yml:4: connections[0].kind: duplicate key (first set on line 3)`,
			`testdata/duplicates.bad.yml:7: connections[1]: empty list item; expected a mapping`,
		}},
		{"root-duplicate.bad.yml", []string{
			// The decoder no longer gives up on a duplicate key, so the rest
			// of the file is checked too.
			`testdata/root-duplicate.bad.yml: programs: at least one program is required`,
			`testdata/root-duplicate.bad.yml:2: database: duplicate key (first set on line 1)`,
		}},
		{"typos.bad.yml", []string{
			`testdata/typos.bad.yml:6: connections[0].auht: unknown key; did you mean "auth"?`,
			`testdata/typos.bad.yml:9: programs[0].soruces: unknown key; did you mean "sources"?`,
		}},
		{"missing.bad.yml", []string{
			`testdata/missing.bad.yml:2: connections[0]: name is required`,
			`testdata/missing.bad.yml:2: connections[0]: kind is required (one of ` + allKinds + `)`,
			`testdata/missing.bad.yml:4: programs[0]: id is required`,
			`testdata/missing.bad.yml:6: programs[0].sources[0]: connection is required`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfg, err := Load(filepath.Join("testdata", tt.file), testRegistry(), lookup(testEnv()))
			if err == nil {
				t.Fatalf("loaded without error: %+v", cfg)
			}
			if diff := cmp.Diff(tt.want, problemsOf(t, err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if want := strings.Join(tt.want, "\n"); err.Error() != want {
				t.Errorf("Error() =\n%s\nwant\n%s", err, want)
			}
		})
	}
}

// Mapping problems are checked by place (line and key path) and by the
// gist of the message, whose wording belongs to the mapping package.
func TestMappingProblems(t *testing.T) {
	_, err := Load("testdata/mapping.bad.yml", testRegistry(), lookup(testEnv()))
	if err == nil {
		t.Fatal("loaded without error")
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error is %T, want Problems", err)
	}
	want := []struct {
		line int
		path string
		gist string
	}{
		{16, "mappings.ehr-jira.state.map", `"finished" for "Closed"`},
		{17, "mappings.ehr-jira.due.scale", "applies only to numbers"},
		{19, "mappings.ehr-jira.fields.team", "give exactly one of path, expr or value"},
		{21, "mappings.ehr-risks.extends", `unknown mapping "ehr-jra"`},
		{22, "mappings.cfgtest-jira-default", "is the default mapping of connector kind cfgtest-jira; choose another name and start it with extends: cfgtest-jira-default"},
		{24, "mappings.cfgtest-jira-default.title.colour", "unknown key; known keys: path, expr, value, map, default, required, scale, format"},
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for i, w := range want {
		p := ps[i]
		if p.File != "testdata/mapping.bad.yml" || p.Line != w.line || p.Path != w.path || !strings.Contains(p.Msg, w.gist) {
			t.Errorf("problem %d = %q, want line %d, path %s, message containing %q", i, p, w.line, w.path, w.gist)
		}
	}
}

func TestMinimal(t *testing.T) {
	cfg, err := Load("testdata/minimal.good.yml", testRegistry(), lookup(testEnv()))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		File:     "testdata/minimal.good.yml",
		Database: "testdata/pmsync.db",
		Log:      Log{Level: "info", Format: "auto"},
		HTTP:     HTTP{Listen: "127.0.0.1:8080"},
		Schedule: Schedule{Sync: "*/15 * * * *", Rollup: "0 7 * * 1-5", Deletions: "0 * * * *", Prune: "30 3 * * *"},
		Sync: Sync{Overlap: 5 * time.Minute, RunTimeout: 30 * time.Minute, LeaseTTL: 5 * time.Minute, Workers: 4,
			Breaker: Breaker{Failures: 3, Cooldown: 5 * time.Minute, MaxCooldown: time.Hour}},
		Retention: Retention{SyncRuns: 90 * 24 * time.Hour, ItemChanges: 730 * 24 * time.Hour, Snapshots: 730 * 24 * time.Hour,
			Outbox: 30 * 24 * time.Hour, DeletedItems: 365 * 24 * time.Hour, Audit: 2190 * 24 * time.Hour},
		Connections: []Connection{{
			Name: "jira", Kind: "cfgtest-jira", BaseURL: "https://acme.atlassian.net",
			Auth: Auth{TokenEnv: "JIRA_API_TOKEN"}, Options: jiraOptions{},
		}},
		Programs: []Program{{
			ID: "ehr", Name: "ehr",
			Sources: []Source{{Name: "ehr/jira", Connection: "jira", Scope: jiraScope{JQL: "project = EHR"}, Mapping: "cfgtest-jira-default"}},
		}},
	}
	if diff := cmp.Diff(want, cfg, cmpopts.IgnoreUnexported(Config{})); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if cfg.Location() != time.Local {
		t.Errorf("Location() = %v, want the system zone", cfg.Location())
	}
	if diff := cmp.Diff(pmsync.DefaultRules(), cfg.RulesFor("ehr")); diff != "" {
		t.Errorf("RulesFor (-want +got):\n%s", diff)
	}
	if cfg.HTTPToken() != "" {
		t.Error("HTTPToken is set though no token is configured")
	}
}

func TestFull(t *testing.T) {
	cfg, err := Load("testdata/full.good.yml", testRegistry(), lookup(testEnv()))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		File:     "testdata/full.good.yml",
		Database: "/var/lib/pmsync/pmsync.db",
		Timezone: "America/New_York",
		Log:      Log{Level: "debug", Format: "json"},
		HTTP:     HTTP{Listen: "0.0.0.0:8443", AuthTokenEnv: "PMSYNC_HTTP_TOKEN"},
		Schedule: Schedule{Sync: "@every 10m", Rollup: "30 6 * * 1-5", Deletions: "15 */2 * * *", Prune: "0 2 * * 0"},
		Sync: Sync{Overlap: 2 * time.Minute, RunTimeout: 45 * time.Minute, LeaseTTL: 90 * time.Second, Workers: 8,
			Breaker: Breaker{Failures: 5, Cooldown: 2 * time.Minute, MaxCooldown: 30 * time.Minute}},
		Retention: Retention{SyncRuns: 720 * time.Hour, ItemChanges: 0, Snapshots: 8760 * time.Hour,
			Outbox: 168 * time.Hour, DeletedItems: 2160 * time.Hour, Audit: 61320 * time.Hour},
		Rules: Rules{
			DueSoonDays: ptr(10), RedFlagScore: ptr(12), RedFlagsForRed: ptr(3),
			VarianceRedPoints: ptr(20.0), VarianceAmberPoints: ptr(8.0), StaleAfter: ptr(90 * time.Minute),
		},
		Connections: []Connection{
			{
				Name: "jira", Kind: "cfgtest-jira", BaseURL: "https://acme.atlassian.net", Options: jiraOptions{},
				Timeout: 45 * time.Second, RateLimit: RateLimit{PerMinute: 120, Burst: 5},
				Auth: Auth{EmailEnv: "JIRA_EMAIL", TokenEnv: "JIRA_API_TOKEN"},
			},
			{
				Name: "jira-dc", Kind: "cfgtest-jira", BaseURL: "https://jira.example-hospital.org", Options: jiraOptions{Flavor: "datacenter"},
				Auth: Auth{TokenFile: "secrets/jira-dc-token"},
			},
			{Name: "asana", Kind: "cfgtest-asana", Auth: Auth{TokenEnv: "ASANA_TOKEN"}},
			{Name: "sheets", Kind: "cfgtest-sheet", Options: sheetOptions{Region: "eu"}, Auth: Auth{TokenEnv: "SMARTSHEET_TOKEN"}},
			{Name: "sim", Kind: "cfgtest-sheet", BaseURL: "http://127.0.0.1:9", Options: sheetOptions{}, Auth: Auth{TokenEnv: "SMARTSHEET_TOKEN"}},
		},
		Programs: []Program{
			{
				ID: "ehr-upgrade", Name: "EHR Upgrade", Start: "2026-01-05", End: "2026-12-18",
				Budget: Budget{Planned: ptr(2500000.0), Currency: "USD"},
				Rules:  &Rules{DueSoonDays: ptr(21), VarianceAmberPoints: ptr(10.0)},
				Sources: []Source{
					{Name: "ehr-jira", Connection: "jira", Scope: jiraScope{JQL: "project = EHR"}, Mapping: "ehr-jira"},
					{Name: "ehr-upgrade/jira-dc", Connection: "jira-dc", Scope: jiraScope{Project: "EHRDC"}, Mapping: "cfgtest-jira-default"},
					{Name: "ehr-upgrade/sim", Connection: "sim", Scope: sheetScope{Sheet: "1234"}, Mapping: "cfgtest-sheet-default"},
				},
			},
			{
				ID: "telehealth", Name: "Telehealth Launch",
				Sources: []Source{
					{Name: "telehealth/asana", Connection: "asana", Scope: projectScope{Project: "1200000000000001"}, Mapping: "cfgtest-asana-default"},
					{Name: "telehealth/sheets", Connection: "sheets", Scope: sheetScope{Sheet: "4455667788"}, Mapping: "cfgtest-sheet-default"},
				},
			},
		},
		Mappings: map[string]mapping.Spec{
			"ehr-jira": {
				Extends: "cfgtest-jira-default",
				Owner:   &mapping.Rule{Path: "fields.reporter.displayName"},
				Fields:  map[string]*mapping.Rule{"team": {Path: `custom["Team"].value`}},
			},
		},
		Push: []Push{
			{Connection: "asana", Target: connectors.Target{Key: "project=1200000000000001", Config: projectScope{Project: "1200000000000001"}}, Programs: []string{"ehr-upgrade", "telehealth"}},
			{
				Connection: "sheets",
				Target: connectors.Target{Key: "sheet=9988", Config: sheetTarget{
					Sheet: "9988", Options: map[string]string{"health_column": "Health", "percent_column": "% Complete"},
				}},
				Programs: []string{"ehr-upgrade"},
			},
		},
	}
	if diff := cmp.Diff(want, cfg, cmpopts.IgnoreUnexported(Config{})); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}

	if got := cfg.Location().String(); got != "America/New_York" {
		t.Errorf("Location() = %s, want America/New_York", got)
	}
	if got := cfg.HTTPToken().Reveal(); got != "http-secret-c0ffee" {
		t.Errorf("HTTPToken() = %q, want the value of PMSYNC_HTTP_TOKEN", got)
	}

	rules := []struct {
		program string
		want    pmsync.Rules
	}{
		// top level over the defaults, then the program's two keys
		{"ehr-upgrade", pmsync.Rules{DueSoonDays: 21, RedFlagScore: 12, RedFlagsForRed: 3, VarianceRedPoints: 20, VarianceAmberPoint: 10, StaleAfter: 90 * time.Minute}},
		{"telehealth", pmsync.Rules{DueSoonDays: 10, RedFlagScore: 12, RedFlagsForRed: 3, VarianceRedPoints: 20, VarianceAmberPoint: 8, StaleAfter: 90 * time.Minute}},
	}
	for _, r := range rules {
		if diff := cmp.Diff(r.want, cfg.RulesFor(r.program)); diff != "" {
			t.Errorf("RulesFor(%s) (-want +got):\n%s", r.program, diff)
		}
	}

	params := []struct {
		conn string
		want connectors.Params
	}{
		{"jira", connectors.Params{
			Name: "jira", Kind: "cfgtest-jira", BaseURL: "https://acme.atlassian.net", Options: jiraOptions{},
			Credentials: connectors.Credentials{Email: "pmo@example-hospital.org", Token: "jira-secret-7f3a"},
			RateLimit:   connectors.RateLimit{PerMinute: 120, Burst: 5}, Timeout: 45 * time.Second,
			Overlap: 2 * time.Minute, // sync.overlap
		}},
		{"jira-dc", connectors.Params{
			Name: "jira-dc", Kind: "cfgtest-jira", BaseURL: "https://jira.example-hospital.org", Options: jiraOptions{Flavor: "datacenter"},
			Credentials: connectors.Credentials{Token: "dc-pat-value"}, Overlap: 2 * time.Minute,
		}},
		{"sheets", connectors.Params{
			Name: "sheets", Kind: "cfgtest-sheet", Options: sheetOptions{Region: "eu"},
			Credentials: connectors.Credentials{Token: "sheet-secret-55de"}, Overlap: 2 * time.Minute,
		}},
	}
	for _, p := range params {
		got, err := cfg.Params(p.conn)
		if err != nil {
			t.Errorf("Params(%s): %v", p.conn, err)
			continue
		}
		if diff := cmp.Diff(p.want, got, cmpopts.IgnoreFields(connectors.Params{}, "Log")); diff != "" {
			t.Errorf("Params(%s) (-want +got):\n%s", p.conn, diff)
		}
	}
	if _, err := cfg.Params("trello"); err == nil {
		t.Error("Params of an unknown connection: no error")
	}

	wantPrograms := []pmsync.Program{
		{ID: "ehr-upgrade", Name: "EHR Upgrade", Start: "2026-01-05", End: "2026-12-18", Budget: ptr(2500000.0), Currency: "USD",
			Sources: []string{"ehr-jira", "ehr-upgrade/jira-dc", "ehr-upgrade/sim"}},
		{ID: "telehealth", Name: "Telehealth Launch", Sources: []string{"telehealth/asana", "telehealth/sheets"}},
	}
	if diff := cmp.Diff(wantPrograms, cfg.ProgramList()); diff != "" {
		t.Errorf("ProgramList (-want +got):\n%s", diff)
	}

	var gotSources []string
	for _, s := range cfg.Sources() {
		gotSources = append(gotSources, fmt.Sprintf("%s %s %s %s %+v", s.Name, s.Program, s.Mapping, s.Connection.Name, s.Scope))
	}
	wantSources := []string{
		"ehr-jira ehr-upgrade ehr-jira jira {Source:ehr-jira Fields:[] Config:{JQL:project = EHR Project:} Prune:false Paths:[]}",
		"ehr-upgrade/jira-dc ehr-upgrade cfgtest-jira-default jira-dc {Source:ehr-upgrade/jira-dc Fields:[] Config:{JQL: Project:EHRDC} Prune:false Paths:[]}",
		"ehr-upgrade/sim ehr-upgrade cfgtest-sheet-default sim {Source:ehr-upgrade/sim Fields:[] Config:{Sheet:1234} Prune:false Paths:[]}",
		"telehealth/asana telehealth cfgtest-asana-default asana {Source:telehealth/asana Fields:[] Config:{Project:1200000000000001} Prune:false Paths:[]}",
		"telehealth/sheets telehealth cfgtest-sheet-default sheets {Source:telehealth/sheets Fields:[] Config:{Sheet:4455667788} Prune:false Paths:[]}",
	}
	if diff := cmp.Diff(wantSources, gotSources); diff != "" {
		t.Errorf("Sources (-want +got):\n%s", diff)
	}

	for _, name := range []string{"ehr-jira", "cfgtest-jira-default", "cfgtest-asana-default", "cfgtest-sheet-default"} {
		if s := cfg.Mapping(name); s == nil || s.Name() != name {
			t.Errorf("Mapping(%s) = %v, want the compiled set", name, s)
		}
	}
	if s := cfg.Mapping("nope"); s != nil {
		t.Errorf("Mapping(nope) = %v, want nil", s)
	}
}

// The mapping compiled at load does what the file says: ehr-jira takes the
// test kind's default and overrides owner.
func TestMappingCompiledFromFile(t *testing.T) {
	cfg, err := Load("testdata/full.good.yml", testRegistry(), lookup(testEnv()))
	if err != nil {
		t.Fatal(err)
	}
	rec := pmsync.Record{
		Source: "ehr-jira", ExternalID: "EHR-7", UpdatedAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
		Data: map[string]any{
			"title":  "Cut over pharmacy module",
			"state":  "closed",
			"fields": map[string]any{"reporter": map[string]any{"displayName": "Dana Whitfield"}},
			"custom": map[string]any{"Team": map[string]any{"value": "Pharmacy"}},
		},
	}
	it, err := cfg.Mapping("ehr-jira").Map(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := pmsync.Item{
		Source: "ehr-jira", ExternalID: "EHR-7", Kind: pmsync.KindTask, Title: "Cut over pharmacy module",
		Owner: "Dana Whitfield", State: pmsync.StateDone, UpdatedAt: rec.UpdatedAt,
		Fields: map[string]any{"team": "Pharmacy"},
	}
	if diff := cmp.Diff(want, it); diff != "" {
		t.Errorf("mapped item (-want +got):\n%s", diff)
	}
}

func TestEnvOverrides(t *testing.T) {
	env := testEnv()
	env["PMSYNC_DATABASE"] = "state/pmsync.db"
	env["PMSYNC_TIMEZONE"] = "Europe/Berlin"
	env["PMSYNC_HTTP_LISTEN"] = "127.0.0.1:9090"
	env["PMSYNC_LOG_LEVEL"] = "warn"
	env["PMSYNC_LOG_FORMAT"] = "console"
	env["PMSYNC_SCHEDULE_SYNC"] = "@every 5m"
	env["PMSYNC_SCHEDULE_ROLLUP"] = "0 6 * * *"
	env["PMSYNC_SCHEDULE_DELETIONS"] = "0 0 * * *"
	cfg, err := Load("testdata/full.good.yml", testRegistry(), lookup(env))
	if err != nil {
		t.Fatal(err)
	}
	got := []string{cfg.Database, cfg.Timezone, cfg.Location().String(), cfg.HTTP.Listen, cfg.Log.Level, cfg.Log.Format,
		cfg.Schedule.Sync, cfg.Schedule.Rollup, cfg.Schedule.Deletions}
	want := []string{"state/pmsync.db", "Europe/Berlin", "Europe/Berlin", "127.0.0.1:9090", "warn", "console",
		"@every 5m", "0 6 * * *", "0 0 * * *"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("overridden values (-want +got):\n%s", diff)
	}
}

func TestEnvOverrideProblems(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"bad zone", map[string]string{"PMSYNC_TIMEZONE": "Mars/Base"}, []string{
			`testdata/minimal.good.yml: timezone: unknown time zone Mars/Base (set by PMSYNC_TIMEZONE)`,
		}},
		{"bad cron", map[string]string{"PMSYNC_SCHEDULE_ROLLUP": "daily"}, []string{
			`testdata/minimal.good.yml: schedule.rollup: invalid cron spec "daily": expected exactly 5 fields, found 1: [daily] (set by PMSYNC_SCHEDULE_ROLLUP)`,
		}},
		{"public listen without token", map[string]string{"PMSYNC_HTTP_LISTEN": ":8080"}, []string{
			`testdata/minimal.good.yml: http.listen: ":8080" is not a loopback address: set auth_token_env or auth_token_file (set by PMSYNC_HTTP_LISTEN)`,
		}},
		{"bad level and format", map[string]string{"PMSYNC_LOG_LEVEL": "trace", "PMSYNC_LOG_FORMAT": "xml"}, []string{
			`testdata/minimal.good.yml: log.level: "trace" is not one of debug, info, warn, error (set by PMSYNC_LOG_LEVEL)`,
			`testdata/minimal.good.yml: log.format: "xml" is not one of auto, json, console (set by PMSYNC_LOG_FORMAT)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv()
			for k, v := range tt.env {
				env[k] = v
			}
			_, err := Load("testdata/minimal.good.yml", testRegistry(), lookup(env))
			if diff := cmp.Diff(tt.want, problemsOf(t, err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// An empty override is no override.
func TestEnvEmptyOverride(t *testing.T) {
	env := testEnv()
	env["PMSYNC_DATABASE"] = ""
	cfg, err := Load("testdata/minimal.good.yml", testRegistry(), lookup(env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database != "testdata/pmsync.db" {
		t.Errorf("Database = %q, want the file's default testdata/pmsync.db", cfg.Database)
	}
}

// writeConfig writes a config into a fresh directory and returns its path.
func writeConfig(t *testing.T, text string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "pmsync.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const secretsConfig = `connections:
  - name: jira
    kind: cfgtest-jira
    base_url: https://acme.atlassian.net
    auth: { %s }
programs:
  - id: ehr
    sources:
      - { connection: jira, scope: { jql: "project = EHR" } }
`

func TestSecrets(t *testing.T) {
	tests := []struct {
		name      string
		auth      string
		files     map[string]string
		env       map[string]string
		wantEmail string
		wantToken string
		problem   string // the message expected at line 5, path in it; "" for none
	}{
		{name: "env", auth: "email_env: E, token_env: T", env: map[string]string{"E": "a@b.org", "T": "tok-1"},
			wantEmail: "a@b.org", wantToken: "tok-1"},
		{name: "file with newline", auth: "token_file: token.txt", files: map[string]string{"token.txt": "tok-2\n"},
			wantToken: "tok-2"},
		{name: "file with CRLF", auth: "token_file: token.txt", files: map[string]string{"token.txt": "tok-3\r\n"},
			wantToken: "tok-3"},
		{name: "inner newline kept", auth: "token_file: token.txt", files: map[string]string{"token.txt": "line1\nline2\n"},
			wantToken: "line1\nline2"},
		{name: "optional email left out", auth: "token_env: T", env: map[string]string{"T": "tok-4"},
			wantToken: "tok-4"},
		{name: "env not set", auth: "token_env: NOPE",
			problem: "connections[0].auth.token_env: environment variable NOPE is not set"},
		{name: "env empty", auth: "token_env: T", env: map[string]string{"T": ""},
			problem: "connections[0].auth.token_env: environment variable T is empty"},
		{name: "file empty", auth: "token_file: token.txt", files: map[string]string{"token.txt": "\n"},
			problem: "connections[0].auth.token_file: secret file {dir}/token.txt is empty"},
		{name: "file missing", auth: "token_file: gone.txt",
			problem: "connections[0].auth.token_file: read secret file: open {dir}/gone.txt: no such file or directory"},
		{name: "both", auth: "token_env: T, token_file: token.txt", env: map[string]string{"T": "x"}, files: map[string]string{"token.txt": "y"},
			problem: "connections[0].auth.token_file: set token_env or token_file, not both"},
		{name: "none", auth: "email_env: E", env: map[string]string{"E": "a@b.org"},
			problem: "connections[0].auth: token_env or token_file is required for connector kind cfgtest-jira"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, fmt.Sprintf(secretsConfig, tt.auth), tt.files)
			cfg, err := Load(path, testRegistry(), lookup(tt.env))
			if tt.problem != "" {
				want := path + ":5: " + strings.ReplaceAll(tt.problem, "{dir}", filepath.Dir(path))
				if diff := cmp.Diff([]string{want}, problemsOf(t, err)); diff != "" {
					t.Errorf("problems (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p, err := cfg.Params("jira")
			if err != nil {
				t.Fatal(err)
			}
			if p.Credentials.Email.Reveal() != tt.wantEmail || p.Credentials.Token.Reveal() != tt.wantToken {
				t.Errorf("credentials = %q, %q; want %q, %q", p.Credentials.Email.Reveal(), p.Credentials.Token.Reveal(), tt.wantEmail, tt.wantToken)
			}
		})
	}
}

// Secret values appear neither when a config is printed nor in problems.
func TestSecretsDoNotLeak(t *testing.T) {
	env := testEnv()
	cfg, err := Load("testdata/full.good.yml", testRegistry(), lookup(env))
	if err != nil {
		t.Fatal(err)
	}
	values := []string{env["JIRA_EMAIL"], env["JIRA_API_TOKEN"], env["ASANA_TOKEN"], env["SMARTSHEET_TOKEN"], env["PMSYNC_HTTP_TOKEN"], "dc-pat-value"}
	for _, format := range []string{"%v", "%+v", "%#v"} {
		out := fmt.Sprintf(format, cfg)
		for _, s := range values {
			if strings.Contains(out, s) {
				t.Errorf("Sprintf(%q, cfg) shows secret %q", format, s)
			}
		}
	}
	p, err := cfg.Params("jira")
	if err != nil {
		t.Fatal(err)
	}
	if out := fmt.Sprintf("%+v", p); strings.Contains(out, env["JIRA_API_TOKEN"]) {
		t.Errorf("printed Params shows the token: %s", out)
	}

	// Problems about connections whose secrets were read.
	bad := writeConfig(t, fmt.Sprintf(secretsConfig, "email_env: JIRA_EMAIL, token_env: JIRA_API_TOKEN, key_env: TRELLO_KEY")+
		"http: { listen: '0.0.0.0:80', auth_token_env: PMSYNC_HTTP_TOKEN, auth_token_file: also }\n", nil)
	_, err = Load(bad, testRegistry(), lookup(env))
	if err == nil {
		t.Fatal("loaded without error")
	}
	for _, s := range append(values, env["TRELLO_KEY"]) {
		if strings.Contains(err.Error(), s) {
			t.Errorf("problems show secret %q:\n%v", s, err)
		}
	}
	if got := len(problemsOf(t, err)); got != 2 {
		t.Errorf("got %d problems, want 2 (key_env not used, both token keys):\n%v", got, err)
	}

	// A literal secret in the file is not echoed either.
	_, err = Load("testdata/literal-secret.bad.yml", testRegistry(), lookup(env))
	for _, s := range []string{"0/a1b2c3d4e5f6", "hunter2"} {
		if err == nil || strings.Contains(err.Error(), s) {
			t.Errorf("literal secret %q: err = %v", s, err)
		}
	}
}

func TestListen(t *testing.T) {
	tests := []struct {
		listen, tokenEnv string
		want             string // problem message; "" for accepted
	}{
		{"127.0.0.1:8080", "", ""},
		{"localhost:8080", "", ""},
		{"[::1]:8080", "", ""},
		{"0.0.0.0:8080", "PMSYNC_HTTP_TOKEN", ""},
		{"0.0.0.0:8080", "", `"0.0.0.0:8080" is not a loopback address: set auth_token_env or auth_token_file`},
		{":8080", "", `":8080" is not a loopback address: set auth_token_env or auth_token_file`},
		{"dashboard.example-hospital.org:443", "", `"dashboard.example-hospital.org:443" is not a loopback address: set auth_token_env or auth_token_file`},
		{"127.0.0.1", "", `"127.0.0.1" is not host:port`},
		{"127.0.0.1:http", "", `"127.0.0.1:http" has no valid port number`},
		{"127.0.0.1:70000", "", `"127.0.0.1:70000" has no valid port number`},
	}
	for _, tt := range tests {
		t.Run(tt.listen+"+"+tt.tokenEnv, func(t *testing.T) {
			l := &loader{file: "pmsync.yaml", env: lookup(testEnv()), idx: newIndex(&yaml.Node{})}
			cfg := &Config{HTTP: HTTP{Listen: tt.listen, AuthTokenEnv: tt.tokenEnv}, secrets: &secrets{}}
			l.checkHTTP(cfg)
			var got string
			if len(l.problems) > 0 {
				got = l.problems[0].Msg
			}
			if got != tt.want || len(l.problems) > 1 {
				t.Errorf("problems = %v, want %q", l.problems, tt.want)
			}
		})
	}
}

func TestPushPrograms(t *testing.T) {
	const base = `connections:
  - { name: asana, kind: cfgtest-asana, auth: { token_env: ASANA_TOKEN } }
programs:
  - { id: ehr, sources: [ { connection: asana, scope: { project: "1" } } ] }
  - { id: pacs, sources: [ { connection: asana, scope: { project: "2" } } ] }
push:
  - { connection: asana, target: { project: "9" }%s }
`
	tests := []struct {
		programs string
		want     []string
	}{
		{"", []string{"ehr", "pacs"}},
		{", programs: all", []string{"ehr", "pacs"}},
		{", programs: [pacs]", []string{"pacs"}},
		{", programs: [pacs, ehr]", []string{"pacs", "ehr"}},
	}
	for _, tt := range tests {
		t.Run(tt.programs, func(t *testing.T) {
			cfg, err := Load(writeConfig(t, fmt.Sprintf(base, tt.programs), nil), testRegistry(), lookup(testEnv()))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, cfg.Push[0].Programs); diff != "" {
				t.Errorf("programs (-want +got):\n%s", diff)
			}
		})
	}
}

// The kind's own CheckParams sees the finished connection, its options
// included: here a cloud flavor without an email.
func TestCheckParams(t *testing.T) {
	text := `connections:
  - name: jira
    kind: cfgtest-jira
    base_url: https://acme.atlassian.net
    flavor: cloud
    auth: { token_env: JIRA_API_TOKEN }
programs:
  - { id: ehr, sources: [ { connection: jira, scope: { project: EHR } } ] }
`
	_, err := Parse("pmsync.yaml", []byte(text), testRegistry(), lookup(testEnv()))
	want := []string{"pmsync.yaml:2: connections[0]: jira cloud needs email_env or email_file"}
	if diff := cmp.Diff(want, problemsOf(t, err)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestRelativePaths(t *testing.T) {
	text := `database: data/pmsync.db
http: { listen: "127.0.0.1:8080", auth_token_file: http-token }
connections:
  - { name: asana, kind: cfgtest-asana, auth: { token_env: ASANA_TOKEN } }
programs:
  - { id: ehr, sources: [ { connection: asana, scope: { project: "1" } } ] }
`
	path := writeConfig(t, text, map[string]string{"http-token": "from-file\n"})
	cfg, err := Load(path, testRegistry(), lookup(testEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Dir(path), "data", "pmsync.db"); cfg.Database != want {
		t.Errorf("Database = %q, want %q", cfg.Database, want)
	}
	if got := cfg.HTTPToken().Reveal(); got != "from-file" {
		t.Errorf("HTTPToken() = %q, want the file's content without the newline", got)
	}
}

func TestEmptyAndMultiDocument(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"empty", "", []string{"pmsync.yaml: programs: at least one program is required"}},
		{"comment only", "# nothing yet\n", []string{"pmsync.yaml: programs: at least one program is required"}},
		{"two documents", "database: a.db\n---\ndatabase: b.db\n", []string{
			"pmsync.yaml: programs: at least one program is required",
			"pmsync.yaml:2: a config file holds one YAML document; remove the second one",
		}},
		{"not a mapping", "- a\n- b\n", []string{
			"pmsync.yaml:1: expected a mapping of keys such as database, connections, programs",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("pmsync.yaml", []byte(tt.text), testRegistry(), lookup(nil))
			if diff := cmp.Diff(tt.want, problemsOf(t, err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), testRegistry(), lookup(nil))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want one wrapping os.ErrNotExist", err)
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "pmsync.yaml", Line: 12, Path: "programs[0].sources[1].connection", Msg: `no connection named "jra"`},
			`pmsync.yaml:12: programs[0].sources[1].connection: no connection named "jra"`},
		{Problem{File: "pmsync.yaml", Line: 3, Msg: "mapping values are not allowed in this context"},
			"pmsync.yaml:3: mapping values are not allowed in this context"},
		{Problem{File: "pmsync.yaml", Path: "timezone", Msg: "unknown time zone X"},
			"pmsync.yaml: timezone: unknown time zone X"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
	ps := Problems{
		{File: "f", Line: 9, Msg: "c"},
		{File: "f", Line: 2, Msg: "a"},
		{File: "f", Line: 9, Msg: "c"},
		{File: "f", Line: 2, Msg: "b"},
	}.sorted()
	if got, want := ps.Error(), "f:2: a\nf:2: b\nf:9: c"; got != want {
		t.Errorf("sorted problems =\n%s\nwant\n%s", got, want)
	}
}

func TestWithoutSecretsNeedsNoEnvironment(t *testing.T) {
	data := []byte(`connections:
  - { name: jira, kind: cfgtest-jira, base_url: https://acme.atlassian.net, auth: { email_env: JIRA_EMAIL, token_env: JIRA_TOKEN } }
programs:
  - id: ehr
    sources: [ { connection: jira, scope: { project: EHR } } ]
`)
	none := func(string) (string, bool) { return "", false }
	if _, err := Parse("p.yaml", data, testRegistry(), none); err == nil {
		t.Fatal("a config whose secrets are unset loaded without WithoutSecrets")
	}
	cfg, err := Parse("p.yaml", data, testRegistry(), none, WithoutSecrets())
	if err != nil {
		t.Fatalf("WithoutSecrets: %v", err)
	}
	if p, _ := cfg.Params("jira"); p.Credentials.Token != "" {
		t.Errorf("credentials read despite WithoutSecrets")
	}
}
