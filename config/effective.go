package config

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/pmsync/pmsync"
)

// origin is what a Config remembers of where its values came from, for
// Settings.
type origin struct {
	root     *yaml.Node
	idx      *index
	fromEnv  map[string]string   // key path → environment variable that set it
	expanded map[string][]string // key path → variables ${…} took its value from
}

// Setting is one effective value of a configuration and where it came
// from.
type Setting struct {
	Key   string // key path, e.g. connections[0].base_url
	Value string // a secret is shown as <secret>
	// From is "file", "default", "env NAME" (an override), "file, ${A} from
	// env" (an expanded value) or, for a secret, where it was read:
	// "env NAME" or "file PATH".
	From string
}

// Settings lists the effective configuration: every general setting
// (with its default when the file leaves it out), then every value the
// file sets, in file order, with the defaults filled in for sources, and
// each secret as <secret> with where it is read from.
func (c *Config) Settings() []Setting {
	o := c.origin
	if o == nil {
		o = &origin{idx: newIndex(nil)}
	}
	from := func(path string) string {
		if v, ok := o.fromEnv[path]; ok {
			return "env " + v
		}
		if o.idx.byPath[path] != nil {
			return o.fileFrom(path)
		}
		return "default"
	}
	var out []Setting
	add := func(path, value string) {
		out = append(out, Setting{Key: path, Value: value, From: from(path)})
	}
	db := c.Database
	if db == "" {
		db = "(a PostgreSQL database; its URL is not shown)"
	}
	add("database", db)
	tz := c.Timezone
	if tz == "" {
		tz = "(the system's: " + c.Location().String() + ")"
	}
	add("timezone", tz)
	add("log.level", c.Log.Level)
	add("log.format", c.Log.Format)
	add("http.listen", c.HTTP.Listen)
	if c.HTTP.AuthTokenEnv != "" {
		add("http.auth_token_env", c.HTTP.AuthTokenEnv)
	}
	if c.HTTP.AuthTokenFile != "" {
		add("http.auth_token_file", c.HTTP.AuthTokenFile)
	}
	if s := secretSetting("http.auth_token", c.HTTP.AuthTokenEnv, c.HTTP.AuthTokenFile, c.HTTPToken()); s != nil {
		out = append(out, *s)
	}
	if c.HTTP.TLS.Enabled() {
		add("http.tls.cert_file", c.HTTP.TLS.CertFile)
		add("http.tls.key_file", c.HTTP.TLS.KeyFile)
	}
	add("schedule.sync", c.Schedule.Sync)
	add("schedule.rollup", c.Schedule.Rollup)
	add("schedule.deletions", c.Schedule.Deletions)
	add("sync.overlap", c.Sync.Overlap.String())
	add("sync.run_timeout", c.Sync.RunTimeout.String())
	r := pmsync.DefaultRules()
	c.Rules.apply(&r)
	add("rules.due_soon_days", strconv.Itoa(r.DueSoonDays))
	add("rules.red_flag_score", strconv.Itoa(r.RedFlagScore))
	add("rules.red_flags_for_red", strconv.Itoa(r.RedFlagsForRed))
	add("rules.variance_red_points", strconv.FormatFloat(r.VarianceRedPoints, 'g', -1, 64))
	add("rules.variance_amber_points", strconv.FormatFloat(r.VarianceAmberPoint, 'g', -1, 64))
	add("rules.stale_after", r.StaleAfter.String())
	add("audit.keep_payloads", strconv.FormatBool(c.Audit.KeepPayloads))

	top := o.root
	for top != nil && top.Kind == yaml.DocumentNode && len(top.Content) > 0 {
		top = top.Content[0]
	}
	if top == nil || top.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "connections", "programs", "mappings", "push":
			out = c.leaves(out, v, k.Value, "")
		}
	}
	return out
}

// leaves appends the scalar values under n in file order, with the
// defaults of a source and the secrets of a connection's auth.
func (c *Config) leaves(out []Setting, n *yaml.Node, path, key string) []Setting {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			out = c.leaves(out, v, path+"."+k.Value, k.Value)
		}
		if key == "auth" {
			out = c.authSecrets(out, n, path)
		}
		if isSourcePath(path) {
			out = c.sourceDefaults(out, n, path)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			out = c.leaves(out, item, fmt.Sprintf("%s[%d]", path, i), "")
		}
	case yaml.AliasNode:
		if n.Alias != nil {
			out = c.leaves(out, n.Alias, path, key)
		}
	case yaml.ScalarNode:
		out = append(out, Setting{Key: path, Value: n.Value, From: c.origin.fileFrom(path)})
	}
	return out
}

// authSecrets adds one <secret> line per credential an auth block names.
func (c *Config) authSecrets(out []Setting, auth *yaml.Node, path string) []Setting {
	conn := ""
	if n := c.origin.idx.node(parentPath(path) + ".name"); n != nil {
		conn = n.Value
	}
	var creds secretsByKey
	if c.secrets != nil {
		creds = secretsByKey(c.secrets.creds[conn])
	}
	for _, key := range []string{"email", "token", "key"} {
		env, file := "", ""
		for i := 0; i+1 < len(auth.Content); i += 2 {
			switch auth.Content[i].Value {
			case key + "_env":
				env = auth.Content[i+1].Value
			case key + "_file":
				file = auth.Content[i+1].Value
			}
		}
		if s := secretSetting(path+"."+key, env, file, creds.get(key)); s != nil {
			out = append(out, *s)
		}
	}
	return out
}

// sourceDefaults adds the name and mapping of a source that the file
// leaves to their defaults.
func (c *Config) sourceDefaults(out []Setting, n *yaml.Node, path string) []Setting {
	var pi, si int
	if _, err := fmt.Sscanf(path, "programs[%d].sources[%d]", &pi, &si); err != nil || pi >= len(c.Programs) || si >= len(c.Programs[pi].Sources) {
		return out
	}
	src := c.Programs[pi].Sources[si]
	has := func(key string) bool {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return true
			}
		}
		return false
	}
	if !has("name") {
		out = append(out, Setting{Key: path + ".name", Value: src.Name, From: "default"})
	}
	if !has("mapping") {
		out = append(out, Setting{Key: path + ".mapping", Value: src.Mapping, From: "default"})
	}
	return out
}

func isSourcePath(path string) bool {
	return strings.HasPrefix(path, "programs[") && strings.Contains(path, "].sources[") && strings.HasSuffix(path, "]")
}

// fileFrom says where a value the file sets came from.
func (o *origin) fileFrom(path string) string {
	if vars := o.expanded[path]; len(vars) > 0 {
		refs := make([]string, len(vars))
		for i, v := range vars {
			refs[i] = "${" + v + "}"
		}
		return "file, " + strings.Join(refs, " ") + " from env"
	}
	return "file"
}

type secretsByKey struct {
	Email, Token, Key pmsync.Secret
}

func (s secretsByKey) get(key string) pmsync.Secret {
	switch key {
	case "email":
		return s.Email
	case "token":
		return s.Token
	}
	return s.Key
}

// secretSetting describes a secret without its value, or returns nil when
// none is configured.
func secretSetting(path, env, file string, v pmsync.Secret) *Setting {
	s := Setting{Key: path, Value: "<secret>"}
	switch {
	case env != "":
		s.From = "env " + env
	case file != "":
		s.From = "file " + file
	default:
		return nil
	}
	if v == "" {
		s.Value = "(not read)"
	}
	return &s
}

// EnvNames lists the environment variables the file's *_env keys name.
func (c *Config) EnvNames() []string {
	var out []string
	if c.origin == nil {
		return nil
	}
	var walk func(n *yaml.Node, depth int)
	walk = func(n *yaml.Node, depth int) {
		if n == nil || depth > 64 {
			return
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if strings.HasSuffix(k.Value, "_env") && v.Kind == yaml.ScalarNode && v.Value != "" {
					out = append(out, v.Value)
				}
				walk(v, depth+1)
			}
			return
		}
		for _, c := range n.Content {
			walk(c, depth+1)
		}
	}
	walk(c.origin.root, 0)
	for _, vars := range c.origin.expanded {
		out = append(out, vars...)
	}
	return out
}

// UnknownEnv warns about each PMSYNC_ variable among names (the process
// environment, as NAME=value) that neither pmsync nor this file reads.
func (c *Config) UnknownEnv(names []string) []string {
	return UnknownEnv(names, c.EnvNames()...)
}
