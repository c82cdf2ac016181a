package jira

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox/jirasim"
)

// TestPagingSurvivesEditsAndDeletes edits and deletes issues between the
// pages of a full pull: one edited and one deleted among the issues already
// read, one edited and one deleted among those not read yet. The edits
// happen an hour apart, the later one ahead of the walk, so that the newest
// updated time read lies two hours past the walk's start.
//
// Data Center must deliver every issue that existed throughout, and the
// pull's cursor must stay at the walk's start so that the next pull picks
// up the edit behind the walk. Its first walk cannot be proven complete
// (it read an issue deleted since: 249 read, 248 in the scope), so it walks
// again, delivering every live issue twice. Cloud pages in updated order
// by a position token, so the edit behind the walk comes again at its end.
// Either way, after the next incremental pull every issue's newest delivered
// version is the simulator's current one.
func TestPagingSurvivesEditsAndDeletes(t *testing.T) {
	for _, tc := range []struct {
		flavor jirasim.Flavor
		since  time.Time // the cursor the full pull leaves: the walk's start, or the newest edit
		pages  int
	}{
		{jirasim.DataCenter, t0, 6},
		{jirasim.Cloud, t0.Add(2 * time.Hour), 3},
	} {
		t.Run(string(tc.flavor), func(t *testing.T) {
			e := newEnv(t, envOpts{flavor: tc.flavor, issues: 250})
			var behindEdit, behindDelete, aheadEdit, aheadDelete jirasim.Issue
			var got []pmsync.Record
			var cursors []connectors.Cursor
			err := e.conn.Pull(context.Background(), projectScope, "", func(p connectors.Page) error {
				got = append(got, p.Records...)
				cursors = append(cursors, p.Next)
				if len(cursors) > 1 {
					return nil
				}
				read := map[string]bool{}
				for _, r := range p.Records {
					read[r.ExternalID] = true
				}
				var unread []jirasim.Issue
				for _, is := range e.sim.Issues() {
					if !read[is.ID] {
						unread = append(unread, is)
					}
				}
				behindEdit, behindDelete = issueByID(t, e, p.Records[10].ExternalID), issueByID(t, e, p.Records[20].ExternalID)
				aheadEdit, aheadDelete = unread[50], unread[120]
				e.clock.Advance(time.Hour)
				mustUpdate(t, e, behindEdit.Key, "edited behind the walk")
				e.clock.Advance(time.Hour)
				mustUpdate(t, e, aheadEdit.Key, "edited ahead of the walk")
				for _, key := range []string{behindDelete.Key, aheadDelete.Key} {
					if err := e.sim.Delete(key); err != nil {
						t.Fatal(err)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("Pull: %v", err)
			}
			if len(cursors) != tc.pages {
				t.Fatalf("full pull of 250 issues came in %d pages, want %d", len(cursors), tc.pages)
			}

			count := map[string]int{}
			for _, r := range got {
				count[r.ExternalID]++
			}
			// What the walk must deliver: every issue still there, and the
			// deleted one it read before the delete.
			want := map[string]int{behindDelete.ID: 1}
			for _, is := range e.sim.Issues() {
				want[is.ID] = 1
			}
			if tc.flavor == jirasim.Cloud {
				want[behindEdit.ID] = 2 // read, edited, read again at the end
			} else {
				for _, is := range e.sim.Issues() {
					want[is.ID] = 2 // the walk, and the walk again
				}
			}
			if diff := cmp.Diff(want, count); diff != "" {
				t.Errorf("deliveries per issue (-want +got):\n%s", diff)
			}
			if got := latestOf(got)[aheadEdit.ID]; summaryOf(got) != "edited ahead of the walk" {
				t.Errorf("issue edited ahead of the walk delivered with summary %q", summaryOf(got))
			}
			final := cursors[len(cursors)-1]
			for i, cur := range cursors[:len(cursors)-1] {
				if tc.flavor == jirasim.DataCenter && cur != "" {
					t.Errorf("intermediate cursor %d %q; want the starting cursor (empty)", i, cur)
				}
			}
			since, err := decodeCursor(final)
			if err != nil || !since.Equal(tc.since) {
				t.Errorf("final cursor %s (%v), want since %v", final, err, tc.since)
			}

			// The next pull converges: every issue's newest delivery is the
			// simulator's current version.
			got = append(got, recordsOf(e.pull(t, projectScope, final))...)
			latest := latestOf(got)
			for _, is := range e.sim.Issues() {
				if r, ok := latest[is.ID]; !ok || !r.UpdatedAt.Equal(is.Updated) {
					t.Errorf("issue %s (%s): newest delivery updated %v, want %v", is.ID, is.Summary, r.UpdatedAt, is.Updated)
				}
			}
		})
	}
}

func issueByID(t *testing.T, e *env, id string) jirasim.Issue {
	t.Helper()
	for _, is := range e.sim.Issues() {
		if is.ID == id {
			return is
		}
	}
	t.Fatalf("no issue %s in the simulator", id)
	return jirasim.Issue{}
}

func mustUpdate(t *testing.T, e *env, key, summary string) {
	t.Helper()
	if err := e.sim.Update(key, func(is *jirasim.Issue) { is.Summary = summary }); err != nil {
		t.Fatal(err)
	}
}

func recordsOf(pages []connectors.Page) []pmsync.Record {
	var out []pmsync.Record
	for _, p := range pages {
		out = append(out, p.Records...)
	}
	return out
}

// latestOf keeps the last delivery of every issue.
func latestOf(recs []pmsync.Record) map[string]pmsync.Record {
	out := map[string]pmsync.Record{}
	for _, r := range recs {
		out[r.ExternalID] = r
	}
	return out
}

func summaryOf(r pmsync.Record) string {
	fields, _ := r.Data["fields"].(map[string]any)
	s, _ := fields["summary"].(string)
	return s
}

// TestListIDsSurvivesDeleteMidWalk deletes an issue of the first id page
// right after the server answered it. An offset walk would then skip the
// first issue of the next page, a live issue the engine would tombstone;
// a walk by position lists every issue that existed throughout.
func TestListIDsSurvivesDeleteMidWalk(t *testing.T) {
	for _, tc := range []struct {
		flavor jirasim.Flavor
		issues int // more than one page of ids: Cloud 5000, Data Center 1000
	}{
		{jirasim.DataCenter, 2500},
		{jirasim.Cloud, 6000},
	} {
		t.Run(string(tc.flavor), func(t *testing.T) {
			var hook struct {
				sync.Mutex
				sim      *jirasim.Server
				victim   string
				searches int
			}
			e := newEnv(t, envOpts{flavor: tc.flavor, issues: tc.issues, wrap: func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method != http.MethodPost || !strings.Contains(r.URL.Path, "/search") {
						h.ServeHTTP(w, r)
						return
					}
					// The page is computed first and sent only after the
					// delete, so the next request sees the issue gone.
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, r)
					hook.Lock()
					if hook.searches++; hook.searches == 1 {
						if err := hook.sim.Delete(hook.victim); err != nil {
							t.Error(err)
						}
					}
					hook.Unlock()
					for k, v := range rec.Header() {
						w.Header()[k] = v
					}
					w.WriteHeader(rec.Code)
					_, _ = w.Write(rec.Body.Bytes())
				})
			}})
			before := e.sim.Issues()
			hook.Lock()
			hook.sim, hook.victim = e.sim, before[5].Key
			hook.Unlock()
			var want []string
			for _, is := range before {
				want = append(want, is.ID) // the victim too: it was listed before it went
			}
			ids, err := e.conn.ListIDs(context.Background(), projectScope)
			if err != nil {
				t.Fatal(err)
			}
			hook.Lock()
			defer hook.Unlock()
			if hook.searches < 2 {
				t.Fatalf("%d id pages, want several", hook.searches)
			}
			if diff := cmp.Diff(want, sorted(ids)); diff != "" {
				t.Errorf("ListIDs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOverlapParam checks that Params.Overlap replaces the default overlap
// in the incremental query: since 2026-03-01T00:00Z read in UTC, less 5
// minutes by default or 30 when set.
func TestOverlapParam(t *testing.T) {
	for _, tc := range []struct {
		overlap time.Duration
		want    string
	}{
		{0, `(project = "EHR") AND updated >= "2026/02/28 23:55" ORDER BY updated ASC, id ASC`},
		{30 * time.Minute, `(project = "EHR") AND updated >= "2026/02/28 23:30" ORDER BY updated ASC, id ASC`},
	} {
		e := newEnv(t, envOpts{zone: "UTC", overlap: tc.overlap, issues: 3})
		e.pull(t, projectScope, `{"v":1,"since":"2026-03-01T00:00:00Z"}`)
		var body struct{ JQL string }
		for _, c := range e.calls(t) {
			if c.Path == e.searchPath() {
				if err := json.Unmarshal(c.Body, &body); err != nil {
					t.Fatal(err)
				}
			}
		}
		if body.JQL != tc.want {
			t.Errorf("overlap %v: jql = %q, want %q", tc.overlap, body.JQL, tc.want)
		}
	}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// warnings returns the log lines at warn level.
func (b *syncBuffer) warnings(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b.buf.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["level"] == "warn" {
			out = append(out, m)
		}
	}
	return out
}

// TestMissingFieldsWarnAndCatalogRefreshes renames the Likelihood field in
// the instance's field list: each pull then warns once, naming it, and
// hands mappings no Likelihood. After the rename is undone, the catalog is
// read again only once it is an hour old, and the field comes back.
func TestMissingFieldsWarnAndCatalogRefreshes(t *testing.T) {
	var renamed atomic.Bool
	renamed.Store(true)
	logs := &syncBuffer{}
	e := newEnv(t, envOpts{log: logs, wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/field") || !renamed.Load() {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			var fields []map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &fields); err != nil {
				t.Errorf("field list: %v", err)
			}
			for _, f := range fields {
				if f["name"] == "Likelihood" {
					f["name"] = "Probability"
				}
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(fields)
		})
	}})
	e.sim.Add(jirasim.Issue{ID: "20001", Key: "EHR-1", Type: "Risk", Summary: "Vendor delay", Likelihood: "4", Impact: "5",
		Updated: t0.Add(-time.Hour)})
	// What the engine passes for the default mapping: system fields are
	// asked for anyway and never reported missing.
	scope := projectScope
	scope.Fields = []string{"Impact", "Likelihood", "No Such Field", "resolutiondate", "summary"}
	// The template's other custom fields exist and are empty on this risk.
	withoutLikelihood := map[string]any{"Start date": nil, "Planned Cost": nil, "Actual Cost": nil, "Impact": "5"}
	withLikelihood := map[string]any{"Start date": nil, "Planned Cost": nil, "Actual Cost": nil, "Impact": "5", "Likelihood": "4"}
	custom := func(pages []connectors.Page) map[string]any {
		t.Helper()
		recs := recordsOf(pages)
		if len(recs) != 1 {
			t.Fatalf("pulled %d records, want 1", len(recs))
		}
		return recs[0].Data["custom"].(map[string]any)
	}

	for _, step := range []struct {
		name        string
		advance     time.Duration
		restore     bool
		fieldReads  int
		wantMissing []string
		wantCustom  map[string]any
	}{
		{"first pull", 0, false, 1, []string{"Likelihood", "No Such Field"}, withoutLikelihood},
		{"cached catalog, warns again", 59 * time.Minute, false, 0, []string{"Likelihood", "No Such Field"}, withoutLikelihood},
		{"renamed back, catalog still fresh", 0, true, 0, []string{"Likelihood", "No Such Field"}, withoutLikelihood},
		{"catalog an hour old is read again", time.Minute, true, 1, []string{"No Such Field"}, withLikelihood},
	} {
		e.clock.Advance(step.advance)
		if step.restore {
			renamed.Store(false)
		}
		e.resetCalls()
		before := len(logs.warnings(t))
		got := custom(e.pull(t, scope, ""))
		if diff := cmp.Diff(step.wantCustom, got); diff != "" {
			t.Errorf("%s: custom (-want +got):\n%s", step.name, diff)
		}
		if n := countCalls(e.calls(t))["GET /rest/api/2/field"]; n != step.fieldReads {
			t.Errorf("%s: %d field list reads, want %d", step.name, n, step.fieldReads)
		}
		warns := logs.warnings(t)[before:]
		if len(warns) != 1 {
			t.Fatalf("%s: %d warnings, want 1: %v", step.name, len(warns), warns)
		}
		w := warns[0]
		var names []string
		for _, n := range w["fields"].([]any) {
			names = append(names, n.(string))
		}
		if w["message"] != "jira fields not found; mapped values will be empty" || w["connector"] != "jira" || w["source"] != "jira-ehr" ||
			!slices.Equal(names, step.wantMissing) {
			t.Errorf("%s: warning %v, want the constant message naming %v", step.name, w, step.wantMissing)
		}
	}
}

// TestNoDeletionReporting keeps Jira on the engine's id listing: its pages
// never carry deletions.
func TestNoDeletionReporting(t *testing.T) {
	e := newEnv(t, envOpts{})
	if _, ok := any(e.conn).(connectors.DeletionReporter); ok {
		t.Errorf("the Jira connector claims its pages report deletions; they do not")
	}
}

func TestKeyWalkJQL(t *testing.T) {
	for _, tc := range []struct {
		w    keyWalk
		want string
	}{
		{keyWalk{filter: `(project in (EHR, PACS))`}, `(project in (EHR, PACS)) ORDER BY key ASC`},
		{keyWalk{filter: `(project in (EHR, PACS))`, proj: "EHR", read: []int64{7, 99}},
			`(project in (EHR, PACS)) AND (project != "EHR" OR key > "EHR-99") ORDER BY key ASC`},
		{keyWalk{filter: `(labels = pmo)`, done: []string{"EHR", "LAB"}, proj: "PACS", read: []int64{3}},
			`(labels = pmo) AND project NOT IN ("EHR", "LAB") AND (project != "PACS" OR key > "PACS-3") ORDER BY key ASC`},
		{keyWalk{done: []string{"EHR"}, proj: "PACS"}, `project NOT IN ("EHR") ORDER BY key ASC`},
		{keyWalk{}, "ORDER BY key ASC"},
	} {
		if got := tc.w.jql(); got != tc.want {
			t.Errorf("jql() = %q, want %q", got, tc.want)
		}
	}
}

func TestKeyWalkAdvance(t *testing.T) {
	page := func(keys ...string) []map[string]any {
		out := make([]map[string]any, len(keys))
		for i, k := range keys {
			out[i] = map[string]any{"id": "1" + k[len(k)-1:], "key": k}
		}
		return out
	}
	w := &keyWalk{}
	if jumped, err := w.advance(page("EHR-1", "EHR-2", "EHR-5")); err != nil || jumped {
		t.Fatalf("first page: jumped %v, %v", jumped, err)
	}
	if w.proj != "EHR" || !slices.Equal(w.read, []int64{1, 2, 5}) || len(w.done) != 0 {
		t.Fatalf("after the first page: %+v", w)
	}
	// The page runs past EHR's end into PACS: EHR is done.
	if jumped, err := w.advance(page("EHR-9", "PACS-1", "PACS-2")); err != nil || jumped {
		t.Fatalf("second page: jumped %v, %v", jumped, err)
	}
	if w.proj != "PACS" || !slices.Equal(w.read, []int64{1, 2}) || !slices.Equal(w.done, []string{"EHR"}) {
		t.Fatalf("after the second page: %+v", w)
	}
	// A page that starts in another project proves nothing about PACS.
	if jumped, err := w.advance(page("RAD-1")); err != nil || !jumped {
		t.Fatalf("third page: jumped %v, %v; want a jump", jumped, err)
	}
	if w.proj != "PACS" || !slices.Equal(w.done, []string{"EHR"}) {
		t.Fatalf("a jump changed the walk: %+v", w)
	}
	w.stepBack()
	if got, want := w.jql(), `project NOT IN ("EHR") AND (project != "PACS" OR key > "PACS-1") ORDER BY key ASC`; got != want {
		t.Errorf("after stepping back: %q, want %q", got, want)
	}
	if _, err := w.advance(page("PACS-3", "PACS-2")); err == nil || !strings.Contains(err.Error(), "did not order by key") {
		t.Errorf("keys out of order: %v", err)
	}
	if _, err := (&keyWalk{done: []string{"EHR"}}).advance(page("EHR-4")); err == nil {
		t.Error("an issue of an excluded project was accepted")
	}
	if _, err := (&keyWalk{}).advance(page("nokey")); err == nil {
		t.Error("a malformed key was accepted")
	}
}

func TestWalkSince(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 3, 2, h, 0, 0, 0, time.UTC) }
	var zero time.Time
	for _, tc := range []struct {
		name                   string
		since, newest, started time.Time
		want                   time.Time
	}{
		{"nothing changed mid-walk: the newest read", at(0), at(8), at(9), at(8)},
		{"an edit read mid-walk: capped at the start", at(0), at(11), at(9), at(9)},
		{"full pull", zero, at(11), at(9), at(9)},
		{"start unknown: the newest read", at(0), at(11), zero, at(11)},
		{"only the overlap read: never backwards", at(8), at(7), at(9), at(8)},
		{"server clock behind the cursor: never backwards", at(8), at(11), at(6), at(8)},
		{"empty full pull", zero, zero, at(9), zero},
	} {
		if got := walkSince(tc.since, tc.newest, tc.started); !got.Equal(tc.want) {
			t.Errorf("%s: walkSince = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestDataCenterWalkSurvivesDeletingThePageBoundary deletes the last issue
// of a page before the next one is asked for: Jira rejects `id > <deleted>`
// with a 400, and the walk steps back to the issue before it.
func TestDataCenterWalkSurvivesDeletingThePageBoundary(t *testing.T) {
	e := newEnv(t, envOpts{flavor: jirasim.DataCenter, issues: 250})
	seen := map[string]int{}
	pages := 0
	err := e.conn.Pull(context.Background(), projectScope, "", func(p connectors.Page) error {
		pages++
		for _, r := range p.Records {
			seen[r.ExternalID]++
		}
		if pages == 1 {
			last := p.Records[len(p.Records)-1].ExternalID
			if err := e.sim.Delete(issueByID(t, e, last).Key); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	for _, is := range e.sim.Issues() {
		if seen[is.ID] == 0 {
			t.Errorf("issue %s (%s) was never read", is.Key, is.ID)
		}
	}
	if len(e.sim.Issues()) != 249 {
		t.Fatalf("the simulator holds %d issues, want 249", len(e.sim.Issues()))
	}
}

// TestDataCenterWalkSurvivesABulkDelete deletes the whole page just read:
// the walk steps back past all of it to the previous page's boundary.
func TestDataCenterWalkSurvivesABulkDelete(t *testing.T) {
	e := newEnv(t, envOpts{flavor: jirasim.DataCenter, issues: 350})
	seen := map[string]int{}
	pages := 0
	err := e.conn.Pull(context.Background(), projectScope, "", func(p connectors.Page) error {
		pages++
		for _, r := range p.Records {
			seen[r.ExternalID]++
		}
		if pages == 2 {
			for _, r := range p.Records {
				if err := e.sim.Delete(issueByID(t, e, r.ExternalID).Key); err != nil {
					t.Fatal(err)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if n := len(e.sim.Issues()); n != 250 {
		t.Fatalf("the simulator holds %d issues, want 250", n)
	}
	for _, is := range e.sim.Issues() {
		if seen[is.ID] == 0 {
			t.Errorf("issue %s (%s) was never read", is.Key, is.ID)
		}
	}
}

// TestDataCenterWalkSurvivesMoves walks two projects (EHR-1…150, then
// PACS-1…150; 100 issues a page) and moves issues between the second and
// third pages: the boundary issue PACS-50 to EHR, which moves the range
// `key > PACS-50` with it, and the unread PACS-120 into EHR, already read.
// The walk must step back over the moved boundary, find that it missed
// PACS-120 (299 read besides the new arrivals, 300 in the scope), walk
// again, and so deliver every issue; a listing taken the same way must
// hold every id.
func TestDataCenterWalkSurvivesMoves(t *testing.T) {
	e := newEnv(t, envOpts{flavor: jirasim.DataCenter, issues: 150})
	e.sim.Add(jirasim.Generate("PACS", 150, 8, t0)...)
	scope := connectors.Scope{Source: "s", Config: Scope{JQL: "project in (EHR, PACS)"}}
	moves := func() {
		for _, key := range []string{"PACS-50", "PACS-120"} {
			if _, err := e.sim.Move(key, "EHR"); err != nil {
				t.Fatal(err)
			}
		}
	}
	var got []pmsync.Record
	pages := 0
	err := e.conn.Pull(context.Background(), scope, "", func(p connectors.Page) error {
		pages++
		got = append(got, p.Records...)
		if pages == 2 {
			e.clock.Advance(time.Minute)
			moves()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	seen := map[string]bool{}
	for _, r := range got {
		seen[r.ExternalID] = true
	}
	for _, is := range e.sim.Issues() {
		if !seen[is.ID] {
			t.Errorf("issue %s (id %s) never delivered", is.Key, is.ID)
		}
	}
	var jqls []string
	for _, c := range e.calls(t) {
		if c.Path == e.searchPath() {
			var body struct{ JQL string }
			_ = json.Unmarshal(c.Body, &body)
			jqls = append(jqls, body.JQL)
		}
	}
	// The third page asked after the moved boundary and came back empty;
	// the walk stepped back to PACS-49.
	if len(jqls) < 4 || !strings.Contains(jqls[2], `key > "PACS-50"`) || !strings.Contains(jqls[3], `key > "PACS-49"`) {
		t.Errorf("walk queries %q: want the range after PACS-50, then after PACS-49", jqls)
	}

	// A listing (1000 ids a page) walks EHR-1…1500, then PACS-1…600; after
	// its second page (EHR's end and PACS-1…500) the wrapped server moves
	// the boundary PACS-500 and the unread PACS-550 into EHR: the listing
	// must still hold every id.
	var searches atomic.Int32
	e2 := newEnv(t, envOpts{flavor: jirasim.DataCenter, issues: 1500, wrap: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r)
			if r.URL.Path == "/rest/api/2/search" && searches.Add(1) == 2 {
				for _, key := range []string{"PACS-500", "PACS-550"} {
					if _, err := h.(*jirasim.Server).Move(key, "EHR"); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}})
	e2.sim.Add(jirasim.Generate("PACS", 600, 9, t0)...)
	ids, err := e2.conn.ListIDs(context.Background(), scope)
	if err != nil {
		t.Fatalf("ListIDs: %v", err)
	}
	want := map[string]bool{}
	for _, is := range e2.sim.Issues() {
		want[is.ID] = true
	}
	have := map[string]bool{}
	for _, id := range ids {
		have[id] = true
	}
	if diff := cmp.Diff(want, have); diff != "" {
		t.Errorf("listed ids (-live +listed):\n%s", diff)
	}
	if n := searches.Load(); n < 8 {
		t.Errorf("the listing sent %d searches; a walk that missed PACS-550 must have walked again", n)
	}
}
