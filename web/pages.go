package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/engine"
	"github.com/pmsync/pmsync/store"
)

// Limits of what one page shows.
const (
	timelineMax    = 24 // milestones on a timeline
	pageRows       = 25 // items listed per figure on a program page
	pagePushes     = 20
	pageRuns       = 5
	pageQuarantine = 50
	pageEvidence   = 50 // items listed per figure on the explanation page
	cardNames      = 3  // milestones and risks named on a portfolio card
)

// routes registers the dashboard pages and the JSON API.
func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+s.cssPath, s.stylesheet)
	mux.Handle("GET /{$}", s.auth(http.HandlerFunc(s.portfolioPage)))
	mux.Handle("GET /programs/{id}", s.auth(http.HandlerFunc(s.programPage)))
	mux.Handle("GET /programs/{id}/explain", s.auth(http.HandlerFunc(s.explainPage)))
	mux.Handle("GET /sources", s.auth(http.HandlerFunc(s.sourcesPage)))
	mux.Handle("GET /api/v1/portfolio", s.auth(http.HandlerFunc(s.apiPortfolio)))
	mux.Handle("GET /api/v1/programs/{id}", s.auth(http.HandlerFunc(s.apiProgram)))
	mux.Handle("GET /api/v1/programs/{id}/items", s.auth(http.HandlerFunc(s.apiItems)))
	mux.Handle("GET /api/v1/programs/{id}/history", s.auth(http.HandlerFunc(s.apiHistory)))
	mux.Handle("GET /api/v1/sources", s.auth(http.HandlerFunc(s.apiSources)))
}

// parse reads the page templates and the stylesheet.
func (s *Server) parse() error {
	css, err := assets.ReadFile("assets/pmsync.css")
	if err != nil {
		return fmt.Errorf("read stylesheet: %w", err)
	}
	sum := sha256.Sum256(css)
	s.css = css
	// The digest in the path lets browsers keep the stylesheet until it
	// changes.
	s.cssPath = "/assets/pmsync-" + hex.EncodeToString(sum[:6]) + ".css"
	s.pages = map[string]*template.Template{}
	for _, name := range []string{"portfolio", "program", "explain", "sources", "error"} {
		t, err := template.New(name).Funcs(s.funcs()).ParseFS(templates, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("parse %s template: %w", name, err)
		}
		s.pages[name] = t
	}
	return nil
}

func (s *Server) funcs() template.FuncMap {
	return template.FuncMap{
		"when":   s.when,
		"pct":    pctText,
		"pctf":   func(f float64) string { return fmt.Sprintf("%.1f%%", f) },
		"points": signedPoints,
		"money":  moneyText,
		"moneyp": func(p *float64, currency string) string {
			if p == nil {
				return "unknown"
			}
			return moneyText(*p, currency)
		},
		"upper":       strings.ToUpper,
		"programPath": programPath,
		"bar":         percentBar,
		"burnBars":    burnBars,
		"healthBar":   healthBar,
		"word":        func(h pmsync.HealthStatus) string { return strings.ToUpper(string(h)) },
		"isURL":       func(s string) bool { return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") },
		"plural":      plural,
		"first":       func(refs []pmsync.ItemRef, n int) []pmsync.ItemRef { return refs[:min(n, len(refs))] },
		"more":        func(refs []pmsync.ItemRef, n int) int { return max(0, len(refs)-n) },
		"duration":    runDuration,
		"waited":      func(d time.Duration) string { return d.Round(100 * time.Millisecond).String() },
		"shorten":     func(s string, n int) string { return clip(s, n) },
		"add":         func(a, b int) int { return a + b },
		"deref":       func(p *float64) float64 { return *p },
	}
}

// when writes a time in the configuration's zone; the zone is named once
// per page, in its header.
func (s *Server) when(t time.Time) template.HTML {
	if t.IsZero() {
		return "never"
	}
	t = t.In(s.loc)
	return template.HTML(`<time datetime="` + t.Format(time.RFC3339) + `">` + t.Format("2006-01-02 15:04") + `</time>`)
}

func signedPoints(p *float64) string {
	if p == nil {
		return "unknown"
	}
	return fmt.Sprintf("%+.1f points", *p)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func runDuration(r store.Run) string {
	if r.Finished.IsZero() {
		return "running"
	}
	d := r.Finished.Sub(r.Started)
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return d.Round(100 * time.Millisecond).String()
}

// meta is what every page's header and footer show.
type meta struct {
	Title     string
	Nav       string // the page the navigation marks as current
	Zone      string
	AsOf      pmsync.Date
	Generated time.Time
	Refresh   int // seconds; 0 means no reload
	Version   string
	CSS       string
}

func (s *Server) meta(title, nav string, asOf pmsync.Date, generated time.Time) meta {
	return meta{Title: title, Nav: nav, Zone: zoneName(s.loc), AsOf: asOf, Generated: generated,
		Refresh: int(s.refresh / time.Second), Version: s.Version, CSS: s.cssPath}
}

// zoneName names a zone for people: its IANA name, and "system time zone"
// for a Local whose name says nothing.
func zoneName(loc *time.Location) string {
	if loc == nil || loc.String() == "Local" {
		return "the system time zone (" + time.Now().Format("MST") + ")"
	}
	return loc.String()
}

func (s *Server) stylesheet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(s.css)
}

// render executes a page whole before anything is sent, so that a failure
// is an error page and not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, status int, data any) {
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		s.pageError(w, r, fmt.Errorf("render %s page: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errBadRequest marks a request the client got wrong; its text is safe to
// show.
var errBadRequest = errors.New("bad request")

// errUnavailable is a page this server cannot give (its engine lacks the
// capability).
var errUnavailable = errors.New("explanations are not available from this server")

// classify maps an error to a status and the text a client may see.
// Internal errors are logged with a reference and only the reference is
// sent: their text may name files, queries or hosts.
func (s *Server) classify(r *http.Request, err error) (int, string) {
	var unknown *unknownProgram
	switch {
	case errors.As(err, &unknown):
		return http.StatusNotFound, fmt.Sprintf("no program %q", unknown.id)
	case errors.Is(err, engine.ErrNoSuchProgram):
		// The engine's text names the program asked for and the known ones.
		return http.StatusNotFound, err.Error()
	case errors.Is(err, errUnavailable):
		return http.StatusNotImplemented, err.Error()
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest, strings.TrimPrefix(err.Error(), errBadRequest.Error()+": ")
	case errors.Is(err, context.Canceled):
		return 499, "request cancelled"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	ref := hex.EncodeToString(b[:])
	s.log.Error().Str("err", err.Error()).Str("path", r.URL.Path).Str("ref", ref).Msg("http request failed")
	return http.StatusInternalServerError, "internal error (reference " + ref + " in the server log)"
}

// unknownProgram is a program id in a URL that the configuration lacks.
type unknownProgram struct{ id string }

func (e *unknownProgram) Error() string { return fmt.Sprintf("no program %q", e.id) }

func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := s.classify(r, err)
	if status == 499 {
		return
	}
	var buf bytes.Buffer
	data := struct {
		meta
		Status  int
		Message string
	}{s.meta(http.StatusText(status), "", "", time.Time{}), status, msg}
	data.Refresh = 0
	if err := s.pages["error"].ExecuteTemplate(&buf, "layout", data); err != nil {
		http.Error(w, msg, status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// program finds a configured program by the id in the URL.
func (s *Server) program(r *http.Request) (pmsync.Program, error) {
	id := r.PathValue("id")
	for _, p := range s.roll.Programs() {
		if p.ID == id {
			return p, nil
		}
	}
	return pmsync.Program{}, &unknownProgram{id: id}
}

// card is one program on the portfolio page.
type card struct {
	pmsync.Rollup
	Rank    int
	Path    string
	Fresh   []freshness
	DueDays int
}

type portfolioData struct {
	meta
	// ReportVersion is the served report's.
	ReportVersion string
	Portfolio     pmsync.Portfolio
	// Groups are the portfolios programs name, when any does.
	Groups   []pmsync.Portfolio
	Programs []card
}

// portfolio builds the portfolio of the programs asked for (every program
// when none is).
func (s *Server) portfolio(ctx context.Context, programs []string) (portfolioData, error) {
	rep, err := s.served(ctx, programs)
	if err != nil {
		return portfolioData{}, err
	}
	d := portfolioData{meta: s.meta("Portfolio", "portfolio", rep.AsOf, rep.GeneratedAt), ReportVersion: rep.Version,
		Portfolio: rep.Portfolio, Groups: rep.Portfolios}
	now := s.now()
	for i, p := range ranked(rep) {
		d.Programs = append(d.Programs, card{Rollup: p, Rank: i + 1, Path: programPath(p.ID), Fresh: freshnessOf(p.Sources, now),
			DueDays: s.roll.RulesFor(p.ID).DueSoonDays})
	}
	return d, nil
}

func (s *Server) portfolioPage(w http.ResponseWriter, r *http.Request) {
	d, err := s.portfolio(r.Context(), s.programs(r))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, "portfolio", http.StatusOK, d)
}

type trend struct {
	Name  string
	Chart template.HTML
}

type programData struct {
	meta
	Program  pmsync.Program
	R        pmsync.Rollup
	Rules    pmsync.Rules
	Fresh    []freshness
	Timeline template.HTML
	// Milestones counts the milestones the timeline could show, and
	// TimelineShown those it does.
	Milestones, TimelineShown int
	// RedFlags is the red-flag list as shown.
	RedFlags figure
	Burn     template.HTML
	Matrix   [][]matrixCell
	Trends   []trend
	Figures  []figure
	Pushes   []store.Delivery
}

func (s *Server) programView(ctx context.Context, p pmsync.Program) (programData, error) {
	d, err := s.drawProgram(ctx, p)
	if err != nil {
		return programData{}, err
	}
	// What changes between views of one report: how long ago each source
	// synced, and the pushes.
	if s.hist != nil {
		if d.Pushes, err = s.hist.Deliveries(ctx, store.DeliveryFilter{Program: p.ID, Limit: pagePushes}); err != nil {
			return programData{}, fmt.Errorf("read the push audit of %s: %w", p.ID, err)
		}
	}
	d.Fresh = freshnessOf(d.R.Sources, s.now())
	return d, nil
}

// drawnPrograms keeps what the program pages drew from one revision of
// the served report, by program: narrowing a large report to one program
// and drawing its timeline and charts cost most of a view.
type drawnPrograms struct {
	mu    sync.Mutex
	rev   int64
	drawn map[string]programData
}

// drawProgram returns what a program's page draws from the served report
// (all of programData but Fresh and Pushes), drawn once per revision when
// the roller numbers its reports.
func (s *Server) drawProgram(ctx context.Context, p pmsync.Program) (programData, error) {
	rv, ok := s.roll.(Revised)
	if !ok {
		rep, err := s.served(ctx, []string{p.ID})
		if err != nil {
			return programData{}, err
		}
		return s.drawFrom(rep, p)
	}
	rep, rev, err := rv.LatestRevision(ctx)
	if err != nil {
		return programData{}, err
	}
	c := &s.drawn
	c.mu.Lock()
	if d, hit := c.drawn[p.ID]; hit && rev > 0 && rev == c.rev {
		c.mu.Unlock()
		return d, nil
	}
	c.mu.Unlock()
	one, err := narrow(rep, []string{p.ID})
	if err != nil {
		return programData{}, err
	}
	d, err := s.drawFrom(one, p)
	if err != nil || rev == 0 {
		return d, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if rev > c.rev {
		c.rev, c.drawn = rev, map[string]programData{}
	}
	if rev == c.rev {
		c.drawn[p.ID] = d
	}
	return d, nil
}

// drawFrom draws a program's page from a report narrowed to it.
func (s *Server) drawFrom(rep pmsync.Report, p pmsync.Program) (programData, error) {
	if len(rep.Programs) != 1 {
		return programData{}, fmt.Errorf("rollup of %s returned %d programs", p.ID, len(rep.Programs))
	}
	r := rep.Programs[0]
	rules := s.roll.RulesFor(p.ID)
	d := programData{meta: s.meta(r.Name, "", rep.AsOf, rep.GeneratedAt), Program: p, R: r, Rules: rules}
	rows := timelineRows(r)
	d.Milestones = len(rows)
	rows = keepRows(rows, timelineMax)
	d.TimelineShown = len(rows)
	d.Timeline = timeline(rows, rep.AsOf)

	// The charts over time draw the rollup's own trend (its trend window):
	// the served report holds it, so a page view reads nothing more.
	var spent []burnPoint
	var progress, late, flags []trendPoint
	for _, tp := range trendPoints(r) {
		spent = append(spent, burnPoint{Date: tp.AsOf, Actual: tp.Actual})
		if tp.Progress != nil {
			progress = append(progress, trendPoint{tp.AsOf, *tp.Progress})
		}
		late = append(late, trendPoint{tp.AsOf, float64(tp.LateMilestones)})
		flags = append(flags, trendPoint{tp.AsOf, float64(tp.RedFlags)})
	}
	d.Burn = burnChart(p.Start, p.End, rep.AsOf, r.Budget.Planned, spent, r.Budget.Forecast, r.Budget.Currency)
	d.Matrix = matrixRows(r.RiskMatrix, rules.RedFlagScore)
	d.Trends = []trend{
		{"Progress", trendChart("Progress (done share of work)", "%", progress)},
		{"Late milestones", trendChart("Late milestones", "", late)},
		{"Red-flag risks", trendChart("Red-flag risks", "", flags)},
	}
	d.Figures = []figure{
		newFigure("Late milestones", r.Milestones.Late, r.Late),
		newFigure(fmt.Sprintf("Milestones due within %d days", rules.DueSoonDays), r.Milestones.DueSoon, r.DueSoon),
		newFigure("Milestones at risk (forecast p85 after the due date)", r.Milestones.AtRisk, milestoneRefs(r.AtRisk)),
		newFigure("Slipped milestones (due later than their baseline)", r.Milestones.Slipped, slipRefs(r.Slips)),
		newFigure(fmt.Sprintf("Red-flag risks (score ≥ %d)", rules.RedFlagScore), r.Risks.RedFlags, r.RedFlags),
	}
	d.RedFlags = d.Figures[4]
	return d, nil
}

func (s *Server) programPage(w http.ResponseWriter, r *http.Request) {
	p, err := s.program(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d, err := s.programView(r.Context(), p)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, "program", http.StatusOK, d)
}

type sourcesData struct {
	meta
	Next    engine.Schedule
	Sources []sourceView
}

// sourceView is one source on the sources page.
type sourceView struct {
	engine.SourceReport
	Stale  bool
	Age    string
	Last   *store.Run
	Hidden int // quarantined records not listed
}

func (s *Server) sourcesWith(ctx context.Context, runs, quarantined int) (sourcesData, error) {
	reps, err := s.roll.SourceReports(ctx, runs, quarantined)
	if err != nil {
		return sourcesData{}, err
	}
	now := s.now()
	stale := map[string]time.Duration{}
	for _, p := range s.roll.Programs() {
		stale[p.ID] = s.roll.RulesFor(p.ID).StaleAfter
	}
	d := sourcesData{meta: s.meta("Sources", "sources", pmsync.DateOf(now.In(s.loc)), now), Next: s.roll.NextRuns()}
	for _, rep := range reps {
		v := sourceView{SourceReport: rep, Hidden: rep.Quarantined - len(rep.Quarantine)}
		v.Stale = rep.LastSuccess.IsZero() || now.Sub(rep.LastSuccess) > stale[rep.Program]
		if !rep.LastSuccess.IsZero() {
			v.Age = ago(now.Sub(rep.LastSuccess))
		}
		if len(rep.Runs) > 0 {
			v.Last = &rep.Runs[0]
		}
		d.Sources = append(d.Sources, v)
	}
	return d, nil
}

func (s *Server) sourcesPage(w http.ResponseWriter, r *http.Request) {
	d, err := s.sourcesWith(r.Context(), pageRuns, pageQuarantine)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, "sources", http.StatusOK, d)
}

// shownFigure is one figure of an explanation as the page lists it.
type shownFigure struct {
	Name, How, Anchor, Value string
	Items                    []pmsync.Evidence
	More                     int // items not listed
}

type explainData struct {
	meta
	Program pmsync.Program
	Figures []shownFigure
	Shown   int
}

// explainPage lists every figure of a program's rollup with the items
// behind it. It computes the explanation when asked: it reads the items.
func (s *Server) explainPage(w http.ResponseWriter, r *http.Request) {
	p, err := s.program(r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	ex, ok := s.roll.(Explainer)
	if !ok {
		s.pageError(w, r, errUnavailable)
		return
	}
	doc, err := ex.Explain(r.Context(), engine.RollupOptions{Programs: []string{p.ID}})
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d := explainData{meta: s.meta(p.Name+": every figure", "", doc.AsOf, s.now()), Program: p, Shown: pageEvidence}
	for _, e := range doc.Programs {
		if e.Program != p.ID {
			continue
		}
		for _, f := range e.Figures {
			sf := shownFigure{Name: f.Name, How: f.How, Anchor: "figure-" + strings.ReplaceAll(f.Name, ".", "-"), Value: figureValue(f.Value)}
			sf.Items = f.Items[:min(len(f.Items), pageEvidence)]
			sf.More = len(f.Items) - len(sf.Items)
			d.Figures = append(d.Figures, sf)
		}
	}
	s.render(w, r, "explain", http.StatusOK, d)
}

// figureValue writes a figure's value: numbers as the document has them,
// a missing one as "unknown".
func figureValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "unknown"
	case *float64:
		if x == nil {
			return "unknown"
		}
		return trimZero(fmt.Sprintf("%.2f", *x))
	case float64:
		return trimZero(fmt.Sprintf("%.2f", x))
	case *pmsync.Date:
		if x == nil {
			return "unknown"
		}
		return string(*x)
	case *int:
		if x == nil {
			return "unknown"
		}
		return fmt.Sprint(*x)
	}
	return fmt.Sprint(v)
}
