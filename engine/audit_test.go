package engine_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/jirasim"
	"github.com/pmsync/pmsync/store"
	"github.com/pmsync/pmsync/store/sqlite"
)

// pushEnv is a Jira simulator holding an EHR project and a PMO status
// issue, an engine that pushes the rollup to that issue, and its store.
type pushEnv struct {
	path   string // the config file
	sim    *jirasim.Server
	clock  *sandbox.Clock
	db     *sqlite.DB
	eng    *engine.Engine
	status string // the status issue's key
}

func startPushEnv(t *testing.T, keepPayloads bool) *pushEnv {
	t.Helper()
	clk := sandbox.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	sim, url := startSim(t, jirasim.Cloud, clk, 50)
	past := clk.Now().Add(-48 * time.Hour)
	sim.Add(
		jirasim.Issue{Project: "EHR", Type: "Milestone", Summary: "Consent forms for MRN 1234567 (call 555-123-4567)",
			Status: "In Progress", StatusCategory: "indeterminate", Due: "2026-05-20", Created: past, Updated: past},
		jirasim.Issue{Project: "EHR", Type: "Task", Summary: "Interface build", Status: "Done", StatusCategory: "done", Created: past, Updated: past},
	)
	status := sim.Add(jirasim.Issue{Project: "PMO", Type: "Task", Summary: "Executive status", Status: "In Progress", StatusCategory: "indeterminate"})[0]
	dir := t.TempDir()
	body := fmt.Sprintf(`database: %s
timezone: UTC
audit: { keep_payloads: %v }
connections:
  - { name: jira, kind: jira, base_url: %s, flavor: cloud, auth: { email_env: JIRA_EMAIL, token_env: JIRA_TOKEN } }
programs:
  - id: ehr
    name: EHR Upgrade
    start: 2026-01-05
    end: 2026-12-18
    sources:
      - { name: ehr-jira, connection: jira, scope: { project: EHR } }
push:
  - { connection: jira, target: { issue: %s }, programs: [ehr] }
`, filepath.Join(dir, "pmsync.db"), keepPayloads, url, status)
	path := filepath.Join(dir, "pmsync.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"JIRA_EMAIL": testEmail, "JIRA_TOKEN": testToken}
	cfg, err := config.Load(path, connectors.Default, func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	db := openStore(t, cfg.Database)
	eng, err := engine.New(cfg, db, engine.Options{Log: zerolog.Nop(), Now: clk.Now,
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	return &pushEnv{path: path, sim: sim, clock: clk, db: db, eng: eng, status: status}
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestPushIsRedactedAndAudited: titles are redacted when stored, a title
// stored before redaction was configured is redacted on its way out, and
// every delivery and failure lands in the audit with the hash of what was
// sent (and, configured so, the document itself).
func TestPushIsRedactedAndAudited(t *testing.T) {
	ctx := context.Background()
	e := startPushEnv(t, true)
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	items, err := e.db.Items(ctx, "ehr-jira")
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, it := range items {
		titles = append(titles, it.Title)
	}
	if want := "Consent forms for MRN [redacted:mrn] (call [redacted:phone])"; !strings.Contains(strings.Join(titles, "\n"), want) {
		t.Errorf("stored titles %q, want %q among them", titles, want)
	}
	// An item stored by an earlier release, before redaction: its title
	// still holds an e-mail address.
	legacy := pmsync.Item{Source: "ehr-jira", ExternalID: "99999", Kind: pmsync.KindMilestone, Title: "Notify jane.doe@example.org of cutover",
		State: pmsync.StateTodo, Due: "2026-05-25", UpdatedAt: e.clock.Now()}
	if _, err := e.db.ApplyPage(ctx, store.PageWrite{Source: "ehr-jira", Items: []pmsync.Item{legacy}, At: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}

	res, err := e.eng.Push(ctx, false)
	if err != nil || len(res) != 1 || res[0].Status != "delivered" {
		t.Fatalf("push = %+v, %v; want one delivery", res, err)
	}
	comments := e.sim.Comments(e.status)
	if len(comments) != 1 {
		t.Fatalf("%d comments on the status issue, want 1", len(comments))
	}
	// The connector escapes the brackets of wiki markup; read past that.
	comments[0] = strings.NewReplacer(`\[`, "[", `\]`, "]").Replace(comments[0])
	for _, phi := range []string{"1234567", "555-123-4567", "jane.doe@example.org"} {
		if strings.Contains(comments[0], phi) {
			t.Errorf("the pushed comment holds %q:\n%s", phi, comments[0])
		}
	}
	if !strings.Contains(comments[0], "Notify [redacted:email] of cutover") {
		t.Errorf("the pushed comment does not name the legacy milestone redacted:\n%s", comments[0])
	}

	got, err := e.db.Deliveries(ctx, store.DeliveryFilter{})
	if err != nil || len(got) != 1 {
		t.Fatalf("audit = %+v, %v; want one entry", got, err)
	}
	d := got[0]
	if d.Target != "jira:issue="+e.status || d.Program != "ehr" || d.Version != res[0].Version || d.Outcome != store.DeliveryDelivered ||
		d.Attempt != 1 || d.Receipt != res[0].Receipt || !d.At.Equal(e.clock.Now()) {
		t.Errorf("audit entry %+v does not match the delivery %+v", d, res[0])
	}
	if d.Payload == nil || sha(d.Payload) != d.PayloadHash {
		t.Errorf("kept payload (%d bytes) does not hash to %s", len(d.Payload), d.PayloadHash)
	}
	if strings.Contains(string(d.Payload), "jane.doe") || !strings.Contains(string(d.Payload), "[redacted:email]") {
		t.Errorf("the kept payload is not the redacted document:\n%s", d.Payload)
	}

	// A new version meets a failing server, then a working one.
	for _, is := range e.sim.Issues() {
		if is.Type == "Task" && is.Project == "EHR" {
			_ = e.sim.Update(is.Key, func(i *jirasim.Issue) { i.Status, i.StatusCategory = "To Do", "new" })
		}
	}
	e.clock.Advance(time.Hour)
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	e.sim.Inject(jirasim.Fault{Method: http.MethodPost, Status: 500, Times: -1})
	if res, err := e.eng.Push(ctx, false); err == nil || len(res) != 1 || res[0].Status != "failed" {
		t.Fatalf("push to a failing server = %+v, %v; want it failed", res, err)
	}
	e.sim.ClearFaults()
	e.clock.Advance(time.Minute)
	res2, err := e.eng.Push(ctx, false)
	if err != nil || len(res2) != 1 || res2[0].Status != "delivered" {
		t.Fatalf("push after the failure = %+v, %v", res2, err)
	}
	all, err := e.db.Deliveries(ctx, store.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var trail []string
	for _, d := range all {
		trail = append(trail, fmt.Sprintf("%s v=%v attempt=%d", d.Outcome, d.Version == res2[0].Version, d.Attempt))
	}
	want := []string{"delivered v=true attempt=2", "failed v=true attempt=1", "delivered v=false attempt=1"}
	if strings.Join(trail, "; ") != strings.Join(want, "; ") {
		t.Errorf("audit trail, newest first:\n %s\nwant\n %s", strings.Join(trail, "; "), strings.Join(want, "; "))
	}
	if f := all[1]; !strings.Contains(f.Error, "500") || f.PayloadHash != all[0].PayloadHash {
		t.Errorf("failed entry %+v: want the 500 named and the hash of the document sent again", f)
	}
	filtered, err := e.db.Deliveries(ctx, store.DeliveryFilter{Outcome: store.DeliveryFailed})
	if err != nil || len(filtered) != 1 {
		t.Errorf("failed entries = %d, %v; want 1", len(filtered), err)
	}
}

// TestAuditKeepsNoPayloadUnlessAsked: by default the audit holds the hash
// of what was sent and not the document.
func TestAuditKeepsNoPayloadUnlessAsked(t *testing.T) {
	ctx := context.Background()
	e := startPushEnv(t, false)
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.Push(ctx, false); err != nil {
		t.Fatal(err)
	}
	got, err := e.db.Deliveries(ctx, store.DeliveryFilter{})
	if err != nil || len(got) != 1 {
		t.Fatalf("audit = %+v, %v", got, err)
	}
	if got[0].Payload != nil || len(got[0].PayloadHash) != 64 {
		t.Errorf("entry keeps %d payload bytes, hash %q; want no payload and a SHA-256", len(got[0].Payload), got[0].PayloadHash)
	}
}

// TestResentPushIsAuditedAsExisting: a process that dies after the target
// took the rollup but before recording so leaves the push "sending"; the
// next push finds the version already at the target (the connector's
// guard), writes nothing, and the audit says so.
func TestResentPushIsAuditedAsExisting(t *testing.T) {
	ctx := context.Background()
	e := startPushEnv(t, false)
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if res, err := e.eng.Push(ctx, false); err != nil || res[0].Status != "delivered" {
		t.Fatalf("push = %+v, %v", res, err)
	}
	// Undo the record of the delivery, as a kill -9 between the vendor's
	// answer and the commit would have left it: sending, long ago.
	raw, err := sql.Open("sqlite3", "file:"+filepath.Join(filepath.Dir(e.path), "pmsync.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, "UPDATE outbox SET status = 'sending', updated = '2000-01-01T00:00:00.000000000Z'"); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, "DELETE FROM push_audit"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	res, err := e.eng.Push(ctx, false)
	if err != nil || len(res) != 1 || res[0].Status != "existing" {
		t.Fatalf("push after the crash = %+v, %v; want the version found at the target", res, err)
	}
	if n := len(e.sim.Comments(e.status)); n != 1 {
		t.Errorf("%d comments on the status issue, want 1: the version went out twice", n)
	}
	got, err := e.db.Deliveries(ctx, store.DeliveryFilter{})
	if err != nil || len(got) != 1 || got[0].Outcome != store.DeliveryExisting || got[0].Attempt != 2 {
		t.Errorf("audit = %+v, %v; want one entry, existing, at attempt 2", got, err)
	}
}
