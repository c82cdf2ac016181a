package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/engine"
)

// The JSON API. Every document names its schema; keys are only ever added.
// Times are RFC 3339 in UTC; dates (as_of, due) are calendar dates in the
// configuration's time zone, which each document names.
const (
	portfolioSchema = "pmsync.portfolio/v1"
	programSchema   = "pmsync.program/v1"
	itemsSchema     = "pmsync.items/v1"
	historySchema   = "pmsync.history/v1"
	sourcesSchema   = "pmsync.sources/v1"
)

// Limits of the list endpoints.
const (
	defaultItems   = 1000
	maxItems       = 10000
	defaultHistory = 90
	maxHistory     = 1000
	apiRuns        = 10
	apiQuarantine  = 1000
)

// writeJSON encodes v whole before the status line, so that a failure is
// an error answer and not a truncated 200.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		s.fail(w, r, fmt.Errorf("encode %s: %w", r.URL.Path, err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(buf.Bytes())
}

// fail answers an API request that went wrong with {"error": "…"}.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := s.classify(r, err)
	if status == 499 {
		return
	}
	s.jsonError(w, status, msg)
}

// jsonError answers {"error": msg} with status; msg must be safe to show.
func (s *Server) jsonError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// fillLists makes a rollup's missing lists empty, so that every list key of
// the documents keeps its type.
func fillLists(r pmsync.Rollup) pmsync.Rollup {
	r.Health.Reasons = orEmpty(r.Health.Reasons)
	r.Sources = orEmpty(r.Sources)
	r.Late = orEmpty(r.Late)
	r.DueSoon = orEmpty(r.DueSoon)
	r.RedFlags = orEmpty(r.RedFlags)
	r.RiskMatrix.Cells = orEmpty(r.RiskMatrix.Cells)
	r.Changes = orEmpty(r.Changes)
	r.Health.Rules = orEmpty(r.Health.Rules)
	r.NextMilestones = orEmpty(r.NextMilestones)
	r.AtRisk = orEmpty(r.AtRisk)
	r.Slips = orEmpty(r.Slips)
	r.Forecasting.Weekly = orEmpty(r.Forecasting.Weekly)
	r.Trend.Points = orEmpty(r.Trend.Points)
	return r
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

type apiPortfolioDoc struct {
	Schema      string      `json:"schema"`
	AsOf        pmsync.Date `json:"as_of"`
	GeneratedAt time.Time   `json:"generated_at"`
	Timezone    string      `json:"timezone"`
	// Version is the served report's.
	Version string `json:"version"`
	// Portfolio and Portfolios are the report's totals (see the rollup
	// document).
	Portfolio  pmsync.Portfolio   `json:"portfolio"`
	Portfolios []pmsync.Portfolio `json:"portfolios"`
	// Programs are ranked by need of attention, most first.
	Programs []apiRanked `json:"programs"`
}

type apiRanked struct {
	Rank      int           `json:"rank"`
	Dashboard string        `json:"dashboard"` // the program's page
	Rollup    pmsync.Rollup `json:"rollup"`
}

func (s *Server) apiPortfolio(w http.ResponseWriter, r *http.Request) {
	d, err := s.portfolio(r.Context(), s.programs(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	doc := apiPortfolioDoc{Schema: portfolioSchema, AsOf: d.AsOf, GeneratedAt: d.Generated.UTC(), Timezone: s.loc.String(),
		Version: d.ReportVersion, Portfolio: d.Portfolio, Portfolios: orEmpty(d.Groups), Programs: []apiRanked{}}
	for _, c := range d.Programs {
		doc.Programs = append(doc.Programs, apiRanked{Rank: c.Rank, Dashboard: c.Path, Rollup: fillLists(c.Rollup)})
	}
	s.writeJSON(w, r, doc)
}

type apiProgramDoc struct {
	Schema      string        `json:"schema"`
	AsOf        pmsync.Date   `json:"as_of"`
	GeneratedAt time.Time     `json:"generated_at"`
	Timezone    string        `json:"timezone"`
	Program     apiProgramDef `json:"program"`
	Rules       apiRules      `json:"rules"`
	Rollup      pmsync.Rollup `json:"rollup"`
	// Pushes are the latest entries of the push audit for the program
	// (each outcome of each push of its rollups), newest first.
	Pushes []apiPush `json:"pushes"`
}

type apiProgramDef struct {
	ID       string      `json:"id"`
	Name     string      `json:"name"`
	Start    pmsync.Date `json:"start,omitempty"`
	End      pmsync.Date `json:"end,omitempty"`
	Budget   *float64    `json:"budget"`
	Currency string      `json:"currency,omitempty"`
	Sources  []string    `json:"sources"`
}

type apiRules struct {
	DueSoonDays  int `json:"due_soon_days"`
	RedFlagScore int `json:"red_flag_score"`
}

// apiPush is one entry of the push audit.
type apiPush struct {
	Target  string    `json:"target"`
	Version string    `json:"version"`
	Outcome string    `json:"outcome"` // delivered | existing | failed | superseded
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	Receipt string    `json:"receipt,omitempty"`
	Error   string    `json:"error,omitempty"`
	// PayloadSHA256 is the hash of the rollup document sent.
	PayloadSHA256 string `json:"payload_sha256,omitempty"`
}

func (s *Server) apiProgram(w http.ResponseWriter, r *http.Request) {
	p, err := s.program(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.programView(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	doc := apiProgramDoc{Schema: programSchema, AsOf: d.AsOf, GeneratedAt: d.Generated.UTC(), Timezone: s.loc.String(),
		Program: apiProgramDef{ID: p.ID, Name: p.Name, Start: p.Start, End: p.End, Budget: p.Budget, Currency: p.Currency, Sources: orEmpty(p.Sources)},
		Rules:   apiRules{DueSoonDays: d.Rules.DueSoonDays, RedFlagScore: d.Rules.RedFlagScore},
		Rollup:  fillLists(d.R), Pushes: []apiPush{}}
	for _, ps := range d.Pushes {
		doc.Pushes = append(doc.Pushes, apiPush{Target: ps.Target, Version: ps.Version, Outcome: ps.Outcome, Attempt: ps.Attempt,
			At: ps.At.UTC(), Receipt: ps.Receipt, Error: ps.Error, PayloadSHA256: ps.PayloadHash})
	}
	s.writeJSON(w, r, doc)
}

type apiItemsDoc struct {
	Schema  string         `json:"schema"`
	Program string         `json:"program"`
	Kind    []pmsync.Kind  `json:"kind"`
	State   []pmsync.State `json:"state"`
	// Total counts the items that pass the filter; Items holds at most
	// Limit of them from Offset on, by source and external id.
	Total  int           `json:"total"`
	Offset int           `json:"offset"`
	Limit  int           `json:"limit"`
	Items  []pmsync.Item `json:"items"`
}

// listParam reads a query parameter given repeatedly or comma-separated.
func listParam(r *http.Request, key string) []string {
	var out []string
	for _, v := range r.URL.Query()[key] {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

// intParam reads a non-negative integer parameter, def when absent, at most
// hi.
func intParam(r *http.Request, key string, def, hi int) (int, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %s %q is not a whole number ≥ 0", errBadRequest, key, v)
	}
	if hi > 0 && n > hi {
		return 0, fmt.Errorf("%w: %s %d is above the most allowed, %d", errBadRequest, key, n, hi)
	}
	return n, nil
}

func itemFilter(r *http.Request) (engine.ItemFilter, error) {
	var f engine.ItemFilter
	for _, k := range listParam(r, "kind") {
		if !pmsync.Kind(k).Valid() {
			return f, fmt.Errorf("%w: kind %q is not one of task, milestone, risk", errBadRequest, k)
		}
		f.Kinds = append(f.Kinds, pmsync.Kind(k))
	}
	for _, st := range listParam(r, "state") {
		if !pmsync.State(st).Valid() {
			return f, fmt.Errorf("%w: state %q is not one of todo, in_progress, blocked, done, cancelled", errBadRequest, st)
		}
		f.States = append(f.States, pmsync.State(st))
	}
	return f, nil
}

func (s *Server) apiItems(w http.ResponseWriter, r *http.Request) {
	p, err := s.program(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, err := itemFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	limit, err := intParam(r, "limit", defaultItems, maxItems)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	offset, err := intParam(r, "offset", 0, 0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items, err := s.roll.ProgramItems(r.Context(), p.ID, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	doc := apiItemsDoc{Schema: itemsSchema, Program: p.ID, Kind: orEmpty(f.Kinds), State: orEmpty(f.States),
		Total: len(items), Offset: offset, Limit: limit}
	lo := min(offset, len(items))
	doc.Items = orEmpty(items[lo:min(lo+limit, len(items))])
	s.writeJSON(w, r, doc)
}

type apiHistoryDoc struct {
	Schema   string `json:"schema"`
	Program  string `json:"program"`
	Timezone string `json:"timezone"`
	// Points are the stored rollups of the program, oldest first: one per
	// change of its content, saved by the rollup schedule and by pushes.
	Points []apiHistoryPoint `json:"points"`
}

type apiHistoryPoint struct {
	AsOf            pmsync.Date         `json:"as_of"`
	At              time.Time           `json:"at"`
	Version         string              `json:"version"`
	Health          pmsync.HealthStatus `json:"health"`
	ProgressPercent float64             `json:"progress_percent"`
	Done            int                 `json:"done"`
	Total           int                 `json:"total"`
	Late            int                 `json:"late_milestones"`
	DueSoon         int                 `json:"due_soon_milestones"`
	OpenRisks       int                 `json:"open_risks"`
	RedFlags        int                 `json:"red_flag_risks"`
	Actual          float64             `json:"actual"`
	BurnPercent     *float64            `json:"burn_percent"`
	ElapsedPercent  *float64            `json:"elapsed_percent"`
	VariancePoints  *float64            `json:"variance_points"`
}

func (s *Server) apiHistory(w http.ResponseWriter, r *http.Request) {
	p, err := s.program(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	limit, err := intParam(r, "limit", defaultHistory, maxHistory)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	doc := apiHistoryDoc{Schema: historySchema, Program: p.ID, Timezone: s.loc.String(), Points: []apiHistoryPoint{}}
	if s.hist != nil && limit > 0 {
		snaps, err := s.hist.Snapshots(r.Context(), p.ID, limit)
		if err != nil {
			s.fail(w, r, fmt.Errorf("read history of %s: %w", p.ID, err))
			return
		}
		for i := len(snaps) - 1; i >= 0; i-- {
			sn := snaps[i]
			x := sn.Rollup
			doc.Points = append(doc.Points, apiHistoryPoint{
				AsOf: sn.AsOf, At: sn.At.UTC(), Version: sn.Version, Health: x.Health.Status,
				ProgressPercent: x.Progress.Percent, Done: x.Progress.Done, Total: x.Progress.Total,
				Late: x.Milestones.Late, DueSoon: x.Milestones.DueSoon, OpenRisks: x.Risks.Open, RedFlags: x.Risks.RedFlags,
				Actual: x.Budget.Actual, BurnPercent: x.Budget.BurnPercent, ElapsedPercent: x.Budget.ElapsedPercent, VariancePoints: x.Budget.VariancePoints,
			})
		}
	}
	s.writeJSON(w, r, doc)
}

type apiSourcesDoc struct {
	Schema   string         `json:"schema"`
	Timezone string         `json:"timezone"`
	Next     apiSchedule    `json:"next"`
	Sources  []apiSourceDoc `json:"sources"`
}

type apiSchedule struct {
	Sync      *time.Time `json:"sync"`
	Rollup    *time.Time `json:"rollup"`
	Deletions *time.Time `json:"deletions"`
}

type apiSourceDoc struct {
	Source      string           `json:"source"`
	Program     string           `json:"program"`
	Connection  string           `json:"connection"`
	Kind        string           `json:"kind"`
	LastSuccess *time.Time       `json:"last_success"`
	Stale       bool             `json:"stale"`
	NextSync    *time.Time       `json:"next_sync"`
	Runs        []apiRun         `json:"runs"`
	Quarantined int              `json:"quarantined"`
	Quarantine  []apiQuarantined `json:"quarantine"`
	Waits       apiWaits         `json:"waits"`
	Lease       *apiLease        `json:"lease"`
}

// apiLease is a connection's sync lease: the process holding it (or that
// held it last), its fencing token and when it runs out.
type apiLease struct {
	Holder  string    `json:"holder"`
	Token   int64     `json:"token"`
	Expires time.Time `json:"expires"`
	Held    bool      `json:"held"`
}

type apiRun struct {
	ID          int64      `json:"id"`
	Full        bool       `json:"full"`
	Started     time.Time  `json:"started"`
	Finished    *time.Time `json:"finished"`
	Status      string     `json:"status"`
	Requests    int64      `json:"requests"`
	Seen        int        `json:"seen"`
	Changed     int        `json:"changed"`
	Quarantined int        `json:"quarantined"`
	Deleted     int        `json:"deleted"`
	Error       string     `json:"error,omitempty"`
}

type apiQuarantined struct {
	ExternalID string    `json:"external_id"`
	Reason     string    `json:"reason"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
}

// apiWaits are the connection's waits before sending requests since the
// process started: for the vendor's rate limit and for retry backoffs.
type apiWaits struct {
	Count   int        `json:"count"`
	Seconds float64    `json:"seconds"`
	Last    *time.Time `json:"last"`
}

func utcOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func (s *Server) apiSources(w http.ResponseWriter, r *http.Request) {
	d, err := s.sourcesWith(r.Context(), apiRuns, apiQuarantine)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	doc := apiSourcesDoc{Schema: sourcesSchema, Timezone: s.loc.String(),
		Next:    apiSchedule{Sync: utcOrNil(d.Next.Sync), Rollup: utcOrNil(d.Next.Rollup), Deletions: utcOrNil(d.Next.Deletions)},
		Sources: []apiSourceDoc{}}
	for _, v := range d.Sources {
		sd := apiSourceDoc{Source: v.Source, Program: v.Program, Connection: v.Connection, Kind: v.Kind,
			LastSuccess: utcOrNil(v.LastSuccess), Stale: v.Stale, NextSync: utcOrNil(v.NextSync),
			Runs: []apiRun{}, Quarantined: v.Quarantined, Quarantine: []apiQuarantined{},
			Waits: apiWaits{Count: v.Waits.Count, Seconds: round2(v.Waits.Total.Seconds()), Last: utcOrNil(v.Waits.Last)}}
		if l := v.Lease; l != nil {
			sd.Lease = &apiLease{Holder: l.Holder, Token: l.Token, Expires: l.Expires.UTC(), Held: l.Expires.After(s.now())}
		}
		for _, run := range v.Runs {
			sd.Runs = append(sd.Runs, apiRun{ID: run.ID, Full: run.Full, Started: run.Started.UTC(), Finished: utcOrNil(run.Finished),
				Status: run.Status, Requests: run.Requests, Seen: run.Seen, Changed: run.Changed, Quarantined: run.Quarantined,
				Deleted: run.Deleted, Error: run.Error})
		}
		for _, q := range v.Quarantine {
			sd.Quarantine = append(sd.Quarantine, apiQuarantined{ExternalID: q.ExternalID, Reason: q.Reason, FirstSeen: q.FirstSeen.UTC(), LastSeen: q.At.UTC()})
		}
		doc.Sources = append(doc.Sources, sd)
	}
	s.writeJSON(w, r, doc)
}
