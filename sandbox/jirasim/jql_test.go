package jirasim

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// jqlFixture is five issues whose update times straddle 10:00 New York time
// on 2026-01-05 (15:00 UTC). IDs are assigned in order from 10000.
func jqlFixture(t *testing.T) []Issue {
	created := mustTime(t, "2026-01-01T00:00:00Z")
	return []Issue{
		{Key: "EHR-1", Type: "Task", Summary: "Validate HL7 ADT feed", Labels: []string{"hl7"},
			Created: created, Updated: mustTime(t, "2026-01-05T14:59:00Z"), Due: "2026-02-01", PlannedCost: ptr(1000)},
		{Key: "EHR-2", Type: "Milestone", Summary: "Go-live", Status: "Done", Resolution: "Done", Labels: []string{"go-live"},
			Created: created, Updated: mustTime(t, "2026-01-05T15:00:00Z"), Due: "2026-01-03"},
		{Key: "EHR-3", Type: "Risk", Summary: "Vendor resourcing", Status: "In Progress",
			Created: created, Updated: mustTime(t, "2026-01-05T15:01:00Z"), Likelihood: "4", Impact: "5"},
		{Key: "EHR-4", Type: "Bug", Summary: "ORU rejected", Status: "Blocked", StatusCategory: "indeterminate",
			Labels: []string{"hl7", "pacs"}, Parent: "EHR-2",
			Created: created, Updated: mustTime(t, "2026-01-08T00:00:00Z")},
		{Key: "PACS-1", Type: "Task", Summary: "Route DICOM studies", Status: "Done", Resolution: "Won't Do",
			Labels: []string{"pacs"}, Created: created, Updated: mustTime(t, "2026-01-09T12:00:00Z")},
	}
}

func searchKeys(t *testing.T, c *client, jql string) []string {
	t.Helper()
	r := c.get("/rest/api/3/search/jql", url.Values{"jql": {jql}, "fields": {"key"}, "maxResults": {"100"}})
	if r.status != http.StatusOK {
		t.Fatalf("%s: status %d: %s", jql, r.status, r.body)
	}
	var keys []string
	for _, is := range decode[cloudPage](t, r).Issues {
		keys = append(keys, is.Key)
	}
	return keys
}

func TestJQL(t *testing.T) {
	s, c := start(t, Options{TimeZone: "America/New_York"})
	s.Add(jqlFixture(t)...)
	tests := []struct {
		jql  string
		want string
	}{
		{`project = EHR ORDER BY key ASC`, "EHR-1,EHR-2,EHR-3,EHR-4"},
		{`project = EHR`, "EHR-4,EHR-3,EHR-2,EHR-1"}, // default order: key DESC
		{`project in (EHR, "PACS") order by key`, "EHR-1,EHR-2,EHR-3,EHR-4,PACS-1"},
		{`project = ehr AND type = Bug`, "EHR-4"},
		{`project = 10001`, "PACS-1"}, // project ids follow first use
		{`issuetype in (Milestone, 'Risk') ORDER BY key`, "EHR-2,EHR-3"},
		{`status = "In Progress"`, "EHR-3"},
		{`status != Done ORDER BY key`, "EHR-1,EHR-3,EHR-4"},
		{`statusCategory = indeterminate ORDER BY key`, "EHR-3,EHR-4"},
		{`statusCategory = "To Do"`, "EHR-1"},
		{`labels = hl7 ORDER BY key`, "EHR-1,EHR-4"},
		{`labels != hl7 ORDER BY key`, "EHR-2,PACS-1"}, // != never matches an empty field
		{`labels is EMPTY`, "EHR-3"},
		{`labels not in (hl7, pacs)`, "EHR-2"},
		{`updated >= "2026/01/05 10:00" ORDER BY updated`, "EHR-2,EHR-3,EHR-4,PACS-1"},
		{`updated >= "2026-01-05 10:01" ORDER BY updated`, "EHR-3,EHR-4,PACS-1"},
		// 2026-01-08T00:00Z is still the 7th in New York.
		{`updated > "2026-01-05 10:00" AND updated < "2026/01/08" ORDER BY key`, "EHR-3,EHR-4"},
		{`updated < 2026-01-05`, ""},
		{`updated >= -2d`, "PACS-1"}, // now is 2026-01-10T12:00Z
		{`updated >= "-3d 12h" ORDER BY key`, "EHR-4,PACS-1"},
		{`updated >= startOfDay(-1d)`, "PACS-1"},
		{`created <= now() AND key = EHR-3`, "EHR-3"},
		{`key > EHR-2 ORDER BY key`, "EHR-3,EHR-4"},
		{`key in (EHR-1, PACS-1) ORDER BY id DESC`, "PACS-1,EHR-1"},
		{`id = 10001`, "EHR-2"},
		{`parent = EHR-2`, "EHR-4"},
		{`resolution = Unresolved ORDER BY key`, "EHR-1,EHR-3,EHR-4"},
		{`resolution in ("Won't Do", Cancelled)`, "PACS-1"},
		{`duedate < "2026-01-10"`, "EHR-2"},
		{`due is EMPTY ORDER BY key`, "EHR-3,EHR-4,PACS-1"},
		{`"Planned Cost" >= 1000`, "EHR-1"},
		{`cf[10050] > 1000`, ""},
		{`Likelihood = 4`, "EHR-3"},
		{`(type = Bug OR type = Milestone) AND NOT labels = go-live`, "EHR-4"},
		{`project = EHR AND status = Done OR project = PACS ORDER BY key`, "EHR-2,PACS-1"},
		{`project = EHR && (status = Blocked || status = "To Do") ORDER BY key`, "EHR-1,EHR-4"},
		{`project = EHR ORDER BY updated DESC`, "EHR-4,EHR-3,EHR-2,EHR-1"},
		{`project in (EHR, PACS) ORDER BY duedate ASC, key DESC`, "EHR-2,EHR-1,PACS-1,EHR-4,EHR-3"},
		{`project in (EHR, PACS) ORDER BY status, key`, "EHR-4,EHR-2,PACS-1,EHR-3,EHR-1"},
	}
	for _, tt := range tests {
		t.Run(tt.jql, func(t *testing.T) {
			if got := joinKeys(searchKeys(t, c, tt.jql)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestJQLErrors(t *testing.T) {
	s, c := start(t, Options{})
	s.Add(jqlFixture(t)...)
	ops := "The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'."
	tests := []struct {
		jql  string
		want []string
	}{
		{`foo = bar`, []string{"Field 'foo' does not exist or you do not have permission to view it."}},
		{`project in (EHR, XYZ, ABC)`, []string{
			"The value 'XYZ' does not exist for the field 'project'.",
			"The value 'ABC' does not exist for the field 'project'.",
		}},
		{`status = Nope`, []string{"The value 'Nope' does not exist for the field 'status'."}},
		{`status > Done`, []string{"The operator '>' is not supported by the status field."}},
		{`project = EHR AND`, []string{"Error in the JQL Query: Expecting a field name before the end of the query."}},
		{`project EHR`, []string{"Error in the JQL Query: Expecting operator but got 'EHR'. " + ops + " (line 1, character 9)"}},
		{`(project = EHR`, []string{"Error in the JQL Query: Expecting ')' before the end of the query."}},
		{`project = EHR status = Done`, []string{"Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'status'. (line 1, character 15)"}},
		{`project = AND`, []string{"Error in the JQL Query: Expecting either a value, list or function but got 'AND'. " +
			"You must surround 'AND' in quotation marks to use it as a value. (line 1, character 11)"}},
		{`summary = "unterminated`, []string{"Error in the JQL Query: The quoted string 'unterminated' has not been completed. (line 1, character 11)"}},
		{`project = EHR ORDER key`, []string{"Error in the JQL Query: Expecting 'by' but got 'key'. (line 1, character 21)"}},
		{`project = EHR ORDER BY labels`, []string{"Field 'labels' does not support sorting."}},
		{`updated >= "2026-13-45"`, []string{"Date value '2026-13-45' for field 'updated' is invalid. Valid formats include: " +
			"'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."}},
		{`updated >= "2026/01/05 10:00:30"`, []string{"Date value '2026/01/05 10:00:30' for field 'updated' is invalid. Valid formats include: " +
			"'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."}},
		{`key = EHR-99`, []string{"An issue with key 'EHR-99' does not exist for field 'key'."}},
		{`key = NOPE-1`, []string{"The issue key 'NOPE-1' for field 'key' is invalid."}},
		{`updated >= lastWeek()`, []string{"Unable to find JQL function 'lastWeek()'."}},
	}
	for _, tt := range tests {
		t.Run(tt.jql, func(t *testing.T) {
			r := c.get("/rest/api/3/search/jql", url.Values{"jql": {tt.jql}})
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			got := errorMessages(t, r)
			if joinKeys(got) != joinKeys(tt.want) {
				t.Errorf("errorMessages\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// The same instant is written differently by users in different zones; each
// literal is read in the zone /myself reports.
func TestJQLDateLiteralsUseUserTimeZone(t *testing.T) {
	tests := []struct {
		zone, jql, want string
	}{
		// 15:00Z on 2026-01-05 is 10:00 EST (UTC-5) …
		{"America/New_York", `updated >= "2026/01/05 10:00" ORDER BY key`, "EHR-2,EHR-3,EHR-4,PACS-1"},
		// … 02:00 the next day in Sydney (AEDT, UTC+11) …
		{"Australia/Sydney", `updated >= "2026/01/06 02:00" ORDER BY key`, "EHR-2,EHR-3,EHR-4,PACS-1"},
		{"Australia/Sydney", `updated >= "2026/01/06 02:01" ORDER BY key`, "EHR-3,EHR-4,PACS-1"},
		// … and 15:00 in UTC.
		{"UTC", `updated >= "2026-01-05 15:00" ORDER BY key`, "EHR-2,EHR-3,EHR-4,PACS-1"},
		{"UTC", `updated >= "2026-01-05 10:00" ORDER BY key`, "EHR-1,EHR-2,EHR-3,EHR-4,PACS-1"},
		// A date alone is midnight in the user's zone: 05:00Z in New York.
		{"America/New_York", `updated < "2026-01-08" ORDER BY key`, "EHR-1,EHR-2,EHR-3,EHR-4"},
		{"UTC", `updated < "2026-01-08" ORDER BY key`, "EHR-1,EHR-2,EHR-3"},
	}
	for _, tt := range tests {
		t.Run(tt.zone+" "+tt.jql, func(t *testing.T) {
			s, c := start(t, Options{TimeZone: tt.zone})
			s.Add(jqlFixture(t)...)
			if got := joinKeys(searchKeys(t, c, tt.jql)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			me := decode[struct{ TimeZone string }](t, c.get("/rest/api/3/myself", nil))
			if me.TimeZone != tt.zone {
				t.Errorf("myself timeZone %q, want %q", me.TimeZone, tt.zone)
			}
		})
	}
}

// A user who changes their time zone has later literals read in the new
// one, and /myself says so; a cached search does not outlive the change.
func TestSetTimeZone(t *testing.T) {
	s, c := start(t, Options{TimeZone: "America/New_York"})
	s.Add(jqlFixture(t)...)
	// 15:00Z on 2026-01-05: 10:00 in New York, 05:00 in Honolulu (UTC-10).
	const jql = `updated >= "2026/01/05 10:00" ORDER BY key`
	if got := joinKeys(searchKeys(t, c, jql)); got != "EHR-2,EHR-3,EHR-4,PACS-1" {
		t.Fatalf("in New York: %q", got)
	}
	if err := s.SetTimeZone("Pacific/Honolulu"); err != nil {
		t.Fatal(err)
	}
	// 10:00 in Honolulu is 20:00Z: EHR-2 and EHR-3, updated at 15:00Z
	// and 15:01Z, fall out.
	if got := joinKeys(searchKeys(t, c, jql)); got != "EHR-4,PACS-1" {
		t.Errorf("in Honolulu: %q, want EHR-4,PACS-1", got)
	}
	if me := decode[struct{ TimeZone string }](t, c.get("/rest/api/3/myself", nil)); me.TimeZone != "Pacific/Honolulu" {
		t.Errorf("myself timeZone %q, want Pacific/Honolulu", me.TimeZone)
	}
	if err := s.SetTimeZone("Mars/Olympus"); err == nil {
		t.Error("SetTimeZone took an unknown zone")
	}
}

func TestSearchCacheSeesChanges(t *testing.T) {
	s, c := start(t, Options{})
	s.Add(jqlFixture(t)...)
	const jql = `status = Done ORDER BY key`
	if got := joinKeys(searchKeys(t, c, jql)); got != "EHR-2,PACS-1" {
		t.Fatalf("before: %q", got)
	}
	if err := s.Update("EHR-1", func(is *Issue) { is.Status, is.StatusCategory = "Done", "done" }); err != nil {
		t.Fatal(err)
	}
	if got := joinKeys(searchKeys(t, c, jql)); got != "EHR-1,EHR-2,PACS-1" {
		t.Errorf("after update: %q", got)
	}
	s.Add(Issue{Project: "PACS", Status: "Done"})
	if got := joinKeys(searchKeys(t, c, jql)); got != "EHR-1,EHR-2,PACS-1,PACS-2" {
		t.Errorf("after add: %q", got)
	}
}

// Relative dates move with the clock even when nothing changed.
func TestRelativeDatesFollowTheClock(t *testing.T) {
	now := mustTime(t, "2026-01-05T15:29:00Z")
	s, c := start(t, Options{Now: func() time.Time { return now }})
	s.Add(jqlFixture(t)[:3]...)
	const jql = `updated >= -30m ORDER BY key`
	if got := joinKeys(searchKeys(t, c, jql)); got != "EHR-1,EHR-2,EHR-3" {
		t.Fatalf("at 15:29: %q", got)
	}
	now = now.Add(time.Minute) // 15:30: EHR-1 (14:59) drops out
	if got := joinKeys(searchKeys(t, c, jql)); got != "EHR-2,EHR-3" {
		t.Errorf("at 15:30: %q", got)
	}
}
