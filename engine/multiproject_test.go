package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/jirasim"
)

// TestDataCenterTwoProjectScope syncs a Data Center scope of two projects,
// 2,020 issues, thirty of them moved between the projects (a move gives an
// issue a key in its new project and keeps its id, so ids no longer follow
// keys). Every live issue must be stored exactly once, and neither the
// full pull's tombstoning nor a deletion check may mark a live issue
// deleted; a real deletion is still found.
func TestDataCenterTwoProjectScope(t *testing.T) {
	ctx := context.Background()
	clk := sandbox.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	sim, url := startSim(t, jirasim.DataCenter, clk, 100)
	sim.Add(jirasim.Generate("EHR", 1010, 11, clk.Now())...)
	sim.Add(jirasim.Generate("PACS", 1010, 12, clk.Now())...)
	for i := range 15 {
		if _, err := sim.Move(fmt.Sprintf("EHR-%d", 40+i*61), "PACS"); err != nil {
			t.Fatal(err)
		}
		if _, err := sim.Move(fmt.Sprintf("PACS-%d", 7+i*67), "EHR"); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(time.Hour)

	dir := t.TempDir()
	path := filepath.Join(dir, "pmsync.yaml")
	cfg := fmt.Sprintf(`database: %s
timezone: UTC
connections:
  - name: jira
    kind: jira
    base_url: %s
    flavor: datacenter
    auth: { token_env: JIRA_TOKEN }
programs:
  - id: imaging
    name: Imaging and EHR
    start: 2026-01-05
    end: 2026-12-18
    sources:
      - { name: dc, connection: jira, scope: { jql: "project in (EHR, PACS)" } }
`, filepath.Join(dir, "pmsync.db"), url)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{sim: sim, clock: clk, dir: dir}
	e.open(t, path)

	check := func(when string, res []engine.SourceResult, err error) {
		t.Helper()
		if err != nil || res[0].Status != "ok" {
			t.Fatalf("%s: %v (status %s: %v)", when, err, res[0].Status, res[0].Err)
		}
		items, err := e.db.Items(ctx, "dc")
		if err != nil {
			t.Fatal(err)
		}
		stored := map[string]int{}
		for _, it := range items {
			stored[it.ExternalID]++
		}
		for _, is := range sim.Issues() {
			if stored[is.ID] != 1 {
				t.Errorf("%s: issue %s (id %s) stored %d times, want once", when, is.Key, is.ID, stored[is.ID])
			}
		}
		live, deleted, err := e.db.CountItems(ctx, "dc")
		if err != nil {
			t.Fatal(err)
		}
		if live != len(sim.Issues()) || deleted != 0 {
			t.Errorf("%s: %d live and %d deleted items, want %d live and none deleted", when, live, deleted, len(sim.Issues()))
		}
	}
	res, err := e.eng.Sync(ctx, engine.SyncOptions{})
	check("full sync", res, err)
	t.Logf("full sync: %d search requests, %d requests in all", e.searchCalls(), res[0].Requests)
	if res[0].Seen < 2020 {
		t.Errorf("full sync saw %d records, want all 2020", res[0].Seen)
	}
	sim.ResetCalls()
	res, err = e.eng.Sync(ctx, engine.SyncOptions{Deletions: true})
	check("deletion check", res, err)
	t.Logf("incremental sync and deletion check: %d search requests", e.searchCalls())

	// A real deletion is found by the next check, and only it.
	gone := sim.Issues()[1234]
	if err := sim.Delete(gone.Key); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	res, err = e.eng.Sync(ctx, engine.SyncOptions{Deletions: true})
	if err != nil || res[0].Status != "ok" || res[0].Deleted != 1 {
		t.Fatalf("deletion check after deleting %s: %d deleted (%v, %v), want 1", gone.Key, res[0].Deleted, err, res[0].Err)
	}
	if live, deleted, _ := e.db.CountItems(ctx, "dc"); live != 2019 || deleted != 1 {
		t.Errorf("after the deletion: %d live, %d deleted; want 2019 and 1", live, deleted)
	}
}
