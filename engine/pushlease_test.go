package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pmsync/pmsync/engine"
)

// A process killed while delivering leaves its push marked sending. Pushes
// run under the push lease, so the next pusher knows that push was
// abandoned and sends it at once (the target's marker check keeps a
// version that did arrive from arriving twice) instead of leaving it, and
// every newer version of the program behind it, for a claim to run out.
// A live process holding the push lease makes another wait its turn.
func TestPushLeftSendingIsTakenOver(t *testing.T) {
	ctx := context.Background()
	p := startPortfolio(t)
	if _, err := p.eng.Sync(ctx, engine.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	issue := p.demo.Vars["jira_status_issue"]
	var key string
	for _, pu := range p.eng.Config().Push {
		if pu.Connection == "jira" {
			key = engine.TargetKey(pu)
		}
	}
	// A pusher claims the EHR rollup and dies before sending it.
	rep, err := p.eng.Rollup(ctx, engine.RollupOptions{Programs: []string{"ehr-upgrade"}})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Programs[0]
	payload, _ := json.Marshal(r)
	if _, err := p.db.Enqueue(ctx, key, r.ID, r.Version, payload, p.clock.Now()); err != nil {
		t.Fatal(err)
	}
	pending, err := p.db.PendingPushes(ctx, key)
	if err != nil || len(pending) != 1 {
		t.Fatal(pending, err)
	}
	if ok, err := p.db.ClaimPush(ctx, pending[0].ID, p.clock.Now(), time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	p.clock.Advance(time.Minute)

	// Another live process is pushing: this one waits its turn.
	if _, got, err := p.db.AcquireLease(ctx, "push", "other-host/1/1/beef", p.clock.Now(), time.Hour); err != nil || !got {
		t.Fatal(got, err)
	}
	if _, err := p.eng.Push(ctx, false); !errors.Is(err, engine.ErrBusy) {
		t.Errorf("push while another process holds the push lease: %v, want ErrBusy", err)
	}
	if err := p.db.ReleaseLease(ctx, "push", "other-host/1/1/beef"); err != nil {
		t.Fatal(err)
	}

	res, err := p.eng.Push(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range res {
		if x.Target == key && (x.Status != "delivered" || x.Version != r.Version) {
			t.Errorf("the abandoned push: %s %s %s, want delivered", x.Target, x.Version, x.Status)
		}
	}
	if n := markers(p.demo.Jira.Comments(issue), r.Version); n != 1 {
		t.Errorf("the version is in %d comments, want 1", n)
	}
	if left, err := p.db.PendingPushes(ctx, key); err != nil || len(left) != 0 {
		t.Errorf("pushes left to send: %+v, %v", left, err)
	}
}

// markers counts the comments holding the rollup marker of version.
func markers(comments []string, version string) int {
	n := 0
	for _, c := range comments {
		if strings.Contains(c, " "+version) && strings.Contains(c, "pmsync rollup ") {
			n++
		}
	}
	return n
}
