package configs_test

import (
	"strings"
	"testing"
)

// TestSchemaKnowsTheSecurityKeys: redact lists, a connection's CA bundle,
// the dashboard's certificate and the audit's payloads pass the schema,
// and their mistakes do not.
func TestSchemaKnowsTheSecurityKeys(t *testing.T) {
	s := compileSchema(t)
	good := `http: { listen: "0.0.0.0:8443", auth_token_env: T, tls: { cert_file: cert.pem, key_file: key.pem } }
audit: { keep_payloads: true }
connections:
  - { name: jira, kind: jira, base_url: "https://jira.hospital.example", flavor: datacenter, auth: { token_env: J }, tls: { ca_file: hospital-ca.pem } }
programs:
  - id: ehr
    sources:
      - { connection: jira, scope: { project: EHR }, mapping: m }
mappings:
  m: { extends: jira-default, redact: [ssn, builtin, { name: badge, pattern: 'BDG-\d{6}', replace: "[badge]" }] }
`
	if err := s.Validate(instance(t, []byte(good))); err != nil {
		t.Fatalf("a sound config fails the schema: %v", err)
	}
	for _, tt := range []struct{ name, from, to string }{
		{"unknown built-in rule", "[ssn,", "[passport,"},
		{"redact entry without a name", "{ name: badge, pattern:", "{ pattern:"},
		{"unknown key in a redact entry", "replace:", "substitute:"},
		{"unknown tls key of a connection", "ca_file:", "ca_bundle:"},
		{"unknown tls key of the dashboard", "key_file:", "private_key:"},
		{"unknown audit key", "keep_payloads:", "keep_payload:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bad := strings.Replace(good, tt.from, tt.to, 1)
			if bad == good {
				t.Fatalf("%q not found", tt.from)
			}
			if err := s.Validate(instance(t, []byte(bad))); err == nil {
				t.Errorf("the schema accepts it")
			}
		})
	}
}
