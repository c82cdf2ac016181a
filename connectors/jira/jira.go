// Package jira is the Jira connector for Jira Cloud and Jira Data Center.
//
// It pulls issues through the JQL search API (Cloud: POST
// /rest/api/3/search/jql paged by nextPageToken; Data Center: POST
// /rest/api/2/search walked project by project in key order, see
// keyWalk), resolves custom fields by name so that mappings read
// custom["Planned Cost"] rather than a customfield id, keeps an incremental
// cursor on the issues' updated time, lists live issue ids for deletion
// detection and pushes rollups back as issue comments. It speaks to Jira
// with go-jira over the shared httpapi client (see client.go).
package jira

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gojira "github.com/andygrunwald/go-jira"
	"github.com/rs/zerolog"
	"github.com/valyala/fastjson"
	"golang.org/x/time/rate"

	"github.com/pmsync/pmsync/config/yamlnode"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/httpapi"
)

// Kind is the connector kind this package registers.
const Kind = "jira"

// DefaultMapping is the name of the embedded default mapping.
const DefaultMapping = "jira-default"

// DefaultOverlap is how far before the saved cursor an incremental pull
// starts: Jira's JQL date literals have minute precision and search indexes
// lag writes by a moment, so a small overlap (absorbed by idempotent upserts)
// keeps an incremental pull from missing an issue.
const DefaultOverlap = 5 * time.Minute

//go:embed default.yaml
var defaultMappingYAML []byte

func init() {
	connectors.Register(connectors.Spec{
		Kind:               Kind,
		New:                connectors.Adapt(New),
		Options:            decodeOptions,
		Scope:              connectors.ScopeDecoder(CheckScope),
		Target:             connectors.TargetDecoder(CheckTarget, func(t Target) string { return "issue=" + strings.TrimSpace(t.Issue) }),
		Preview:            Preview,
		CheckParams:        CheckParams,
		FieldKeys:          []string{"fields", "custom"},
		AuthKeys:           []string{"email?", "token"},
		DefaultMapping:     DefaultMapping,
		DefaultMappingYAML: defaultMappingYAML,
		Blocks:             connectors.Blocks{Options: Options{}, Scope: Scope{}, Target: Target{}},
		Sample: &connectors.Sample{
			Connection: `  # Jira Cloud: the account's email and an API token (Atlassian account >
  # Security > API tokens). For Jira Data Center set flavor: datacenter,
  # base_url to your server, and give only token_env (a personal access token).
  - name: jira
    kind: jira
    base_url: https://your-site.atlassian.net
    auth: { email_env: JIRA_EMAIL, token_env: JIRA_API_TOKEN }
`,
			Scope:      `{ jql: "project = EHR" }`,
			ScopeHelp:  "jira: jql (any JQL query) or project (a project key)",
			Target:     `{ issue: PMO-1 }`,
			TargetHelp: "a comment on a Jira issue",
		},
	})
}

// Options are the Jira keys of a connection besides the common ones.
type Options struct {
	// Flavor is cloud or datacenter; empty picks by host (FlavorOf).
	Flavor string `yaml:"flavor" json:"flavor,omitempty"`
	// SiteURL is the site browse links point at (https://acme.atlassian.net)
	// when base_url is Atlassian's API gateway
	// (https://api.atlassian.com/ex/jira/{cloudId}, which scoped API tokens
	// and service accounts must call). Empty: the gateway's
	// serverInfo.baseUrl, or base_url itself for a site.
	SiteURL string `yaml:"site_url" json:"site_url,omitempty"`
}

func decodeOptions(b *yamlnode.Block) any {
	var o Options
	if !b.Decode(&o) {
		return o
	}
	if o.Flavor != "" {
		if _, err := FlavorOf("https://jira.invalid", o.Flavor); err != nil {
			b.Errorf("flavor", "%q is not one of cloud, datacenter", o.Flavor)
		}
	}
	if o.SiteURL != "" {
		if err := httpapi.CheckBaseURL(o.SiteURL); err != nil {
			b.Errorf("site_url", "%v", err)
		}
	}
	return o
}

// gatewayHost is Atlassian's API gateway: Jira Cloud answers there, under
// /ex/jira/{cloudId}, for OAuth apps, scoped API tokens and service
// accounts.
const gatewayHost = "api.atlassian.com"

// isGateway reports whether a base URL is Atlassian's API gateway.
func isGateway(baseURL string) bool {
	u, err := url.Parse(baseURL)
	return err == nil && strings.EqualFold(u.Hostname(), gatewayHost) && gatewayPath(baseURL)
}

// gatewayPath reports whether a base URL has the gateway's path
// /ex/jira/{cloudId}: it is not the site, so browse links cannot start
// with it.
func gatewayPath(baseURL string) bool {
	u, err := url.Parse(baseURL)
	return err == nil && strings.HasPrefix(u.Path, "/ex/jira/")
}

// Scope is what one Jira source reads: a JQL query or a project key.
type Scope struct {
	JQL     string `yaml:"jql" json:"jql,omitempty"`
	Project string `yaml:"project" json:"project,omitempty"`
}

// Target is the issue a rollup is written to as a comment.
type Target struct {
	Issue string `yaml:"issue"`
}

// Flavor is the Jira deployment a connection talks to.
type Flavor string

// The Jira flavors.
const (
	Cloud      Flavor = "cloud"
	DataCenter Flavor = "datacenter"
)

// FlavorOf returns the flavor of a connection: the configured one, else
// cloud for *.atlassian.net hosts and Atlassian's API gateway
// (api.atlassian.com/ex/jira/{cloudId}), datacenter for every other host.
func FlavorOf(baseURL, configured string) (Flavor, error) {
	switch Flavor(strings.ToLower(strings.TrimSpace(configured))) {
	case Cloud:
		return Cloud, nil
	case DataCenter:
		return DataCenter, nil
	case "":
	default:
		return "", fmt.Errorf("jira flavor %q is not cloud or datacenter", configured)
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", fmt.Errorf("parse jira base url: %w", err)
	}
	if strings.HasSuffix(strings.ToLower(u.Hostname()), ".atlassian.net") || isGateway(baseURL) {
		return Cloud, nil
	}
	return DataCenter, nil
}

// CheckParams says what is wrong with a Jira connection's settings: the base
// URL must be an absolute http(s) URL, the flavor cloud or datacenter, a
// token is always needed and Cloud also needs the account's email.
func CheckParams(p connectors.Params) error {
	if p.BaseURL == "" {
		return errors.New("jira needs base_url, the site such as https://acme.atlassian.net")
	}
	if err := httpapi.CheckBaseURL(p.BaseURL); err != nil {
		return fmt.Errorf("jira base url %w", err)
	}
	opts := connectors.Options[Options](p)
	flavor, err := FlavorOf(p.BaseURL, opts.Flavor)
	if err != nil {
		return err
	}
	if opts.SiteURL != "" {
		if err := httpapi.CheckBaseURL(opts.SiteURL); err != nil {
			return fmt.Errorf("jira site_url %w", err)
		}
	}
	if isGateway(p.BaseURL) && flavor != Cloud {
		return errors.New("jira base_url is Atlassian's cloud gateway (api.atlassian.com/ex/jira/…); flavor must be cloud")
	}
	if p.Credentials.Token == "" {
		if flavor == Cloud {
			return errors.New("jira cloud needs an API token (auth token_env or token_file)")
		}
		return errors.New("jira data center needs a personal access token (auth token_env or token_file)")
	}
	if flavor == Cloud && p.Credentials.Email == "" {
		return errors.New("jira cloud needs the account email beside the API token (auth email_env or email_file)")
	}
	return nil
}

// CheckScope says what is wrong with a Jira scope: it takes exactly one of
// jql or project, and a query must restrict the search: Jira Cloud answers
// 400 to an unbounded query (one that is only ORDER BY …), and on Data
// Center it would sync every issue of the instance.
func CheckScope(s Scope) error {
	jql, project := strings.TrimSpace(s.JQL), strings.TrimSpace(s.Project)
	switch {
	case jql == "" && project == "":
		return errors.New("jira scope needs jql or project")
	case jql != "" && project != "":
		return errors.New("jira scope takes jql or project, not both")
	case jql != "" && strings.Trim(stripOrderBy(jql), "() \t\r\n") == "":
		return fmt.Errorf("jira scope jql %q has no search restriction, only an order: Jira Cloud rejects unbounded queries (HTTP 400); restrict it, for example project = KEY", jql)
	}
	return nil
}

func scopeOf(s connectors.Scope) (Scope, error) {
	return connectors.ScopeConfig(Kind, s, CheckScope)
}

// CheckTarget says what is wrong with a Jira push target: it names the issue
// (key or id) the rollup comments go to.
func CheckTarget(t Target) error {
	issue := strings.TrimSpace(t.Issue)
	switch {
	case issue == "":
		return errors.New("jira push target needs issue (the key of the issue to comment on)")
	case strings.ContainsAny(issue, "/?# \t"):
		return fmt.Errorf("jira push target issue %q is not an issue key", t.Issue)
	}
	return nil
}

// Connector talks to one Jira connection. It is safe for concurrent use;
// set Overlap before the first Pull.
type Connector struct {
	// Overlap is how far before the saved cursor an incremental pull starts
	// (Params.Overlap when set, else DefaultOverlap).
	Overlap time.Duration

	name   string
	base   string // no trailing slash
	flavor Flavor
	api    *httpapi.Client
	jc     *gojira.Client // over api
	log    zerolog.Logger
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error

	mu        sync.Mutex
	catalog   *fieldCatalog  // from GET /field, refreshed after catalogTTL
	catalogAt time.Time      // when catalog was fetched
	zone      *time.Location // the user's time zone from GET /myself, refreshed after catalogTTL
	zoneAt    time.Time      // when zone was fetched
	site      string         // where browse links point; "" until known (siteURL)

	parsers fastjson.ParserPool // for search answers (decodeSearch)
}

// New builds a Jira connector from its Params.
func New(p connectors.Params) (*Connector, error) {
	if err := CheckParams(p); err != nil {
		return nil, err
	}
	flavor, err := FlavorOf(p.BaseURL, connectors.Options[Options](p).Flavor)
	if err != nil {
		return nil, err
	}
	name := p.Name
	if name == "" {
		name = Kind
	}
	log := p.Log.With().Str("connector", Kind).Logger()

	limit, burst := rate.Limit(10), 20
	auth := httpapi.Basic(p.Credentials.Email.Reveal(), p.Credentials.Token.Reveal())
	if flavor == DataCenter {
		// Data Center has no published limit; 20/s keeps a shared server
		// responsive while still pulling 100k issues in a few minutes.
		limit = 20
		auth = httpapi.Bearer(p.Credentials.Token.Reveal())
	}
	if p.RateLimit.PerMinute > 0 {
		limit = rate.Limit(p.RateLimit.PerMinute / 60)
	}
	if p.RateLimit.Burst > 0 {
		burst = p.RateLimit.Burst
	}
	base := strings.TrimRight(p.BaseURL, "/")
	api, err := httpapi.New(httpapi.Config{
		Vendor:     Kind,
		BaseURL:    base,
		Auth:       auth,
		Rate:       limit,
		Burst:      burst,
		Limiters:   p.Limiters,
		Timeout:    p.Timeout,
		Transport:  p.Transport,
		RootCAs:    p.RootCAs,
		ParseError: ParseError,
		Sleep:      p.Sleep,
		Now:        p.Now,
		Log:        p.Log, // the client adds the connector field itself
	})
	if err != nil {
		return nil, fmt.Errorf("build jira http client: %w", err)
	}
	jc, err := newGoJira(api, base)
	if err != nil {
		return nil, err
	}
	c := &Connector{
		Overlap: DefaultOverlap,
		name:    name,
		base:    base,
		flavor:  flavor,
		api:     api,
		jc:      jc,
		log:     log,
		now:     p.Now,
		sleep:   p.Sleep,
		site:    strings.TrimRight(connectors.Options[Options](p).SiteURL, "/"),
	}
	if c.site == "" && !gatewayPath(base) {
		c.site = base
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

// Flavor returns the Jira deployment the connector talks to.
func (c *Connector) Flavor() Flavor { return c.flavor }

// Requests reports how many HTTP requests the connector has sent.
func (c *Connector) Requests() int64 { return c.api.Requests() }

// siteURL returns the site browse links point at: site_url, else the base
// URL of a site, else (the API gateway) the site the gateway serves, from
// GET serverInfo's baseUrl, read once.
func (c *Connector) siteURL(ctx context.Context) (string, error) {
	c.mu.Lock()
	site := c.site
	c.mu.Unlock()
	if site != "" {
		return site, nil
	}
	var info struct {
		BaseURL string `json:"baseUrl"`
	}
	if _, err := c.do(ctx, http.MethodGet, "rest/api/2/serverInfo", nil, &info); err != nil {
		return "", c.fail("read the site URL (serverInfo)", err)
	}
	site = strings.TrimRight(info.BaseURL, "/")
	if httpapi.CheckBaseURL(site) != nil {
		return "", fmt.Errorf("jira connection %q: serverInfo gave site URL %q; set site_url", c.name, info.BaseURL)
	}
	c.mu.Lock()
	c.site = site
	c.mu.Unlock()
	return site, nil
}

// issueURL is the browser link of an issue on site.
func issueURL(site, key string) string {
	return site + "/browse/" + url.PathEscape(key)
}

// Check verifies the credentials and reachability with GET /myself, every
// time it is called, and remembers the user's time zone for incremental
// queries.
func (c *Connector) Check(ctx context.Context) error {
	if _, err := c.readZone(ctx, true); err != nil {
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
		hint := "check the email and API token"
		if c.flavor == Cloud && !gatewayPath(c.base) {
			hint += " (a scoped API token or a service account must call https://" + gatewayHost + "/ex/jira/{cloudId}: set base_url to it and site_url to the site)"
		}
		if c.flavor == DataCenter {
			hint = "check the personal access token"
		}
		return fmt.Errorf("jira connection %q: authentication failed (HTTP 401): %s: %w", c.name, hint, err)
	case 403:
		return fmt.Errorf("jira connection %q: %s: permission denied (HTTP 403): check the account's project permissions: %w", c.name, what, err)
	}
	return fmt.Errorf("jira connection %q: %s: %w", c.name, what, err)
}
