// Package sandbox starts pmsync's vendor simulators on loopback with a
// realistic hospital portfolio: an EHR upgrade in Jira Cloud, a telehealth
// launch in Asana, a PACS viewer integration in Smartsheet and a patient
// portal go-live in Trello. `pmsync demo`
// runs on it; tests and benchmarks use the simulators in its subpackages.
package sandbox

import (
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/pmsync/pmsync/sandbox/asanasim"
	"github.com/pmsync/pmsync/sandbox/jirasim"
	"github.com/pmsync/pmsync/sandbox/smartsheetsim"
	"github.com/pmsync/pmsync/sandbox/trellosim"
)

// The demo's credentials. They are fake and only open the simulators.
const (
	jiraEmail       = "pmo-bot@hospital.example"
	jiraToken       = "demo-jira-token"
	asanaToken      = "demo-asana-token"
	smartsheetToken = "demo-smartsheet-token"
	trelloKey       = "demo-trello-key"
	trelloToken     = "demo-trello-token"
)

// Sizes of the demo programs (issues, tasks, rows).
const (
	JiraIssues      = 240
	AsanaTasks      = 180
	SmartsheetRows  = 150
	TrelloCards     = 120
	generationSeed  = 2026
	statusIssueName = "Executive status — EHR Upgrade"
)

// Demo is a running set of simulators.
type Demo struct {
	Jira       *jirasim.Server
	Asana      *asanasim.Server
	Smartsheet *smartsheetsim.Server
	Trello     *trellosim.Server
	// Vars fills the {{placeholders}} of configs/demo.yaml.
	Vars map[string]string
	// Env holds the credentials the demo configuration reads.
	Env     map[string]string
	servers []*httptest.Server
}

// Credentials are what the simulators accept and the demo configuration
// reads (as DEMO_JIRA_EMAIL, DEMO_JIRA_TOKEN, DEMO_ASANA_TOKEN,
// DEMO_SMARTSHEET_TOKEN, DEMO_TRELLO_KEY and DEMO_TRELLO_TOKEN).
type Credentials struct {
	JiraEmail, JiraToken   string
	AsanaToken             string
	SmartsheetToken        string
	TrelloKey, TrelloToken string
}

// DemoCredentials are the demo's own credentials.
func DemoCredentials() Credentials {
	return Credentials{JiraEmail: jiraEmail, JiraToken: jiraToken, AsanaToken: asanaToken, SmartsheetToken: smartsheetToken,
		TrelloKey: trelloKey, TrelloToken: trelloToken}
}

// Start starts the simulators with data generated relative to now.
func Start(now time.Time) (*Demo, error) {
	return StartWith(now, DemoCredentials())
}

// StartWith starts the simulators accepting the credentials c, for tests
// that look for them where they must not be.
func StartWith(now time.Time, c Credentials) (*Demo, error) {
	d := &Demo{Vars: map[string]string{}, Env: map[string]string{
		"DEMO_JIRA_EMAIL": c.JiraEmail, "DEMO_JIRA_TOKEN": c.JiraToken,
		"DEMO_ASANA_TOKEN": c.AsanaToken, "DEMO_SMARTSHEET_TOKEN": c.SmartsheetToken,
		"DEMO_TRELLO_KEY": c.TrelloKey, "DEMO_TRELLO_TOKEN": c.TrelloToken,
	}}
	day := func(offset int) string { return now.AddDate(0, 0, offset).Format("2006-01-02") }

	d.Jira = jirasim.New(jirasim.Options{Flavor: jirasim.Cloud, Email: c.JiraEmail, Token: c.JiraToken, TimeZone: "America/New_York"})
	js := d.Jira.Start()
	d.servers = append(d.servers, js)
	d.Jira.Add(jirasim.Generate("EHR", JiraIssues, generationSeed, now)...)
	keys := d.Jira.Add(jirasim.Issue{Project: "PMO", Type: "Task", Summary: statusIssueName, Status: "In Progress", StatusCategory: "indeterminate"})
	d.Vars["jira_url"] = js.URL
	d.Vars["jira_status_issue"] = keys[0]
	d.Vars["ehr_start"], d.Vars["ehr_end"] = day(-120), day(200)

	d.Asana = asanasim.New(asanasim.Options{Token: c.AsanaToken})
	as := d.Asana.Start()
	d.servers = append(d.servers, as)
	d.Vars["asana_url"] = as.URL + asanasim.BasePath
	d.Vars["asana_project"] = d.Asana.Generate("Telehealth Launch", AsanaTasks, generationSeed, now)
	d.Vars["tele_start"], d.Vars["tele_end"] = day(-150), day(150)

	d.Smartsheet = smartsheetsim.New(smartsheetsim.Options{Token: c.SmartsheetToken})
	ss := d.Smartsheet.Start()
	d.servers = append(d.servers, ss)
	d.Vars["smartsheet_url"] = smartsheetsim.BaseURL(ss)
	d.Vars["pacs_sheet"] = strconv.FormatInt(d.Smartsheet.Generate("PACS Viewer Integration", SmartsheetRows, generationSeed, now), 10)
	d.Vars["pacs_start"], d.Vars["pacs_end"] = day(-120), day(245)
	rollup, err := d.Smartsheet.CreateSheet("Executive Rollup", smartsheetsim.RollupColumns(true, "Green", "Amber", "Red"))
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("create the demo rollup sheet: %w", err)
	}
	d.Vars["rollup_sheet"] = strconv.FormatInt(rollup, 10)

	d.Trello = trellosim.New(trellosim.Options{Key: c.TrelloKey, Token: c.TrelloToken})
	ts := d.Trello.Start()
	d.servers = append(d.servers, ts)
	d.Vars["trello_url"] = trellosim.BaseURL(ts)
	d.Vars["portal_board"] = d.Trello.Generate("Patient Portal Go-Live", TrelloCards, generationSeed, now)
	d.Vars["portal_start"], d.Vars["portal_end"] = day(-90), day(60)
	// The go-live's status card lives on a board of its own, so that the
	// pulled board does not read it back as a task.
	status := d.Trello.AddBoard("PMO Executive Status")
	d.Vars["trello_status_board"] = status
	d.Vars["trello_status_list"] = d.Trello.AddList(status, "Program Health")
	return d, nil
}

// Config fills the placeholders of a configuration template.
func (d *Demo) Config(tmpl []byte, database string) ([]byte, error) {
	vars := map[string]string{"database": database}
	for k, v := range d.Vars {
		vars[k] = v
	}
	out := string(tmpl)
	for k, v := range vars {
		out = strings.ReplaceAll(out, "{{"+k+"}}", v)
	}
	if i := strings.Index(out, "{{"); i >= 0 {
		end := min(len(out), i+40)
		return nil, fmt.Errorf("demo config: unknown placeholder near %q", out[i:end])
	}
	return []byte(out), nil
}

// Lookup reads the demo's credentials, in the shape config.Load expects.
func (d *Demo) Lookup(key string) (string, bool) {
	v, ok := d.Env[key]
	return v, ok
}

// Close stops the simulators.
func (d *Demo) Close() {
	for _, s := range d.servers {
		s.Close()
	}
}
