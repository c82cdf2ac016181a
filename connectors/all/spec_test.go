package all_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
)

// Each kind decodes and checks its own connection options, scopes and
// push targets; config reports what they find at the key's line.
func TestKindsDecodeTheirOwnBlocks(t *testing.T) {
	env := map[string]string{"TOKEN": "t0k3n", "EMAIL": "pmo@hospital.example", "KEY": "k3y"}
	for _, tc := range []struct {
		name string
		text string
		want []string
	}{
		{"jira flavor and scope", `connections:
  - name: j
    kind: jira
    base_url: https://jira.hospital.example
    flavor: server
    auth: { token_env: TOKEN }
programs:
  - id: p
    sources:
      - connection: j
        scope: { jql: "project = EHR", project: EHR }
`, []string{
			`f.yaml:5: connections[0].flavor: "server" is not one of cloud, datacenter`,
			`f.yaml:11: programs[0].sources[0].scope: jira scope takes jql or project, not both`,
		}},
		{"jira target and a key of another kind", `connections:
  - { name: j, kind: jira, base_url: https://jira.hospital.example, region: eu, auth: { token_env: TOKEN } }
programs:
  - id: p
    sources: [ { connection: j, scope: { project: EHR } } ]
push:
  - connection: j
    target:
      sheet: 12
`, []string{
			`f.yaml:2: connections[0].region: unknown key; known keys: flavor, site_url, name, kind, base_url, timeout, rate_limit, auth, tls`,
			`f.yaml:9: push[0].target.sheet: unknown key; known keys: issue`,
		}},
		{"asana scope", `connections:
  - { name: a, kind: asana, auth: { token_env: TOKEN } }
programs:
  - id: p
    sources:
      - connection: a
        scope:
          project: Telehealth
          sheet: 1
`, []string{
			// A block that does not decode is not checked further.
			`f.yaml:9: programs[0].sources[0].scope.sheet: unknown key; known keys: project`,
		}},
		{"asana project", `connections:
  - { name: a, kind: asana, auth: { token_env: TOKEN } }
programs:
  - id: p
    sources: [ { connection: a, scope: { project: Telehealth } } ]
push:
  - { connection: a, target: { project: "" } }
`, []string{
			`f.yaml:5: programs[0].sources[0].scope: asana scope project "Telehealth" is not a gid (the digits in the project's URL)`,
			`f.yaml:7: push[0].target: asana push target needs project (the gid of the project that gets the status updates)`,
		}},
		{"trello options, board short link and target", `connections:
  - { name: t, kind: trello, token_limit: -5, auth: { key_env: KEY, token_env: TOKEN } }
programs:
  - id: p
    sources: [ { connection: t, scope: { board: AbCd1234 } } ]
push:
  - { connection: t, target: { card: 5abbe4b7ddc1b351ef961414, list: 5abbe4b7ddc1b351ef961415 } }
`, []string{
			`f.yaml:2: connections[0].token_limit: must be a positive number of requests per 10 seconds (Trello allows 100 per token)`,
			`f.yaml:5: programs[0].sources[0].scope.board: trello scope board "AbCd1234" looks like the short link from the board's URL; give the board's 24-hex id (open the board URL with .json appended and copy its "id")`,
			`f.yaml:7: push[0].target: trello push target takes card or list, not both`,
		}},
		{"smartsheet region, scope and target options", `connections:
  - { name: s, kind: smartsheet, region: mars, auth: { token_env: TOKEN } }
programs:
  - id: p
    sources: [ { connection: s, scope: { sheet: plan } } ]
push:
  - connection: s
    target: { sheet: 42, options: { colour_column: RAG } }
`, []string{
			`f.yaml:2: connections[0].region: "mars" is not one of us, eu, au, gov`,
			`f.yaml:5: programs[0].sources[0].scope: smartsheet sheet "plan" is not a sheet id (the number in Sheet Actions > Properties)`,
			`f.yaml:8: push[0].target: smartsheet push target option "colour_column" is not one of program_column, health_column, percent_column, late_column, red_flags_column, burn_column, updated_column, version_column`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("f.yaml", []byte(tc.text), connectors.Default, func(k string) (string, bool) {
				v, ok := env[k]
				return v, ok
			})
			var ps config.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse = %v, want problems", err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			for _, s := range []string{"t0k3n", "k3y"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("problems show a secret: %v", err)
				}
			}
		})
	}
}
