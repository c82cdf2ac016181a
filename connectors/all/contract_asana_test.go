package all_test

import (
	"testing"
	"time"

	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/asanasim"
)

func init() {
	profiles["asana"] = []profile{{
		name:    "asana",
		records: 250,
		start: func(t *testing.T, clk *sandbox.Clock, n int) (string, string, map[string]string, fake) {
			sim := asanasim.New(asanasim.Options{Token: "asana-contract-token", Now: clk.Now})
			project := sim.Generate("Telehealth Launch", n, 7, t0)
			ts := sim.Start()
			t.Cleanup(ts.Close)
			conn := "base_url: " + ts.URL + asanasim.BasePath + "\nauth: { token_env: ASANA_TOKEN }"
			return conn, `{ project: "` + project + `" }`, map[string]string{"ASANA_TOKEN": "asana-contract-token"},
				asanaFake{sim: sim, clk: clk, project: project}
		},
	}}
}

type asanaFake struct {
	sim     *asanasim.Server
	clk     *sandbox.Clock
	project string
}

func (f asanaFake) Change(t *testing.T, k int) []string {
	t.Helper()
	f.clk.Advance(2 * time.Hour) // past the connector's overlap
	var ids []string
	for _, tk := range f.sim.Tasks(f.project)[:k] {
		if err := f.sim.UpdateTask(tk.GID, func(t *asanasim.Task) { t.Name += " (rescheduled)" }); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tk.GID)
	}
	return ids
}

func (f asanaFake) Delete(t *testing.T) string {
	t.Helper()
	gid := f.sim.Tasks(f.project)[1].GID
	if err := f.sim.DeleteTask(gid); err != nil {
		t.Fatal(err)
	}
	return gid
}

func (f asanaFake) Fail(t *testing.T, status, times int) {
	f.sim.Inject(asanasim.Fault{Path: "/tasks", Status: status, Times: times, RetryAfter: 2})
}

func (f asanaFake) Malformed(t *testing.T) {
	f.sim.Inject(asanasim.Fault{Path: "/tasks", Status: 200})
}
