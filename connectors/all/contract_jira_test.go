package all_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/jirasim"
)

func init() {
	for _, flavor := range []jirasim.Flavor{jirasim.Cloud, jirasim.DataCenter} {
		profiles["jira"] = append(profiles["jira"], profile{
			name:    "jira/" + string(flavor),
			records: 250,
			start: func(t *testing.T, clk *sandbox.Clock, n int) (string, string, map[string]string, fake) {
				sim := jirasim.New(jirasim.Options{Flavor: flavor, Email: "pmo@hospital.example", Token: "jira-contract-token", Now: clk.Now})
				ts := sim.Start()
				t.Cleanup(ts.Close)
				sim.Add(jirasim.Generate("EHR", n, 7, t0)...)
				conn := "base_url: " + ts.URL + "\nflavor: " + string(flavor) + "\nauth: { token_env: JIRA_TOKEN }"
				env := map[string]string{"JIRA_TOKEN": "jira-contract-token"}
				if flavor == jirasim.Cloud {
					conn = "base_url: " + ts.URL + "\nflavor: cloud\nauth: { email_env: JIRA_EMAIL, token_env: JIRA_TOKEN }"
					env["JIRA_EMAIL"] = "pmo@hospital.example"
				}
				search := "/rest/api/3/search/jql"
				if flavor == jirasim.DataCenter {
					search = "/rest/api/2/search"
				}
				return conn, "{ project: EHR }", env, jiraFake{sim: sim, clk: clk, search: search}
			},
		})
	}
}

type jiraFake struct {
	sim    *jirasim.Server
	clk    *sandbox.Clock
	search string
}

func (f jiraFake) Change(t *testing.T, k int) []string {
	t.Helper()
	f.clk.Advance(time.Hour) // far past the connector's overlap
	issues := f.sim.Issues()
	var ids []string
	for i := range k {
		is := issues[(i*37)%len(issues)]
		if err := f.sim.Update(is.Key, func(i *jirasim.Issue) { i.Status = "In Progress" }); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, is.ID)
	}
	return ids
}

func (f jiraFake) Delete(t *testing.T) string {
	t.Helper()
	is := f.sim.Issues()[1]
	if err := f.sim.Delete(is.Key); err != nil {
		t.Fatal(err)
	}
	return is.ID
}

func (f jiraFake) Fail(t *testing.T, status, times int) {
	fault := jirasim.Fault{Method: http.MethodPost, Path: f.search, Status: status, Times: times}
	if status == http.StatusTooManyRequests {
		fault.Header = map[string]string{"Retry-After": "1"}
	}
	f.sim.Inject(fault)
}

func (f jiraFake) Malformed(t *testing.T) {
	f.sim.Inject(jirasim.Fault{Method: http.MethodPost, Path: f.search, Malformed: true})
}
