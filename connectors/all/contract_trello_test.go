package all_test

import (
	"testing"
	"time"

	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/trellosim"
)

func init() {
	profiles["trello"] = []profile{{
		name: "trello",
		// More than one page of cards (1000) and of records (500).
		records: 1200,
		start: func(t *testing.T, clk *sandbox.Clock, n int) (string, string, map[string]string, fake) {
			sim := trellosim.New(trellosim.Options{Key: "trello-contract-key", Token: "trello-contract-token", Now: clk.Now,
				TokenLimit: 100000, KeyLimit: 100000})
			board := sim.Generate("Patient Portal Go-Live", n, 5, t0)
			ts := sim.Start()
			t.Cleanup(ts.Close)
			conn := "base_url: " + trellosim.BaseURL(ts) + "\nauth: { key_env: TRELLO_KEY, token_env: TRELLO_TOKEN }"
			env := map[string]string{"TRELLO_KEY": "trello-contract-key", "TRELLO_TOKEN": "trello-contract-token"}
			return conn, `{ board: "` + board + `" }`, env, trelloFake{sim: sim, clk: clk, board: board}
		},
	}}
}

type trelloFake struct {
	sim   *trellosim.Server
	clk   *sandbox.Clock
	board string
}

func (f trelloFake) Change(t *testing.T, k int) []string {
	t.Helper()
	f.clk.Advance(time.Hour)
	var ids []string
	for _, c := range f.sim.Cards(f.board)[:k] {
		if err := f.sim.UpdateCard(c.ID, func(c *trellosim.Card) { c.Name += " (rescheduled)" }); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	return ids
}

func (f trelloFake) Delete(t *testing.T) string {
	t.Helper()
	f.clk.Advance(time.Hour)
	id := f.sim.Cards(f.board)[1].ID
	if err := f.sim.DeleteCard(id); err != nil {
		t.Fatal(err)
	}
	return id
}

func (f trelloFake) Fail(t *testing.T, status, times int) {
	f.sim.Inject(trellosim.Fault{Path: "/boards/" + f.board + "/cards", Status: status, Times: times})
}

func (f trelloFake) Malformed(t *testing.T) {
	f.sim.Inject(trellosim.Fault{Path: "/boards/" + f.board + "/cards", Malformed: true})
}
