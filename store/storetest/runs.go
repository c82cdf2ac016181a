package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync/store"
)

var runs = []test{
	{"LastSuccess", testRuns},
	{"LimitAndErrors", testRunsLimitAndErrors},
	{"AbandonRuns", testAbandonRuns},
}

func testRuns(t *testing.T, open Opener) {
	ctx := context.Background()
	type step struct {
		source string
		full   bool
		res    store.RunResult // Status "" leaves the run running
	}
	tests := []struct {
		name        string
		steps       []step
		wantSuccess time.Time
		wantErr     string
	}{
		{"no runs", nil, time.Time{}, ""},
		{"one ok", []step{{"jira", false, store.RunResult{Status: store.RunOK}}}, t0.Add(1*time.Hour + time.Minute), ""},
		{"ok then failed", []step{
			{"jira", false, store.RunResult{Status: store.RunOK}},
			{"jira", false, store.RunResult{Status: store.RunFailed, Error: "jira: 401 unauthorized"}},
		}, t0.Add(1*time.Hour + time.Minute), "jira: 401 unauthorized"},
		{"failed then running keeps the failure", []step{
			{"jira", false, store.RunResult{Status: store.RunFailed, Error: "timeout"}},
			{"jira", true, store.RunResult{}},
		}, time.Time{}, "timeout"},
		{"failed then ok clears it", []step{
			{"jira", false, store.RunResult{Status: store.RunFailed, Error: "timeout"}},
			{"jira", false, store.RunResult{Status: store.RunOK}},
		}, t0.Add(2*time.Hour + time.Minute), ""},
		{"other sources do not count", []step{
			{"jira", false, store.RunResult{Status: store.RunOK}},
			{"asana", false, store.RunResult{Status: store.RunFailed, Error: "asana down"}},
			{"asana", false, store.RunResult{Status: store.RunOK}},
		}, t0.Add(1*time.Hour + time.Minute), ""},
		{"cancelled is no failure", []step{
			{"jira", false, store.RunResult{Status: store.RunCancelled, Error: "context canceled"}},
		}, time.Time{}, ""},
		{"stopped is no failure", []step{
			{"jira", false, store.RunResult{Status: store.RunFailed, Error: "timeout"}},
			{"jira", false, store.RunResult{Status: store.RunStopped}},
		}, time.Time{}, ""},
		{"failed without text", []step{
			{"jira", false, store.RunResult{Status: store.RunFailed}},
		}, time.Time{}, "the last run failed without an error message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := open(t)
			var want []store.Run
			for i, s := range tt.steps {
				start := t0.Add(time.Duration(i+1) * time.Hour)
				id, err := db.StartRun(ctx, s.source, s.full, start)
				if err != nil {
					t.Fatal(err)
				}
				r := store.Run{ID: id, Source: s.source, Full: s.full, Started: start, Status: store.RunRunning}
				if s.res.Status != "" {
					s.res.Requests, s.res.Seen, s.res.Changed, s.res.Quarantined, s.res.Deleted = int64(10+i), 100+i, 5+i, i, 2*i
					if err := db.FinishRun(ctx, id, s.res, start.Add(time.Minute)); err != nil {
						t.Fatal(err)
					}
					r.Finished, r.Status, r.Error = start.Add(time.Minute), s.res.Status, s.res.Error
					r.Requests, r.Seen, r.Changed, r.Quarantined, r.Deleted = s.res.Requests, s.res.Seen, s.res.Changed, s.res.Quarantined, s.res.Deleted
				}
				if s.source == "jira" {
					want = append([]store.Run{r}, want...)
				}
			}
			got, err := db.Runs(ctx, "jira", 0)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Runs (-want +got):\n%s", diff)
			}
			at, errText, err := db.LastSuccess(ctx, "jira")
			if err != nil {
				t.Fatal(err)
			}
			if !at.Equal(tt.wantSuccess) || errText != tt.wantErr {
				t.Errorf("LastSuccess = %v, %q; want %v, %q", at, errText, tt.wantSuccess, tt.wantErr)
			}
		})
	}
}

func testRunsLimitAndErrors(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	var ids []int64
	for i := range 5 {
		id, err := db.StartRun(ctx, []string{"jira", "asana"}[i%2], false, t0)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("run ids %v do not grow", ids)
		}
	}
	tests := []struct {
		source string
		limit  int
		want   []int64
	}{
		{"", 0, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"", 2, []int64{ids[4], ids[3]}},
		{"", -1, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"jira", 0, []int64{ids[4], ids[2], ids[0]}},
		{"asana", 1, []int64{ids[3]}},
		{"trello", 0, nil},
	}
	for _, tt := range tests {
		runs, err := db.Runs(ctx, tt.source, tt.limit)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, r := range runs {
			got = append(got, r.ID)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Runs(%q, %d) ids (-want +got):\n%s", tt.source, tt.limit, diff)
		}
	}

	if err := db.FinishRun(ctx, ids[0], store.RunResult{Status: store.RunOK}, t0); err != nil {
		t.Fatal(err)
	}
	errTests := []struct {
		name string
		id   int64
		res  store.RunResult
		is   error
		want string
	}{
		{"twice", ids[0], store.RunResult{Status: store.RunFailed}, nil, `already finished with status "ok"`},
		{"unknown id", ids[4] + 1000, store.RunResult{Status: store.RunOK}, store.ErrNotFound, "run "},
		{"bad status", ids[1], store.RunResult{Status: "great"}, nil, `status "great"`},
		{"running is not an end", ids[1], store.RunResult{Status: store.RunRunning}, nil, `status "running"`},
		{"abandoned is not the caller's to set", ids[1], store.RunResult{Status: store.RunAbandoned}, nil, `status "abandoned"`},
	}
	for _, tt := range errTests {
		err := db.FinishRun(ctx, tt.id, tt.res, t0)
		if err == nil || !strings.Contains(err.Error(), tt.want) || (tt.is != nil && !errors.Is(err, tt.is)) {
			t.Errorf("%s: FinishRun error = %v, want one containing %q (is %v)", tt.name, err, tt.want, tt.is)
		}
	}
	if runs, _ := db.Runs(ctx, "jira", 0); len(runs) != 3 || runs[2].Status != store.RunOK {
		t.Errorf("a refused FinishRun changed run %d: %+v", ids[0], runs)
	}
	if runs, _ := db.Runs(ctx, "asana", 0); len(runs) != 2 || runs[1].Status != store.RunRunning {
		t.Errorf("a refused FinishRun changed run %d: %+v", ids[1], runs)
	}
	if _, err := db.StartRun(ctx, "", false, t0); err == nil {
		t.Error("StartRun without a source succeeded")
	}
}

// testAbandonRuns: a process that died leaves its runs "running"; the next
// holder of the source's lease closes them.
func testAbandonRuns(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	start := func(source string) int64 {
		id, err := db.StartRun(ctx, source, false, t0)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	done, dead1, dead2, other := start("jira"), start("jira"), start("jira"), start("asana")
	if err := db.FinishRun(ctx, done, store.RunResult{Status: store.RunOK}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Hour)
	if n, err := db.AbandonRuns(ctx, "jira", at); err != nil || n != 2 {
		t.Fatalf("AbandonRuns = %d, %v; want 2", n, err)
	}
	if n, err := db.AbandonRuns(ctx, "jira", at.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("AbandonRuns again = %d, %v; want 0", n, err)
	}
	all, err := db.Runs(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]store.Run{}
	for _, r := range all {
		got[r.ID] = r
	}
	for _, id := range []int64{dead1, dead2} {
		r := got[id]
		if r.Status != store.RunAbandoned || !r.Finished.Equal(at) || r.Error == "" {
			t.Errorf("run %d after AbandonRuns: status %q finished %v error %q; want abandoned at %v with a reason", id, r.Status, r.Finished, r.Error, at)
		}
	}
	if r := got[done]; r.Status != store.RunOK || !r.Finished.Equal(t0.Add(time.Minute)) {
		t.Errorf("finished run %d touched: %+v", done, r)
	}
	if r := got[other]; r.Status != store.RunRunning || !r.Finished.IsZero() {
		t.Errorf("another source's run %d touched: %+v", other, r)
	}
	// An abandoned run is no failure, and the last success stands.
	if at, errText, err := db.LastSuccess(ctx, "jira"); err != nil || !at.Equal(t0.Add(time.Minute)) || errText != "" {
		t.Errorf("LastSuccess = %v, %q, %v; want %v and no error", at, errText, err, t0.Add(time.Minute))
	}
	if err := db.FinishRun(ctx, dead1, store.RunResult{Status: store.RunOK}, at); err == nil {
		t.Error("FinishRun of an abandoned run succeeded; a run finishes once")
	}
}

func testMeta(t *testing.T, open Opener) {
	ctx := context.Background()
	db := open(t)
	if _, ok, err := db.Meta(ctx, "k"); ok || err != nil {
		t.Fatalf("Meta of a missing key = ok %v, err %v; want false, nil", ok, err)
	}
	for _, v := range []string{"one", "two", ""} {
		if err := db.SetMeta(ctx, "k", v); err != nil {
			t.Fatal(err)
		}
		got, ok, err := db.Meta(ctx, "k")
		if err != nil || !ok || got != v {
			t.Errorf("after SetMeta(%q) Meta = %q, %v, %v", v, got, ok, err)
		}
	}
	if err := db.SetMeta(ctx, "other", "x"); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := db.Meta(ctx, "k"); got != "" {
		t.Errorf("SetMeta of another key changed k to %q", got)
	}
	if err := db.SetMeta(ctx, "", "x"); err == nil {
		t.Error("SetMeta accepted an empty key")
	}
}
