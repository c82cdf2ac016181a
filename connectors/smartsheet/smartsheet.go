// Package smartsheet is the Smartsheet connector.
//
// It pulls the rows of one sheet per scope with GET /sheets/{id}, hands
// mappings the cells by column title (never by column id, which differs from
// sheet to sheet) normalized by column type, keeps an incremental cursor on
// the sheet version and the rows' modifiedAt (ifVersionAfter makes an
// unchanged sheet cost one small request), reports the live row ids whenever
// the version moved so that deleted rows are tombstoned, and pushes rollups
// into an executive rollup sheet, one row per program, with bulk row writes.
package smartsheet

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/pmsync/pmsync/config/yamlnode"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/httpapi"
)

// Kind is the connector kind this package registers.
const Kind = "smartsheet"

// DefaultMapping is the name of the embedded default mapping.
const DefaultMapping = "smartsheet-default"

// DefaultRatePerMinute is Smartsheet's documented limit per access token.
const DefaultRatePerMinute = 300

// RateLimitWait is how long a 429 with errorCode 4003 is waited out:
// Smartsheet asks clients to sleep at least a minute before trying again.
const RateLimitWait = 60 * time.Second

// DefaultOverlap is how far before the newest row modifiedAt seen an
// incremental pull asks for rows: modifiedAt has second precision and rows
// saved while the previous pull ran must not slip between two pulls; the
// idempotent upserts absorb the overlap.
const DefaultOverlap = 5 * time.Minute

// DefaultRowPageSize is the most rows one GET /sheets/{id} asks for.
const DefaultRowPageSize = 10000

// DefaultPageCells is how many cells one GET /sheets/{id} asks for at most
// (rows × columns read) when a sheet is read in pages, unless the
// connection's page_cells says otherwise. A sheet may hold 500,000 cells,
// and a wide one read 10,000 rows at a time can pass the client's 64 MiB
// response cap or its per-request timeout, so pages are sized by cells: at
// the hundred-odd bytes a cell takes with its display and object values,
// 150,000 cells stay far under the cap, and a sheet of up to 15 columns
// still comes 10,000 rows a request. A page that is too large all the same
// is asked for again in smaller pages. (By default a sheet is one streamed
// answer, which no cap bounds; see Connector.RowPageSize.)
const DefaultPageCells = 150_000

// MaxRowsPerWrite is Smartsheet's limit of rows added or updated by one
// request.
const MaxRowsPerWrite = 500

// PageRecords is how many records one page handed to the engine holds at
// most.
const PageRecords = 500

//go:embed default.yaml
var defaultMappingYAML []byte

func init() {
	connectors.Register(connectors.Spec{
		Kind:               Kind,
		New:                connectors.Adapt(New),
		Options:            decodeOptions,
		Scope:              connectors.ScopeDecoder(CheckScope),
		Target:             connectors.TargetDecoder(CheckTarget, func(t Target) string { return "sheet=" + strings.TrimSpace(t.Sheet) }),
		Preview:            Preview,
		CheckParams:        CheckParams,
		FieldKeys:          []string{"cells", "cells_display", "cells_email"},
		AuthKeys:           []string{"token"},
		DefaultMapping:     DefaultMapping,
		DefaultMappingYAML: defaultMappingYAML,
		Blocks:             connectors.Blocks{Options: Options{}, Scope: Scope{}, Target: Target{}},
		Sample: &connectors.Sample{
			Connection: `  # Smartsheet: an API access token (Account > Apps & Integrations > API
  # Access). region picks the API host: us, eu, au or gov.
  - name: smartsheet
    kind: smartsheet
    region: us
    auth: { token_env: SMARTSHEET_TOKEN }
`,
			Scope:      `{ sheet: 1000000000000001 }`,
			ScopeHelp:  "smartsheet: sheet, the sheet id (File > Properties)",
			Target:     `{ sheet: 1000000000000002 }`,
			TargetHelp: "a row per program in a Smartsheet rollup sheet",
		},
	})
}

// Options are the Smartsheet keys of a connection besides the common ones.
type Options struct {
	// Region picks the API host when base_url is not set: us (the
	// default), eu, au or gov.
	Region string `yaml:"region" json:"region,omitempty"`
	// PageCells, when set, reads sheets in pages of at most that many
	// cells (rows × columns) instead of one streamed answer; pages read
	// after one answer timed out hold DefaultPageCells.
	PageCells int `yaml:"page_cells" json:"page_cells,omitempty"`
}

// minPageCells keeps page_cells from asking for pages so small that a sheet
// takes thousands of requests.
const minPageCells = 1000

func decodeOptions(b *yamlnode.Block) any {
	var o Options
	if b.Decode(&o) {
		if _, err := BaseURLFor(o.Region); err != nil {
			b.Errorf("region", "%q is not one of us, eu, au, gov", o.Region)
		}
		if o.PageCells != 0 && o.PageCells < minPageCells {
			b.Errorf("page_cells", "%d is below %d; leave it out for the default of %d", o.PageCells, minPageCells, DefaultPageCells)
		}
	}
	return o
}

// Scope is what one Smartsheet source reads: one sheet, by id.
type Scope struct {
	Sheet string `yaml:"sheet" json:"sheet"`
}

// Target is the rollup sheet, with column titles that differ from the
// defaults (keys such as health_column).
type Target struct {
	Sheet   string            `yaml:"sheet"`
	Options map[string]string `yaml:"options"`
}

// BaseURLFor returns the API base URL of a Smartsheet region: us (also the
// empty region), eu, au or gov (Smartsheet Gov). Each region is a separate
// data island with its own tokens.
func BaseURLFor(region string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(region)) {
	case "", "us":
		return "https://api.smartsheet.com/2.0", nil
	case "eu":
		return "https://api.smartsheet.eu/2.0", nil
	case "au":
		return "https://api.smartsheet.au/2.0", nil
	case "gov":
		return "https://api.smartsheetgov.com/2.0", nil
	}
	return "", fmt.Errorf("smartsheet region %q is not one of us, eu, au, gov", region)
}

// baseURL is the connection's API base URL: BaseURL when set, else the
// region's.
func baseURL(p connectors.Params) (string, error) {
	if p.BaseURL == "" {
		return BaseURLFor(connectors.Options[Options](p).Region)
	}
	if err := httpapi.CheckBaseURL(p.BaseURL); err != nil {
		return "", fmt.Errorf("smartsheet base url %w", err)
	}
	return strings.TrimRight(p.BaseURL, "/"), nil
}

// CheckParams says what is wrong with a Smartsheet connection's settings:
// the region must be known (or a base URL given) and an access token is
// needed.
func CheckParams(p connectors.Params) error {
	if _, err := BaseURLFor(connectors.Options[Options](p).Region); err != nil {
		return err
	}
	if _, err := baseURL(p); err != nil {
		return err
	}
	if p.Credentials.Token == "" {
		return errors.New("smartsheet needs an access token (auth token_env or token_file)")
	}
	if p.RateLimit.PerMinute < 0 || p.RateLimit.Burst < 0 {
		return errors.New("smartsheet rate limit must not be negative")
	}
	if n := connectors.Options[Options](p).PageCells; n != 0 && n < minPageCells {
		return fmt.Errorf("smartsheet page_cells %d is below %d", n, minPageCells)
	}
	return nil
}

// sheetID reads a sheet id: Smartsheet ids are positive integers.
func sheetID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("smartsheet sheet %q is not a sheet id (the number in Sheet Actions > Properties)", s)
	}
	return id, nil
}

// CheckScope says what is wrong with a Smartsheet scope: it names one sheet
// by id and nothing else.
func CheckScope(s Scope) error {
	if strings.TrimSpace(s.Sheet) == "" {
		return errors.New("smartsheet scope needs sheet (the sheet id)")
	}
	_, err := sheetID(s.Sheet)
	return err
}

// Target option keys: each renames one column of the rollup sheet.
const (
	OptProgramColumn  = "program_column"
	OptHealthColumn   = "health_column"
	OptPercentColumn  = "percent_column"
	OptLateColumn     = "late_column"
	OptRedFlagsColumn = "red_flags_column"
	OptBurnColumn     = "burn_column"
	OptUpdatedColumn  = "updated_column"
	OptVersionColumn  = "version_column"
)

// rollupColumns lists the target options with the column title each one
// defaults to, in the order the columns are written.
func rollupColumns() [][2]string {
	return [][2]string{
		{OptProgramColumn, "Program"},
		{OptHealthColumn, "Health"},
		{OptPercentColumn, "Percent Complete"},
		{OptLateColumn, "Milestones Late"},
		{OptRedFlagsColumn, "Red Flag Risks"},
		{OptBurnColumn, "Budget Burn %"},
		{OptUpdatedColumn, "Updated"},
		{OptVersionColumn, "Rollup Version"},
	}
}

// CheckTarget says what is wrong with a Smartsheet push target: it names the
// rollup sheet by id, and its options may only rename the rollup columns.
func CheckTarget(t Target) error {
	if strings.TrimSpace(t.Sheet) == "" {
		return errors.New("smartsheet push target needs sheet (the id of the rollup sheet)")
	}
	if _, err := sheetID(t.Sheet); err != nil {
		return err
	}
	known := make([]string, 0, len(rollupColumns()))
	for _, rc := range rollupColumns() {
		known = append(known, rc[0])
	}
	keys := make([]string, 0, len(t.Options))
	for k := range t.Options {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(known, k) {
			return fmt.Errorf("smartsheet push target option %q is not one of %s", k, strings.Join(known, ", "))
		}
		if strings.TrimSpace(t.Options[k]) == "" {
			return fmt.Errorf("smartsheet push target option %s needs a column title", k)
		}
	}
	return nil
}

// Connector talks to one Smartsheet connection. It is safe for concurrent
// use; set Overlap, RowPageSize and PageCells before the first Pull.
type Connector struct {
	// Overlap is how far before the newest modifiedAt seen an incremental
	// pull starts (Params.Overlap when set, else DefaultOverlap).
	Overlap time.Duration
	// RowPageSize, when positive, reads sheets in pages of at most that
	// many rows (and PageCells cells). By default (0) a sheet comes in one
	// answer, decoded as it arrives, and is read in pages of
	// DefaultRowPageSize only when that answer proves too large; a
	// connection's page_cells asks for pages from the start.
	RowPageSize int
	// PageCells is the most cells (rows × columns) one GET /sheets/{id}
	// asks for once the sheet's width is known (the connection's
	// page_cells, else DefaultPageCells).
	PageCells int

	name string
	api  *httpapi.Client
	log  zerolog.Logger
	now  func() time.Time
}

// New builds a Smartsheet connector from its Params.
func New(p connectors.Params) (*Connector, error) {
	if err := CheckParams(p); err != nil {
		return nil, err
	}
	base, err := baseURL(p)
	if err != nil {
		return nil, err
	}
	name := p.Name
	if name == "" {
		name = Kind
	}
	log := p.Log.With().Str("connector", Kind).Logger()
	api, err := httpapi.New(apiConfig(p, base, log))
	if err != nil {
		return nil, fmt.Errorf("build smartsheet http client: %w", err)
	}
	c := &Connector{
		Overlap:   DefaultOverlap,
		PageCells: cmp.Or(connectors.Options[Options](p).PageCells, DefaultPageCells),
		name:      name,
		api:       api,
		log:       log,
		now:       p.Now,
	}
	if c.now == nil {
		c.now = time.Now
	}
	if p.Overlap > 0 {
		c.Overlap = p.Overlap
	}
	if connectors.Options[Options](p).PageCells > 0 {
		c.RowPageSize = DefaultRowPageSize
	}
	return c, nil
}

// apiConfig is the HTTP client configuration of a connection.
func apiConfig(p connectors.Params, base string, log zerolog.Logger) httpapi.Config {
	perMinute := float64(DefaultRatePerMinute)
	if p.RateLimit.PerMinute > 0 {
		perMinute = p.RateLimit.PerMinute
	}
	// A burst of a tenth of a minute's budget lets a pull start at once
	// without letting a push storm through.
	burst := max(1, int(perMinute/10))
	if p.RateLimit.Burst > 0 {
		burst = p.RateLimit.Burst
	}
	return httpapi.Config{
		Vendor:     Kind,
		BaseURL:    base,
		Auth:       httpapi.Bearer(p.Credentials.Token.Reveal()),
		Rate:       rate.Limit(perMinute / 60),
		Burst:      burst,
		Limiters:   p.Limiters,
		Timeout:    p.Timeout,
		Transport:  p.Transport,
		RootCAs:    p.RootCAs,
		ParseError: ParseError,
		// The minute Smartsheet asks for after a 4003 fits under the
		// client's Retry-After ceiling (httpapi.DefaultMaxRetryAfter).
		Sleep: p.Sleep,
		Now:   p.Now,
		Log:   log,
	}
}

// Requests reports how many HTTP requests the connector has sent.
func (c *Connector) Requests() int64 { return c.api.Requests() }

// ReportsDeletions reports that pulls carry deletions: a pull that finds the
// sheet changed (deleting a row changes its version) ends with the complete
// list of live row ids (Page.Live), and an unchanged sheet has lost no row.
func (c *Connector) ReportsDeletions() bool { return true }

// Check verifies the access token and reachability with GET /users/me.
func (c *Connector) Check(ctx context.Context) error {
	var me struct {
		ID int64 `json:"id"`
	}
	if err := c.api.GetJSON(ctx, "/users/me", nil, &me); err != nil {
		return c.fail("check the connection", err)
	}
	return nil
}

// fail wraps err with the connection name and what was attempted, and turns
// an authentication failure into advice the operator can act on. The
// APIError stays in the chain so connectors.StatusOf still finds the status.
func (c *Connector) fail(what string, err error) error {
	switch connectors.StatusOf(err) {
	case 401:
		return fmt.Errorf("smartsheet connection %q: %s: authentication failed (HTTP 401): check the access token and that the region (us, eu, au, gov) is the one that issued it: %w", c.name, what, err)
	case 403:
		return fmt.Errorf("smartsheet connection %q: %s: permission denied (HTTP 403): share the sheet with the token's user: %w", c.name, what, err)
	case 404:
		return fmt.Errorf("smartsheet connection %q: %s: not found (HTTP 404): check the sheet id and that it is shared with the token's user: %w", c.name, what, err)
	}
	return fmt.Errorf("smartsheet connection %q: %s: %w", c.name, what, err)
}
