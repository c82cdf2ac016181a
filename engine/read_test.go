package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/sandbox/jirasim"
	"github.com/pmsync/pmsync/store"
	"github.com/pmsync/pmsync/store/sqlite"
)

func TestSourceReports(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 100)
	now := e.clock.Now()
	seed(e.sim, 3, now)
	e.sim.Add(
		jirasim.Issue{Project: "EHR", Type: "Risk", Summary: "Interface vendor delay", Likelihood: "4", Impact: "5", Created: now.Add(-time.Hour), Updated: now.Add(-time.Hour)},
		// Likelihood is 1..5: this risk cannot be mapped and is quarantined.
		jirasim.Issue{Project: "EHR", Type: "Risk", Summary: "Badly rated risk", Likelihood: "9", Impact: "2", Created: now.Add(-time.Hour), Updated: now.Add(-time.Hour)},
	)
	// The first search is told to come back in 7 seconds.
	e.sim.Inject(jirasim.Fault{Path: "/rest/api/3/search/jql", Status: 429, Header: map[string]string{"Retry-After": "7"}})
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatalf("sync: %v", err)
	}

	reps, err := e.eng.SourceReports(ctx, 5, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 1 {
		t.Fatalf("got %d source reports, want 1 (ehr-jira)", len(reps))
	}
	r := reps[0]
	if r.Source != "ehr-jira" || r.Program != "ehr" || r.Connection != "jira" || r.Kind != "jira" {
		t.Errorf("report names %s/%s/%s/%s, want ehr-jira/ehr/jira/jira", r.Source, r.Program, r.Connection, r.Kind)
	}
	if len(r.Runs) != 1 || r.Runs[0].Status != store.RunOK || r.Runs[0].Seen != 5 || r.Runs[0].Quarantined != 1 {
		t.Errorf("runs = %+v, want one ok run that saw 5 records and quarantined 1", r.Runs)
	}
	if !r.LastSuccess.Equal(now) {
		t.Errorf("last success %s, want the sync's time %s", r.LastSuccess, now)
	}
	if r.Quarantined != 1 || len(r.Quarantine) != 1 || !strings.Contains(r.Quarantine[0].Reason, `likelihood: "9" is outside 1..5`) {
		t.Errorf("quarantine = %d %+v, want the badly rated risk with its reason", r.Quarantined, r.Quarantine)
	}
	// The clock stands at Monday 2026-06-01 12:00 UTC; the schedules are
	// the defaults: sync every 15 minutes, deletions hourly.
	if want := time.Date(2026, 6, 1, 12, 15, 0, 0, time.UTC); !r.NextSync.Equal(want) {
		t.Errorf("next sync %s, want %s", r.NextSync, want)
	}
	if want := time.Date(2026, 6, 1, 13, 0, 0, 0, time.UTC); !r.NextDeletions.Equal(want) {
		t.Errorf("next deletion check %s, want %s", r.NextDeletions, want)
	}
	if want := time.Date(2026, 6, 2, 7, 0, 0, 0, time.UTC); !e.eng.NextRuns().Rollup.Equal(want) {
		t.Errorf("next rollup %s, want weekday 07:00 %s", e.eng.NextRuns().Rollup, want)
	}
	if r.Waits.Count < 1 || r.Waits.Total < 7*time.Second || !r.Waits.Last.Equal(now) {
		t.Errorf("waits = %+v, want at least the 7 s Retry-After, last at %s", r.Waits, now)
	}

	if reps, err = e.eng.SourceReports(ctx, 5, 0); err != nil || reps[0].Quarantined != 1 || len(reps[0].Quarantine) != 0 {
		t.Errorf("asking for no quarantine entries gave %d entries of %d (err %v); want the count only", len(reps[0].Quarantine), reps[0].Quarantined, err)
	}
}

func TestProgramItems(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 100)
	now := e.clock.Now()
	at := now.Add(-time.Hour)
	e.sim.Add(
		jirasim.Issue{Project: "EHR", Type: "Task", Summary: "Build ADT feed", Status: "Done", StatusCategory: "done", Created: at, Updated: at},
		jirasim.Issue{Project: "EHR", Type: "Task", Summary: "Build lab feed", Status: "In Progress", StatusCategory: "indeterminate", Created: at, Updated: at},
		jirasim.Issue{Project: "EHR", Type: "Milestone", Summary: "Go-live", Due: "2026-09-01", Created: at, Updated: at},
		jirasim.Issue{Project: "EHR", Type: "Risk", Summary: "Interface vendor delay", Likelihood: "4", Impact: "5", Created: at, Updated: at},
	)
	if _, err := e.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatalf("sync: %v", err)
	}
	titles := func(items []pmsync.Item) []string {
		var out []string
		for _, it := range items {
			out = append(out, it.Title)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    engine.ItemFilter
		want []string
	}{
		{"all", engine.ItemFilter{}, []string{"Build ADT feed", "Build lab feed", "Go-live", "Interface vendor delay"}},
		{"tasks", engine.ItemFilter{Kinds: []pmsync.Kind{pmsync.KindTask}}, []string{"Build ADT feed", "Build lab feed"}},
		{"done tasks", engine.ItemFilter{Kinds: []pmsync.Kind{pmsync.KindTask}, States: []pmsync.State{pmsync.StateDone}}, []string{"Build ADT feed"}},
		{"milestones and risks", engine.ItemFilter{Kinds: []pmsync.Kind{pmsync.KindMilestone, pmsync.KindRisk}}, []string{"Go-live", "Interface vendor delay"}},
		{"blocked", engine.ItemFilter{States: []pmsync.State{pmsync.StateBlocked}}, nil},
	} {
		got, err := e.eng.ProgramItems(ctx, "ehr", tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if g := titles(got); strings.Join(g, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: items %q, want %q", tc.name, g, tc.want)
		}
	}
	if _, err := e.eng.ProgramItems(ctx, "nope", engine.ItemFilter{}); !errors.Is(err, engine.ErrNoSuchProgram) {
		t.Errorf("items of an unknown program: err %v, want ErrNoSuchProgram", err)
	}

}

// decodeCounter counts the reads of the whole latest report.
type decodeCounter struct {
	*sqlite.DB
	reads int
}

func (d *decodeCounter) LatestReport(ctx context.Context) (pmsync.Report, time.Time, bool, error) {
	d.reads++
	return d.DB.LatestReport(ctx)
}

func TestLatestDecodesTheReportOnlyWhenANewerOneIsSaved(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, jirasim.Cloud, 100)
	seed(e.sim, 3, e.clock.Now())
	db := &decodeCounter{DB: e.db}
	eng, err := engine.New(e.cfg, db, engine.Options{Log: zerolog.Nop(), Now: e.clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	first, err := eng.Latest(ctx)
	if err != nil || len(first.Programs) != 1 || first.Programs[0].Items.Live != 3 {
		t.Fatalf("Latest = %+v, %v; want the synced program with 3 items", first.Programs, err)
	}
	before := db.reads
	for range 3 {
		if again, err := eng.Latest(ctx); err != nil || again.Version != first.Version || !again.GeneratedAt.Equal(first.GeneratedAt) {
			t.Fatalf("Latest again = %v, %v", again.Version, err)
		}
	}
	if db.reads != before {
		t.Errorf("Latest read the whole report %d more times though none newer was saved", db.reads-before)
	}
	// A newer report (another replica's, or this one's refresh) is read.
	e.clock.Advance(time.Hour)
	seed(e.sim, 2, e.clock.Now())
	if _, err := eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	next, err := eng.Latest(ctx)
	if err != nil || next.Programs[0].Items.Live != 5 || !next.GeneratedAt.After(first.GeneratedAt) || db.reads != before+1 {
		t.Errorf("after a newer report: %d items at %v (%d reads), want 5 items read once more", next.Programs[0].Items.Live, next.GeneratedAt, db.reads-before)
	}
}
