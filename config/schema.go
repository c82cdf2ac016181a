package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/invopop/jsonschema"
	"go.yaml.in/yaml/v3"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/config/yamlnode"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/mapping"
	"github.com/pmsync/pmsync/push"
)

// Schema returns a JSON Schema (draft 2020-12) of the config file for the
// kinds in reg, so that editors complete and check keys (the YAML
// language server reads it from a "# yaml-language-server: $schema=…"
// line). It is reflected from the types the file is decoded into; each
// kind's own keys come from its Spec.Blocks.
//
// A connection entry is one of the kinds' shapes (oneOf, told apart by
// kind: each shape fixes kind to its name and lists the common keys, the
// kind's own options and the auth keys it reads). A source's scope and a
// push target belong to the kind of the connection they name, which a
// schema cannot follow, so each is any of the kinds' shapes (anyOf);
// pmsync itself checks the one that applies.
//
// The schema accepts what pmsync decodes and no more keys; values are
// checked only as far as their type (pmsync validate says the rest).
func Schema(reg *connectors.Registry) ([]byte, error) {
	s, err := schemaOf(reg)
	if err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode config schema: %w", err)
	}
	return append(out, '\n'), nil
}

var (
	durationType  = reflect.TypeFor[time.Duration]()
	dateType      = reflect.TypeFor[pmsync.Date]()
	nodeType      = reflect.TypeFor[yaml.Node]()
	redactionType = reflect.TypeFor[mapping.Redaction]()
)

// reflector reflects the yaml-tagged types config and the connectors decode
// into, the way yamlnode reads them.
func reflector() *jsonschema.Reflector {
	return &jsonschema.Reflector{
		FieldNameTag:               "yaml",
		KeyNamer:                   strings.ToLower, // an untagged field's key, as yamlnode names it
		RequiredFromJSONSchemaTags: true,            // nothing is required by its tag alone
		DoNotReference:             true,
		ExpandedStruct:             true,
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			switch t {
			case durationType:
				return &jsonschema.Schema{Type: "string", Pattern: `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`,
					Description: "a duration such as 90s, 5m or 1h30m"}
			case dateType:
				return &jsonschema.Schema{Type: "string", Pattern: `^[0-9]{4}-[0-9]{2}-[0-9]{2}$`, Description: "a date, YYYY-MM-DD"}
			case nodeType:
				return &jsonschema.Schema{} // filled in by schemaOf
			case redactionType:
				return redactionSchema()
			}
			return nil
		},
	}
}

// reflect returns the schema of v's type with the draft and definitions
// left to the document that embeds it.
func reflectBlock(v any) *jsonschema.Schema {
	s := reflector().Reflect(v)
	s.Version, s.Definitions, s.ID = "", nil, ""
	return s
}

// textTakesNumbers lets every text value of s be written as a number too:
// pmsync reads any scalar into a text key (a numeric id is usually
// written unquoted), so the schema must not flag one. Values with
// a pattern, a constant or a list of choices keep their type.
func textTakesNumbers(s *jsonschema.Schema, depth int) {
	if s == nil || depth > 32 {
		return
	}
	if s.Type == "string" && s.Pattern == "" && s.Const == nil && s.Enum == nil {
		s.Type = ""
		if s.Extras == nil {
			s.Extras = map[string]any{}
		}
		s.Extras["type"] = []string{"string", "number"}
	}
	if s.Properties != nil {
		for pair := s.Properties.Oldest(); pair != nil; pair = pair.Next() {
			textTakesNumbers(pair.Value, depth+1)
		}
	}
	for _, sub := range append(append(append([]*jsonschema.Schema{}, s.AnyOf...), s.OneOf...), s.Items, s.AdditionalProperties) {
		textTakesNumbers(sub, depth+1)
	}
	for _, def := range s.Definitions {
		textTakesNumbers(def, depth+1)
	}
}

func schemaOf(reg *connectors.Registry) (*jsonschema.Schema, error) {
	root := reflector().Reflect(file{})
	root.Definitions, root.ID = jsonschema.Definitions{}, ""
	root.Comments = "Generated from pmsync's config types and its connector kinds (go test ./configs -update); do not edit."
	defer textTakesNumbers(root, 0)
	root.Title = "pmsync configuration"
	root.Description = "The pmsync YAML file: run `pmsync validate` to check one; configs/example.yaml explains every key."
	describe(root, map[string]string{
		"timezone":    "IANA time zone of the schedules and of the rollups' as-of date. Default: the system's. Environment: PMSYNC_TIMEZONE.",
		"log":         "level: debug | info | warn | error; format: auto | json | console.",
		"http":        "The dashboard, JSON API and /metrics. A listen address other than loopback needs auth_token_env or auth_token_file.",
		"schedule":    "Cron specs (five fields, or descriptors such as @hourly, @every 10m) of sync, rollup + push, the deletion check and the prune of old history.",
		"sync":        "overlap: how far incremental pulls re-read; run_timeout: a source's sync is cancelled after this; breaker: how a source that keeps failing is backed off.",
		"retention":   "How long each kind of history is kept (a duration such as 2160h; 0 keeps it forever); schedule.prune removes what is older.",
		"rules":       "Rollup thresholds for every program; a program may override them.",
		"connections": "One entry per account of a tool: name, kind and the kind's own keys. Secrets only through *_env / *_file keys.",
		"programs":    "The executive units and the sources that feed them.",
		"mappings":    "Named mappings from a tool's fields to pmsync's items; extend a kind's default (<kind>-default) and override what differs.",
		"push":        "Where rollups are delivered: a connection and its kind's target, a webhook or a file; and programs (all, or a list of ids).",
		"audit":       "The push audit (pmsync audit): keep_payloads keeps each delivered document beside its SHA-256; by default only the hash is kept.",
	})
	enums(root, "log", map[string][]any{"level": {"debug", "info", "warn", "error"}, "format": {"auto", "json", "console"}})

	kinds := reg.Kinds()
	var conns, scopes, targets []*jsonschema.Schema
	for _, kind := range kinds {
		spec, err := reg.Lookup(kind)
		if err != nil {
			return nil, err
		}
		blocks, err := blockTypes(spec)
		if err != nil {
			return nil, err
		}
		conns = append(conns, connectionSchema(spec, blocks.Options))
		if blocks.Scope != nil {
			sc := reflectBlock(blocks.Scope)
			sc.Title = kind + " scope"
			scopes = append(scopes, sc)
		}
		if blocks.Target != nil {
			tg := reflectBlock(blocks.Target)
			tg.Title = kind + " target"
			targets = append(targets, tg)
		}
	}

	*prop(root, "database") = jsonschema.Schema{
		Description: "A SQLite file (relative to this file's directory), a postgres:// URL without a password, or { path | url_env | url_file }. Default: pmsync.db. Environment: PMSYNC_DATABASE.",
		AnyOf:       []*jsonschema.Schema{{Type: "string"}, reflectBlock(databaseBlock{})},
	}
	prop(root, "connections").Items = &jsonschema.Schema{OneOf: conns}

	program := prop(root, "programs").Items
	program.Required = []string{"id", "sources"}
	prop(program, "portfolio").Description = "Groups programs in the rollup: the report totals each portfolio."
	prop(program, "owner").Description = "The executive sponsor, shown beside the program's health."
	health := prop(prop(root, "rules"), "health")
	health.Description = "Expressions over the rollup's figures (milestones.late > 0, budget.variance_points > rules.variance_red_points, …): red when any red rule holds, else amber when any amber rule does. A list left out keeps the defaults; [] means none."
	source := prop(program, "sources").Items
	source.Required = []string{"connection"}
	*prop(source, "scope") = jsonschema.Schema{AnyOf: scopes,
		Description: "What the source reads; its keys are those of the connection's kind: " + strings.Join(kinds, ", ") + "."}

	entry := prop(root, "push").Items
	entry.OneOf = []*jsonschema.Schema{{Required: []string{"connection", "target"}}, {Required: []string{"webhook"}}, {Required: []string{"file"}}}
	enums(entry, "webhook", map[string][]any{"format": toAny(push.WebhookFormats())})
	enums(entry, "file", map[string][]any{"format": toAny(push.FileFormats())})
	prop(entry, "webhook").Description = "The whole report, once per version, posted to a URL read from url_env or url_file: format slack, teams or json (signed with HMAC-SHA256 when secret_env or secret_file is set)."
	prop(entry, "file").Description = "The whole report, once per version, written atomically to path as json, csv or md (default: from the extension)."
	*prop(entry, "target") = jsonschema.Schema{AnyOf: targets,
		Description: "Where the rollup goes; its keys are those of the connection's kind."}
	*prop(entry, "programs") = jsonschema.Schema{
		Description: `"all" (the default) or a list of program ids.`,
		AnyOf: []*jsonschema.Schema{
			{Type: "string", Enum: []any{"all"}},
			{Type: "array", Items: &jsonschema.Schema{Type: "string"}},
		},
	}

	// Every mapping rule has one shape: defined once and referred to.
	mr := reflector()
	mr.DoNotReference = false
	ms := mr.Reflect(mapping.Spec{})
	for name, def := range ms.Definitions {
		root.Definitions[name] = def
	}
	ms.Version, ms.Definitions, ms.ID = "", nil, ""
	prop(root, "mappings").AdditionalProperties = ms
	return root, nil
}

// redactionSchema is an entry of a mapping's redact list: a built-in
// rule's name (or builtin for all), or a rule of one's own.
func redactionSchema() *jsonschema.Schema {
	names := []any{mapping.RedactAll}
	for _, n := range mapping.BuiltinRedactions() {
		names = append(names, n)
	}
	own := &jsonschema.Schema{Type: "object", Required: []string{"name"}, AdditionalProperties: jsonschema.FalseSchema,
		Properties: jsonschema.NewProperties()}
	own.Properties.Set("name", &jsonschema.Schema{Type: "string", Pattern: "^[a-z0-9_-]+$"})
	own.Properties.Set("pattern", &jsonschema.Schema{Type: "string", Description: "a regular expression (RE2); a group named value is what gets replaced"})
	own.Properties.Set("replace", &jsonschema.Schema{Type: "string", Description: "the text put in place of a match; default [redacted:NAME]"})
	return &jsonschema.Schema{
		Description: "A built-in redaction rule (" + strings.Join(mapping.BuiltinRedactions(), ", ") + ", or " + mapping.RedactAll + " for all) or { name, pattern, replace }.",
		AnyOf:       []*jsonschema.Schema{{Type: "string", Enum: names}, own},
	}
}

// connectionSchema is the shape of a connection entry of one kind: the
// common keys, the auth keys the kind reads and its own options.
func connectionSchema(spec connectors.Spec, options any) *jsonschema.Schema {
	s := reflectBlock(fileConnection{})
	s.Title = spec.Kind + " connection"
	s.Required = []string{"name", "kind"}
	*prop(s, "kind") = jsonschema.Schema{Type: "string", Const: spec.Kind}
	auth := prop(s, "auth")
	for pair := auth.Properties.Oldest(); pair != nil; {
		next := pair.Next()
		key, _ := strings.CutSuffix(pair.Key, "_env")
		key, _ = strings.CutSuffix(key, "_file")
		if !authKey(spec.AuthKeys, key) {
			auth.Properties.Delete(pair.Key)
		}
		pair = next
	}
	if options != nil {
		o := reflectBlock(options)
		for pair := o.Properties.Oldest(); pair != nil; pair = pair.Next() {
			s.Properties.Set(pair.Key, pair.Value)
		}
	}
	return s
}

func authKey(keys []string, key string) bool {
	for _, k := range keys {
		if strings.TrimSuffix(k, "?") == key {
			return true
		}
	}
	return false
}

// blockTypes returns what a kind's decoders decode into: its declared
// Blocks, checked against what the decoders return for an empty block, so
// that a schema never describes a type the kind no longer decodes.
func blockTypes(spec connectors.Spec) (connectors.Blocks, error) {
	b := spec.Blocks
	var got connectors.Blocks
	if spec.Options != nil {
		got.Options = spec.Options(&yamlnode.Block{})
	}
	got.Scope = spec.Scope(&yamlnode.Block{})
	if spec.Target != nil {
		got.Target = spec.Target(&yamlnode.Block{}).Config
	}
	for _, c := range []struct {
		name           string
		declared, real any
	}{{"options", b.Options, got.Options}, {"scope", b.Scope, got.Scope}, {"target", b.Target, got.Target}} {
		if reflect.TypeOf(c.declared) != reflect.TypeOf(c.real) {
			return b, fmt.Errorf("config schema: connector kind %s declares its %s as %T but decodes %T (Spec.Blocks)", spec.Kind, c.name, c.declared, c.real)
		}
	}
	return b, nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// prop returns the schema of a property of s.
func prop(s *jsonschema.Schema, key string) *jsonschema.Schema {
	p, ok := s.Properties.Get(key)
	if !ok {
		panic("config schema: no property " + key) // the types above have it
	}
	return p
}

func describe(s *jsonschema.Schema, texts map[string]string) {
	for k, text := range texts {
		prop(s, k).Description = text
	}
}

func enums(s *jsonschema.Schema, key string, values map[string][]any) {
	p := prop(s, key)
	for k, v := range values {
		prop(p, k).Enum = v
	}
}
