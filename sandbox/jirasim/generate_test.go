package jirasim

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestGenerateIsDeterministic(t *testing.T) {
	now := testNow()
	a := Generate("EHR", 500, 42, now)
	b := Generate("EHR", 500, 42, now)
	if d := cmp.Diff(a, b); d != "" {
		t.Errorf("same seed, different issues (-first +second):\n%s", d)
	}
	if cmp.Equal(a, Generate("EHR", 500, 43, now)) {
		t.Error("seeds 42 and 43 gave the same issues")
	}
	if got := Generate("EHR", 0, 42, now); got != nil {
		t.Errorf("n=0 gave %d issues", len(got))
	}
}

func TestGeneratePlan(t *testing.T) {
	now := testNow()
	issues := Generate("EHR", 500, 7, now)
	if len(issues) != 500 {
		t.Fatalf("%d issues, want 500", len(issues))
	}
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	byKey := map[string]Issue{}
	for _, is := range issues {
		byKey[is.Key] = is
	}
	count := map[string]int{}
	category := map[string]string{"To Do": "new", "In Progress": "indeterminate", "Blocked": "indeterminate", "Done": "done"}
	for i, is := range issues {
		if want := "EHR-" + strconv.Itoa(i+1); is.Key != want || is.Project != "EHR" || is.ID != "" {
			t.Fatalf("issue %d: key %q project %q id %q, want %s EHR and no id", i, is.Key, is.Project, is.ID, want)
		}
		if is.Summary == "" {
			t.Errorf("%s has no summary", is.Key)
		}
		if !is.Updated.Before(now) || is.Updated.Before(is.Created) || is.Created.Before(now.AddDate(0, 0, -301)) {
			t.Errorf("%s: created %v updated %v (now %v)", is.Key, is.Created, is.Updated, now)
		}
		if category[is.Status] != is.StatusCategory {
			t.Errorf("%s: status %q in category %q", is.Key, is.Status, is.StatusCategory)
		}
		if is.Resolution != "" && is.StatusCategory != "done" {
			t.Errorf("%s: resolution %q on an open issue", is.Key, is.Resolution)
		}
		due := dueDays(t, is.Due, today)
		count[is.Type]++
		count["status "+is.Status]++
		if is.Resolution == "Won't Do" || is.Resolution == "Cancelled" {
			count["cancelled"]++
		}
		switch is.Type {
		case "Milestone":
			if is.Due == "" || due < -60 || due > 180 {
				t.Errorf("%s: milestone due %q", is.Key, is.Due)
			}
			if due < 0 && is.StatusCategory != "done" {
				count["late milestone"]++
			}
			if is.StatusCategory == "done" {
				count["done milestone"]++
			}
		case "Risk":
			l, errL := strconv.Atoi(is.Likelihood)
			i, errI := strconv.Atoi(is.Impact)
			if errL != nil || errI != nil || l < 1 || l > 5 || i < 1 || i > 5 {
				t.Errorf("%s: likelihood %q impact %q", is.Key, is.Likelihood, is.Impact)
			}
			if l*i >= 15 && is.StatusCategory != "done" {
				count["red flag"]++
			}
		default:
			if is.Likelihood != "" || is.Impact != "" {
				t.Errorf("%s: %s with likelihood/impact", is.Key, is.Type)
			}
			if is.PlannedCost != nil && is.ActualCost != nil {
				count["costed"]++
			}
			if is.Start != "" {
				count["started"]++
			}
		}
		if is.Parent != "" {
			p, ok := byKey[is.Parent]
			switch {
			case !ok:
				t.Errorf("%s: parent %s does not exist", is.Key, is.Parent)
			case is.Type == "Sub-task" && (p.Type == "Milestone" || p.Type == "Risk" || p.Type == "Sub-task"):
				t.Errorf("%s: sub-task under a %s", is.Key, p.Type)
			case is.Type != "Sub-task" && p.Type != "Milestone":
				t.Errorf("%s: %s under a %s", is.Key, is.Type, p.Type)
			}
		}
	}
	// 8% and 10% of 500.
	if count["Milestone"] != 40 || count["Risk"] != 50 {
		t.Errorf("%d milestones and %d risks, want 40 and 50", count["Milestone"], count["Risk"])
	}
	for _, k := range []string{"Task", "Story", "Bug", "Sub-task", "status To Do", "status In Progress", "status Blocked",
		"status Done", "cancelled", "late milestone", "done milestone", "red flag", "costed", "started"} {
		if count[k] == 0 {
			t.Errorf("no %s in the plan", k)
		}
	}
}

func dueDays(t *testing.T, due string, today time.Time) int {
	t.Helper()
	if due == "" {
		return 0
	}
	d, err := time.ParseInLocation(time.DateOnly, due, today.Location())
	if err != nil {
		t.Fatalf("due %q: %v", due, err)
	}
	return int(d.Sub(today).Round(time.Hour).Hours() / 24)
}

// Generated issues load into a server and page out whole.
func TestGeneratedIssuesServe(t *testing.T) {
	s, c := start(t, Options{})
	s.Add(Generate("EHR", 300, 1, testNow())...)
	r := c.get("/rest/api/3/search/jql", url.Values{"jql": {"project = EHR"}, "fields": {"*navigable"}, "maxResults": {"100"}})
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if p := decode[cloudPage](t, r); len(p.Issues) != 100 || p.IsLast {
		t.Errorf("%d issues, isLast %v", len(p.Issues), p.IsLast)
	}
}

// BenchmarkPaging pages 100k issues: ids 5000 at a time, then full issues
// 100 at a time.
func BenchmarkPaging(b *testing.B) {
	s := New(Options{Email: testEmail, Token: testToken, Now: testNow})
	s.Add(Generate("EHR", 100_000, 1, testNow())...)
	ts := s.Start()
	defer ts.Close()
	c := &client{t: b, base: ts.URL, hc: ts.Client(), auth: func(r *http.Request) { r.SetBasicAuth(testEmail, testToken) }}
	for _, bc := range []struct {
		name   string
		fields string
		size   string
		pages  int
	}{
		{"ids-5000", "id", "5000", 20},
		{"navigable-100", "*navigable", "100", 20},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c.t = b
			for b.Loop() {
				token := ""
				for range bc.pages {
					q := url.Values{"jql": {"project = EHR ORDER BY key"}, "fields": {bc.fields}, "maxResults": {bc.size}}
					if token != "" {
						q.Set("nextPageToken", token)
					}
					r := c.get("/rest/api/3/search/jql", q)
					if r.status != http.StatusOK {
						b.Fatalf("status %d", r.status)
					}
					p := decode[cloudPage](b, r)
					if p.NextPageToken != nil {
						token = *p.NextPageToken
					}
				}
			}
		})
	}
}
