package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/engine"
)

const token = "s3cr3t-T0ken-9f2c71"

// fakeRoller returns a fixed report and records what it was asked for.
type fakeRoller struct {
	rep pmsync.Report
	err error

	mu   sync.Mutex
	opts []engine.RollupOptions
}

func (f *fakeRoller) Rollup(_ context.Context, opts engine.RollupOptions) (pmsync.Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opts = append(f.opts, opts)
	return f.rep, f.err
}

func (f *fakeRoller) calls() []engine.RollupOptions {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]engine.RollupOptions(nil), f.opts...)
}

func f64(f float64) *float64 { return &f }

const evilTitle = `<script>alert(1)</script> cutover`

// fixture is a hand-built report: a red program whose late milestone has a
// hostile title and URL, and a green one without budget ratios.
func fixture() pmsync.Report {
	return pmsync.Report{
		Schema:      pmsync.Schema,
		AsOf:        "2026-11-26",
		GeneratedAt: time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC),
		Programs: []pmsync.Rollup{
			{
				ID: "ehr-upgrade", Name: "EHR Upgrade", AsOf: "2026-11-26", Version: "3f9a1c2b7d4e",
				Health: pmsync.Health{Status: pmsync.Red, Reasons: []string{
					"1 milestone late: " + evilTitle + " (due 2026-11-20)",
					"budget burn 62.0% vs 45.0% of time elapsed (+17.0 points)",
				}},
				Progress:   pmsync.Progress{Done: 120, Total: 300, Percent: 40},
				Milestones: pmsync.MilestoneCounts{Total: 8, Done: 3, Late: 1, DueSoon: 0},
				Risks:      pmsync.RiskCounts{Open: 10, RedFlags: 1},
				Budget: pmsync.Budget{Currency: "USD", Planned: 2500000, Actual: 1550000.25,
					BurnPercent: f64(62), ElapsedPercent: f64(45), VariancePoints: f64(17), Forecast: f64(3875000.63)},
				Items: pmsync.ItemCounts{Live: 320, Deleted: 2},
				Sources: []pmsync.SourceStatus{
					{Source: "jira-ehr", Connection: "jira", LastSuccess: time.Date(2026, 11, 26, 6, 55, 0, 0, time.UTC)},
					{Source: "smartsheet-budget", Connection: "smartsheet", LastSuccess: time.Date(2026, 11, 25, 22, 10, 0, 0, time.UTC), Stale: true},
					{Source: "trello-training", Connection: "trello", Stale: true},
				},
				Late: []pmsync.ItemRef{
					{Source: "jira-ehr", ExternalID: "EHR-101", Title: evilTitle, URL: "javascript:alert(2)", Due: "2026-11-20", Owner: "Dana Whitfield"},
				},
				DueSoon: []pmsync.ItemRef{},
				RedFlags: []pmsync.ItemRef{
					{Source: "jira-ehr", ExternalID: "EHR-205", Title: "Interface engine vendor delay", URL: "https://acme.atlassian.net/browse/EHR-205", Score: 20},
				},
				Changes: []string{"health amber → red"},
				// The trend window: 30 on the day it opened, then 35,
				// then now 40.
				Trend: pmsync.Trend{Since: "2026-10-29", Points: []pmsync.TrendPoint{
					{AsOf: "2026-10-29", Progress: f64(30)}, {AsOf: "2026-11-10", Progress: f64(35)}, {AsOf: "2026-11-26", Progress: f64(40)},
				}},
			},
			{
				ID: "telehealth", Name: "Telehealth Launch", AsOf: "2026-11-26", Version: "b71e04a9c3d2",
				Health:     pmsync.Health{Status: pmsync.Green, Reasons: []string{"no late milestones, no red-flag risks, budget on track"}},
				Progress:   pmsync.Progress{Done: 45, Total: 60, Percent: 75},
				Milestones: pmsync.MilestoneCounts{Total: 4, Done: 3},
				Risks:      pmsync.RiskCounts{Open: 2},
				Items:      pmsync.ItemCounts{Live: 64},
				Sources: []pmsync.SourceStatus{
					{Source: "asana-telehealth", Connection: "asana", LastSuccess: time.Date(2026, 11, 26, 6, 50, 0, 0, time.UTC)},
				},
				Late: []pmsync.ItemRef{}, DueSoon: []pmsync.ItemRef{}, RedFlags: []pmsync.ItemRef{}, Changes: []string{},
			},
		},
	}
}

type env struct {
	srv  *Server
	roll *fakeRoller
	logs *bytes.Buffer
}

func newEnv(t *testing.T, o Options) env {
	t.Helper()
	roll := &fakeRoller{rep: fixture()}
	logs := &bytes.Buffer{}
	o.Log = zerolog.New(logs)
	srv, err := New(roll, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return env{srv: srv, roll: roll, logs: logs}
}

func (e env) get(t *testing.T, target, authorization string) *httptest.ResponseRecorder {
	t.Helper()
	return e.do(t, http.MethodGet, target, authorization)
}

func (e env) do(t *testing.T, method, target, authorization string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec
}

func TestDashboard(t *testing.T) {
	e := newEnv(t, Options{Version: "v1.2.3"})
	rec := e.get(t, "/", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / = %d, want 200; body:\n%s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q, want text/html; charset=utf-8", ct)
	}
	body := rec.Body.String()
	want := []string{
		"<title>pmsync — portfolio rollup 2026-11-26</title>",
		"generated 2026-11-26 07:00 UTC · 2 program(s) · pmsync v1.2.3",
		`<section class="card red" id="ehr-upgrade">`,
		`EHR Upgrade <span class="badge red">RED</span>`,
		`<section class="card green" id="telehealth">`,
		`Telehealth Launch <span class="badge green">GREEN</span>`,
		"<li>1 milestone late: &lt;script&gt;alert(1)&lt;/script&gt; cutover (due 2026-11-20)</li>",
		"<li>budget burn 62.0% vs 45.0% of time elapsed (&#43;17.0 points)</li>",
		"<li>no late milestones, no red-flag risks, budget on track</li>",
		// A javascript: URL from a source is neutralised by html/template.
		`<a href="#ZgotmplZ">&lt;script&gt;alert(1)&lt;/script&gt; cutover</a> — due 2026-11-20 · Dana Whitfield`,
		`<a href="https://acme.atlassian.net/browse/EHR-205">Interface engine vendor delay</a> — score 20`,
		"<strong>Changed:</strong> health amber → red",
		"120 of 300 done",
		`aria-label="40.0%"`,
		"1,550,000 of 2,500,000 USD · 45.0% of time elapsed",
		"62.0%",
		"0 spent, no planned budget · — of time elapsed",
		"source jira-ehr (jira): synced 2026-11-26 06:55 UTC<br>",
		`source smartsheet-budget (smartsheet): synced 2026-11-25 22:10 UTC <span class="stale">stale</span><br>`,
		`source trello-training (trello): never synced <span class="stale">stale</span><br>`,
		// Trend of ehr-upgrade, from the report: 30 then 35, then now 40;
		// y = 24 − 24·p/100 over x = 0, 60, 120.
		`points="0.0,16.8 60.0,15.6 120.0,14.4"`,
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("dashboard lacks %q", w)
		}
	}
	if strings.Contains(strings.ToLower(body), "<script") {
		t.Errorf("dashboard contains an unescaped <script>:\n%s", body)
	}
	if strings.Contains(body, "javascript:") {
		t.Errorf("dashboard contains a javascript: URL")
	}
	// Telehealth has no trend points, only now, so no sparkline.
	if n := strings.Count(body, "<polyline"); n != 1 {
		t.Errorf("dashboard has %d sparklines, want 1", n)
	}
}

func TestDashboardWithoutPrograms(t *testing.T) {
	e := newEnv(t, Options{})
	e.roll.rep = pmsync.Report{Schema: pmsync.Schema, AsOf: "2026-11-26", Programs: []pmsync.Rollup{}}
	rec := e.get(t, "/", "")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "No programs are configured.") {
		t.Errorf("GET / with no programs = %d:\n%s", rec.Code, rec.Body)
	}
}

func TestAPIRollup(t *testing.T) {
	e := newEnv(t, Options{})
	rec := e.get(t, "/api/v1/rollup", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/rollup = %d, want 200; body:\n%s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if doc["schema"] != "pmsync.rollup/v1" {
		t.Errorf("schema = %#v, want pmsync.rollup/v1", doc["schema"])
	}
	var got pmsync.Report
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("decode report: %v", err)
	}
	// The document writes missing lists as [], which decode as empty.
	if diff := cmp.Diff(fixture(), got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("API report differs from the roller's (-want +got):\n%s", diff)
	}
}

func TestProgramFilter(t *testing.T) {
	tests := []struct {
		query string
		want  []string
	}{
		{"", nil},
		{"?program=ehr-upgrade", []string{"ehr-upgrade"}},
		{"?program=ehr-upgrade&program=telehealth", []string{"ehr-upgrade", "telehealth"}},
		{"?program=", nil},
		{"?program=&program=telehealth", []string{"telehealth"}},
	}
	for _, path := range []string{"/", "/api/v1/rollup"} {
		for _, tt := range tests {
			t.Run(path+tt.query, func(t *testing.T) {
				e := newEnv(t, Options{})
				if rec := e.get(t, path+tt.query, ""); rec.Code != http.StatusOK {
					t.Fatalf("GET %s%s = %d", path, tt.query, rec.Code)
				}
				want := []engine.RollupOptions{{Programs: tt.want}}
				if diff := cmp.Diff(want, e.roll.calls()); diff != "" {
					t.Errorf("rollup options (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestRollupFailure(t *testing.T) {
	for _, path := range []string{"/", "/api/v1/rollup"} {
		t.Run(path, func(t *testing.T) {
			e := newEnv(t, Options{})
			e.roll.err = errors.New(`no program "nope" in the configuration`)
			rec := e.get(t, path, "")
			if rec.Code != http.StatusInternalServerError {
				t.Errorf("GET %s with a failing roller = %d, want 500", path, rec.Code)
			}
			if strings.Contains(rec.Body.String(), "EHR Upgrade") {
				t.Errorf("GET %s rendered a report despite the error", path)
			}
		})
	}
}

func TestHealthAndReadiness(t *testing.T) {
	notReady := errors.New("open /var/lib/pmsync/pmsync.db: database is locked")
	tests := []struct {
		name     string
		path     string
		ready    error
		wantCode int
		wantBody string
	}{
		{"healthz", "/healthz", nil, http.StatusOK, "ok\n"},
		{"healthz while not ready", "/healthz", notReady, http.StatusOK, "ok\n"},
		{"readyz", "/readyz", nil, http.StatusOK, "ready\n"},
		{"readyz not ready", "/readyz", notReady, http.StatusServiceUnavailable, "not ready\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotCtx bool
			e := newEnv(t, Options{Token: token, Ready: func(ctx context.Context) error {
				gotCtx = ctx != nil
				return tt.ready
			}})
			// No Authorization header: probes do not carry the token.
			rec := e.get(t, tt.path, "")
			if rec.Code != tt.wantCode || rec.Body.String() != tt.wantBody {
				t.Errorf("GET %s = %d %q, want %d %q", tt.path, rec.Code, rec.Body, tt.wantCode, tt.wantBody)
			}
			if tt.path == "/readyz" && !gotCtx {
				t.Errorf("Ready was not called with a context")
			}
			if tt.ready != nil && tt.path == "/readyz" && !strings.Contains(e.logs.String(), "database is locked") {
				t.Errorf("the readiness failure was not logged: %s", e.logs)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	pulls := prometheus.NewCounter(prometheus.CounterOpts{Name: "pmsync_test_pulls_total", Help: "Pulls in this test."})
	reg.MustRegister(pulls)
	pulls.Add(3)
	e := newEnv(t, Options{Gatherer: reg})
	rec := e.get(t, "/metrics", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	if !strings.Contains(rec.Body.String(), "pmsync_test_pulls_total 3\n") {
		t.Errorf("metrics lack the gatherer's counter:\n%s", rec.Body)
	}
}

func TestAuth(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "pmsync_test_total", Help: "A test counter."}))
	e := newEnv(t, Options{Token: token, Gatherer: reg})
	headers := []struct {
		name, value string
		ok          bool
	}{
		{"none", "", false},
		{"bearer", "Bearer " + token, true},
		{"lowercase scheme", "bearer " + token, true},
		{"wrong token", "Bearer not-the-token", false},
		{"token prefix", "Bearer " + token[:len(token)-1], false},
		{"token with suffix", "Bearer " + token + "x", false},
		{"no scheme", token, false},
		{"basic scheme", "Basic " + token, false},
		{"empty bearer", "Bearer ", false},
	}
	paths := []struct {
		path   string
		public bool
	}{
		{"/", false},
		{"/?program=ehr-upgrade", false},
		{"/api/v1/rollup", false},
		{"/metrics", false},
		{"/healthz", true},
		{"/readyz", true},
	}
	for _, p := range paths {
		for _, h := range headers {
			t.Run(p.path+"/"+h.name, func(t *testing.T) {
				rec := e.get(t, p.path, h.value)
				wantCode := http.StatusUnauthorized
				if p.public || h.ok {
					wantCode = http.StatusOK
				}
				if rec.Code != wantCode {
					t.Errorf("GET %s with %s authorization = %d, want %d", p.path, h.name, rec.Code, wantCode)
				}
				if wantCode == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
					t.Errorf("401 without WWW-Authenticate")
				}
				if strings.Contains(rec.Body.String(), token) {
					t.Errorf("GET %s response body contains the token", p.path)
				}
				for k, vs := range rec.Header() {
					for _, v := range vs {
						if strings.Contains(v, token) {
							t.Errorf("GET %s header %s contains the token", p.path, k)
						}
					}
				}
			})
		}
	}
	if strings.Contains(e.logs.String(), token) {
		t.Errorf("the token was logged: %s", e.logs)
	}
}

func TestNotFound(t *testing.T) {
	e := newEnv(t, Options{Token: token})
	for _, path := range []string{"/nope", "/index.html", "/api/v1/rollup/extra", "/api/v2/rollup", "/api/", "/healthz/x"} {
		for _, auth := range []string{"", "Bearer " + token} {
			rec := e.get(t, path, auth)
			if rec.Code != http.StatusNotFound {
				t.Errorf("GET %s (authorization %t) = %d, want 404", path, auth != "", rec.Code)
			}
			if strings.Contains(rec.Body.String(), token) {
				t.Errorf("GET %s response body contains the token", path)
			}
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t, Options{Token: token})
	for _, path := range []string{"/", "/api/v1/rollup", "/metrics"} {
		rec := e.do(t, http.MethodPost, path, "Bearer "+token)
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST %s = %d, want 405", path, rec.Code)
		}
	}
	if n := len(e.roll.calls()); n != 0 {
		t.Errorf("a POST reached the roller %d times", n)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, Options{Token: token, Ready: func(context.Context) error { return errors.New("down") }})
	want := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
	}
	requests := []struct{ path, auth string }{
		{"/", "Bearer " + token},
		{"/", ""}, // 401
		{"/api/v1/rollup", "Bearer " + token},
		{"/metrics", "Bearer " + token},
		{"/healthz", ""},
		{"/readyz", ""}, // 503
		{"/nope", ""},   // 404
	}
	for _, r := range requests {
		rec := e.get(t, r.path, r.auth)
		for k, v := range want {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("GET %s (%d): %s = %q, want %q", r.path, rec.Code, k, got, v)
			}
		}
	}
}

func TestFormatting(t *testing.T) {
	moneys := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1,000"}, {2500000, "2,500,000"}, {1550000.25, "1,550,000"},
		{-1234.6, "-1,235"}, {-0.4, "0"},
	}
	for _, tt := range moneys {
		if got := pmsync.Money(tt.in, 0); got != tt.want {
			t.Errorf("money(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
	pcts := []struct {
		in   *float64
		want string
	}{
		{nil, "—"}, {f64(0), "0.0%"}, {f64(62), "62.0%"}, {f64(33.333), "33.3%"},
	}
	for _, tt := range pcts {
		if got := fmtPct(tt.in); got != tt.want {
			t.Errorf("fmtPct(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
	bars := []struct {
		in   float64
		want string
	}{
		{40, `<rect width="80.0" height="12" fill="#2563eb"/>`},
		{-5, `<rect width="0.0" height="12" fill="#2563eb"/>`},
		{130, `<rect width="200.0" height="12" fill="#2563eb"/>`},
	}
	for _, tt := range bars {
		if got := string(bar(tt.in)); !strings.Contains(got, tt.want) {
			t.Errorf("bar(%v) = %s, want it to contain %s", tt.in, got, tt.want)
		}
	}
	sparks := []struct {
		in   []float64
		want string
	}{
		{nil, ""},
		{[]float64{50}, ""},
		{[]float64{0, 100}, `points="0.0,24.0 120.0,0.0"`},
		{[]float64{-10, 50, 150}, `points="0.0,24.0 60.0,12.0 120.0,0.0"`},
	}
	for _, tt := range sparks {
		got := string(sparkline(tt.in))
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("sparkline(%v) = %q, want it to contain %q", tt.in, got, tt.want)
		}
	}
}

func TestUnknownProgramIs404(t *testing.T) {
	srv, err := New(rollerFunc(func(ctx context.Context, o engine.RollupOptions) (pmsync.Report, error) {
		return pmsync.Report{}, fmt.Errorf("rollup: %w %q", engine.ErrNoSuchProgram, o.Programs[0])
	}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/rollup?program=nope", "/?program=nope"} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 404 || !strings.Contains(rec.Body.String(), `"nope"`) {
			t.Errorf("GET %s = %d %q, want 404 naming the program", path, rec.Code, rec.Body.String())
		}
	}
}

type rollerFunc func(ctx context.Context, o engine.RollupOptions) (pmsync.Report, error)

func (f rollerFunc) Rollup(ctx context.Context, o engine.RollupOptions) (pmsync.Report, error) {
	return f(ctx, o)
}
