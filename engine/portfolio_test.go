package engine_test

import (
	"context"
	"slices"

	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync/config"
	"github.com/pmsync/pmsync/configs"
	"github.com/pmsync/pmsync/connectors"
	_ "github.com/pmsync/pmsync/connectors/all"
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/asanasim"
	"github.com/pmsync/pmsync/sandbox/jirasim"
	"github.com/pmsync/pmsync/sandbox/trellosim"
	"github.com/pmsync/pmsync/store/sqlite"
)

// counts are the figures a rollup must show, derived here from a fake's own
// records by the documented PMO template, without pmsync's mapping or
// rollup code.
type counts struct{ done, total, milestones, mDone, late, open, red, live int }

type plain struct {
	kind      string // task | milestone | risk
	done      bool
	cancelled bool
	due       string
	score     int
}

func tally(items []plain, asOf string) counts {
	var c counts
	for _, it := range items {
		c.live++
		if it.cancelled {
			continue
		}
		if it.kind == "risk" {
			if !it.done {
				c.open++
				if it.score >= 15 {
					c.red++
				}
			}
			continue
		}
		c.total++
		if it.done {
			c.done++
		}
		if it.kind == "milestone" {
			c.milestones++
			if it.done {
				c.mDone++
			} else if it.due != "" && it.due < asOf {
				c.late++
			}
		}
	}
	return c
}

func num(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case string:
		n, _ := strconv.Atoi(x)
		return n
	}
	return 0
}

// portfolio is the demo's simulators with an engine over them, on a clock
// the test moves.
type portfolio struct {
	demo  *sandbox.Demo
	db    *sqlite.DB
	eng   *engine.Engine
	clock *sandbox.Clock
}

func startPortfolio(t *testing.T) *portfolio {
	t.Helper()
	clk := sandbox.NewClock(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	demo, err := sandbox.Start(clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(demo.Close)
	text, err := demo.Config(configs.Demo, filepath.Join(t.TempDir(), "demo.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("demo.yaml", text, connectors.Default, demo.Lookup)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timezone = "UTC"
	db := openStore(t, cfg.Database)
	eng, err := engine.New(cfg, db, engine.Options{Log: zerolog.Nop(), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &portfolio{demo: demo, db: db, eng: eng, clock: clk}
}

func TestDemoPortfolioRollsUpEveryTool(t *testing.T) {
	ctx := context.Background()
	p := startPortfolio(t)
	demo, eng := p.demo, p.eng
	if _, err := eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatalf("sync: %v", err)
	}
	rep, err := eng.Rollup(ctx, engine.RollupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	asOf := "2026-11-26"

	var jira []plain
	for _, is := range demo.Jira.Issues() {
		if is.Project != "EHR" {
			continue
		}
		p := plain{kind: "task", done: is.StatusCategory == "done", cancelled: is.Resolution == "Won't Do" || is.Resolution == "Cancelled", due: is.Due}
		switch is.Type {
		case "Milestone":
			p.kind = "milestone"
		case "Risk":
			p.kind = "risk"
			p.score = num(is.Likelihood) * num(is.Impact)
		}
		jira = append(jira, p)
	}
	var asana []plain
	for _, tk := range demo.Asana.Tasks(demo.Vars["asana_project"]) {
		status, _ := tk.Custom["Status"].(string)
		p := plain{kind: "task", cancelled: status == "Cancelled", due: tk.DueOn}
		p.done = !p.cancelled && (tk.Completed || status == "Done")
		if p.due == "" && !tk.DueAt.IsZero() {
			p.due = tk.DueAt.UTC().Format("2006-01-02")
		}
		switch {
		case tk.Subtype == "milestone":
			p.kind = "milestone"
		case tk.Section == "Risks":
			p.kind = "risk"
			p.score = num(tk.Custom["Likelihood"]) * num(tk.Custom["Impact"])
		}
		asana = append(asana, p)
	}
	sheet, _ := strconv.ParseInt(demo.Vars["pacs_sheet"], 10, 64)
	rows, err := demo.Smartsheet.Rows(sheet)
	if err != nil {
		t.Fatal(err)
	}
	var smart []plain
	for _, r := range rows {
		typ, _ := r.Cells["Type"].(string)
		status, _ := r.Cells["Status"].(string)
		due, _ := r.Cells["End Date"].(string)
		if len(due) > 10 {
			due = due[:10]
		}
		p := plain{kind: "task", done: status == "Complete", cancelled: status == "Cancelled", due: due}
		switch typ {
		case "Milestone":
			p.kind = "milestone"
		case "Risk":
			p.kind = "risk"
			p.score = num(r.Cells["Likelihood"]) * num(r.Cells["Impact"])
		}
		smart = append(smart, p)
	}

	// Trello: the PMO template read off the simulator's own cards.
	board := demo.Vars["portal_board"]
	listName := map[string]string{}
	for _, name := range []string{"Backlog", "Doing", "Blocked", "Done", "Cancelled", "Milestones", "Risks"} {
		listName[demo.Trello.ListID(board, name)] = name
	}
	milestoneLabel, riskLabel := demo.Trello.LabelID(board, "Milestone"), demo.Trello.LabelID(board, "Risk")
	var trello []plain
	for _, c := range demo.Trello.Cards(board) {
		list := listName[c.IDList]
		p := plain{kind: "task"}
		switch {
		case slices.Contains(c.Labels, milestoneLabel) || list == "Milestones":
			p.kind = "milestone"
		case slices.Contains(c.Labels, riskLabel) || list == "Risks":
			p.kind = "risk"
			p.score = num(c.Custom["Likelihood"]) * num(c.Custom["Impact"])
		}
		p.cancelled = list == "Cancelled" || c.Closed && p.kind == "risk"
		p.done = !p.cancelled && (c.DueComplete || list == "Done")
		if c.Due != nil {
			p.due = c.Due.UTC().Format("2006-01-02")
		}
		trello = append(trello, p)
	}

	want := map[string]counts{"ehr-upgrade": tally(jira, asOf), "telehealth-launch": tally(asana, asOf), "pacs-viewer": tally(smart, asOf),
		"patient-portal": tally(trello, asOf)}
	if len(rep.Programs) != 4 {
		t.Fatalf("rollup has %d programs, want 4", len(rep.Programs))
	}
	for _, r := range rep.Programs {
		w := want[r.ID]
		got := counts{r.Progress.Done, r.Progress.Total, r.Milestones.Total, r.Milestones.Done, r.Milestones.Late, r.Risks.Open, r.Risks.RedFlags, r.Items.Live}
		if got != w {
			t.Errorf("%s: rollup %+v, from the fake %+v", r.ID, got, w)
		}
		if w.milestones == 0 || w.open == 0 {
			t.Errorf("%s: the generated plan has no milestones or risks: %+v", r.ID, w)
		}
	}
}

func TestPushDeliversOncePerVersion(t *testing.T) {
	ctx := context.Background()
	p := startPortfolio(t)
	demo, eng := p.demo, p.eng
	sheet, _ := strconv.ParseInt(demo.Vars["rollup_sheet"], 10, 64)
	statusList := demo.Vars["trello_status_list"]
	observe := func() (updates, comments, rows, cards, cardComments int) {
		r, err := demo.Smartsheet.Rows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range demo.Trello.Cards(demo.Vars["trello_status_board"]) {
			if c.IDList == statusList {
				cards++
				cardComments += len(demo.Trello.Comments(c.ID))
			}
		}
		return len(demo.Asana.StatusUpdates(demo.Vars["asana_project"])), len(demo.Jira.Comments(demo.Vars["jira_status_issue"])), len(r), cards, cardComments
	}
	if _, err := eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	for round := 1; round <= 2; round++ {
		res, err := eng.Push(ctx, false)
		if err != nil {
			t.Fatalf("push round %d: %v", round, err)
		}
		want := map[int]string{1: "delivered", 2: "unchanged"}[round]
		if len(res) != 7 {
			t.Errorf("round %d: %d push results, want 7 (4 sheet rows, 1 status update, 1 comment, 1 Trello card)", round, len(res))
		}
		for _, r := range res {
			if r.Status != want {
				t.Errorf("round %d: %s %s is %s, want %s", round, r.Target, r.Program, r.Status, want)
			}
		}
		u, c, r, cards, cc := observe()
		if u != 1 || c != 1 || r != 4 || cards != 1 || cc != 1 {
			t.Errorf("after round %d: %d Asana status updates, %d Jira comments, %d rollup rows, %d Trello cards with %d comments; want 1, 1, 4, 1, 1",
				round, u, c, r, cards, cc)
		}
	}
	// A milestone finished at the vendor changes the rollup: one more
	// status update and comment, and the sheet rows are updated in place.
	for _, is := range demo.Jira.Issues() {
		if is.Type == "Milestone" && is.StatusCategory != "done" {
			_ = demo.Jira.Update(is.Key, func(i *jirasim.Issue) { i.Status, i.StatusCategory = "Done", "done" })
			break
		}
	}
	for _, tk := range demo.Asana.Tasks(demo.Vars["asana_project"]) {
		if tk.Subtype == "milestone" && !tk.Completed {
			_ = demo.Asana.UpdateTask(tk.GID, func(x *asanasim.Task) { x.Completed = true; x.Custom["Status"] = "Done" })
			break
		}
	}
	board := demo.Vars["portal_board"]
	for _, c := range demo.Trello.Cards(board) {
		if c.IDList == demo.Trello.ListID(board, "Milestones") && !c.DueComplete && !c.Closed {
			_ = demo.Trello.UpdateCard(c.ID, func(x *trellosim.Card) { x.DueComplete = true })
			break
		}
	}
	p.clock.Advance(time.Hour)
	if _, err := eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Push(ctx, false); err != nil {
		t.Fatal(err)
	}
	u, c, r, cards, cc := observe()
	if u != 2 || c != 2 || r != 4 || cards != 1 || cc != 2 {
		t.Errorf("after a new version: %d Asana status updates, %d Jira comments, %d rollup rows, %d Trello cards with %d comments; want 2, 2, 4, 1, 2",
			u, c, r, cards, cc)
	}

}

func TestAsanaAndSmartsheetDeletionsAndRenamedColumn(t *testing.T) {
	ctx := context.Background()
	p := startPortfolio(t)
	demo, db, eng := p.demo, p.db, p.eng
	if _, err := eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}

	// A task deleted in Asana and a row deleted in Smartsheet are
	// tombstoned by the next ordinary sync (events; the sheet's row ids).
	task := demo.Asana.Tasks(demo.Vars["asana_project"])[3]
	if err := demo.Asana.DeleteTask(task.GID); err != nil {
		t.Fatal(err)
	}
	sheet, _ := strconv.ParseInt(demo.Vars["pacs_sheet"], 10, 64)
	rows, _ := demo.Smartsheet.Rows(sheet)
	var row int64
	for _, r := range rows {
		if r.Cells["Type"] == "Risk" { // a leaf row: deleting it takes no children
			row = r.ID
			break
		}
	}
	if err := demo.Smartsheet.DeleteRow(sheet, row); err != nil {
		t.Fatal(err)
	}
	p.clock.Advance(time.Hour)
	res, err := eng.Sync(ctx, engine.SyncOptions{Sources: []string{"telehealth-asana", "pacs-smartsheet"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Deleted != 1 {
			t.Errorf("%s tombstoned %d items, want 1", r.Source, r.Deleted)
		}
	}
	for src, id := range map[string]string{"telehealth-asana": task.GID, "pacs-smartsheet": strconv.FormatInt(row, 10)} {
		it, ok, err := db.Item(ctx, src, id)
		if err != nil || !ok || !it.Deleted() {
			t.Errorf("%s item %s: found %v, tombstoned %v, err %v", src, id, ok, it.Deleted(), err)
		}
	}

	// A column the mapping reads is renamed in the sheet: the sync names it
	// and nothing stored changes.
	before, _ := db.Items(ctx, "pacs-smartsheet")
	if err := demo.Smartsheet.RenameColumn(sheet, "End Date", "Finish"); err != nil {
		t.Fatal(err)
	}
	_ = demo.Smartsheet.UpdateRow(sheet, rows[0].ID, map[string]any{"Status": "Complete"})
	p.clock.Advance(time.Hour)
	_, err = eng.Sync(ctx, engine.SyncOptions{Sources: []string{"pacs-smartsheet"}})
	if err == nil || !strings.Contains(err.Error(), "End Date") {
		t.Fatalf("sync after the rename: %v; want an error naming the column End Date", err)
	}
	after, _ := db.Items(ctx, "pacs-smartsheet")
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("stored items changed after the failed sync (-before +after):\n%s", diff)
	}
}
