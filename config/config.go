// Package config loads the pmsync YAML file. Loading follows one order:
// defaults first, then a strict decode (an unknown key is an error), then
// environment overrides (PMSYNC_*), then validation of everything up front:
// cron specs, time zone, connector kinds, scopes, push targets, secrets and
// mappings, which are compiled here once. Every problem found is reported at
// once, as "file:line: key.path: message".
package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/mapping"
)

// Defaults of the keys a config file may leave out.
const (
	DefaultDatabase   = "pmsync.db"
	DefaultListen     = "127.0.0.1:8080"
	DefaultSync       = "*/15 * * * *"
	DefaultRollup     = "0 7 * * 1-5"
	DefaultDeletions  = "0 * * * *"
	DefaultOverlap    = 5 * time.Minute
	DefaultRunTimeout = 30 * time.Minute
	DefaultLeaseTTL   = 5 * time.Minute
	DefaultWorkers    = 4
	DefaultPrune      = "30 3 * * *"
	// A source whose syncs fail DefaultBreakerFailures times in a row is
	// left alone for DefaultBreakerCooldown, then probed; each failed probe
	// doubles the wait up to DefaultBreakerMaxCooldown.
	DefaultBreakerFailures    = 3
	DefaultBreakerCooldown    = 5 * time.Minute
	DefaultBreakerMaxCooldown = time.Hour
)

// Default retention of history, per table (see Retention).
const (
	day                     = 24 * time.Hour
	DefaultKeepSyncRuns     = 90 * day
	DefaultKeepItemChanges  = 730 * day
	DefaultKeepSnapshots    = 730 * day
	DefaultKeepOutbox       = 30 * day
	DefaultKeepDeletedItems = 365 * day
	// DefaultKeepAudit is six years, the retention HIPAA asks of the
	// documentation a covered entity keeps (45 CFR 164.316(b)(2)).
	DefaultKeepAudit = 6 * 365 * day
)

// Config is a loaded and validated config file.
type Config struct {
	File string // the file it was read from, as given
	// Database is the SQLite file (a relative path in the file is resolved
	// against the file's directory); "" when the store is PostgreSQL (see
	// PostgresURL).
	Database    string
	Timezone    string // IANA name; "" means the system zone
	Log         Log
	HTTP        HTTP
	Schedule    Schedule
	Sync        Sync
	Retention   Retention
	Audit       Audit
	Rules       Rules // top-level rule overrides; see RulesFor
	Connections []Connection
	Programs    []Program
	Mappings    map[string]mapping.Spec // the file's own mappings (connector defaults are not listed)
	Push        []Push

	reg  *connectors.Registry
	loc  *time.Location
	sets map[string]*mapping.Set
	// rootCAs are the certificates of each connection's tls.ca_file, by
	// connection name.
	rootCAs map[string]*x509.CertPool
	// secrets sits behind a pointer so that printing a Config with %v shows
	// an address: fmt cannot call Secret.String on values it reaches through
	// unexported fields and would print them raw.
	secrets *secrets
	origin  *origin
}

type secrets struct {
	http     pmsync.Secret
	database pmsync.Secret                     // a PostgreSQL URL
	creds    map[string]connectors.Credentials // by connection name
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // auto | json | console
}

// HTTP configures the dashboard and JSON API listener.
type HTTP struct {
	Listen        string `yaml:"listen"`
	AuthTokenEnv  string `yaml:"auth_token_env"`
	AuthTokenFile string `yaml:"auth_token_file"`
	// Refresh makes the dashboard's pages reload themselves at this
	// interval (a wall screen); 0, the default, leaves them still.
	Refresh time.Duration `yaml:"refresh"`
	// TLS, when its files are set, serves the dashboard and API over
	// HTTPS.
	TLS ServerTLS `yaml:"tls"`
}

// ServerTLS names the certificate (chain) and private key the dashboard
// serves with, both PEM files. They are read again when they change on
// disk, so that a renewed certificate needs no restart. Relative paths are
// resolved against the config file's directory.
type ServerTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Enabled reports whether the dashboard serves TLS.
func (t ServerTLS) Enabled() bool { return t.CertFile != "" }

// Audit configures the push audit.
type Audit struct {
	// KeepPayloads keeps each delivered rollup document in the audit beside
	// its hash; by default only the hash is kept.
	KeepPayloads bool `yaml:"keep_payloads"`
}

// MinRefresh is the shortest dashboard refresh interval accepted.
const MinRefresh = 10 * time.Second

// Schedule holds the cron specs (standard five fields or descriptors such as
// "@every 10m") of the recurring jobs.
type Schedule struct {
	Sync      string `yaml:"sync"`
	Rollup    string `yaml:"rollup"`
	Deletions string `yaml:"deletions"`
	// Prune removes history older than the retention policy.
	Prune string `yaml:"prune"`
}

// Sync tunes the pull runs.
type Sync struct {
	Overlap    time.Duration `yaml:"overlap"`     // incremental pulls re-read this much before the cursor
	RunTimeout time.Duration `yaml:"run_timeout"` // one sync run of one source is cancelled after this
	// LeaseTTL is how long a connection's sync lease lasts unrenewed: a
	// replica killed mid-sync is replaced by another within it.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// Workers is how many connections sync at once in one process (each
	// connection's sources one after the other).
	Workers int `yaml:"workers"`
	// Breaker backs off, on the schedule, a source whose syncs keep failing.
	Breaker Breaker `yaml:"breaker"`
}

// Breaker is the circuit breaker of every source on the schedule: after
// Failures failed syncs in a row the source is not tried for Cooldown, then
// one sync probes it; a failed probe doubles the wait, up to MaxCooldown,
// and a successful one closes the breaker. Runs asked for by hand (pmsync
// sync) always go ahead.
type Breaker struct {
	Failures    int           `yaml:"failures"`
	Cooldown    time.Duration `yaml:"cooldown"`
	MaxCooldown time.Duration `yaml:"max_cooldown"`
}

// Retention says how long each kind of history is kept before the prune
// schedule removes it; zero keeps it forever. What every prune keeps
// regardless (a source's newest runs, each program's newest snapshot, the
// first recorded value of each item field) is described by store.Retention.
type Retention struct {
	SyncRuns     time.Duration `yaml:"sync_runs"`
	ItemChanges  time.Duration `yaml:"item_changes"`
	Snapshots    time.Duration `yaml:"snapshots"`
	Outbox       time.Duration `yaml:"outbox"`
	DeletedItems time.Duration `yaml:"deleted_items"`
	Audit        time.Duration `yaml:"audit"`
}

// Rules overrides rollup thresholds; a nil field keeps the value of the
// level below (program ← top level ← pmsync.DefaultRules).
type Rules struct {
	DueSoonDays         *int           `yaml:"due_soon_days"`
	RedFlagScore        *int           `yaml:"red_flag_score"`
	RedFlagsForRed      *int           `yaml:"red_flags_for_red"`
	VarianceRedPoints   *float64       `yaml:"variance_red_points"`
	VarianceAmberPoints *float64       `yaml:"variance_amber_points"`
	StaleAfter          *time.Duration `yaml:"stale_after"`
	// Health holds the expressions that colour a program; a list left
	// out keeps the level below.
	Health *HealthRules `yaml:"health"`
}

// HealthRules are health rule expressions over the rollup's figures, such
// as "milestones.late > 0" (pmsync.HealthFigures lists what they read). A
// program is red when any red rule holds, else amber when any amber rule
// does. An empty list means no rules of that colour.
type HealthRules struct {
	Red   []string `yaml:"red"`
	Amber []string `yaml:"amber"`
	// The lists compiled while the file is checked.
	red, amber []pmsync.HealthRule
}

// Connection is one account of one vendor tool: the keys every connection
// has, and the kind's own options as its connector decoded them.
type Connection struct {
	Name      string
	Kind      string
	BaseURL   string
	Timeout   time.Duration
	RateLimit RateLimit
	Auth      Auth
	TLS       ClientTLS
	// Options are the kind's own keys (connectors.Spec.Options); nil when
	// the kind has none.
	Options any
}

// ClientTLS tunes how a connection verifies its server. Verification is
// always on; what can change is whom it trusts.
type ClientTLS struct {
	// CAFile is a PEM bundle of the certificate authorities the connection
	// trusts instead of the system's, for an on-premises server whose
	// certificate a private CA issued. Relative paths are resolved against
	// the config file's directory.
	CAFile string `yaml:"ca_file"`
}

// commonConnectionKeys are the keys of a connection entry config decodes;
// every other key belongs to the connection's kind.
var commonConnectionKeys = []string{"name", "kind", "base_url", "timeout", "rate_limit", "auth", "tls"}

// RateLimit overrides the vendor's default request rate; zero keeps it.
type RateLimit struct {
	PerMinute float64 `yaml:"per_minute"`
	Burst     int     `yaml:"burst"`
}

// Auth names where a connection's secrets are read from: an environment
// variable or a file, never the config file itself.
type Auth struct {
	EmailEnv  string `yaml:"email_env"`
	EmailFile string `yaml:"email_file"`
	TokenEnv  string `yaml:"token_env"`
	TokenFile string `yaml:"token_file"`
	KeyEnv    string `yaml:"key_env"`
	KeyFile   string `yaml:"key_file"`
}

// Program is one executive unit and the sources that feed it.
type Program struct {
	ID   string
	Name string // defaults to ID
	// Portfolio groups programs in the rollup; Owner is the executive
	// sponsor. Both are optional text.
	Portfolio string
	Owner     string
	Start     pmsync.Date
	End       pmsync.Date
	Budget    Budget
	Rules     *Rules
	Sources   []Source
}

// Budget is a program's planned budget. A nil Planned means the sum of the
// items' planned costs.
type Budget struct {
	Planned  *float64 `yaml:"planned"`
	Currency string   `yaml:"currency"`
}

// Source is one scope of one connection feeding a program.
type Source struct {
	Name       string // defaults to "<program id>/<connection>"
	Connection string
	// Scope is the scope block as the connection kind's Spec.Scope decoded
	// it.
	Scope   any
	Mapping string // defaults to the connector kind's default mapping
}

// Push sends the rollups of some programs to one target: a connection's
// (a tool's) target, a webhook or a file. Exactly one of Connection,
// Webhook and File is set.
type Push struct {
	Connection string
	Target     connectors.Target // as the connection kind's Spec.Target decoded it
	Webhook    *Webhook
	File       *File
	Programs   []string // program ids; "all" in the file is expanded to every program
}

// Webhook posts the report, once per report version, to a URL: as a chat
// message or as the JSON document signed with HMAC-SHA256 (the formats
// are package push's). The URL (which often carries a token) and the
// signing secret are read from the environment or a file only.
type Webhook struct {
	// Name names the target in the outbox and in push results; it
	// defaults to the url_env or url_file it reads.
	Name       string        `yaml:"name"`
	URLEnv     string        `yaml:"url_env"`
	URLFile    string        `yaml:"url_file"`
	Format     string        `yaml:"format"` // one of push.WebhookFormats; json by default
	SecretEnv  string        `yaml:"secret_env"`
	SecretFile string        `yaml:"secret_file"`
	Timeout    time.Duration `yaml:"timeout"` // per request; 0 keeps the default
	// URL and Secret are read from the *_env or *_file keys; they print as
	// <secret>. Both are empty in a config loaded without secrets.
	URL    pmsync.Secret `yaml:"-"`
	Secret pmsync.Secret `yaml:"-"`
}

// File writes the report, once per report version, to a file, replacing it
// atomically.
type File struct {
	// Path is the file written (a relative path in the file is resolved
	// against the file's directory).
	Path   string `yaml:"path"`
	Format string `yaml:"format"` // one of push.FileFormats; default from the extension, else json
}

// Key names the target stably, for the outbox and push results: the
// connection and its connector's key ("tracker:issue=PMO-1"),
// "webhook:<name>" or "file:<path>".
func (p Push) Key() string {
	switch {
	case p.Webhook != nil:
		return "webhook:" + p.Webhook.Name
	case p.File != nil:
		return "file:" + p.File.Path
	case p.Connection != "":
		return p.Connection + ":" + p.Target.Key
	}
	return ""
}

// SourceRef is one source with everything the engine needs to pull it.
type SourceRef struct {
	Name       string
	Program    string
	Mapping    string
	Connection Connection
	Scope      connectors.Scope // Scope.Source is Name
}

// Load reads and parses a config file. reg holds the connector kinds the
// file may use. env looks up environment variables (overrides and
// secrets); nil reads the process environment.
func Load(path string, reg *connectors.Registry, env func(string) (string, bool), opts ...Option) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, reg, env, opts...)
}

// Option changes how a config is loaded.
type Option func(*loader)

// WithoutSecrets loads a config without reading or checking its secrets,
// for commands that only read the database (rollup, quarantine): they can
// run where the vendor credentials are not available. Connections of such a
// config have empty credentials.
func WithoutSecrets() Option { return func(l *loader) { l.noSecrets = true } }

// SecretsOnly reads the secrets of the named connections only (and not the
// dashboard's token): a command that talks to some of the tools needs the
// credentials of those and no others. The other connections have empty
// credentials. A webhook push target is named by its key
// ("webhook:<name>", Push.Key).
func SecretsOnly(connections ...string) Option {
	return func(l *loader) {
		l.secretsOf = map[string]bool{}
		for _, c := range connections {
			l.secretsOf[c] = true
		}
	}
}

// CheckDatabase also checks that the database's directory exists and is
// writable (for validate and the commands that write).
func CheckDatabase() Option { return func(l *loader) { l.checkDatabase = true } }

// Parse parses config data. file names the data in problems and is the base
// of relative paths. env looks up environment variables (overrides and
// secrets); nil reads the process environment. When anything is wrong the
// error is a Problems listing all of it.
func Parse(file string, data []byte, reg *connectors.Registry, env func(string) (string, bool), opts ...Option) (*Config, error) {
	if reg == nil {
		return nil, errors.New("parse config: no connector registry")
	}
	if env == nil {
		env = os.LookupEnv
	}
	l := &loader{file: file, env: env, reg: reg}
	for _, o := range opts {
		o(l)
	}
	cfg := l.load(data)
	if len(l.problems) > 0 {
		return nil, l.problems.sorted()
	}
	return cfg, nil
}

// Registry returns the connector kinds the config was loaded with.
func (c *Config) Registry() *connectors.Registry { return c.reg }

// Location returns the config's time zone (the system zone by default).
func (c *Config) Location() *time.Location {
	if c.loc == nil {
		return time.Local
	}
	return c.loc
}

// RulesFor returns the rollup rules of a program: the defaults, overridden
// by the top-level rules, overridden by the program's own.
func (c *Config) RulesFor(programID string) pmsync.Rules {
	r := pmsync.DefaultRules()
	c.Rules.apply(&r)
	for _, p := range c.Programs {
		if p.ID == programID && p.Rules != nil {
			p.Rules.apply(&r)
		}
	}
	return r
}

func (o Rules) apply(r *pmsync.Rules) {
	if o.DueSoonDays != nil {
		r.DueSoonDays = *o.DueSoonDays
	}
	if o.RedFlagScore != nil {
		r.RedFlagScore = *o.RedFlagScore
	}
	if o.RedFlagsForRed != nil {
		r.RedFlagsForRed = *o.RedFlagsForRed
	}
	if o.VarianceRedPoints != nil {
		r.VarianceRedPoints = *o.VarianceRedPoints
	}
	if o.VarianceAmberPoints != nil {
		r.VarianceAmberPoint = *o.VarianceAmberPoints
	}
	if o.StaleAfter != nil {
		r.StaleAfter = *o.StaleAfter
	}
	if h := o.Health; h != nil {
		if h.Red != nil {
			r.Health.Red = h.red
		}
		if h.Amber != nil {
			r.Health.Amber = h.amber
		}
	}
}

// ProgramList returns the programs in the domain's terms, in file order;
// Sources holds source names.
func (c *Config) ProgramList() []pmsync.Program {
	out := make([]pmsync.Program, 0, len(c.Programs))
	for _, p := range c.Programs {
		dp := pmsync.Program{ID: p.ID, Name: p.Name, Portfolio: p.Portfolio, Owner: p.Owner, Start: p.Start, End: p.End, Currency: p.Budget.Currency}
		if p.Budget.Planned != nil {
			planned := *p.Budget.Planned
			dp.Budget = &planned
		}
		for _, s := range p.Sources {
			dp.Sources = append(dp.Sources, s.Name)
		}
		out = append(out, dp)
	}
	return out
}

// Sources returns every source of every program, in file order.
func (c *Config) Sources() []SourceRef {
	byName := make(map[string]Connection, len(c.Connections))
	for _, conn := range c.Connections {
		byName[conn.Name] = conn
	}
	var out []SourceRef
	for _, p := range c.Programs {
		for _, s := range p.Sources {
			out = append(out, SourceRef{
				Name:       s.Name,
				Program:    p.ID,
				Mapping:    s.Mapping,
				Connection: byName[s.Connection],
				Scope:      connectors.Scope{Source: s.Name, Config: s.Scope},
			})
		}
	}
	return out
}

// Mapping returns a compiled mapping by name: one of the file's or a
// connector kind's default. It returns nil for an unknown name.
func (c *Config) Mapping(name string) *mapping.Set {
	return c.sets[name]
}

// Params returns what a connector factory needs for a connection, secrets
// included. The engine adds Transport, Log, Limiters, Now and Sleep.
func (c *Config) Params(connection string) (connectors.Params, error) {
	for _, conn := range c.Connections {
		if conn.Name == connection {
			var creds connectors.Credentials
			if c.secrets != nil {
				creds = c.secrets.creds[conn.Name]
			}
			p := conn.params(creds)
			p.Overlap = c.Sync.Overlap
			p.RootCAs = c.rootCAs[conn.Name]
			return p, nil
		}
	}
	return connectors.Params{}, fmt.Errorf("connector params: no connection named %q", connection)
}

func (conn Connection) params(creds connectors.Credentials) connectors.Params {
	return connectors.Params{
		Name:        conn.Name,
		Kind:        conn.Kind,
		BaseURL:     conn.BaseURL,
		Options:     conn.Options,
		Credentials: creds,
		RateLimit:   connectors.RateLimit{PerMinute: conn.RateLimit.PerMinute, Burst: conn.RateLimit.Burst},
		Timeout:     conn.Timeout,
	}
}

// PostgresURL returns the PostgreSQL URL of the store, or "" when the store
// is a SQLite file. It may hold a password: only the store reads it.
func (c *Config) PostgresURL() pmsync.Secret {
	if c.secrets == nil {
		return ""
	}
	return c.secrets.database
}

// HTTPToken returns the bearer token the dashboard and API require, or ""
// when none is configured.
func (c *Config) HTTPToken() pmsync.Secret {
	if c.secrets == nil {
		return ""
	}
	return c.secrets.http
}
