// Package web serves the dashboard (server-rendered, no scripts), the JSON
// API, Prometheus metrics and health endpoints.
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/report"
)

//go:embed templates/*.html
var templates embed.FS

// Roller computes rollups (the engine).
type Roller interface {
	Rollup(ctx context.Context, opts engine.RollupOptions) (pmsync.Report, error)
}

// Latest is a Roller that keeps the latest computed report (the engine):
// the dashboard and the API then serve that report instead of computing
// one per request, and POST /api/v1/rollup/refresh recomputes it.
type Latest interface {
	Latest(ctx context.Context) (pmsync.Report, error)
	Refresh(ctx context.Context) (pmsync.Report, error)
}

// Revised is a Latest that says which kept report it returns (the engine):
// a revision that changes whenever a new report is kept. The server then
// renders each report once, for every reader of it, instead of once per
// request.
type Revised interface {
	LatestRevision(ctx context.Context) (pmsync.Report, int64, error)
}

// Explainer lists the items behind every figure (the engine), for
// /api/v1/rollup/explain.
type Explainer interface {
	Explain(ctx context.Context, opts engine.RollupOptions) (pmsync.ExplainReport, error)
}

// Server is the HTTP face of the daemon.
type Server struct {
	roll    Roller
	token   pmsync.Secret
	gather  prometheus.Gatherer
	log     zerolog.Logger
	page    *template.Template
	ready   func(ctx context.Context) error
	mux     *http.ServeMux
	Version string
	// rendered is the latest kept report as served whole: its JSON
	// document and its dashboard, each made on first request.
	rendered rendered
}

// rendered holds what the server made of one revision of the kept report.
type rendered struct {
	mu        sync.Mutex
	rev       int64
	api, page []byte
}

// get returns the part of revision rev that which points at, made by
// build on first use. Parts of an older revision than the one held are
// made and not kept.
func (c *rendered) get(rev int64, which func(*rendered) *[]byte, build func() ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case rev < c.rev:
		return build()
	case rev > c.rev:
		c.rev, c.api, c.page = rev, nil, nil
	}
	part := which(c)
	if *part == nil {
		b, err := build()
		if err != nil {
			return nil, err
		}
		*part = b
	}
	return *part, nil
}

// Options configure a Server.
type Options struct {
	Token    pmsync.Secret // required bearer token; empty means none (loopback only, enforced by config)
	Gatherer prometheus.Gatherer
	Log      zerolog.Logger
	// Ready reports whether the service can serve (database reachable).
	Ready   func(ctx context.Context) error
	Version string
}

// New builds the handler tree.
func New(roll Roller, o Options) (*Server, error) {
	funcs := template.FuncMap{
		"pct":     func(p *float64) string { return fmtPct(p) },
		"upper":   strings.ToUpper,
		"spark":   sparkline,
		"bar":     bar,
		"money":   func(f float64) string { return pmsync.Money(f, 0) },
		"colour":  func(h pmsync.HealthStatus) string { return string(h) },
		"when":    func(t time.Time) string { return t.Format("2006-01-02 15:04 MST") },
		"hasTime": func(t time.Time) bool { return !t.IsZero() },
	}
	page, err := template.New("dashboard.html").Funcs(funcs).ParseFS(templates, "templates/dashboard.html")
	if err != nil {
		return nil, fmt.Errorf("parse dashboard template: %w", err)
	}
	if o.Gatherer == nil {
		o.Gatherer = prometheus.NewRegistry()
	}
	if o.Ready == nil {
		o.Ready = func(context.Context) error { return nil }
	}
	s := &Server{roll: roll, token: o.Token, gather: o.Gatherer, log: o.Log, page: page, ready: o.Ready, Version: o.Version}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.auth(promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{})))
	mux.Handle("GET /api/v1/rollup", s.auth(http.HandlerFunc(s.apiRollup)))
	mux.Handle("POST /api/v1/rollup/refresh", s.auth(http.HandlerFunc(s.apiRefresh)))
	mux.Handle("GET /api/v1/rollup/explain", s.auth(http.HandlerFunc(s.apiExplain)))
	mux.Handle("GET /{$}", s.auth(http.HandlerFunc(s.dashboard)))
	s.mux = mux
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	// default-src does not cover framing; frame-ancestors (and X-Frame-Options
	// for older browsers) keep the dashboard out of other sites' frames.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	// Rollups are portfolio data behind a token: no shared cache may keep them.
	h.Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

func (s *Server) auth(next http.Handler) http.Handler {
	if s.token == "" {
		return next
	}
	// Comparing digests keeps the comparison constant-time in the token's
	// length too (ConstantTimeCompare returns early on a length mismatch).
	want := sha256.Sum256([]byte(s.token.Reveal()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(cred)))
		// The auth scheme is case-insensitive (RFC 9110 §11.1).
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pmsync"`)
			http.Error(w, "a bearer token is required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.ready(r.Context()); err != nil {
		// /readyz answers without a token, so the cause goes to the log only.
		s.log.Warn().Str("err", err.Error()).Msg("not ready")
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// programs returns the ?program= filter; an empty value (a form submitted
// with nothing chosen) means no filter rather than a program named "".
func (s *Server) programs(r *http.Request) []string {
	var ids []string
	for _, id := range r.URL.Query()["program"] {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// report returns the report a request asks for: the latest computed one
// (narrowed to the requested programs) when the roller keeps one, else a
// fresh rollup. The revision is that of the whole kept report, when the
// roller numbers them and no programs were asked for; 0 otherwise.
func (s *Server) report(r *http.Request) (pmsync.Report, int64, error) {
	ids := s.programs(r)
	l, ok := s.roll.(Latest)
	if !ok {
		rep, err := s.roll.Rollup(r.Context(), engine.RollupOptions{Programs: ids})
		return rep, 0, err
	}
	var rep pmsync.Report
	var rev int64
	var err error
	if rv, ok := s.roll.(Revised); ok {
		rep, rev, err = rv.LatestRevision(r.Context())
	} else {
		rep, err = l.Latest(r.Context())
	}
	if err != nil || len(ids) == 0 {
		return rep, rev, err
	}
	rep, err = narrow(rep, ids)
	return rep, 0, err
}

// narrow keeps the programs ids names, in the report's order, with their
// own portfolio totals. An id the report lacks is ErrNoSuchProgram.
func narrow(rep pmsync.Report, ids []string) (pmsync.Report, error) {
	var keep []pmsync.Rollup
	for _, id := range ids {
		found := false
		for _, p := range rep.Programs {
			found = found || p.ID == id
		}
		if !found {
			var known []string
			for _, p := range rep.Programs {
				known = append(known, p.ID)
			}
			return pmsync.Report{}, fmt.Errorf("%w %q (programs: %v)", engine.ErrNoSuchProgram, id, known)
		}
	}
	for _, p := range rep.Programs {
		if slices.Contains(ids, p.ID) {
			keep = append(keep, p)
		}
	}
	return pmsync.NewReport(rep.AsOf, rep.GeneratedAt, keep), nil
}

func (s *Server) apiRollup(w http.ResponseWriter, r *http.Request) {
	rep, rev, err := s.report(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	if rev == 0 {
		s.writeReport(w, rep)
		return
	}
	body, err := s.rendered.get(rev, func(c *rendered) *[]byte { return &c.api }, func() ([]byte, error) { return encodeReport(rep) })
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// apiRefresh recomputes the served report now, on demand.
func (s *Server) apiRefresh(w http.ResponseWriter, r *http.Request) {
	l, ok := s.roll.(Latest)
	if !ok {
		http.Error(w, "this server computes every report on request; there is nothing to refresh", http.StatusNotImplemented)
		return
	}
	rep, err := l.Refresh(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	s.writeReport(w, rep)
}

// apiExplain lists the items behind every figure of the selected programs
// (?program=, repeatable), or of one figure (?figure=milestones.late).
func (s *Server) apiExplain(w http.ResponseWriter, r *http.Request) {
	ex, ok := s.roll.(Explainer)
	if !ok {
		http.Error(w, "explanations are not available from this server", http.StatusNotImplemented)
		return
	}
	doc, err := ex.Explain(r.Context(), engine.RollupOptions{Programs: s.programs(r)})
	if err != nil {
		s.fail(w, err)
		return
	}
	if figure := strings.TrimSpace(r.URL.Query().Get("figure")); figure != "" {
		for i, p := range doc.Programs {
			var keep []pmsync.Figure
			for _, f := range p.Figures {
				if f.Name == figure {
					keep = append(keep, f)
				}
			}
			if keep == nil {
				http.Error(w, fmt.Sprintf("no figure %q (figures are named as in the rollup document, such as milestones.late)", figure), http.StatusNotFound)
				return
			}
			doc.Programs[i].Figures = keep
		}
	}
	var buf bytes.Buffer
	if err := report.WriteExplain(&buf, doc, "json"); err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) writeReport(w http.ResponseWriter, rep pmsync.Report) {
	body, err := encodeReport(rep)
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// encodeReport renders the report document whole, before the status line,
// so that a failure is a 500, not a truncated 200; report.JSON is the same
// document `pmsync rollup` prints.
func encodeReport(rep pmsync.Report) ([]byte, error) {
	var buf bytes.Buffer
	if err := report.JSON(&buf, rep); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type programView struct {
	pmsync.Rollup
	Trend []float64 // progress % over the rollup's trend window, now last
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	rep, rev, err := s.report(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	page := func() ([]byte, error) { return s.renderDashboard(rep) }
	var body []byte
	if rev == 0 {
		body, err = page()
	} else {
		body, err = s.rendered.get(rev, func(c *rendered) *[]byte { return &c.page }, page)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(body)
}

// renderDashboard renders the dashboard of a report. Each program's
// progress trend is the report's own: the points of its trend window (one
// a day, the newest rollup of the day, the current one last).
func (s *Server) renderDashboard(rep pmsync.Report) ([]byte, error) {
	views := make([]programView, 0, len(rep.Programs))
	for _, p := range rep.Programs {
		v := programView{Rollup: p}
		for _, pt := range p.Trend.Points {
			pct := 0.0 // no work to measure, as the progress percent has it
			if pt.Progress != nil {
				pct = *pt.Progress
			}
			v.Trend = append(v.Trend, pct)
		}
		if len(v.Trend) == 0 {
			v.Trend = []float64{p.Progress.Percent}
		}
		views = append(views, v)
	}
	data := struct {
		Report   pmsync.Report
		Programs []programView
		Version  string
	}{rep, views, s.Version}
	var buf bytes.Buffer
	if err := s.page.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render dashboard: %w", err)
	}
	return buf.Bytes(), nil
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	if errors.Is(err, engine.ErrNoSuchProgram) {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	s.log.Error().Str("err", err.Error()).Msg("http request failed")
	http.Error(w, "internal error: "+err.Error(), http.StatusInternalServerError)
}

func fmtPct(p *float64) string {
	if p == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", *p)
}

// bar renders a horizontal percent bar as inline SVG.
func bar(percent float64) template.HTML {
	w := math.Max(0, math.Min(100, percent)) * 2
	return template.HTML(fmt.Sprintf(`<svg width="200" height="12" role="img" aria-label="%.1f%%"><rect width="200" height="12" fill="#e5e7eb"/><rect width="%.1f" height="12" fill="#2563eb"/></svg>`, percent, w))
}

// sparkline renders a progress history as an inline SVG polyline.
func sparkline(points []float64) template.HTML {
	if len(points) < 2 {
		return ""
	}
	const wdt, hgt = 120.0, 24.0
	var b strings.Builder
	for i, p := range points {
		x := wdt * float64(i) / float64(len(points)-1)
		y := hgt - hgt*math.Max(0, math.Min(100, p))/100
		fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
	}
	return template.HTML(fmt.Sprintf(`<svg width="120" height="24" role="img" aria-label="progress trend"><polyline fill="none" stroke="#2563eb" stroke-width="1.5" points="%s"/></svg>`, strings.TrimSpace(b.String())))
}
