package web

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/engine"
)

// /readyz?verbose lists the database and every source, one line each, the
// failing ones marked [-]; it names sources and quotes errors, so it wants
// the token when there is one. A failing source leaves the replica ready.
func TestReadyzVerbose(t *testing.T) {
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	sources := []engine.SourceHealth{
		{Source: "ehr-jira", Connection: "jira", LastAttempt: at, LastStatus: "ok"},
		{Source: "tele-asana", Connection: "asana", Breaker: pmsync.BreakerOpen, Failures: 4, RetryAt: at.Add(20 * time.Minute),
			LastError: "asana: GET /tasks: HTTP 503", LastAttempt: at, LastStatus: "backoff"},
		{Source: "pacs-sheet", Connection: "smartsheet", Breaker: pmsync.BreakerHalfOpen, Failures: 3},
		{Source: "budget", Connection: "smartsheet", Failures: 1, LastError: "smartsheet: GET /sheets/1: attempt timed out after 1m0s", LastStatus: "failed", LastAttempt: at},
		{Source: "training", Connection: "trello", LastStatus: "failed", LastAttempt: at, LastError: "take the sync lease sync:conn:trello: disk is full"},
		{Source: "new", Connection: "trello"},
	}
	want := "[+]database ok\n" +
		"[+]source ehr-jira ok (last attempt 2026-06-01T12:00:00Z: ok)\n" +
		"[-]source tele-asana: backed off after 4 failed syncs in a row; next attempt at 2026-06-01T12:20:00Z (last error: asana: GET /tasks: HTTP 503)\n" +
		"[-]source pacs-sheet: 3 failed syncs in a row; the next scheduled sync probes it\n" +
		"[-]source budget: 1 failed sync in a row (last error: smartsheet: GET /sheets/1: attempt timed out after 1m0s)\n" +
		"[-]source training: the attempt at 2026-06-01T12:00:00Z failed: take the sync lease sync:conn:trello: disk is full\n" +
		"[+]source new: no sync attempted by this process yet\n" +
		"ready\n"
	var dbErr error
	e := newEnv(t, Options{Token: token, Sources: func(context.Context) []engine.SourceHealth { return sources },
		Ready: func(context.Context) error { return dbErr }})

	if rec := e.get(t, "/readyz?verbose", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET /readyz?verbose without the token = %d, want 401", rec.Code)
	}
	if rec := e.get(t, "/readyz", ""); rec.Code != http.StatusOK || rec.Body.String() != "ready\n" {
		t.Errorf("GET /readyz = %d %q, want 200 ready: failing sources leave the replica ready", rec.Code, rec.Body)
	}
	rec := e.get(t, "/readyz?verbose", "Bearer "+token)
	if rec.Code != http.StatusOK || rec.Body.String() != want {
		t.Errorf("GET /readyz?verbose = %d\n%s\nwant 200\n%s", rec.Code, rec.Body, want)
	}

	dbErr = errors.New("ping store: database is locked")
	rec = e.get(t, "/readyz?verbose", "Bearer "+token)
	wantDown := "[-]database: ping store: database is locked\n" + want[len("[+]database ok\n"):len(want)-len("ready\n")] + "not ready\n"
	if rec.Code != http.StatusServiceUnavailable || rec.Body.String() != wantDown {
		t.Errorf("GET /readyz?verbose with the database down = %d\n%s\nwant 503\n%s", rec.Code, rec.Body, wantDown)
	}
}
