package jirasim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// twoProjects stores issues whose ids do not follow their keys, as on any
// instance where several projects grow at once: ids 10000… alternate
// between EHR and PACS (EHR-1 10000, PACS-1 10001, EHR-2 10002, …).
func twoProjects(s *Server, each int) {
	var issues []Issue
	for i := range each {
		issues = append(issues,
			Issue{Project: "EHR", Summary: fmt.Sprintf("EHR task %d", i+1)},
			Issue{Project: "PACS", Summary: fmt.Sprintf("PACS task %d", i+1)})
	}
	s.Add(issues...)
}

func dcKeys(t *testing.T, c *client, jql string) []string {
	t.Helper()
	r := c.post("/rest/api/2/search", map[string]any{"jql": jql, "startAt": 0, "maxResults": 1000, "fields": []string{"id"}})
	if r.status != http.StatusOK {
		t.Fatalf("%s: status %d: %s", jql, r.status, r.body)
	}
	p := decode[dcPage](t, r)
	keys := make([]string, len(p.Issues))
	for i, is := range p.Issues {
		keys[i] = is.Key
	}
	return keys
}

// TestKeyRangesFollowJQL checks Jira's reading of relational clauses on
// id and key: the issue named fixes a project, and the range runs over
// that project's issue numbers; ORDER BY id sorts as ORDER BY key.
// Expected keys are hand-derived from twoProjects' layout.
func TestKeyRangesFollowJQL(t *testing.T) {
	s, c := start(t, Options{Flavor: DataCenter})
	twoProjects(s, 4) // EHR-1..4 ids 10000,10002,10004,10006; PACS-1..4 ids 10001,10003,10005,10007
	for _, tc := range []struct{ jql, want string }{
		// 10002 is EHR-2: the EHR issues numbered above 2, not ids above 10002.
		{"id > 10002 ORDER BY id ASC", "EHR-3,EHR-4"},
		{"id >= 10003 ORDER BY key ASC", "PACS-2,PACS-3,PACS-4"},
		{"key < PACS-3 ORDER BY key ASC", "PACS-1,PACS-2"},
		{"project in (EHR, PACS) ORDER BY id ASC", "EHR-1,EHR-2,EHR-3,EHR-4,PACS-1,PACS-2,PACS-3,PACS-4"},
		{"project in (EHR, PACS) ORDER BY id DESC", "PACS-4,PACS-3,PACS-2,PACS-1,EHR-4,EHR-3,EHR-2,EHR-1"},
		{`project not in (EHR) AND (project != PACS OR key > PACS-2) ORDER BY key ASC`, "PACS-3,PACS-4"},
	} {
		if got := joinKeys(dcKeys(t, c, tc.jql)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.jql, got, tc.want)
		}
	}
	r := c.post("/rest/api/2/search", map[string]any{"jql": "key > EHR-99", "maxResults": 10})
	if msgs := errorMessages(t, r); r.status != http.StatusBadRequest || len(msgs) != 1 || !strings.Contains(msgs[0], "EHR-99") {
		t.Errorf("range from a missing key: %d %q, want 400 naming EHR-99", r.status, msgs)
	}
}

// TestMoveKeepsIDAndOldKey moves an issue between projects: it keeps its id,
// takes the next number of the new project, still answers to its old key,
// and a range from its id now runs over its new project.
func TestMoveKeepsIDAndOldKey(t *testing.T) {
	s, c := start(t, Options{Flavor: DataCenter})
	twoProjects(s, 3) // EHR-2 is id 10002
	newKey, err := s.Move("EHR-2", "PACS")
	if err != nil {
		t.Fatal(err)
	}
	if newKey != "PACS-4" {
		t.Fatalf("moved to %s, want PACS-4 (PACS had 3 issues)", newKey)
	}
	is, ok := s.Issue("EHR-2")
	if !ok || is.ID != "10002" || is.Key != "PACS-4" || is.Project != "PACS" {
		t.Fatalf("old key resolves to %+v, %v; want id 10002 as PACS-4", is, ok)
	}
	r := c.get("/rest/api/2/issue/EHR-2", nil)
	if got := decode[struct{ ID, Key string }](t, r); r.status != 200 || got.ID != "10002" || got.Key != "PACS-4" {
		t.Errorf("GET issue/EHR-2: %d %+v, want the issue as PACS-4", r.status, got)
	}
	for _, tc := range []struct{ jql, want string }{
		{"key = EHR-2", "PACS-4"},
		{"project = EHR ORDER BY key ASC", "EHR-1,EHR-3"},
		{"id > 10002 ORDER BY key ASC", ""}, // PACS-4 is the last PACS issue
		{"id < 10002 ORDER BY key ASC", "PACS-1,PACS-2,PACS-3"},
		{"key > EHR-1 ORDER BY key ASC", "EHR-3"},
	} {
		if got := joinKeys(dcKeys(t, c, tc.jql)); got != tc.want {
			t.Errorf("after the move, %s: %s, want %s", tc.jql, got, tc.want)
		}
	}
	if err := s.Delete("EHR-2"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Issue("PACS-4"); ok {
		t.Error("deleting by the old key left the issue")
	}
	if keys := dcKeys(t, c, "project = PACS ORDER BY key ASC"); !slices.Equal(keys, []string{"PACS-1", "PACS-2", "PACS-3"}) {
		t.Errorf("PACS after the delete: %v", keys)
	}
}
