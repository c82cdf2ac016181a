package config

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The breaker, the retention policy and the prune schedule are checked up
// front like every other key: each bad value is one line with its place.
func TestReliabilityKeysAreValidated(t *testing.T) {
	path := filepath.Join("testdata", "reliability.bad.yml")
	_, err := Load(path, testRegistry(), lookup(testEnv()))
	if err == nil {
		t.Fatal("loaded without error")
	}
	want := []string{
		`testdata/reliability.bad.yml:1: schedule.prune: invalid cron spec "every night": expected exactly 5 fields, found 2: [every night]`,
		`testdata/reliability.bad.yml:3: sync.breaker.failures: 0 is outside 1..100`,
		`testdata/reliability.bad.yml:3: sync.breaker.cooldown: must be positive`,
		`testdata/reliability.bad.yml:3: sync.breaker.max_cooldown: -1m0s is shorter than the cooldown (0s)`,
		`testdata/reliability.bad.yml:5: retention.sync_runs: must not be negative (0 keeps everything)`,
		`testdata/reliability.bad.yml:6: retention.item_changes: 720h0m0s is under 1440h0m0s (forecasts read eight weeks of state changes); write 0 to keep everything`,
		`testdata/reliability.bad.yml:7: retention.snapshots: 168h0m0s is under 840h0m0s (trends and the burn rate read four weeks back); write 0 to keep everything`,
		`testdata/reliability.bad.yml:8: retention.outbox: 24h0m0s is under 48h0m0s (a delivered push must be remembered as long as its rollup version can recur); write 0 to keep everything`,
	}
	if diff := cmp.Diff(want, problemsOf(t, err)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// A secret file that is not a small regular file (a device, a directory,
// something huge) is a clear problem, never an endless read.
func TestSecretFileMustBeASmallRegularFile(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 65<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ file, want string }{
		{"/dev/zero", "/dev/zero is not a regular file"},
		{dir, dir + " is not a regular file"},
		{big, big + " is larger than 64 KiB, too large for a secret: is it the right file?"},
	} {
		body := fmt.Sprintf(`connections:
  - { name: jira, kind: cfgtest-jira, base_url: https://acme.atlassian.net, auth: { token_file: %q } }
programs:
  - { id: ehr, sources: [ { connection: jira, scope: { project: EHR } } ] }
`, tt.file)
		_, err := Parse(filepath.Join(dir, "pmsync.yaml"), []byte(body), testRegistry(), lookup(testEnv()))
		want := filepath.Join(dir, "pmsync.yaml") + ":2: connections[0].auth.token_file: read secret file: " + tt.want
		if got := problemsOf(t, err); len(got) != 1 || got[0] != want {
			t.Errorf("token_file %s: problems %q, want %q", tt.file, got, want)
		}
	}
}
