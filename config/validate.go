package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/config/yamlnode"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/httpapi"
	"github.com/pmsync/pmsync/mapping"
	"github.com/pmsync/pmsync/push"
)

// loader carries one load of one file: where problems are reported and
// what is known about the document so far.
type loader struct {
	file       string
	env        func(string) (string, bool)
	reg        *connectors.Registry
	idx        *index
	fromEnv    map[string]string // key path → environment variable that set it
	decodeErrs []string          // key paths the decoder complained about
	problems   Problems
	found      int // validation problems found, including those left out
	// noSecrets leaves secrets unread (and unchecked), for commands that
	// only read the database.
	noSecrets bool
	// secretsOf, when not nil, names the only connections whose secrets are
	// read (SecretsOnly); the others' are left unread, as with noSecrets.
	secretsOf map[string]bool
	// checkDatabase checks that the database can be written (CheckDatabase).
	checkDatabase bool
	root          *yaml.Node
	expanded      map[string][]string // key path → variables its value was expanded from
}

// skipSecrets reports whether the secrets of a connection ("" for the
// dashboard's token) are left unread.
func (l *loader) skipSecrets(conn string) bool {
	return l.noSecrets || l.secretsOf != nil && (conn == "" || !l.secretsOf[conn])
}

func (l *loader) load(data []byte) *Config {
	doc := defaults()
	if !l.decode(data, &doc) {
		return nil
	}
	l.databaseText(&doc)
	l.applyEnv(&doc)

	cfg := &Config{
		reg:      l.reg,
		File:     l.file,
		Timezone: doc.Timezone,
		Log:      doc.Log,
		HTTP:     doc.HTTP,
		Schedule: doc.Schedule,
		Sync:     doc.Sync,
		Audit:    doc.Audit,
		Rules:    doc.Rules,
		Mappings: doc.Mappings,
		secrets:  &secrets{creds: map[string]connectors.Credentials{}},
		rootCAs:  map[string]*x509.CertPool{},
		origin:   &origin{root: l.root, idx: l.idx, fromEnv: l.fromEnv, expanded: l.expanded},
	}
	cfg.Retention = doc.Retention
	l.database(cfg, &doc)
	l.checkGeneral(cfg)
	specs := l.checkConnections(cfg, doc.Connections)
	l.compileMappings(cfg, doc.Mappings)
	l.checkPrograms(cfg, doc.Programs, specs)
	l.checkPush(cfg, doc.Push, specs)
	if l.checkDatabase && cfg.Database != "" {
		l.checkDatabaseWritable(cfg.Database)
	}
	return cfg
}

// checkDatabaseWritable checks that the database's directory exists and
// that pmsync may create and write the database there, so that a
// deployment finds out at validate time rather than at the first sync.
func (l *loader) checkDatabaseWritable(path string) {
	dir := filepath.Dir(path)
	switch fi, err := os.Stat(dir); {
	case errors.Is(err, os.ErrNotExist):
		l.problem("database", "directory %s does not exist", dir)
		return
	case err != nil:
		l.problem("database", "%v", err)
		return
	case !fi.IsDir():
		l.problem("database", "%s is not a directory", dir)
		return
	}
	const wOK = 2 // access(2)'s W_OK
	if err := syscall.Access(dir, wOK|1); err != nil {
		l.problem("database", "directory %s is not writable: %v", dir, err)
		return
	}
	switch fi, err := os.Stat(path); {
	case err == nil && fi.IsDir():
		l.problem("database", "%s is a directory", path)
	case err == nil:
		if err := syscall.Access(path, wOK); err != nil {
			l.problem("database", "%s is not writable: %v", path, err)
		}
	}
}

// add records a problem found while decoding.
func (l *loader) add(p Problem) {
	l.problems = append(l.problems, p)
}

// problem records a validation problem at a key path. A value set by the
// environment is reported with the variable's name instead of a line.
// Problems that follow from one the decoder already reported (a value it
// could not decode, or a key missing because it was misspelled) are left
// out, so that one mistake gives one line.
func (l *loader) problem(path, format string, args ...any) {
	l.found++
	if l.followsDecodeError(path) {
		return
	}
	p := Problem{File: l.file, Line: l.idx.line(path), Path: path, Msg: fmt.Sprintf(format, args...)}
	if key, ok := l.fromEnv[path]; ok {
		p.Line = 0
		p.Msg += " (set by " + key + ")"
	}
	l.add(p)
}

// followsDecodeError reports whether a problem at path may be a consequence
// of a decode error: one at path or above it, a misspelled key inside path,
// or a misspelled sibling (a key near its name) when path itself is missing
// from the file.
func (l *loader) followsDecodeError(path string) bool {
	missing := l.idx.byPath[path] == nil
	for _, d := range l.decodeErrs {
		switch {
		case d == "":
		case d == path, within(path, d), parentPath(d) == path:
			return true
		case missing && parentPath(d) == parentPath(path) && yamlnode.Distance(lastKey(d), lastKey(path)) <= 2:
			return true
		}
	}
	return false
}

// decodeErrorWithin reports whether the decoder complained about path or
// anything inside it.
func (l *loader) decodeErrorWithin(path string) bool {
	for _, d := range l.decodeErrs {
		if d == path || within(d, path) {
			return true
		}
	}
	return false
}

// within reports whether key path p lies inside key path outer.
func within(p, outer string) bool {
	return strings.HasPrefix(p, outer+".") || strings.HasPrefix(p, outer+"[")
}

// path resolves a path from the file against the file's directory; one
// from the environment is taken as given.
func (l *loader) path(key, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if _, ok := l.fromEnv[key]; ok {
		return p
	}
	return filepath.Join(filepath.Dir(l.file), p)
}

func (l *loader) checkGeneral(cfg *Config) {
	if cfg.Timezone != "" {
		loc, err := time.LoadLocation(cfg.Timezone)
		if err != nil {
			l.problem("timezone", "%v", err)
		}
		cfg.loc = loc
	}
	oneOf(l, "log.level", cfg.Log.Level, "debug", "info", "warn", "error")
	oneOf(l, "log.format", cfg.Log.Format, "auto", "json", "console")

	for _, s := range []struct{ path, spec string }{
		{"schedule.sync", cfg.Schedule.Sync},
		{"schedule.rollup", cfg.Schedule.Rollup},
		{"schedule.deletions", cfg.Schedule.Deletions},
		{"schedule.prune", cfg.Schedule.Prune},
	} {
		// The scheduler parses with cron.ParseStandard too, so a spec that
		// passes here cannot fail there.
		if _, err := cron.ParseStandard(s.spec); err != nil {
			l.problem(s.path, "invalid cron spec %q: %v", s.spec, err)
		}
	}
	if cfg.Sync.Overlap < 0 {
		l.problem("sync.overlap", "must not be negative")
	}
	if cfg.Sync.RunTimeout <= 0 {
		l.problem("sync.run_timeout", "must be positive")
	}
	if cfg.Sync.LeaseTTL < 3*time.Second {
		l.problem("sync.lease_ttl", "must be at least 3s (it is renewed every third of its length)")
	}
	if cfg.Sync.Workers < 1 || cfg.Sync.Workers > 64 {
		l.problem("sync.workers", "%d is outside 1..64", cfg.Sync.Workers)
	}
	l.checkBreaker(cfg.Sync.Breaker)
	l.checkRetention(cfg.Retention)
	l.checkRules("rules", cfg.Rules, pmsync.DefaultRules())
	l.checkHTTP(cfg)
}

func (l *loader) checkBreaker(b Breaker) {
	if b.Failures < 1 || b.Failures > 100 {
		l.problem("sync.breaker.failures", "%d is outside 1..100", b.Failures)
	}
	if b.Cooldown <= 0 {
		l.problem("sync.breaker.cooldown", "must be positive")
	}
	if b.MaxCooldown < b.Cooldown {
		l.problem("sync.breaker.max_cooldown", "%s is shorter than the cooldown (%s)", b.MaxCooldown, b.Cooldown)
	}
}

// checkRetention holds each kind of history to the least the running
// system needs of it; 0 keeps a kind forever.
func (l *loader) checkRetention(r Retention) {
	for _, k := range []struct {
		key       string
		keep, min time.Duration
		why       string
	}{
		{"sync_runs", r.SyncRuns, 24 * time.Hour, "a day of runs at least"},
		{"item_changes", r.ItemChanges, 60 * 24 * time.Hour, "forecasts read eight weeks of state changes"},
		{"snapshots", r.Snapshots, 35 * 24 * time.Hour, "trends and the burn rate read four weeks back"},
		// A rollup version names its as-of day, so a delivered row older
		// than two days can never be queued again: removing it cannot let
		// a version go out twice.
		{"outbox", r.Outbox, 48 * time.Hour, "a delivered push must be remembered as long as its rollup version can recur"},
		{"deleted_items", r.DeletedItems, 24 * time.Hour, "a day of tombstones at least"},
		{"audit", r.Audit, 24 * time.Hour, "a day of deliveries at least"},
	} {
		switch {
		case k.keep < 0:
			l.problem("retention."+k.key, "must not be negative (0 keeps everything)")
		case k.keep > 0 && k.keep < k.min:
			l.problem("retention."+k.key, "%s is under %s (%s); write 0 to keep everything", k.keep, k.min, k.why)
		}
	}
}

func oneOf(l *loader, path, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		l.problem(path, "%q is not one of %s", value, strings.Join(allowed, ", "))
	}
}

// checkRules checks the values r sets, and that the thresholds still make
// sense once r is laid over base.
func (l *loader) checkRules(path string, r Rules, base pmsync.Rules) {
	if v := r.DueSoonDays; v != nil && *v < 0 {
		l.problem(path+".due_soon_days", "must not be negative")
	}
	if v := r.RedFlagScore; v != nil && (*v < 1 || *v > 25) {
		l.problem(path+".red_flag_score", "%d is outside 1..25 (likelihood × impact)", *v)
	}
	if v := r.RedFlagsForRed; v != nil && *v < 1 {
		l.problem(path+".red_flags_for_red", "must be at least 1")
	}
	if v := r.VarianceRedPoints; v != nil && *v < 0 {
		l.problem(path+".variance_red_points", "must not be negative")
	}
	if v := r.VarianceAmberPoints; v != nil && *v < 0 {
		l.problem(path+".variance_amber_points", "must not be negative")
	}
	if v := r.StaleAfter; v != nil && *v <= 0 {
		l.problem(path+".stale_after", "must be positive")
	}
	if h := r.Health; h != nil {
		h.red = l.healthRules(path+".health.red", h.Red)
		h.amber = l.healthRules(path+".health.amber", h.Amber)
	}
	if r.VarianceAmberPoints != nil || r.VarianceRedPoints != nil {
		eff := base
		r.apply(&eff)
		if eff.VarianceAmberPoint > eff.VarianceRedPoints {
			key := path + ".variance_amber_points"
			if r.VarianceAmberPoints == nil {
				key = path + ".variance_red_points"
			}
			l.problem(key, "variance_amber_points (%g) must not exceed variance_red_points (%g)", eff.VarianceAmberPoint, eff.VarianceRedPoints)
		}
	}
}

// healthRules compiles a list of health rule expressions, reporting each
// bad one at its place in the list. A nil list stays nil (the level below
// applies); an empty one stays empty (no rules of that colour).
func (l *loader) healthRules(path string, srcs []string) []pmsync.HealthRule {
	if srcs == nil {
		return nil
	}
	out := make([]pmsync.HealthRule, 0, len(srcs))
	for i, src := range srcs {
		r, err := pmsync.CompileHealthRule(src)
		if err != nil {
			l.problem(fmt.Sprintf("%s[%d]", path, i), "%s (rules read %s and rules.*)", firstLine(err.Error()), "the figures of the rollup document such as milestones.late or budget.variance_points")
			continue
		}
		out = append(out, r)
	}
	return out
}

// firstLine keeps the first line of an expression error: expr adds the
// source and a caret below it, which the key path already locates.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func (l *loader) checkHTTP(cfg *Config) {
	h := cfg.HTTP
	if h.Refresh != 0 && h.Refresh < MinRefresh {
		l.problem("http.refresh", "%s is shorter than %s (0 turns the refresh off)", h.Refresh, MinRefresh)
	}
	token, hasToken := l.secret("http.auth_token", h.AuthTokenEnv, h.AuthTokenFile, l.skipSecrets(""))
	cfg.secrets.http = token
	host, port, err := net.SplitHostPort(h.Listen)
	if err != nil {
		l.problem("http.listen", "%q is not host:port", h.Listen)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		l.problem("http.listen", "%q has no valid port number", h.Listen)
		return
	}
	if !httpapi.IsLoopback(host) && !hasToken {
		l.problem("http.listen", "%q is not a loopback address: set auth_token_env or auth_token_file", h.Listen)
	}
	l.checkServerTLS(cfg)
}

// secret reads the secret configured by the keys <path>_env and
// <path>_file. It reports whether one was configured; a problem is recorded
// when both are set or the value cannot be read. Problems never contain
// the value.
func (l *loader) secret(path, envVar, file string, skip bool) (pmsync.Secret, bool) {
	switch {
	case envVar == "" && file == "":
		return "", false
	case skip:
		return "", true
	case envVar != "" && file != "":
		l.problem(path+"_file", "set %s_env or %s_file, not both", lastKey(path), lastKey(path))
		return "", true
	case envVar != "":
		v, ok := l.env(envVar)
		switch {
		case !ok:
			l.problem(path+"_env", "environment variable %s is not set", envVar)
		case v == "":
			l.problem(path+"_env", "environment variable %s is empty", envVar)
		}
		return pmsync.Secret(v), true
	}
	name := l.path(path+"_file", file)
	data, err := readSecretFile(name)
	if err != nil {
		l.problem(path+"_file", "read secret file: %v", err)
		return "", true
	}
	v := strings.TrimRight(string(data), "\r\n")
	if v == "" {
		l.problem(path+"_file", "secret file %s is empty", name)
	}
	return pmsync.Secret(v), true
}

func lastKey(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// validName reports whether s is a lowercase identifier: [a-z0-9_-]+.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// declared lists the values of key in the elements of the list at path as
// written, including elements the decoder had to drop, so that a reference
// to one of those is not reported a second time.
func (l *loader) declared(path, key string) map[string]bool {
	out := map[string]bool{}
	if n := l.idx.node(path); n != nil && n.Kind == yaml.SequenceNode {
		for i := range n.Content {
			if v := l.idx.scalar(fmt.Sprintf("%s[%d].%s", path, i, key)); v != "" {
				out[v] = true
			}
		}
	}
	return out
}

// elementPaths returns the key paths of the n elements of the list at
// path.
func elementPaths(path string, n int) []string {
	paths := make([]string, n)
	for i := range paths {
		paths[i] = fmt.Sprintf("%s[%d]", path, i)
	}
	return paths
}

// hasItems reports whether the file has a non-empty list at path (whose
// elements, when none could be decoded, have problems of their own).
func (l *loader) hasItems(path string) bool {
	n := l.idx.node(path)
	return n != nil && n.Kind == yaml.SequenceNode && len(n.Content) > 0
}

func (l *loader) checkConnections(cfg *Config, nodes []yaml.Node) map[string]connectors.Spec {
	specs := map[string]connectors.Spec{} // by connection name, for kinds that exist
	firstLine := map[string]int{}
	for i := range nodes {
		p := fmt.Sprintf("connections[%d]", i)
		n := &nodes[i]
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
			l.problem(p, "empty list item; expected a mapping")
			continue
		}
		var fc fileConnection
		rest, problems := yamlnode.DecodeExcept(n, p, &fc)
		for _, pr := range problems {
			l.decodeProblem(pr)
		}
		if n.Kind != yaml.MappingNode {
			continue // reported by the decoder
		}
		conn := Connection{Name: fc.Name, Kind: fc.Kind, BaseURL: fc.BaseURL, Timeout: fc.Timeout, RateLimit: fc.RateLimit, Auth: fc.Auth, TLS: fc.TLS}
		before := l.found
		unique := false
		switch {
		case conn.Name == "":
			l.problem(p, "name is required")
		case !validName(conn.Name):
			l.problem(p+".name", "%q may only contain a-z, 0-9, _ and -", conn.Name)
		case firstLine[conn.Name] != 0:
			l.problem(p+".name", "%q is already used on line %d", conn.Name, firstLine[conn.Name])
		default:
			firstLine[conn.Name] = l.idx.line(p + ".name")
			unique = true
		}

		var spec connectors.Spec
		known := false
		if conn.Kind == "" {
			l.problem(p, "kind is required (one of %s)", strings.Join(l.reg.Kinds(), ", "))
		} else if s, err := l.reg.Lookup(conn.Kind); err != nil {
			l.problem(p+".kind", "%v", err)
		} else {
			spec, known = s, true
		}
		if known {
			conn.Options = l.connectionOptions(p, n, rest, spec)
		}

		if conn.BaseURL != "" {
			if err := httpapi.CheckBaseURL(conn.BaseURL); err != nil {
				l.problem(p+".base_url", "%v", err)
			}
		}
		if conn.TLS.CAFile != "" {
			conn.TLS.CAFile = l.path(p+".tls.ca_file", conn.TLS.CAFile)
			if pool := l.caBundle(p+".tls.ca_file", conn.TLS.CAFile); pool != nil && conn.Name != "" {
				cfg.rootCAs[conn.Name] = pool
			}
		}
		if conn.Timeout < 0 {
			l.problem(p+".timeout", "must not be negative")
		}
		if conn.RateLimit.PerMinute < 0 {
			l.problem(p+".rate_limit.per_minute", "must not be negative")
		}
		if conn.RateLimit.Burst < 0 {
			l.problem(p+".rate_limit.burst", "must not be negative")
		}

		var creds connectors.Credentials
		if known {
			creds = l.credentials(p+".auth", conn, spec.AuthKeys)
		}
		if known && !l.skipSecrets(conn.Name) && l.found == before && !l.decodeErrorWithin(p) && spec.CheckParams != nil {
			// Only a connection that is otherwise sound is shown to the
			// connector, so that its complaint is not an echo of ours.
			if err := spec.CheckParams(conn.params(creds)); err != nil {
				l.problem(p, "%v", err)
			}
		}
		if unique {
			if known {
				specs[conn.Name] = spec
			}
			cfg.secrets.creds[conn.Name] = creds
		}
		cfg.Connections = append(cfg.Connections, conn)
	}
	return specs
}

// connectionOptions has the connection's kind decode the keys of the entry
// that are not common to every connection.
func (l *loader) connectionOptions(p string, entry, rest *yaml.Node, spec connectors.Spec) any {
	if spec.Options == nil {
		if rest != nil {
			for i := 0; i+1 < len(rest.Content); i += 2 {
				k := rest.Content[i]
				l.decodeProblem(yamlnode.Problem{Line: k.Line, Column: k.Column, Path: p + "." + k.Value,
					Msg: yamlnode.UnknownKey(k.Value, commonConnectionKeys)})
			}
		}
		return nil
	}
	b := &yamlnode.Block{Node: rest, Path: p, Siblings: commonConnectionKeys, Where: entry}
	opts := spec.Options(b)
	l.blockProblems(b)
	return opts
}

// blockProblems records what a connector found wrong with one of its blocks.
func (l *loader) blockProblems(b *yamlnode.Block) {
	for _, pr := range b.Problems() {
		l.found++
		if l.followsDecodeError(pr.Path) {
			continue
		}
		l.decodeErrs = append(l.decodeErrs, pr.Path)
		l.add(Problem{File: l.file, Line: pr.Line, Path: pr.Path, Msg: pr.Msg})
	}
}

// credentials reads the secrets a connection's kind asks for. keys are the
// kind's AuthKeys: "email", "token", "key", optional ones ending in "?".
func (l *loader) credentials(path string, conn Connection, keys []string) connectors.Credentials {
	var c connectors.Credentials
	a := conn.Auth
	for _, s := range []struct {
		key       string
		env, file string
		dst       *pmsync.Secret
	}{
		{"email", a.EmailEnv, a.EmailFile, &c.Email},
		{"token", a.TokenEnv, a.TokenFile, &c.Token},
		{"key", a.KeyEnv, a.KeyFile, &c.Key},
	} {
		wanted, optional := false, false
		for _, k := range keys {
			if name, opt := strings.CutSuffix(k, "?"); name == s.key {
				wanted, optional = true, opt
			}
		}
		if !wanted {
			if s.env != "" {
				l.problem(path+"."+s.key+"_env", "not used by connector kind %s", conn.Kind)
			}
			if s.file != "" {
				l.problem(path+"."+s.key+"_file", "not used by connector kind %s", conn.Kind)
			}
			continue
		}
		v, ok := l.secret(path+"."+s.key, s.env, s.file, l.skipSecrets(conn.Name))
		if !ok && !optional {
			l.problem(path, "%s_env or %s_file is required for connector kind %s", s.key, s.key, conn.Kind)
		}
		*s.dst = v
	}
	return c
}

// compileMappings compiles the file's mappings and every registered
// kind's default, resolving extends across both.
func (l *loader) compileMappings(cfg *Config, own map[string]mapping.Spec) {
	defaults := map[string]mapping.Spec{}
	defaultOf := map[string]string{} // mapping name → kind
	for _, kind := range l.reg.Kinds() {
		spec, err := l.reg.Lookup(kind)
		if err != nil || spec.DefaultMapping == "" {
			continue
		}
		ms, err := mapping.Parse(spec.DefaultMapping, spec.DefaultMappingYAML)
		if err != nil {
			l.add(Problem{File: l.file, Msg: fmt.Sprintf("default mapping of connector kind %s: %v", kind, err)})
			continue
		}
		defaults[spec.DefaultMapping] = ms
		defaultOf[spec.DefaultMapping] = kind
	}

	names := make([]string, 0, len(own))
	for name := range own {
		p := "mappings." + name
		switch {
		case !validName(name):
			l.problem(p, "%q may only contain a-z, 0-9, _ and -", name)
		case defaultOf[name] != "":
			l.problem(p, "%s is the default mapping of connector kind %s; choose another name and start it with extends: %s", name, defaultOf[name], name)
		default:
			names = append(names, name)
		}
	}
	slices.Sort(names)
	lookup := func(name string) (mapping.Spec, bool) {
		if s, ok := own[name]; ok && defaultOf[name] == "" {
			return s, true
		}
		s, ok := defaults[name]
		return s, ok
	}

	cfg.sets = map[string]*mapping.Set{}
	for _, name := range names {
		set, err := mapping.Compile(name, own[name], lookup)
		if err != nil {
			l.mappingErrors(name, err, own)
			continue
		}
		cfg.sets[name] = set
	}
	for name, spec := range defaults {
		set, err := mapping.Compile(name, spec, lookup)
		if err != nil {
			l.add(Problem{File: l.file, Msg: fmt.Sprintf("default mapping of connector kind %s: %v", defaultOf[name], err)})
			continue
		}
		cfg.sets[name] = set
	}
}

// mappingErrors reports a file mapping's compile errors at the line of the
// offending key. An error in a set that others extend comes back from each
// of them naming that set; it is reported once, where that set is written.
func (l *loader) mappingErrors(name string, err error, own map[string]mapping.Spec) {
	for _, e := range leafErrors(err) {
		var me *mapping.Error
		if !errors.As(e, &me) {
			l.problem("mappings."+name, "%v", e)
			continue
		}
		owner := name
		if _, ok := own[me.Mapping]; ok {
			owner = me.Mapping
		}
		p := "mappings." + owner
		if me.Path != "" {
			p += "." + me.Path
		}
		l.problem(p, "%v", me.Err)
	}
}

// leafErrors flattens errors.Join trees.
func leafErrors(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leafErrors(e)...)
		}
		return out
	}
	return []error{err}
}

// refs is what the checks of sources and pushes look names up in.
type refs struct {
	specs         map[string]connectors.Spec // by connection name, for connections of a registered kind
	declaredConns map[string]bool            // connection names as written, decoded or not
	sourceLine    map[string]int             // source name → line of its first use
}

func (l *loader) checkPrograms(cfg *Config, programs []fileProgram, specs map[string]connectors.Spec) {
	if len(programs) == 0 && !l.hasItems("programs") {
		l.problem("programs", "at least one program is required")
		return
	}
	r := &refs{specs: specs, declaredConns: l.declared("connections", "name"), sourceLine: map[string]int{}}
	ids := map[string]int{}
	paths := elementPaths("programs", len(programs))
	for i, fp := range programs {
		prog := Program{ID: fp.ID, Name: fp.Name, Portfolio: strings.TrimSpace(fp.Portfolio), Owner: strings.TrimSpace(fp.Owner),
			Start: fp.Start, End: fp.End, Budget: fp.Budget, Rules: fp.Rules}
		p := paths[i]
		switch {
		case prog.ID == "":
			l.problem(p, "id is required")
		case !validName(prog.ID):
			l.problem(p+".id", "%q may only contain a-z, 0-9, _ and -", prog.ID)
		case ids[prog.ID] != 0:
			l.problem(p+".id", "%q is already used on line %d", prog.ID, ids[prog.ID])
		default:
			ids[prog.ID] = l.idx.line(p + ".id")
		}
		if prog.Name == "" {
			prog.Name = prog.ID
		}
		start, startOK := l.date(p+".start", prog.Start)
		end, endOK := l.date(p+".end", prog.End)
		if startOK && endOK && start != "" && end != "" && !start.Before(end) {
			l.problem(p+".end", "%s is not after start %s", end, start)
		}
		if b := prog.Budget.Planned; b != nil && *b < 0 {
			l.problem(p+".budget.planned", "must not be negative")
		}
		if c := prog.Budget.Currency; c != "" && !isCurrency(c) {
			l.problem(p+".budget.currency", "%q is not a three-letter code such as USD", c)
		}
		if prog.Rules != nil {
			top := pmsync.DefaultRules()
			cfg.Rules.apply(&top)
			l.checkRules(p+".rules", *prog.Rules, top)
		}
		if len(fp.Sources) == 0 && !l.hasItems(p+".sources") {
			l.problem(p, "at least one source is required")
		}
		spaths := elementPaths(p+".sources", len(fp.Sources))
		for j := range fp.Sources {
			prog.Sources = append(prog.Sources, l.checkSource(cfg, r, spaths[j], prog.ID, &fp.Sources[j]))
		}
		cfg.Programs = append(cfg.Programs, prog)
	}
}

// checkSource checks one source and fills in its defaults (name, mapping).
func (l *loader) checkSource(cfg *Config, r *refs, p, program string, fs *fileSource) Source {
	src := Source{Name: fs.Name, Connection: fs.Connection, Mapping: fs.Mapping}
	spec, connOK := r.specs[src.Connection]
	switch {
	case src.Connection == "":
		l.problem(p, "connection is required")
	case !connOK && !r.declaredConns[src.Connection]:
		l.problem(p+".connection", "no connection named %q (connections: %s)", src.Connection, strings.Join(connNames(cfg), ", "))
	}

	namePath := p + ".name"
	if src.Name == "" && src.Connection != "" {
		src.Name = program + "/" + src.Connection
		namePath = p
	} else if src.Name != "" && !validSourceName(src.Name) {
		l.problem(namePath, "%q may only contain a-z, 0-9, _, - and /", src.Name)
	}
	if src.Name != "" {
		if first := r.sourceLine[src.Name]; first != 0 {
			msg := fmt.Sprintf("source %q is already used on line %d", src.Name, first)
			if namePath == p {
				msg += "; give sources of one program on one connection their own name"
			}
			l.problem(namePath, "%s", msg)
		} else {
			r.sourceLine[src.Name] = l.idx.line(p)
		}
	}

	if connOK {
		src.Scope = block(l, p, "scope", &fs.Scope, spec.Scope)
	}

	switch {
	case src.Mapping != "":
		if cfg.sets[src.Mapping] == nil && !l.declaredMapping(src.Mapping) {
			l.problem(p+".mapping", "no mapping named %q (mappings: %s)", src.Mapping, strings.Join(mappingNames(cfg), ", "))
		}
	case connOK && spec.DefaultMapping == "":
		l.problem(p, "connector kind %s has no default mapping; set mapping", spec.Kind)
	case connOK:
		src.Mapping = spec.DefaultMapping
	}
	return src
}

// declaredMapping reports whether the file defines a mapping of that name,
// compiled or not (a broken one is reported where it is defined).
func (l *loader) declaredMapping(name string) bool {
	return l.idx.byPath["mappings."+name] != nil
}

func validSourceName(s string) bool {
	for part := range strings.SplitSeq(s, "/") {
		if !validName(part) {
			return false
		}
	}
	return true
}

func connNames(cfg *Config) []string {
	var out []string
	for _, c := range cfg.Connections {
		if c.Name != "" {
			out = append(out, c.Name)
		}
	}
	return out
}

func mappingNames(cfg *Config) []string {
	out := make([]string, 0, len(cfg.sets))
	for name := range cfg.sets {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// date checks an ISO date; it reports false when the date is malformed.
func (l *loader) date(path string, d pmsync.Date) (pmsync.Date, bool) {
	if d == "" {
		return "", true
	}
	if _, err := time.Parse(pmsync.DateLayout, string(d)); err != nil || len(d) != len(pmsync.DateLayout) {
		l.problem(path, "%q is not a date in the form YYYY-MM-DD", string(d))
		return "", false
	}
	return d, true
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

func (l *loader) checkPush(cfg *Config, pushes []filePush, specs map[string]connectors.Spec) {
	declaredConns := l.declared("connections", "name")
	declaredProgs := l.declared("programs", "id")
	var all []string
	for _, p := range cfg.Programs {
		if p.ID != "" && !slices.Contains(all, p.ID) {
			all = append(all, p.ID)
		}
	}
	paths := elementPaths("push", len(pushes))
	keys := map[string]string{} // target key → path of its first use
	for i, fp := range pushes {
		p := paths[i]
		push := Push{Connection: fp.Connection, Webhook: fp.Webhook, File: fp.File}
		set := 0
		for _, b := range []bool{fp.Connection != "", fp.Webhook != nil, fp.File != nil} {
			if b {
				set++
			}
		}
		switch {
		case set == 0:
			l.problem(p, "connection is required (or webhook, or file)")
		case set > 1:
			l.problem(p, "give only one of connection, webhook and file")
		case fp.Webhook != nil:
			l.checkWebhook(p+".webhook", fp.Webhook)
		case fp.File != nil:
			l.checkFile(p+".file", fp.File)
		}
		if fp.Target.Kind != 0 && fp.Connection == "" && set > 0 {
			l.problem(p+".target", "target belongs to a connection; a webhook or file needs none")
		}
		if fp.Connection != "" {
			spec, connOK := specs[fp.Connection]
			switch {
			case !connOK && !declaredConns[fp.Connection]:
				l.problem(p+".connection", "no connection named %q (connections: %s)", fp.Connection, strings.Join(connNames(cfg), ", "))
			case connOK && spec.Target == nil:
				l.problem(p+".connection", "connector kind %s cannot be pushed to", spec.Kind)
			}
			if connOK && spec.Target != nil {
				push.Target = block(l, p, "target", &fp.Target, spec.Target)
			}
		}
		if key := push.Key(); set == 1 && key != "" {
			if first, dup := keys[key]; dup {
				l.problem(p, "pushes to the same target as %s (%s); list the programs in one entry", first, key)
			} else {
				keys[key] = p
			}
		}
		push.Programs = l.pushPrograms(p+".programs", &fp.Programs, all, declaredProgs)
		cfg.Push = append(cfg.Push, push)
	}
}

// checkWebhook checks a webhook target and reads its secrets.
func (l *loader) checkWebhook(p string, w *Webhook) {
	if w.Format == "" {
		w.Format = "json"
	}
	oneOf(l, p+".format", w.Format, push.WebhookFormats()...)
	if w.Timeout < 0 {
		l.problem(p+".timeout", "must not be negative")
	}
	if w.Name == "" {
		w.Name = w.URLEnv + w.URLFile
	}
	if w.Name != "" && !validSourceName(strings.ToLower(w.Name)) && !validEnvName(w.Name) {
		l.problem(p+".name", "%q may only contain letters, digits, _, - and /", w.Name)
	}
	// A command reading the secrets of some targets only names this one by
	// its key (SecretsOnly).
	skip := l.skipSecrets("webhook:" + w.Name)
	url, ok := l.secret(p+".url", w.URLEnv, w.URLFile, skip)
	if !ok {
		l.problem(p, "url_env or url_file is required: a webhook URL often carries a token, so it is never written in the file")
	}
	if url != "" {
		if err := checkWebhookURL(url.Reveal()); err != nil {
			key := p + ".url_env"
			if w.URLFile != "" {
				key = p + ".url_file"
			}
			l.problem(key, "the webhook URL %v", err)
		}
	}
	w.URL = url
	w.Secret, _ = l.secret(p+".secret", w.SecretEnv, w.SecretFile, skip)
}

// checkWebhookURL applies the rule of every outgoing URL: absolute, https
// (http only to a loopback host), no credentials in it. A query is allowed
// (some chat workflow URLs carry their signature there). The error never
// repeats the URL, which is a secret.
func checkWebhookURL(raw string) error {
	u, err := neturl.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return errors.New("is not an absolute URL")
	case u.User != nil:
		return errors.New("must not carry credentials before the host")
	case u.Scheme == "http" && !httpapi.IsLoopback(u.Hostname()):
		return errors.New("must use https (http is allowed for loopback hosts only)")
	case u.Scheme != "https" && u.Scheme != "http":
		return errors.New("must use https")
	}
	return nil
}

// checkFile checks a file target: a path in an existing directory and a
// format, by default the one its extension names.
func (l *loader) checkFile(p string, f *File) {
	if f.Path == "" {
		l.problem(p, "path is required")
		return
	}
	f.Path = l.path(p+".path", f.Path)
	if f.Format == "" {
		f.Format = "json"
		switch strings.ToLower(filepath.Ext(f.Path)) {
		case ".csv":
			f.Format = "csv"
		case ".md", ".markdown":
			f.Format = "md"
		}
	}
	oneOf(l, p+".format", f.Format, push.FileFormats()...)
	dir := filepath.Dir(f.Path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		l.problem(p+".path", "directory %s does not exist", dir)
	}
	if fi, err := os.Stat(f.Path); err == nil && fi.IsDir() {
		l.problem(p+".path", "%s is a directory", f.Path)
	}
}

// pushPrograms reads "programs: all" (the default) or a list of ids.
func (l *loader) pushPrograms(path string, n *yaml.Node, all []string, declared map[string]bool) []string {
	switch {
	case n.Kind == 0 || n.Kind == yaml.ScalarNode && (n.Value == "all" || n.ShortTag() == "!!null"):
		return slices.Clone(all)
	case n.Kind == yaml.SequenceNode && len(n.Content) > 0:
		var ids []string
		for i, item := range n.Content {
			ip := fmt.Sprintf("%s[%d]", path, i)
			switch {
			case item.Kind != yaml.ScalarNode:
				l.problem(ip, "expected a program id, got %s", yamlnode.Shown(item))
			case !slices.Contains(all, item.Value) && !declared[item.Value]:
				l.problem(ip, "no program named %q (programs: %s)", item.Value, strings.Join(all, ", "))
			case slices.Contains(ids, item.Value):
				l.problem(ip, "%q is listed twice", item.Value)
			default:
				ids = append(ids, item.Value)
			}
		}
		return ids
	}
	l.problem(path, `must be "all" or a list of program ids`)
	return nil
}

// block has a connector decode one of its blocks (a scope, a push target)
// of the entry at p, recording what it finds wrong.
func block[T any](l *loader, p, key string, n *yaml.Node, decode func(*yamlnode.Block) T) T {
	b := &yamlnode.Block{Path: p + "." + key, Where: l.idx.node(p)}
	if n.Kind != 0 {
		b.Node = n
	}
	v := decode(b)
	l.blockProblems(b)
	return v
}

// databaseBlock is the mapping form of the database key.
type databaseBlock struct {
	Path    string `yaml:"path"`     // a SQLite file
	URLEnv  string `yaml:"url_env"`  // an environment variable holding a PostgreSQL URL
	URLFile string `yaml:"url_file"` // a file holding a PostgreSQL URL
}

// databaseText takes the scalar form of the database key (a path or a
// URL), before the environment may override it; the default is
// DefaultDatabase.
func (l *loader) databaseText(doc *file) {
	n := &doc.Database
	switch {
	case n.Kind == 0:
		doc.databaseText = DefaultDatabase
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		doc.databaseText = ""
	case n.Kind == yaml.ScalarNode:
		doc.databaseText = n.Value
	}
}

// database reads where the store is: a SQLite path, a PostgreSQL URL
// (without a password when it is written in the file), or a mapping naming
// the path or where the URL is read from (url_env, url_file).
func (l *loader) database(cfg *Config, doc *file) {
	n := &doc.Database
	_, fromEnv := l.fromEnv["database"]
	if n.Kind == yaml.MappingNode && !fromEnv {
		var b databaseBlock
		problems := yamlnode.Decode(n, "database", &b)
		for _, p := range problems {
			l.decodeProblem(p)
		}
		if len(problems) > 0 {
			return
		}
		set := 0
		for _, v := range []string{b.Path, b.URLEnv, b.URLFile} {
			if v != "" {
				set++
			}
		}
		if set != 1 {
			l.problem("database", "give exactly one of path, url_env or url_file")
			return
		}
		if b.Path != "" {
			cfg.Database = l.path("database.path", b.Path)
			return
		}
		// Even a command that reads no vendor secret needs the store.
		url, ok := l.secret("database.url", b.URLEnv, b.URLFile, false)
		if ok && url != "" && !isPostgresURL(url.Reveal()) {
			key := "database.url_env"
			if b.URLFile != "" {
				key = "database.url_file"
			}
			l.problem(key, "does not hold a postgres:// or postgresql:// URL")
		}
		cfg.secrets.database = url
		return
	}
	if n.Kind != 0 && n.Kind != yaml.ScalarNode && !fromEnv {
		l.decodeProblem(yamlnode.Problem{Line: n.Line, Column: n.Column, Path: "database",
			Msg: "expected a file path, a postgres:// URL or a mapping with path, url_env or url_file, got " + yamlnode.Shown(n)})
		return
	}
	text := doc.databaseText
	switch {
	case text == "":
		l.problem("database", "must name a file or a PostgreSQL URL")
	case isPostgresURL(text):
		if u, err := neturl.Parse(text); err != nil {
			l.problem("database", "is not a URL")
		} else if _, hasPassword := u.User.Password(); hasPassword && !fromEnv {
			l.problem("database", "holds a password: a password never sits in the config file; use database: { url_env: NAME } or url_file")
		} else {
			cfg.secrets.database = pmsync.Secret(text)
		}
	default:
		cfg.Database = l.path("database", text)
	}
}

// isPostgresURL reports whether s names a PostgreSQL server.
func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}
