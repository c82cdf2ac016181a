package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
)

func testSnapshots(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	burn := 39.2
	rollup := func(program, version string, asOf pmsync.Date) pmsync.Rollup {
		return pmsync.Rollup{
			ID: program, Name: "EHR Upgrade", AsOf: asOf, Version: version,
			Health:   pmsync.Health{Status: pmsync.Red, Reasons: []string{"2 milestones late: Cutover (due 2026-03-01)"}},
			Progress: pmsync.Progress{Done: 120, Total: 300, Percent: 40},
			Budget:   pmsync.Budget{Currency: "USD", Planned: 250000, Actual: 98000.5, BurnPercent: &burn},
			Sources:  []pmsync.SourceStatus{{Source: "jira-ehr", Connection: "jira", LastSuccess: time.Date(2026, 3, 2, 6, 55, 0, 0, time.UTC)}},
			Late:     []pmsync.ItemRef{{Source: "jira-ehr", ExternalID: "EHR-1", Title: "Cutover", Due: "2026-03-01"}},
			DueSoon:  []pmsync.ItemRef{},
			RedFlags: []pmsync.ItemRef{},
		}
	}
	saves := []struct {
		program, version string
		asOf             pmsync.Date
		want             bool
	}{
		{"ehr", "v1", "2026-03-02", true},
		{"ehr", "v1", "2026-03-03", false}, // same content on the next day: not news
		{"pacs", "v1", "2026-03-03", true}, // the same version of another program is its own
		{"ehr", "v2", "2026-03-04", true},
		{"ehr", "v1", "2026-03-05", true}, // back to an older state is a change from the newest
		{"ehr", "v1", "2026-03-06", false},
	}
	for i, s := range saves {
		got, err := db.SaveSnapshot(ctx, rollup(s.program, s.version, s.asOf), t0.Add(time.Duration(i)*time.Hour))
		if err != nil || got != s.want {
			t.Errorf("save %d (%s %s): SaveSnapshot = %v, %v; want %v", i, s.program, s.version, got, err, s.want)
		}
	}
	snap := func(i int) store.Snapshot {
		s := saves[i]
		return store.Snapshot{Program: s.program, AsOf: s.asOf, Version: s.version, At: t0.Add(time.Duration(i) * time.Hour),
			Rollup: rollup(s.program, s.version, s.asOf)}
	}
	tests := []struct {
		program string
		limit   int
		want    []store.Snapshot
	}{
		{"ehr", 0, []store.Snapshot{snap(4), snap(3), snap(0)}},
		{"ehr", 2, []store.Snapshot{snap(4), snap(3)}},
		{"pacs", 0, []store.Snapshot{snap(2)}},
		{"", 0, []store.Snapshot{snap(4), snap(3), snap(2), snap(0)}},
		{"", 3, []store.Snapshot{snap(4), snap(3), snap(2)}},
		{"telehealth", 0, nil},
	}
	for _, tt := range tests {
		got, err := db.Snapshots(ctx, tt.program, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Snapshots(%q, %d) (-want +got):\n%s", tt.program, tt.limit, diff)
		}
	}
	latest, ok, err := db.LatestSnapshot(ctx, "ehr")
	if err != nil || !ok {
		t.Fatalf("LatestSnapshot = ok %v, err %v", ok, err)
	}
	if diff := cmp.Diff(snap(4), latest); diff != "" {
		t.Errorf("LatestSnapshot (-want +got):\n%s", diff)
	}
	if _, ok, err := db.LatestSnapshot(ctx, "telehealth"); ok || err != nil {
		t.Errorf("LatestSnapshot of a program without snapshots = ok %v, err %v; want false, nil", ok, err)
	}
	for _, r := range []pmsync.Rollup{{Version: "v1"}, {ID: "ehr"}} {
		if _, err := db.SaveSnapshot(ctx, r, t0); err == nil {
			t.Errorf("SaveSnapshot(%+v) succeeded; a rollup needs a program id and a version", r)
		}
	}
}
