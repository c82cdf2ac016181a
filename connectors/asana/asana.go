// Package asana is the Asana connector.
//
// It pulls the tasks of one project (GET /tasks?project=…, paged by
// next_page.offset, incremental with modified_since), hands mappings the
// task JSON plus its custom fields by name under "custom" and its section in
// the project under "section", learns of deleted tasks and tasks removed
// from the project through the Events API, and pushes rollups back as
// project status updates. Task descriptions (notes) are never requested.
package asana

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/httpapi"
)

// Kind is the connector kind this package registers.
const Kind = "asana"

// DefaultMapping is the name of the embedded default mapping.
const DefaultMapping = "asana-default"

// DefaultBaseURL is Asana's API root.
const DefaultBaseURL = "https://app.asana.com/api/1.0"

// DefaultPerMinute is the request budget of a free Asana domain (paid
// domains get 1,500); it is the safe default, raised with the connection's
// rate_limit.
const DefaultPerMinute = 150

// Asana answers 429 when one token has more than this many reads or writes
// in flight at once.
const (
	MaxConcurrentReads  = 50
	MaxConcurrentWrites = 15
)

// DefaultOverlap is how far before the saved cursor an incremental pull
// starts. modified_at is stamped when a write commits, so a task written
// just before the previous pull's newest timestamp can still show up late;
// re-reading a few minutes costs little because upserts are idempotent.
const DefaultOverlap = 5 * time.Minute

// pageSize is the largest limit Asana accepts.
const pageSize = 100

//go:embed default.yaml
var defaultMappingYAML []byte

func init() {
	connectors.Register(connectors.Spec{
		Kind:               Kind,
		New:                connectors.Adapt(New),
		Scope:              connectors.ScopeDecoder(CheckScope),
		Target:             connectors.TargetDecoder(CheckTarget, func(t Target) string { return "project=" + t.Project }),
		Preview:            Preview,
		CheckParams:        CheckParams,
		FieldKeys:          []string{"fields", "custom"},
		AuthKeys:           []string{"token"},
		DefaultMapping:     DefaultMapping,
		DefaultMappingYAML: defaultMappingYAML,
		Blocks:             connectors.Blocks{Scope: Scope{}, Target: Target{}},
		Sample: &connectors.Sample{
			Connection: `  # Asana: a personal access token (Settings > Apps > Developer apps).
  - name: asana
    kind: asana
    auth: { token_env: ASANA_TOKEN }
`,
			Scope:      `{ project: "1200000000000001" }`,
			ScopeHelp:  "asana: project, the project's gid (the digits in its URL)",
			Target:     `{ project: "1200000000000001" }`,
			TargetHelp: "a status update on an Asana project",
		},
	})
}

// CheckParams says what is wrong with an Asana connection's settings: a
// personal access token is needed, and a base URL, when given, must be
// https (plain http only to a loopback address, for a local fake).
func CheckParams(p connectors.Params) error {
	if p.Credentials.Token == "" {
		return errors.New("asana needs a personal access token (auth token_env or token_file)")
	}
	if p.RateLimit.PerMinute < 0 || p.RateLimit.Burst < 0 {
		return fmt.Errorf("asana rate limit %g/min burst %d must not be negative", p.RateLimit.PerMinute, p.RateLimit.Burst)
	}
	if p.BaseURL == "" {
		return nil
	}
	if err := httpapi.CheckBaseURL(p.BaseURL); err != nil {
		return fmt.Errorf("asana base url %w", err)
	}
	return nil
}

// Scope is what one Asana source reads: one project, by gid.
type Scope struct {
	Project string `yaml:"project" json:"project"`
}

// Target is the project whose status updates carry the rollups.
type Target struct {
	Project string `yaml:"project"`
}

// CheckScope says what is wrong with an Asana scope: it names one project
// by gid.
func CheckScope(s Scope) error {
	switch {
	case s.Project == "":
		return errors.New(`asana scope needs project (the project gid, e.g. project: "1204567890123456")`)
	case !isGID(s.Project):
		return fmt.Errorf("asana scope project %q is not a gid (the digits in the project's URL)", s.Project)
	}
	return nil
}

// CheckTarget says what is wrong with an Asana push target: it names the
// project, by gid, that receives the status updates.
func CheckTarget(t Target) error {
	switch {
	case t.Project == "":
		return errors.New("asana push target needs project (the gid of the project that gets the status updates)")
	case !isGID(t.Project):
		return fmt.Errorf("asana push target project %q is not a gid (the digits in the project's URL)", t.Project)
	}
	return nil
}

func isGID(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Connector talks to one Asana connection. It is safe for concurrent use;
// set Overlap before the first Pull.
type Connector struct {
	// Overlap is how far before the saved cursor an incremental pull
	// starts (Params.Overlap when set, else DefaultOverlap).
	Overlap time.Duration

	api   *httpapi.Client
	log   zerolog.Logger
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	// reads and writes are semaphores: Asana limits concurrent requests
	// per token separately from the per-minute budget.
	reads, writes chan struct{}
}

// New builds an Asana connector from its Params.
func New(p connectors.Params) (*Connector, error) {
	if err := CheckParams(p); err != nil {
		return nil, err
	}
	perMinute := float64(DefaultPerMinute)
	if p.RateLimit.PerMinute > 0 {
		perMinute = p.RateLimit.PerMinute
	}
	// A two-second burst lets a sync start at once; a minute then stays
	// within a few requests of the quota, which a 429 and its Retry-After
	// absorb.
	burst := max(1, int(perMinute/30))
	if p.RateLimit.Burst > 0 {
		burst = p.RateLimit.Burst
	}
	base := strings.TrimRight(p.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	log := p.Log.With().Str("connector", Kind).Logger()
	api, err := httpapi.New(httpapi.Config{
		Vendor:     Kind,
		BaseURL:    base,
		Auth:       httpapi.Bearer(p.Credentials.Token.Reveal()),
		Rate:       rate.Limit(perMinute / 60),
		Burst:      burst,
		Limiters:   p.Limiters,
		Timeout:    p.Timeout,
		Transport:  p.Transport,
		RootCAs:    p.RootCAs,
		ParseError: parseError,
		Sleep:      p.Sleep,
		Now:        p.Now,
		Log:        log,
	})
	if err != nil {
		return nil, fmt.Errorf("asana connector: %w", err)
	}
	c := &Connector{
		Overlap: DefaultOverlap,
		api:     api,
		log:     log,
		now:     p.Now,
		sleep:   p.Sleep,
		reads:   make(chan struct{}, MaxConcurrentReads),
		writes:  make(chan struct{}, MaxConcurrentWrites),
	}
	if p.Overlap > 0 {
		c.Overlap = p.Overlap
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = httpapi.Sleep
	}
	return c, nil
}

// Check verifies the token by reading the user it belongs to.
func (c *Connector) Check(ctx context.Context) error {
	var me struct {
		Data struct {
			GID string `json:"gid"`
		} `json:"data"`
	}
	if _, err := c.get(ctx, "/users/me", url.Values{"opt_fields": {"name"}}, &me); err != nil {
		return fmt.Errorf("asana: check token with GET /users/me: %w", err)
	}
	if me.Data.GID == "" {
		return errors.New("asana: check token with GET /users/me: the answer names no user")
	}
	return nil
}

// Requests reports how many HTTP requests the connector has sent.
func (c *Connector) Requests() int64 { return c.api.Requests() }

// ReportsDeletions reports that pulls carry deletions: every incremental
// pull reads the project's events (Page.Deleted), and a pull that lost them
// re-lists the project (Page.Live), so the engine need not list task ids.
func (c *Connector) ReportsDeletions() bool { return true }

// get sends a GET within the concurrent-read limit.
func (c *Connector) get(ctx context.Context, path string, q url.Values, out any) (*httpapi.Response, error) {
	release, err := acquire(ctx, c.reads)
	if err != nil {
		return nil, fmt.Errorf("asana: GET %s: wait for a read slot: %w", path, err)
	}
	defer release()
	return c.api.DoJSON(ctx, httpapi.Request{Path: path, Query: q}, out)
}

// write sends a write within the concurrent-write limit.
func (c *Connector) write(ctx context.Context, r httpapi.Request, out any) (*httpapi.Response, error) {
	release, err := acquire(ctx, c.writes)
	if err != nil {
		return nil, fmt.Errorf("asana: %s %s: wait for a write slot: %w", r.Method, r.Path, err)
	}
	defer release()
	return c.api.DoJSON(ctx, r, out)
}

func acquire(ctx context.Context, sem chan struct{}) (func(), error) {
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// errorDoc is Asana's error body: {"errors":[{"message","help","phrase"}]}.
type errorDoc struct {
	Errors []struct {
		Message string `json:"message"`
		Help    string `json:"help"`
		Phrase  string `json:"phrase"`
	} `json:"errors"`
	// Sync is the fresh events sync token of a 412.
	Sync string `json:"sync"`
}

// parseError reads Asana's error body. The messages say what went wrong
// ("project: Missing input"); the phrase of a 500 ("6 sad squid snuggle
// softly") is what Asana support looks incidents up by, so it becomes the
// reference id. The help line is the same link on every error and is left
// out.
func parseError(status int, h http.Header, body []byte) httpapi.ErrorInfo {
	var doc errorDoc
	if err := json.Unmarshal(body, &doc); err != nil || len(doc.Errors) == 0 {
		return httpapi.ParseGenericError(status, h, body)
	}
	var msgs, phrases []string
	for _, e := range doc.Errors {
		if e.Message != "" {
			msgs = append(msgs, e.Message)
		}
		if e.Phrase != "" {
			phrases = append(phrases, e.Phrase)
		}
	}
	return httpapi.ErrorInfo{Message: strings.Join(msgs, "; "), RefID: strings.Join(phrases, "; ")}
}
