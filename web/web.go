// Package web serves the dashboard (server-rendered, no scripts), the JSON
// API, Prometheus metrics and health endpoints.
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"fmt"
	"html/template"
	"io"
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
	"github.com/pmsync/pmsync/store"
)

//go:embed templates/*.html
var templates embed.FS

//go:embed assets
var assets embed.FS

// Roller is what the server reads of the engine: the rollup, and around it
// the programs, the sources' state, items and pushes, in the
// configuration's time zone.
type Roller interface {
	Rollup(ctx context.Context, opts engine.RollupOptions) (pmsync.Report, error)
	Programs() []pmsync.Program
	RulesFor(program string) pmsync.Rules
	Location() *time.Location
	NextRuns() engine.Schedule
	SourceReports(ctx context.Context, runs, quarantined int) ([]engine.SourceReport, error)
	ProgramItems(ctx context.Context, program string, f engine.ItemFilter) ([]pmsync.Item, error)
}

// Latest is a Roller that keeps the latest computed report (the engine):
// the dashboard and the API then serve that report instead of computing
// one per request, and POST /api/v1/rollup/refresh recomputes it.
type Latest interface {
	Latest(ctx context.Context) (pmsync.Report, error)
	Refresh(ctx context.Context) (pmsync.Report, error)
}

// Revised is a Latest that says which kept report it returns (the engine):
// a revision that changes whenever a new report is kept, 0 when it cannot
// say. The server then encodes the whole report's document once per
// revision for every reader, instead of once per request.
type Revised interface {
	LatestRevision(ctx context.Context) (pmsync.Report, int64, error)
}

// Explainer lists the items behind every figure (the engine), for
// /api/v1/rollup/explain.
type Explainer interface {
	Explain(ctx context.Context, opts engine.RollupOptions) (pmsync.ExplainReport, error)
}

// History reads the past from the store: rollup snapshots, and the push
// audit (every outcome of every push of a rollup to a tool).
type History interface {
	Snapshots(ctx context.Context, program string, limit int) ([]store.Snapshot, error)
	Deliveries(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, error)
}

// Server is the HTTP face of the daemon.
type Server struct {
	roll    Roller
	hist    History
	token   pmsync.Secret
	gather  prometheus.Gatherer
	log     zerolog.Logger
	pages   map[string]*template.Template
	css     []byte
	cssPath string
	loc     *time.Location
	now     func() time.Time
	refresh time.Duration
	ready   func(ctx context.Context) error
	sources func(ctx context.Context) []engine.SourceHealth
	mux     *http.ServeMux
	Version string
	// doc is the whole kept report's JSON document, as last encoded, and
	// drawn what the program pages drew from it (pages.go).
	doc   encoded
	drawn drawnPrograms
}

// encoded is a report's JSON document with the revision it was encoded
// from.
type encoded struct {
	mu   sync.Mutex
	rev  int64
	body []byte
}

// get returns the document of revision rev, encoding rep on first use. An
// older revision than the one held (a reader that raced a newer one) is
// encoded and not kept.
func (e *encoded) get(rev int64, rep pmsync.Report) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if rev == e.rev && e.body != nil {
		return e.body, nil
	}
	body, err := encodeReport(rep)
	if err != nil || rev < e.rev {
		return body, err
	}
	e.rev, e.body = rev, body
	return body, nil
}

// Options configure a Server.
type Options struct {
	Token    pmsync.Secret // required bearer token; empty means none (loopback only, enforced by config)
	Gatherer prometheus.Gatherer
	Log      zerolog.Logger
	// Ready reports whether the service can serve (database reachable).
	Ready func(ctx context.Context) error
	// Sources reports each source's syncing (the engine's Health), listed
	// by /readyz?verbose; nil lists none.
	Sources func(ctx context.Context) []engine.SourceHealth
	Version string
	// Refresh, when positive, makes the pages reload themselves at this
	// interval (a wall screen); zero leaves them still.
	Refresh time.Duration
	// Now reads the clock for "synced 5 min ago"; nil uses time.Now.
	Now func() time.Time
}

// New builds the handler tree.
func New(roll Roller, hist History, o Options) (*Server, error) {
	if o.Gatherer == nil {
		o.Gatherer = prometheus.NewRegistry()
	}
	if o.Ready == nil {
		o.Ready = func(context.Context) error { return nil }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{roll: roll, hist: hist, token: o.Token, gather: o.Gatherer, log: o.Log, ready: o.Ready, Version: o.Version,
		loc: roll.Location(), now: o.Now, refresh: o.Refresh, sources: o.Sources}
	if err := s.parse(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.auth(promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{})))
	mux.Handle("GET /api/v1/rollup", s.auth(http.HandlerFunc(s.apiRollup)))
	mux.Handle("POST /api/v1/rollup/refresh", s.auth(http.HandlerFunc(s.apiRefresh)))
	mux.Handle("GET /api/v1/rollup/explain", s.auth(http.HandlerFunc(s.apiExplain)))
	s.routes(mux)
	s.mux = mux
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	// default-src does not cover framing; frame-ancestors (and X-Frame-Options
	// for older browsers) keep the dashboard out of other sites' frames.
	// No script runs on any page, and the one stylesheet is served from
	// here: nothing inline, nothing from elsewhere.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pmsync"`)
			http.Error(w, "a bearer token is required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authorized reports whether r carries the bearer token (always true when
// none is configured).
func (s *Server) authorized(r *http.Request) bool {
	if s.token == "" {
		return true
	}
	// Comparing digests keeps the comparison constant-time in the token's
	// length too (ConstantTimeCompare returns early on a length mismatch).
	want := sha256.Sum256([]byte(s.token.Reveal()))
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	got := sha256.Sum256([]byte(strings.TrimSpace(cred)))
	// The auth scheme is case-insensitive (RFC 9110 §11.1).
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1 && strings.EqualFold(scheme, "Bearer")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	_, verbose := r.URL.Query()["verbose"]
	if verbose && !s.authorized(r) {
		// The detail names sources and quotes their errors: only for
		// those who hold the token, when there is one.
		w.Header().Set("WWW-Authenticate", `Bearer realm="pmsync"`)
		http.Error(w, "a bearer token is required for ?verbose", http.StatusUnauthorized)
		return
	}
	err := s.ready(r.Context())
	if err != nil {
		// Without ?verbose /readyz answers anyone, so the cause goes to the
		// log only.
		s.log.Warn().Str("err", err.Error()).Msg("not ready")
	}
	if !verbose {
		if err != nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	var b strings.Builder
	if err != nil {
		fmt.Fprintf(&b, "[-]database: %s\n", err)
	} else {
		b.WriteString("[+]database ok\n")
	}
	if s.sources != nil {
		for _, h := range s.sources(r.Context()) {
			b.WriteString(sourceLine(h))
		}
	}
	// A failing source does not make this replica unready: taking it out
	// of a load balancer would not mend the vendor, and the dashboard still
	// serves what is stored. Its line starts with [-] all the same.
	if err != nil {
		b.WriteString("not ready\n")
		w.WriteHeader(http.StatusServiceUnavailable)
	} else {
		b.WriteString("ready\n")
	}
	_, _ = io.WriteString(w, b.String())
}

// sourceLine is one source's line of /readyz?verbose.
func sourceLine(h engine.SourceHealth) string {
	when := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	failures := plural(h.Failures, "failed sync")
	switch {
	case h.Breaker == pmsync.BreakerOpen:
		return fmt.Sprintf("[-]source %s: backed off after %s in a row; next attempt at %s (last error: %s)\n", h.Source, failures, when(h.RetryAt), h.LastError)
	case h.Breaker == pmsync.BreakerHalfOpen:
		return fmt.Sprintf("[-]source %s: %s in a row; the next scheduled sync probes it\n", h.Source, failures)
	case h.Failures > 0:
		return fmt.Sprintf("[-]source %s: %s in a row (last error: %s)\n", h.Source, failures, h.LastError)
	case h.LastStatus == "failed":
		return fmt.Sprintf("[-]source %s: the attempt at %s failed: %s\n", h.Source, when(h.LastAttempt), h.LastError)
	case h.LastAttempt.IsZero():
		return fmt.Sprintf("[+]source %s: no sync attempted by this process yet\n", h.Source)
	}
	return fmt.Sprintf("[+]source %s ok (last attempt %s: %s)\n", h.Source, when(h.LastAttempt), h.LastStatus)
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
// fresh rollup.
func (s *Server) report(r *http.Request) (pmsync.Report, error) {
	return s.served(r.Context(), s.programs(r))
}

// served returns the report of the programs ids names (every program when
// none): the latest computed one, narrowed, when the roller keeps one, else
// a fresh rollup.
func (s *Server) served(ctx context.Context, ids []string) (pmsync.Report, error) {
	l, ok := s.roll.(Latest)
	if !ok {
		return s.roll.Rollup(ctx, engine.RollupOptions{Programs: ids})
	}
	rep, err := l.Latest(ctx)
	if err != nil || len(ids) == 0 {
		return rep, err
	}
	return narrow(rep, ids)
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
	rv, ok := s.roll.(Revised)
	if !ok || len(s.programs(r)) > 0 {
		rep, err := s.report(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.writeReport(w, r, rep)
		return
	}
	// The whole kept report: its document is encoded once per revision
	// (the encoding, not the reading, is what a large report costs).
	rep, rev, err := rv.LatestRevision(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var body []byte
	if rev > 0 {
		body, err = s.doc.get(rev, rep)
	} else {
		body, err = encodeReport(rep)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// apiRefresh recomputes the served report now, on demand.
func (s *Server) apiRefresh(w http.ResponseWriter, r *http.Request) {
	l, ok := s.roll.(Latest)
	if !ok {
		s.jsonError(w, http.StatusNotImplemented, "this server computes every report on request; there is nothing to refresh")
		return
	}
	rep, err := l.Refresh(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeReport(w, r, rep)
}

// apiExplain lists the items behind every figure of the selected programs
// (?program=, repeatable), or of one figure (?figure=milestones.late).
func (s *Server) apiExplain(w http.ResponseWriter, r *http.Request) {
	ex, ok := s.roll.(Explainer)
	if !ok {
		s.jsonError(w, http.StatusNotImplemented, "explanations are not available from this server")
		return
	}
	doc, err := ex.Explain(r.Context(), engine.RollupOptions{Programs: s.programs(r)})
	if err != nil {
		s.fail(w, r, err)
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
				s.jsonError(w, http.StatusNotFound, fmt.Sprintf("no figure %q (figures are named as in the rollup document, such as milestones.late)", figure))
				return
			}
			doc.Programs[i].Figures = keep
		}
	}
	var buf bytes.Buffer
	if err := report.WriteExplain(&buf, doc, "json"); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) writeReport(w http.ResponseWriter, r *http.Request, rep pmsync.Report) {
	body, err := encodeReport(rep)
	if err != nil {
		s.fail(w, r, err)
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
