package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const redactHead = `connections:
  - { name: jira, kind: cfgtest-jira, base_url: https://acme.atlassian.net, auth: { token_env: JIRA_API_TOKEN } }
programs:
  - id: ehr
    sources:
      - { connection: jira, scope: { jql: "project = EHR" }, mapping: ehr-jira }
`

// TestRedactInMappings: a mapping's redact list is read from the config
// file, mixing built-in names and rules of one's own, and a set that
// extends it inherits it.
func TestRedactInMappings(t *testing.T) {
	text := redactHead + `mappings:
  ehr-jira:
    extends: cfgtest-jira-default
    redact:
      - ssn
      - mrn
      - { name: badge, pattern: 'BDG-\d{6}', replace: "[badge]" }
  ehr-quiet:
    extends: ehr-jira
    owner: { path: owner }
  ehr-open:
    extends: ehr-jira
    redact: []
`
	cfg, err := Parse("redact.yaml", []byte(text), testRegistry(), lookup(testEnv()))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]string{
		"ehr-jira":             {"ssn", "mrn", "badge"},
		"ehr-quiet":            {"ssn", "mrn", "badge"},
		"ehr-open":             {},
		"cfgtest-jira-default": {"ssn", "mrn", "dob", "email", "phone"},
	} {
		if diff := cmp.Diff(want, cfg.Mapping(name).Redactions()); diff != "" {
			t.Errorf("%s: Redactions (-want +got):\n%s", name, diff)
		}
	}
	if got := cfg.Mapping("ehr-jira").Redact("badge BDG-004211, call 555-123-4567"); got != "badge [badge], call 555-123-4567" {
		t.Errorf("Redact = %q", got)
	}
}

// TestRedactProblemsHaveTheirLine: a faulty redact entry is reported at
// its own line with its key path.
func TestRedactProblemsHaveTheirLine(t *testing.T) {
	text := redactHead + `mappings:
  ehr-jira:
    extends: cfgtest-jira-default
    redact:
      - ssn
      - passport
      - { name: badge, pattern: 'BDG-(\d' }
      - { name: room, regex: 'R\d+' }
`
	_, err := Parse("redact.yaml", []byte(text), testRegistry(), lookup(testEnv()))
	got := problemsOf(t, err)
	want := []string{
		`redact.yaml:12: mappings.ehr-jira.redact[1]: "passport" is not a built-in rule`,
		`redact.yaml:13: mappings.ehr-jira.redact[2].pattern: is not a regular expression`,
		`redact.yaml:14: mappings.ehr-jira.redact[3].regex: unknown key`,
	}
	if len(got) != len(want) {
		t.Fatalf("problems:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want it to start %q", i, got[i], want[i])
		}
	}
}
