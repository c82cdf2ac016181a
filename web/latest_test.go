package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/engine"
)

// keeper is a roller that keeps a latest report, as the engine does, and
// counts what it is asked.
type keeper struct {
	*fakeEngine                 // the programs, time zone and sources of the fixture
	mu                          sync.Mutex
	latest                      pmsync.Report
	rollups, latests, refreshes int
	explained                   []engine.RollupOptions
}

func (k *keeper) Rollup(context.Context, engine.RollupOptions) (pmsync.Report, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.rollups++
	return k.latest, nil
}

func (k *keeper) Latest(context.Context) (pmsync.Report, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.latests++
	return k.latest, nil
}

func (k *keeper) Refresh(context.Context) (pmsync.Report, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.refreshes++
	k.latest.GeneratedAt = k.latest.GeneratedAt.Add(time.Hour)
	return k.latest, nil
}

func (k *keeper) Explain(_ context.Context, o engine.RollupOptions) (pmsync.ExplainReport, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.explained = append(k.explained, o)
	return pmsync.ExplainReport{Schema: pmsync.ExplainSchema, AsOf: "2026-11-26", Programs: []pmsync.Explanation{{Program: "ehr-upgrade", Figures: []pmsync.Figure{
		{Name: "milestones.late", Value: 1, Items: []pmsync.Evidence{{Source: "jira-ehr", ExternalID: "EHR-101", Kind: pmsync.KindMilestone, State: pmsync.StateTodo}}},
		{Name: "risks.red_flags", Value: 0, Items: []pmsync.Evidence{}},
	}}}}, nil
}

func newKeeper(t *testing.T) (*keeper, *Server) {
	t.Helper()
	k := &keeper{fakeEngine: fixtureEngine(), latest: pmsync.NewReport("2026-11-26", time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC), fixture().Programs)}
	srv, err := New(k, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return k, srv
}

func serve(srv *Server, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

// The dashboard and the API read the latest computed report; nothing is
// rolled up per request.
func TestServesTheLatestReport(t *testing.T) {
	k, srv := newKeeper(t)
	paths := []string{"/", "/api/v1/rollup", "/?program=telehealth", "/programs/ehr-upgrade", "/api/v1/portfolio", "/api/v1/programs/pacs"}
	for _, path := range paths {
		if rec := serve(srv, "GET", path); rec.Code != http.StatusOK {
			t.Fatalf("GET %s = %d", path, rec.Code)
		}
	}
	if k.rollups != 0 || k.latests != len(paths) {
		t.Errorf("%d rollups and %d reads of the latest report; want 0 and %d", k.rollups, k.latests, len(paths))
	}
	// A program page shows the served report's program.
	if rec := serve(srv, "GET", "/programs/telehealth"); !strings.Contains(rec.Body.String(), "Telehealth Launch <span class=\"badge green\">GREEN</span>") {
		t.Errorf("program page of the served report:\n%.400s", rec.Body.String())
	}
	// One program asked for: that program, with its own totals.
	rec := serve(srv, "GET", "/api/v1/rollup?program=telehealth")
	var rep pmsync.Report
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Programs) != 1 || rep.Programs[0].ID != "telehealth" || rep.Portfolio.Health.Green != 1 || rep.Portfolio.Health.Red != 0 {
		t.Errorf("narrowed report: %d programs, portfolio health %+v", len(rep.Programs), rep.Portfolio.Health)
	}
	if rec := serve(srv, "GET", "/api/v1/rollup?program=nope"); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `\"nope\"`) {
		t.Errorf("unknown program: %d %s", rec.Code, rec.Body.String())
	}
	// On demand: a POST recomputes it.
	if rec := serve(srv, "POST", "/api/v1/rollup/refresh"); rec.Code != http.StatusOK || k.refreshes != 1 || !strings.Contains(rec.Body.String(), `"generated_at": "2026-11-26T08:00:00Z"`) {
		t.Errorf("refresh = %d (%d refreshes):\n%s", rec.Code, k.refreshes, rec.Body.String())
	}
	if rec := serve(srv, "GET", "/api/v1/rollup/refresh"); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET refresh = %d, want 405", rec.Code)
	}
}

func TestExplainAPI(t *testing.T) {
	k, srv := newKeeper(t)
	rec := serve(srv, "GET", "/api/v1/rollup/explain?program=ehr-upgrade")
	var doc pmsync.ExplainReport
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("explain = %d %v:\n%s", rec.Code, err, rec.Body.String())
	}
	if doc.Schema != "pmsync.explain/v1" || len(doc.Programs[0].Figures) != 2 || len(k.explained) != 1 || k.explained[0].Programs[0] != "ehr-upgrade" {
		t.Errorf("explain doc %+v, asked %+v", doc, k.explained)
	}
	rec = serve(srv, "GET", "/api/v1/rollup/explain?figure=milestones.late")
	doc = pmsync.ExplainReport{}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || len(doc.Programs[0].Figures) != 1 || doc.Programs[0].Figures[0].Items[0].ExternalID != "EHR-101" {
		t.Errorf("one figure: %v %s", err, rec.Body.String())
	}
	if rec := serve(srv, "GET", "/api/v1/rollup/explain?figure=nope"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown figure = %d", rec.Code)
	}
	// The explanation page lists the figures and their items.
	rec = serve(srv, "GET", "/programs/ehr-upgrade/explain")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `<h2 id="figure-milestones-late">milestones.late = 1</h2>`) ||
		!strings.Contains(rec.Body.String(), "jira-ehr EHR-101") || !strings.Contains(rec.Body.String(), `<h2 id="figure-risks-red_flags">risks.red_flags = 0</h2>`) {
		t.Errorf("explanation page = %d:\n%s", rec.Code, rec.Body.String())
	}
	if n := len(k.explained); n != 4 || k.explained[3].Programs[0] != "ehr-upgrade" {
		t.Errorf("explanations asked: %+v", k.explained)
	}
	// A roller without explanations (a plain one) says so.
	plain, _ := New(fixtureEngine(), nil, Options{})
	for _, path := range []string{"/api/v1/rollup/explain", "/programs/ehr-upgrade/explain"} {
		if rec := serve(plain, "GET", path); rec.Code != http.StatusNotImplemented {
			t.Errorf("GET %s without an explainer = %d", path, rec.Code)
		}
	}
}

// The new endpoints sit behind the token like the others.
func TestNewEndpointsNeedTheToken(t *testing.T) {
	k := &keeper{fakeEngine: fixtureEngine(), latest: fixture()}
	srv, _ := New(k, nil, Options{Token: token})
	for _, c := range []struct{ method, path string }{{"POST", "/api/v1/rollup/refresh"}, {"GET", "/api/v1/rollup/explain"}, {"GET", "/programs/ehr-upgrade/explain"}} {
		if rec := serve(srv, c.method, c.path); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without a token = %d", c.method, c.path, rec.Code)
		}
	}
	if k.refreshes != 0 || len(k.explained) != 0 {
		t.Error("an unauthorised request reached the engine")
	}
}

// revised is a keeper that numbers its reports, as the engine does.
type revised struct {
	*keeper
	rev int64
}

func (r *revised) LatestRevision(ctx context.Context) (pmsync.Report, int64, error) {
	rep, err := r.Latest(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	return rep, r.rev, err
}

// The whole report's document is encoded once per revision: while the
// revision stays, every reader gets what was encoded first, even if the
// report behind it were to change; a new revision is encoded anew. A
// request for some programs is encoded for itself, and so is a report the
// roller cannot number (revision 0).
func TestEncodesEachRevisionOnce(t *testing.T) {
	k, _ := newKeeper(t)
	r := &revised{keeper: k, rev: 7}
	srv, err := New(r, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) string {
		t.Helper()
		rec := serve(srv, "GET", path)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s = %d: %s", path, rec.Code, rec.Body.String())
		}
		return rec.Body.String()
	}
	first := get("/api/v1/rollup")
	if !strings.Contains(first, `"EHR Upgrade"`) {
		t.Fatalf("the document lacks the program:\n%s", first)
	}
	rename := func(name string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for i := range r.latest.Programs {
			if r.latest.Programs[i].ID == "ehr-upgrade" {
				r.latest.Programs[i].Name = name
			}
		}
	}
	rename("EHR Upgrade, renamed")
	if got := get("/api/v1/rollup"); got != first {
		t.Errorf("revision 7 was encoded again")
	}
	if got := get("/api/v1/rollup?program=ehr-upgrade"); !strings.Contains(got, "EHR Upgrade, renamed") {
		t.Errorf("a request for one program was served the whole report's document")
	}
	r.mu.Lock()
	r.rev = 8
	r.mu.Unlock()
	if got := get("/api/v1/rollup"); !strings.Contains(got, "EHR Upgrade, renamed") {
		t.Errorf("revision 8 was served revision 7's document")
	}
	r.mu.Lock()
	r.rev = 0
	r.mu.Unlock()
	rename("EHR Upgrade, computed now")
	if got := get("/api/v1/rollup"); !strings.Contains(got, "EHR Upgrade, computed now") {
		t.Errorf("a report without a revision was served a kept document")
	}
}

// A program page draws its program from one revision of the report once:
// while the revision stays, the page keeps what it drew even if the report
// behind it were to change, but says afresh how long ago each source
// synced; a new revision is drawn anew.
func TestProgramPageDrawsEachRevisionOnce(t *testing.T) {
	k, _ := newKeeper(t)
	r := &revised{keeper: k, rev: 3}
	now := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	srv, err := New(r, nil, Options{Now: func() time.Time {
		clockMu.Lock()
		defer clockMu.Unlock()
		return now
	}})
	if err != nil {
		t.Fatal(err)
	}
	get := func() string {
		t.Helper()
		rec := serve(srv, "GET", "/programs/ehr-upgrade")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET the program page = %d: %s", rec.Code, rec.Body.String())
		}
		return rec.Body.String()
	}
	rename := func(name string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for i := range r.latest.Programs {
			if r.latest.Programs[i].ID == "ehr-upgrade" {
				r.latest.Programs[i].Name = name
			}
		}
	}
	first := get()
	if !strings.Contains(first, "EHR Upgrade") {
		t.Fatalf("the page lacks the program's name:\n%s", first)
	}
	rename("EHR Upgrade, renamed")
	clockMu.Lock()
	now = now.Add(3 * time.Hour)
	clockMu.Unlock()
	second := get()
	if strings.Contains(second, "renamed") {
		t.Errorf("revision 3 was drawn again")
	}
	if second == first {
		t.Errorf("the page did not say afresh how long ago its sources synced")
	}
	r.mu.Lock()
	r.rev = 4
	r.mu.Unlock()
	if got := get(); !strings.Contains(got, "EHR Upgrade, renamed") {
		t.Errorf("revision 4 was served revision 3's drawing")
	}
}
