package asana

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox"
)

// recorded answers from testdata: each route is a method, a path and the
// query values it must carry, answered with a status, headers and a file.
type recorded struct {
	t      *testing.T
	mu     sync.Mutex
	routes []*route
}

type route struct {
	method, path string
	query        map[string]string // "" value: the key must be absent
	status       int
	header       map[string]string
	file         string
	times        int // 0: any number
	hits         int
}

func (rc *recorded) add(r *route) { rc.routes = append(rc.routes, r) }

func (rc *recorded) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+token {
		rc.t.Errorf("%s %s without the token", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/api/1.0")
	q := r.URL.Query()
	for _, rt := range rc.routes {
		if rt.method != r.Method || rt.path != path || (rt.times > 0 && rt.hits >= rt.times) {
			continue
		}
		match := true
		for k, v := range rt.query {
			if (v == "" && q.Has(k)) || (v != "" && q.Get(k) != v) {
				match = false
			}
		}
		if !match {
			continue
		}
		rt.hits++
		body, err := os.ReadFile(filepath.Join("testdata", rt.file))
		if err != nil {
			rc.t.Error(err)
		}
		for k, v := range rt.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(rt.status)
		_, _ = w.Write(body)
		return
	}
	rc.t.Errorf("unexpected request %s %s?%s", r.Method, path, r.URL.RawQuery)
	w.WriteHeader(http.StatusNotFound)
}

// recordedConnector starts the recorded answers behind Asana's contract and
// returns a connector on them and the sleeps it made.
func recordedConnector(t *testing.T, routes ...*route) (*Connector, *sandbox.Sleeps) {
	t.Helper()
	rc := &recorded{t: t}
	for _, r := range routes {
		rc.add(r)
	}
	v := loadAsanaContract(t).Wrap(rc)
	ts := httptest.NewServer(v)
	t.Cleanup(func() {
		ts.Close()
		// The recorded answers are the vendor's own shapes: they must keep
		// the contract too.
		v.Check(t)
	})
	sl := &sandbox.Sleeps{}
	c, err := New(connectors.Params{Name: "asana", Kind: Kind, BaseURL: ts.URL + "/api/1.0",
		Credentials: connectors.Credentials{Token: token}, Now: func() time.Time { return t0 }, Sleep: sl.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	return c, sl
}

var recordedScope = connectors.Scope{Source: "recorded", Config: Scope{Project: "12348"}}

func pullRecorded(t *testing.T, c *Connector, cur connectors.Cursor) ([]connectors.Page, error) {
	t.Helper()
	var pages []connectors.Page
	err := c.Pull(context.Background(), recordedScope, cur, func(p connectors.Page) error {
		pages = append(pages, p)
		return nil
	})
	return pages, err
}

func TestRecordedFullPull(t *testing.T) {
	c, _ := recordedConnector(t,
		&route{method: "GET", path: "/events", query: map[string]string{"resource": "12348", "sync": ""}, status: 412, file: "events_412.json"},
		&route{method: "GET", path: "/tasks", query: map[string]string{"project": "12348", "limit": "100", "offset": ""}, status: 200, file: "tasks_page.json"},
		&route{method: "GET", path: "/tasks", query: map[string]string{"project": "12348", "offset": "eyJ0eXAiOJiKV1iQLCJhbGciOiJIUzI1NiJ9"}, status: 200, file: "tasks_last_page.json"},
	)
	pages, err := pullRecorded(t, c, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := recordIDs(pages); !slices.Equal(got, []string{"12345", "12350", "12351"}) {
		t.Fatalf("records %v, want the three recorded tasks", got)
	}
	rec := pages[0].Records[0]
	if rec.URL != "https://app.asana.com/1/12345/task/123456789" || !rec.UpdatedAt.Equal(time.Date(2012, 2, 22, 2, 6, 58, 147e6, time.UTC)) {
		t.Errorf("record header: url %s, updated %v", rec.URL, rec.UpdatedAt)
	}
	// Every custom field type, as the file holds it (the percentage as
	// Asana displays it: 0.25 is 25%).
	want := map[string]any{
		"Planned Cost": 5.2, "% Complete": 25.0, "Actual Cost": 5.2,
		"Priority": "Low", "Sites": []any{"Low", "High"}, "Vendor Ref": "Some Value",
		"Target Date": "2024-08-23", "Clinical Lead": []any{"Greg Sanchez"}, "Status": nil,
	}
	if d := cmp.Diff(want, rec.Data["custom"]); d != "" {
		t.Errorf("custom (-want +got):\n%s", d)
	}
	if rec.Data["section"] != "Next Actions" {
		t.Errorf("section %v, want the task's section in project 12348, Next Actions", rec.Data["section"])
	}
	if got := pages[1].Records[0].Data["section"]; got != "Risks" {
		t.Errorf("last task's section %v, want Risks", got)
	}
	last := pages[len(pages)-1]
	cur := decodeCursor(t, last.Next)
	if !last.HasLive || !slices.Equal(last.Live, []string{"12345", "12350", "12351"}) || cur.Sync != "de4774f6915eae04714ca93bb2f5ee81" {
		t.Errorf("last page: live %v (HasLive %v), cursor %+v; want every task and the 412's sync token", last.Live, last.HasLive, cur)
	}
}

func TestRecordedEmptyProjectAndEvents(t *testing.T) {
	c, _ := recordedConnector(t,
		&route{method: "GET", path: "/events", query: map[string]string{"resource": "12348", "sync": "de4774f6915eae04714ca93bb2f5ee81"}, status: 200, file: "events_page.json"},
		&route{method: "GET", path: "/tasks", query: map[string]string{"project": "12348"}, status: 200, file: "tasks_empty.json"},
	)
	start := cursor{V: cursorVersion, Since: "2012-02-22T00:00:00Z", Sync: "de4774f6915eae04714ca93bb2f5ee81"}.encode()
	pages, err := pullRecorded(t, c, start)
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) != 1 || len(pages[0].Records) != 0 || pages[0].HasLive {
		t.Fatalf("pages %+v, want one empty page and no live list (an incremental pull)", pages)
	}
	// The deletion and the removal from this project; the change is not one.
	if want := []string{"12360", "12361"}; !slices.Equal(pages[0].Deleted, want) {
		t.Errorf("Deleted = %v, want %v", pages[0].Deleted, want)
	}
	if cur := decodeCursor(t, pages[0].Next); cur.Sync != "de4774f6915eae04714ca93bb2f5ee82" {
		t.Errorf("cursor %+v, want the events page's sync token", cur)
	}
}

func TestRecordedErrors(t *testing.T) {
	events := &route{method: "GET", path: "/events", status: 412, file: "events_412.json"}
	t.Run("400", func(t *testing.T) {
		c, _ := recordedConnector(t, events, &route{method: "GET", path: "/tasks", status: 400, file: "error_400.json"})
		_, err := pullRecorded(t, c, "")
		var ae *connectors.APIError
		if !errors.As(err, &ae) || ae.Status != 400 || ae.Message != "project: Missing input" || strings.Contains(err.Error(), "asana.github.io") {
			t.Errorf("error %v, want the 400 with Asana's message and without the help line", err)
		}
	})
	t.Run("500 with its phrase", func(t *testing.T) {
		c, _ := recordedConnector(t, events, &route{method: "GET", path: "/tasks", status: 500, file: "error_500.json"})
		_, err := pullRecorded(t, c, "")
		var ae *connectors.APIError
		if !errors.As(err, &ae) || ae.Status != 500 || ae.RefID != "6 sad squid snuggle softly" {
			t.Errorf("error %v, want the 500 with its phrase as the reference", err)
		}
	})
	t.Run("429 waited out", func(t *testing.T) {
		c, sl := recordedConnector(t, events,
			&route{method: "GET", path: "/tasks", status: 429, header: map[string]string{"Retry-After": "30"}, file: "error_429.json", times: 1},
			&route{method: "GET", path: "/tasks", status: 200, file: "tasks_empty.json"},
		)
		if _, err := pullRecorded(t, c, ""); err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(sl.Waits(), 30*time.Second) {
			t.Errorf("waits %v, want the 30s Retry-After", sl.Waits())
		}
	})
	t.Run("429 message", func(t *testing.T) {
		info := parseError(429, nil, mustRead(t, "error_429.json"))
		if info.Message != "You've made too many requests and hit a rate limit. Please retry after the given amount of time." {
			t.Errorf("message %q", info.Message)
		}
	})
}

func TestRecordedStatusUpdates(t *testing.T) {
	c, _ := recordedConnector(t,
		&route{method: "GET", path: "/status_updates", query: map[string]string{"parent": "12348", "created_since": "2026-11-24T10:00:00Z"}, status: 200, file: "status_updates_page.json"},
	)
	r := rollup("dddddddddddd", pmsync.Green)
	gid, err := c.findStatus(context.Background(), "12348", Marker(r), createdSince(r))
	if err != nil || gid != "" {
		t.Errorf("findStatus = %q, %v; want no update with the marker", gid, err)
	}
	gid, err = c.findStatus(context.Background(), "12348", "The project is moving forward according to plan...", createdSince(r))
	if err != nil || gid != "12370" {
		t.Errorf("findStatus of the recorded text = %q, %v; want 12370", gid, err)
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
