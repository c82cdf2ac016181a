package asana

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox/asanasim"
)

func (f *fixture) push(t *testing.T, rollups ...pmsync.Rollup) []connectors.Receipt {
	t.Helper()
	rcs, err := f.c.Push(context.Background(), target(f.project), rollups)
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	return rcs
}

// updatesFor counts the fake's status updates carrying a rollup's marker.
func (f *fixture) updatesFor(r pmsync.Rollup) int {
	n := 0
	for _, u := range f.sim.StatusUpdates(f.project) {
		if strings.HasSuffix(u.Text, "\n"+Marker(r)) {
			n++
		}
	}
	return n
}

// Acceptance: a push creates exactly one status update per rollup version,
// even when the push is retried after a timeout.
func TestPushOncePerVersion(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 0, params: func(p *connectors.Params) { p.Timeout = 100 * time.Millisecond }})
	v1, v2, v3 := rollup("aaaaaaaaaaa1", pmsync.Red), rollup("aaaaaaaaaaa2", pmsync.Amber), rollup("aaaaaaaaaaa3", pmsync.Green)

	rcs := f.push(t, v1)
	if len(rcs) != 1 || rcs[0].Existing || rcs[0].ID == "" || rcs[0].Program != "telehealth" {
		t.Fatalf("first push receipt %+v, want a new status update", rcs)
	}
	// The same version again, as after an engine retry: nothing new.
	rcs = f.push(t, v1)
	if !rcs[0].Existing || f.updatesFor(v1) != 1 {
		t.Errorf("second push of v1: receipt %+v, %d updates; want Existing and 1", rcs[0], f.updatesFor(v1))
	}

	// The server stores v2 but the answer never arrives: the attempt times
	// out, the retry lists the updates first and finds it.
	f.sim.Inject(asanasim.Fault{Method: "POST", Path: "/status_updates", Status: 504, After: true, Delay: time.Second})
	rcs = f.push(t, v2)
	if !rcs[0].Existing || f.updatesFor(v2) != 1 {
		t.Errorf("push of v2 after a timeout: receipt %+v, %d updates; want Existing and exactly 1", rcs[0], f.updatesFor(v2))
	}
	// The same with the gateway answering 504 after the write.
	f.sim.Inject(asanasim.Fault{Method: "POST", Path: "/status_updates", Status: 504, After: true})
	rcs = f.push(t, v3)
	if !rcs[0].Existing || f.updatesFor(v3) != 1 {
		t.Errorf("push of v3 after a lost 504: receipt %+v, %d updates; want Existing and exactly 1", rcs[0], f.updatesFor(v3))
	}
	// The timed-out POST is logged when its handler returns, which may be
	// after the client gave up on it.
	for end := time.Now().Add(5 * time.Second); len(f.calls("POST", "/status_updates")) < 3 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(f.calls("POST", "/status_updates")); n != 3 {
		t.Errorf("%d POSTs for 3 versions, want 3: the retries must not post again", n)
	}
	if n := len(f.sim.StatusUpdates(f.project)); n != 3 {
		t.Errorf("%d status updates, want 3", n)
	}
}

func TestPushRetriesWhenNothingWasStored(t *testing.T) {
	tests := []struct {
		name      string
		fault     asanasim.Fault
		wantPosts int
		wantWait  time.Duration
	}{
		{"rate limited", asanasim.Fault{Method: "POST", Path: "/status_updates", Status: 429, RetryAfter: 30}, 2, 30 * time.Second},
		{"server error twice", asanasim.Fault{Method: "POST", Path: "/status_updates", Status: 500, Times: 2}, 3, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{tasks: 0})
			f.sim.Inject(tt.fault)
			r := rollup("bbbbbbbbbbb1", pmsync.Amber)
			rcs := f.push(t, r)
			if rcs[0].Existing || f.updatesFor(r) != 1 {
				t.Errorf("receipt %+v, %d updates; want one new update", rcs[0], f.updatesFor(r))
			}
			if n := len(f.calls("POST", "/status_updates")); n != tt.wantPosts {
				t.Errorf("%d POSTs, want %d", n, tt.wantPosts)
			}
			if n := len(f.calls("GET", "/status_updates")); n != tt.wantPosts {
				t.Errorf("%d listings, want one before every POST (%d)", n, tt.wantPosts)
			}
			if waits := f.sleep.Waits(); !slices.Contains(waits, tt.wantWait) {
				t.Errorf("waits %v, want one of %v", waits, tt.wantWait)
			}
		})
	}
}

func TestPushFailsWithoutRetryOnRefusal(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 0})
	f.sim.Inject(asanasim.Fault{Method: "POST", Path: "/status_updates", Status: 403, Body: `{"errors":[{"message":"You do not have permission to post a status update on this project"}]}`})
	_, err := f.c.Push(context.Background(), target(f.project), []pmsync.Rollup{rollup("ccccccccccc1", pmsync.Green)})
	if connectors.StatusOf(err) != 403 || !strings.Contains(err.Error(), "You do not have permission") {
		t.Fatalf("Push = %v, want the 403 with Asana's message", err)
	}
	if n := len(f.calls("POST", "/status_updates")); n != 1 {
		t.Errorf("%d POSTs after a 403, want 1", n)
	}
}

func TestPushMany(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 0})
	a, b := rollup("ddddddddddd1", pmsync.Green), rollup("ddddddddddd1", pmsync.Green)
	b.ID, b.Name = "ehr-upgrade", "EHR Upgrade"
	rcs := f.push(t, a, b)
	if len(rcs) != 2 || rcs[0].Program != "telehealth" || rcs[1].Program != "ehr-upgrade" || rcs[0].Existing || rcs[1].Existing {
		t.Errorf("receipts %+v, want two new updates in order", rcs)
	}
	if f.updatesFor(a) != 1 || f.updatesFor(b) != 1 {
		t.Error("each program needs its own update, even with the same version")
	}
}

func TestPushBadInput(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 0})
	noVersion := rollup("", pmsync.Green)
	badHealth := rollup("eeeeeeeeeee1", "purple")
	tests := []struct {
		name   string
		target connectors.Target
		r      pmsync.Rollup
		want   string
	}{
		{"no project", target(""), rollup("x", pmsync.Green), "needs project"},
		{"no version", target(f.project), noVersion, "no program id or version"},
		{"bad health", target(f.project), badHealth, `health "purple"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.c.Push(context.Background(), tt.target, []pmsync.Rollup{tt.r})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Push = %v, want an error saying %q", err, tt.want)
			}
		})
	}
	if n := len(f.sim.Calls()); n != 0 {
		t.Errorf("%d requests for bad input, want none", n)
	}
}

func TestStatusUpdateContent(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 0})
	r := rollup("0123456789ab", pmsync.Red)
	f.push(t, r)
	got := f.sim.StatusUpdates(f.project)[0]
	wantTitle := "Telehealth Launch — Off track — 2026-11-26"
	wantText := strings.Join([]string{
		"Off track: 1 milestone late: Pilot go-live: Family Medicine (due 2026-11-02)",
		"Progress: 42.5% done (85 of 200); milestones 3 of 8 done, 1 late, 1 due soon",
		"Late milestones: Pilot go-live: Family Medicine (due 2026-11-02)",
		"Red-flag risks: Video vendor misses BAA signature date (score 20), Interface engine upgrade slips (score 16)",
		"Budget: 39.2% burned vs 50.0% of time elapsed (-10.8 points); 98,000.50 of 250,000.00 USD spent",
		"Since last update: health amber → red; progress 40.0% → 42.5% (+2.5 points)",
		"",
		"pmsync rollup telehealth 0123456789ab",
	}, "\n")
	if got.Title != wantTitle || got.StatusType != "off_track" {
		t.Errorf("title %q type %q, want %q off_track", got.Title, got.StatusType, wantTitle)
	}
	if got.Text != wantText {
		t.Errorf("text:\n%s\nwant:\n%s", got.Text, wantText)
	}
}

func TestTextVariants(t *testing.T) {
	quiet := rollup("1", pmsync.Green)
	quiet.Late, quiet.RedFlags, quiet.Changes = nil, nil, nil
	quiet.Budget = pmsync.Budget{Actual: 1234.5}
	many := rollup("2", pmsync.Red)
	many.Late = nil
	for i := range 7 {
		many.Late = append(many.Late, pmsync.ItemRef{Title: string(rune('A' + i))})
	}
	many.Budget.ElapsedPercent, many.Budget.VariancePoints = nil, nil
	tests := []struct {
		name string
		r    pmsync.Rollup
		want []string
	}{
		{"quiet", quiet, []string{"Late milestones: none", "Red-flag risks: none", "Budget: 1,234.50 spent, no planned budget", "Since last update: no material change"}},
		{"many late, no program dates", many, []string{"Late milestones: A, B, C, D, E, and 2 more", "Budget: 39.2% burned (98,000.50 of 250,000.00 USD spent)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := Text(tt.r)
			for _, w := range tt.want {
				if !strings.Contains(text, w+"\n") {
					t.Errorf("text lacks line %q:\n%s", w, text)
				}
			}
		})
	}
}

func TestStatusType(t *testing.T) {
	tests := []struct {
		h    pmsync.HealthStatus
		want string
	}{
		{pmsync.Green, "on_track"}, {pmsync.Amber, "at_risk"}, {pmsync.Red, "off_track"}, {"", ""},
	}
	for _, tt := range tests {
		got, err := StatusType(tt.h)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("StatusType(%q) = %q, %v; want %q", tt.h, got, err, tt.want)
		}
	}
}

func TestMoney(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0.00"}, {5.5, "5.50"}, {999.999, "1,000.00"}, {1234567.891, "1,234,567.89"}, {-98000.5, "-98,000.50"},
	}
	for _, tt := range tests {
		if got := pmsync.Money(tt.f, 2); got != tt.want {
			t.Errorf("money(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestWriteSlotsBoundConcurrency(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 0})
	for range MaxConcurrentWrites {
		f.c.writes <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := f.c.Push(ctx, target(f.project), []pmsync.Rollup{rollup("fffffffffff1", pmsync.Green)})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "write slot") {
		t.Errorf("Push with every write slot taken = %v, want a deadline waiting for a write slot", err)
	}
	if n := len(f.calls("POST", "/status_updates")); n != 0 {
		t.Errorf("%d POSTs beyond the concurrency limit", n)
	}
}

// Defect: the guard before a POST read one page of status updates, so on a
// busy project a version stored before a lost answer, with more than a
// page of updates after it, was posted again. The guard now reads every
// page created since the rollup's as-of day.
func TestPushGuardReadsEveryPageSinceTheAsOfDay(t *testing.T) {
	f := newFixture(t, fixtureOpts{tasks: 0})
	v := rollup("bbbbbbbbbbb1", pmsync.Amber) // as of 2026-11-26
	// Older than the as-of day could allow: never asked for.
	if _, err := f.sim.AddStatusUpdate(asanasim.StatusUpdate{Parent: f.project, Text: "weekly note", CreatedAt: t0.AddDate(0, 0, -30)}); err != nil {
		t.Fatal(err)
	}
	stored, err := f.sim.AddStatusUpdate(asanasim.StatusUpdate{Parent: f.project, Text: Text(v), CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 130 { // more than a page of newer updates
		if _, err := f.sim.AddStatusUpdate(asanasim.StatusUpdate{Parent: f.project, Text: "site note", CreatedAt: t0.Add(time.Duration(i+1) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	rcs := f.push(t, v)
	if len(rcs) != 1 || !rcs[0].Existing || rcs[0].ID != stored {
		t.Fatalf("receipt %+v, want Existing with the stored update %s", rcs, stored)
	}
	if n := len(f.calls("POST", "/status_updates")); n != 0 {
		t.Errorf("%d POSTs, want none: the version was already there", n)
	}
	lists := f.calls("GET", "/status_updates")
	if len(lists) != 2 {
		t.Fatalf("%d listing requests, want 2 (131 updates since the as-of day, 100 a page)", len(lists))
	}
	// The start of 2026-11-26 anywhere on earth (UTC+14) less a day.
	for _, c := range lists {
		if got := c.Query.Get("created_since"); got != "2026-11-24T10:00:00Z" {
			t.Errorf("created_since = %q, want 2026-11-24T10:00:00Z", got)
		}
	}
	if lists[1].Query.Get("offset") == "" {
		t.Error("the second listing request did not follow next_page.offset")
	}
}
