package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/engine"
)

// phiRecords is what a tool hands over about two tickets: far more than a
// mapping reads (descriptions, comments, a patient's name in a custom
// field, an attachment's name), and a title with identifiers in it.
func phiRecords(now time.Time) []pmsync.Record {
	return []pmsync.Record{
		{ExternalID: "T-1", UpdatedAt: now, Data: map[string]any{
			"summary":     "Fix allergy import for MRN 40012345 (SSN 123-45-6789)",
			"status":      "open",
			"team":        "Interfaces",
			"description": "Patient Jane Roe, DOB 02/14/1951, reacted to penicillin; see chart.",
			"comments":    []any{map[string]any{"body": "Called her at (555) 201-7788 to confirm"}},
			"custom":      map[string]any{"Patient Name": "Jane Roe", "Ward": "Oncology 4B"},
			"attachment":  "roe_jane_discharge_summary.pdf",
		}},
		{ExternalID: "T-2", UpdatedAt: now, Data: map[string]any{
			"summary":     "Interface build for the lab feed",
			"status":      "closed",
			"team":        "Interfaces",
			"description": "Result routing for patient John Poe, email john.poe@mail.example",
		}},
	}
}

// phiConnector serves phiRecords in one page.
type phiConnector struct{ now time.Time }

func (c phiConnector) Pull(_ context.Context, _ connectors.Scope, _ connectors.Cursor, page func(connectors.Page) error) error {
	return page(connectors.Page{Records: phiRecords(c.now), Next: "done"})
}

type phiScope struct {
	Queue string `yaml:"queue"`
}

// TestOnlyMappedRedactedTextIsStored syncs records full of patient data
// through a mapping that reads the title, status and team: the database
// file holds the mapped values, with the title redacted, and nothing of
// the rest.
func TestOnlyMappedRedactedTextIsStored(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	reg := connectors.NewRegistry()
	reg.Register(connectors.Spec{
		Kind:   "phitool",
		New:    func(connectors.Params) (connectors.Connector, error) { return phiConnector{now: now}, nil },
		Scope:  connectors.ScopeDecoder[phiScope](nil),
		Blocks: connectors.Blocks{Scope: phiScope{}},
	})
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "pmsync.db")
	text := fmt.Sprintf(`database: %s
timezone: UTC
connections:
  - { name: tickets, kind: phitool, base_url: "https://tickets.hospital.example" }
programs:
  - id: ehr
    sources:
      - { name: ehr-tickets, connection: tickets, scope: { queue: EHR }, mapping: tickets }
mappings:
  tickets:
    kind: { value: task }
    title: { path: summary }
    state: { path: status, map: { open: todo, closed: done } }
    fields:
      team: { path: team }
`, dbPath)
	cfg, err := config.Parse(filepath.Join(dir, "pmsync.yaml"), []byte(text), reg, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	db := openStore(t, cfg.Database)
	eng, err := engine.New(cfg, db, engine.Options{Log: zerolog.Nop(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := eng.Sync(context.Background(), engine.SyncOptions{}); err != nil || len(res) != 1 || res[0].Changed != 2 {
		t.Fatalf("sync = %+v, %v; want 2 items stored", res, err)
	}
	if err := db.Close(); err != nil { // fold the WAL back into the file
		t.Fatal(err)
	}
	var stored []byte
	for _, f := range []string{dbPath, dbPath + "-wal", dbPath + "-shm"} {
		b, err := os.ReadFile(f)
		if err == nil {
			stored = append(stored, b...)
		}
	}
	// What the mapping reads is there, the title redacted.
	for _, want := range []string{"Fix allergy import for MRN [redacted:mrn] (SSN [redacted:ssn])", "Interface build for the lab feed", "Interfaces"} {
		if !bytes.Contains(stored, []byte(want)) {
			t.Errorf("the database lacks the mapped value %q", want)
		}
	}
	// Nothing else a record carried is.
	for _, phi := range []string{"40012345", "123-45-6789", "Jane Roe", "Roe", "02/14/1951", "penicillin", "201-7788",
		"Oncology 4B", "roe_jane", "John Poe", "john.poe@mail.example", "Result routing"} {
		if bytes.Contains(stored, []byte(phi)) {
			t.Errorf("the database holds %q, which no mapping stores", phi)
		}
	}
}
