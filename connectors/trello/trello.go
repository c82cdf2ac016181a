// Package trello is the Trello connector.
//
// It pulls the cards of one board, open and archived, with their lists,
// labels, members and custom fields resolved to names, so that a mapping
// reads `list`, `labels`, `members` and `custom["Planned Cost"]` instead of
// Trello's ids. Incremental pulls read the board's actions since the cursor:
// when nothing happened the run costs one small request, changed cards are
// read again (one by one when few, the whole board when many), and
// deleteCard actions become Page.Deleted. A full pull, and a periodic
// resync that catches what actions do not show, reports every live card.
// Rollups are pushed back as a card per program: its description carries
// the executive summary and a version marker, its due date the next open
// milestone, a label the health colour; a comment per version is optional.
//
// The API key and token travel only in the Authorization header
// (`OAuth oauth_consumer_key="…", oauth_token="…"`), never in a URL.
// Card descriptions are read only when a mapping asks for `fields.desc`.
package trello

import (
	"cmp"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/pmsync/pmsync/config/yamlnode"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/httpapi"
)

// Kind is the connector kind this package registers.
const Kind = "trello"

// DefaultMapping is the name of the embedded default mapping.
const DefaultMapping = "trello-default"

// DefaultBaseURL is Trello's REST API root.
const DefaultBaseURL = "https://api.trello.com/1"

// Trello's documented request budgets: per token and per API key, counted
// over RateWindow.
const (
	DefaultTokenLimit = 100
	DefaultKeyLimit   = 300
	RateWindow        = 10 * time.Second
)

// DefaultOverlap is how far before the newest action seen the next
// incremental pull asks for actions again. Action ids carry their creation
// second, and two servers may stamp the same second out of order; actions
// already handled in the overlap are recognised by id, so it costs nothing.
const DefaultOverlap = 2 * time.Minute

// DefaultResync is how often an incremental pull is replaced by a full read
// of the board. Trello keeps some changes out of the actions a client can
// read (its action-types guide lists the excluded ones), so a periodic full
// read, which also reports every live card, bounds how long such a change
// can go unseen.
const DefaultResync = 24 * time.Hour

// MaxPageLimit is the largest limit Trello accepts for a page of actions
// or cards.
const MaxPageLimit = 1000

// DefaultCardByCard is the largest number of changed cards an incremental
// pull reads one by one; more are read with one request for the board.
const DefaultCardByCard = 20

// PageRecords is how many records one page handed to the engine holds at
// most.
const PageRecords = 500

//go:embed default.yaml
var defaultMappingYAML []byte

func init() {
	connectors.Register(connectors.Spec{
		Kind:               Kind,
		New:                connectors.Adapt(New),
		Options:            DecodeOptions,
		Scope:              DecodeScope,
		Target:             DecodeTarget,
		Preview:            Preview,
		CheckParams:        CheckParams,
		FieldKeys:          []string{"fields", "custom"},
		AuthKeys:           []string{"key", "token"},
		DefaultMapping:     DefaultMapping,
		DefaultMappingYAML: defaultMappingYAML,
		Blocks:             connectors.Blocks{Options: Options{}, Scope: Scope{}, Target: Target{}},
		Sample: &connectors.Sample{
			Connection: `  # Trello: the Power-Up's API key and a token the board's member authorised
  # (https://trello.com/power-ups/admin > your Power-Up > API key).
  - name: trello
    kind: trello
    auth: { key_env: TRELLO_KEY, token_env: TRELLO_TOKEN }
`,
			Scope:      `{ board: "5abbe4b7ddc1b351ef961414" }`,
			ScopeHelp:  "trello: board, the board's 24-hex id (add .json to the board's URL)",
			Target:     `{ list: "5abbe4b7ddc1b351ef961415" }`,
			TargetHelp: "a card per program in a Trello list",
		},
	})
}

// Options are a Trello connection's own keys.
type Options struct {
	// TokenLimit is the request budget of the connection's token per 10
	// seconds (default 100, Trello's limit).
	TokenLimit int `yaml:"token_limit"`
	// KeyLimit is the request budget of the API key per 10 seconds, shared
	// by every token issued for it (default 300, Trello's limit).
	KeyLimit int `yaml:"key_limit"`
	// Resync is how often a full read of the board replaces an incremental
	// pull (default 24h).
	Resync time.Duration `yaml:"resync"`
}

// DecodeOptions decodes a connection's token_limit, key_limit and resync.
func DecodeOptions(b *yamlnode.Block) any {
	var o Options
	if !b.Decode(&o) {
		return o
	}
	if o.TokenLimit < 0 {
		b.Errorf("token_limit", "must be a positive number of requests per 10 seconds (Trello allows %d per token)", DefaultTokenLimit)
	}
	if o.KeyLimit < 0 {
		b.Errorf("key_limit", "must be a positive number of requests per 10 seconds (Trello allows %d per API key)", DefaultKeyLimit)
	}
	if o.Resync < 0 {
		b.Errorf("resync", "must be a positive duration such as 24h")
	} else if o.Resync > 0 && o.Resync < time.Minute {
		b.Errorf("resync", "%s is shorter than a minute: every pull would read the whole board", o.Resync)
	}
	return o
}

// CheckParams says what is wrong with a Trello connection once its secrets
// are read: it needs an API key and a token, a usable base URL, and one way
// of setting the token's budget.
func CheckParams(p connectors.Params) error {
	switch {
	case p.Credentials.Key == "" && p.Credentials.Token == "":
		return errors.New("trello needs an API key and a token (auth key_env and token_env, or their _file twins)")
	case p.Credentials.Key == "":
		return errors.New("trello needs the API key beside the token (auth key_env or key_file)")
	case p.Credentials.Token == "":
		return errors.New("trello needs a token beside the API key (auth token_env or token_file)")
	case p.RateLimit.PerMinute < 0 || p.RateLimit.Burst < 0:
		return fmt.Errorf("trello rate limit %g/min burst %d must not be negative", p.RateLimit.PerMinute, p.RateLimit.Burst)
	}
	if o := connectors.Options[Options](p); o.TokenLimit > 0 && p.RateLimit.PerMinute > 0 {
		return errors.New("trello connection sets both rate_limit and token_limit; they budget the same token, keep one")
	}
	if p.BaseURL != "" {
		if err := httpapi.CheckBaseURL(p.BaseURL); err != nil {
			return fmt.Errorf("trello base url %w", err)
		}
	}
	return nil
}

// Connector talks to one Trello connection. It is safe for concurrent use;
// set its exported fields before the first Pull or Push.
type Connector struct {
	// Overlap is how far before the newest action seen the next pull asks
	// again (Params.Overlap when set, else DefaultOverlap).
	Overlap time.Duration
	// Resync is how often a full read replaces an incremental pull;
	// zero or less never does.
	Resync time.Duration
	// ActionsPageSize and CardsPageSize are the limits asked for per page
	// of actions and cards (MaxPageLimit unless changed).
	ActionsPageSize int
	CardsPageSize   int
	// CardByCard is the most changed cards read one request each.
	CardByCard int
	// PageRecords is the most records per page handed to the engine.
	PageRecords int

	name  string
	api   *httpapi.Client
	log   zerolog.Logger
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	warned sync.Map // warnings already logged, by key
}

// New builds a Trello connector from its Params.
func New(p connectors.Params) (*Connector, error) {
	if err := CheckParams(p); err != nil {
		return nil, err
	}
	o := connectors.Options[Options](p)
	base := p.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	name := p.Name
	if name == "" {
		name = Kind
	}
	log := p.Log.With().Str("connector", Kind).Logger()
	sleep := p.Sleep
	if sleep == nil {
		sleep = httpapi.Sleep
	}
	key, token := p.Credentials.Key.Reveal(), p.Credentials.Token.Reveal()

	tokenRate, tokenBurst := rateBudget(cmp.Or(o.TokenLimit, DefaultTokenLimit))
	if p.RateLimit.PerMinute > 0 {
		tokenRate = rate.Limit(p.RateLimit.PerMinute / 60)
		tokenBurst = max(1, int(p.RateLimit.PerMinute/60))
	}
	if p.RateLimit.Burst > 0 {
		tokenBurst = p.RateLimit.Burst
	}
	limiters := p.Limiters
	if limiters == nil {
		limiters = httpapi.NewLimiters()
	}
	keyRate, keyBurst := rateBudget(cmp.Or(o.KeyLimit, DefaultKeyLimit))
	// The key's limiter wraps the transport, so the CA bundle is applied
	// to the transport beneath it.
	transport, err := httpapi.SecureTransport(p.Transport, p.RootCAs)
	if err != nil {
		return nil, fmt.Errorf("trello connection %q: %w", name, err)
	}
	transport = keyLimited{
		next:  transport,
		lim:   limiters.Limiter("trello-key:"+fingerprint(key), keyRate, keyBurst),
		sleep: sleep,
	}
	api, err := httpapi.New(httpapi.Config{
		Vendor:     Kind,
		BaseURL:    base,
		Auth:       httpapi.TrelloKeyToken(key, token),
		Rate:       tokenRate,
		Burst:      tokenBurst,
		Limiters:   limiters,
		Timeout:    p.Timeout,
		Transport:  transport,
		ParseError: ParseError,
		Sleep:      p.Sleep,
		Now:        p.Now,
		Log:        log,
	})
	if err != nil {
		return nil, fmt.Errorf("trello connection %q: %w", name, err)
	}
	c := &Connector{
		Overlap:         DefaultOverlap,
		Resync:          cmp.Or(o.Resync, DefaultResync),
		ActionsPageSize: MaxPageLimit,
		CardsPageSize:   MaxPageLimit,
		CardByCard:      DefaultCardByCard,
		PageRecords:     PageRecords,
		name:            name,
		api:             api,
		log:             log,
		now:             p.Now,
		sleep:           sleep,
	}
	if p.Overlap > 0 {
		c.Overlap = p.Overlap
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// rateBudget turns "limit requests per RateWindow" into a token bucket that can
// never exceed it in any window: a burst of a tenth of the budget and a
// steady rate of the other nine tenths (burst + rate·window = limit).
func rateBudget(limit int) (rate.Limit, int) {
	burst := max(1, limit/10)
	steady := max(limit-burst, 1)
	return rate.Limit(float64(steady) / RateWindow.Seconds()), burst
}

// fingerprint is a stable, non-reversible name for a secret, to key a
// shared rate limiter.
func fingerprint(secret string) string {
	sum := sha256.Sum256([]byte("trello-key\x00" + secret))
	return hex.EncodeToString(sum[:8])
}

// keyLimited takes a token from the API key's bucket before every attempt:
// Trello counts requests per key across all of its tokens, which the
// client's own per-token bucket cannot see.
type keyLimited struct {
	next  http.RoundTripper
	lim   *rate.Limiter
	sleep func(ctx context.Context, d time.Duration) error
}

func (t keyLimited) RoundTrip(req *http.Request) (*http.Response, error) {
	now := time.Now()
	res := t.lim.ReserveN(now, 1)
	if !res.OK() {
		return nil, fmt.Errorf("trello API key rate limiter refuses a single request (burst %d)", t.lim.Burst())
	}
	if d := res.DelayFrom(now); d > 0 {
		if err := t.sleep(req.Context(), d); err != nil {
			res.CancelAt(time.Now())
			return nil, fmt.Errorf("wait %s for the API key's rate limit: %w", d.Round(time.Millisecond), err)
		}
	}
	return t.next.RoundTrip(req)
}

// warnOnce reports whether the warning named key has not been logged yet
// by this connector, and marks it logged.
func (c *Connector) warnOnce(key string) bool {
	_, loaded := c.warned.LoadOrStore(key, true)
	return !loaded
}

// Requests reports how many HTTP requests the connector has sent.
func (c *Connector) Requests() int64 { return c.api.Requests() }

// ReportsDeletions reports that pulls carry deletions: incremental pulls
// turn deleteCard actions (and cards moved to another board) into
// Page.Deleted, and full reads list every live card (Page.Live).
func (c *Connector) ReportsDeletions() bool { return true }

// Check verifies the key and token by reading the member they belong to.
func (c *Connector) Check(ctx context.Context) error {
	var me struct {
		ID string `json:"id"`
	}
	if err := c.api.GetJSON(ctx, "/members/me", urlValues("fields", "id,username"), &me); err != nil {
		return c.fail("check the key and token with GET /members/me", err)
	}
	if me.ID == "" {
		return fmt.Errorf("trello connection %q: check the key and token with GET /members/me: the answer names no member", c.name)
	}
	return nil
}

// fail wraps err with the connection name and what was attempted, adding
// advice for the answers an operator can act on. The APIError stays in the
// chain for connectors.StatusOf.
func (c *Connector) fail(what string, err error) error {
	switch connectors.StatusOf(err) {
	case http.StatusUnauthorized:
		return fmt.Errorf("trello connection %q: %s: authentication failed (HTTP 401): check the API key and token, and that the token's member may see the board: %w", c.name, what, err)
	case http.StatusNotFound:
		return fmt.Errorf("trello connection %q: %s: not found (HTTP 404): check the id and that the token's member may see it: %w", c.name, what, err)
	}
	return fmt.Errorf("trello connection %q: %s: %w", c.name, what, err)
}
