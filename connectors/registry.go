package connectors

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/config/yamlnode"
)

// Spec is a connector kind: its name, its constructor and everything it
// knows about its own configuration. config decodes the keys every
// connection shares and hands each block that belongs to the kind to these
// functions, so that it never names a vendor.
type Spec struct {
	Kind string
	// New builds a connector for one connection.
	New func(Params) (Connector, error)
	// Options decodes the kind's own keys of a connection entry: the block
	// holds every key of the entry besides the common ones (name, kind,
	// base_url, timeout, rate_limit, auth, tls), and is nil-noded when there are
	// none. What it returns reaches New as Params.Options. Nil: the kind
	// has no keys of its own and any other key is unknown.
	Options func(b *yamlnode.Block) any
	// Scope decodes and checks a source's scope block; what it returns is
	// Scope.Config.
	Scope func(b *yamlnode.Block) any
	// Target decodes and checks a push target block. A kind without it
	// cannot be pushed to.
	Target func(b *yamlnode.Block) Target
	// Preview says what Push would write to a target for each rollup,
	// writing nothing and reading nothing from the tool (it needs no
	// connection, so `pmsync push --dry-run` runs without credentials).
	// Optional: without it a dry run names the versions only.
	Preview func(target Target, rollups []pmsync.Rollup) ([]Preview, error)
	// CheckParams says what is wrong with a connection once its secrets are
	// read (a credential the chosen options need), or nil.
	CheckParams func(Params) error
	// FieldKeys are the record keys under which the kind's records name
	// vendor fields (custom fields by name, columns by title): what a
	// mapping reads under them reaches Pull as Scope.Fields, so that the
	// connector fetches those fields and no others.
	FieldKeys []string
	// AuthKeys names the credentials the kind needs ("email", "token", "key"),
	// for the config validator. Optional keys end in "?".
	AuthKeys []string
	// DefaultMapping is the name of the embedded default mapping and
	// DefaultMappingYAML its text.
	DefaultMapping     string
	DefaultMappingYAML []byte
	// Blocks describes what Options, Scope and Target decode into, for the
	// config's JSON Schema.
	Blocks Blocks
	// Sample is the starter configuration `pmsync init` writes for the
	// kind; nil leaves the kind out of init.
	Sample *Sample
}

// Blocks holds a zero value of each type a kind's block decoders return
// (Options, Scope, and the Config of a Target), so that a schema of the
// config file can be reflected from them; nil where the kind has no such
// block. They are the yaml-tagged structs the decoders decode into.
type Blocks struct {
	Options, Scope, Target any
}

// Sample is a kind's part of a starter configuration: YAML a new user
// edits, with comments, naming the environment variables its secrets are
// read from.
type Sample struct {
	// Connection is one entry of connections:, starting with "- name:",
	// indented for the list (two spaces) with its comments. Its name is
	// the kind's, which the sample source and target refer to.
	Connection string
	// Scope is a source's scope as a flow mapping, e.g. { project: EHR },
	// and ScopeHelp a comment saying where its value is found.
	Scope, ScopeHelp string
	// Target is a push target as a flow mapping and TargetHelp what it
	// does; empty for a kind that cannot be pushed to.
	Target, TargetHelp string
}

// Registry holds connector kinds by name. Connectors join Default from
// their init functions; config and engine are handed a registry, so tests
// build their own with the kinds they need.
type Registry struct {
	mu    sync.RWMutex
	specs map[string]Spec
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{specs: map[string]Spec{}} }

// Default is the registry the connector packages register into. Only cmd/
// (and tests about the real kinds) should reach for it.
var Default = NewRegistry()

// Register adds a kind to Default; connector packages call it from init.
func Register(s Spec) { Default.Register(s) }

// Register adds a connector kind. It panics on an empty kind, a missing
// constructor or scope decoder, or a duplicate: those are programming
// errors.
func (r *Registry) Register(s Spec) {
	if s.Kind == "" || s.New == nil || s.Scope == nil {
		panic("connectors: Register needs a kind, a constructor and a scope decoder")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.specs[s.Kind]; dup {
		panic("connectors: Register called twice for kind " + s.Kind)
	}
	r.specs[s.Kind] = s
}

// Lookup returns the spec of a registered kind.
func (r *Registry) Lookup(kind string) (Spec, error) {
	r.mu.RLock()
	s, ok := r.specs[kind]
	r.mu.RUnlock()
	if !ok {
		return Spec{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownKind, kind, strings.Join(r.Kinds(), ", "))
	}
	return s, nil
}

// New builds a connector of a registered kind.
func (r *Registry) New(p Params) (Connector, error) {
	s, err := r.Lookup(p.Kind)
	if err != nil {
		return nil, err
	}
	if s.CheckParams != nil {
		if err := s.CheckParams(p); err != nil {
			return nil, fmt.Errorf("connection %s: %w", p.Name, err)
		}
	}
	c, err := s.New(p)
	if err != nil {
		return nil, fmt.Errorf("connection %s: %w", p.Name, err)
	}
	return c, nil
}

// Kinds lists the registered kinds, sorted.
func (r *Registry) Kinds() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.specs))
	for k := range r.specs {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Adapt turns a constructor that returns a concrete connector into the one
// a Spec holds. It keeps a failed construction's typed nil out of the
// interface, where it would not compare equal to nil.
func Adapt[C Connector](newConn func(Params) (C, error)) func(Params) (Connector, error) {
	return func(p Params) (Connector, error) {
		c, err := newConn(p)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// Options returns the options a Spec.Options decoded for p, or their zero
// value when the connection was built without them (tests, the benchmark).
func Options[T any](p Params) T {
	if o, ok := p.Options.(T); ok {
		return o
	}
	var zero T
	return zero
}

// DecodeBlock returns a Spec decoder for blocks of type T: a strict decode,
// then check, whose complaint is reported at the block.
func DecodeBlock[T any](check func(T) error) func(b *yamlnode.Block) T {
	return func(b *yamlnode.Block) T {
		var v T
		if b.Decode(&v) && check != nil {
			if err := check(v); err != nil {
				b.Errorf("", "%v", err)
			}
		}
		return v
	}
}

// ScopeDecoder is DecodeBlock for Spec.Scope.
func ScopeDecoder[T any](check func(T) error) func(b *yamlnode.Block) any {
	dec := DecodeBlock(check)
	return func(b *yamlnode.Block) any { return dec(b) }
}

// TargetDecoder is DecodeBlock for Spec.Target; key names the decoded
// target stably (Target.Key).
func TargetDecoder[T any](check func(T) error, key func(T) string) func(b *yamlnode.Block) Target {
	dec := DecodeBlock(check)
	return func(b *yamlnode.Block) Target {
		v := dec(b)
		return Target{Key: key(v), Config: v}
	}
}

// ScopeConfig returns the kind's own scope held by s, checked by check.
func ScopeConfig[T any](kind string, s Scope, check func(T) error) (T, error) {
	v, ok := s.Config.(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("%s: source %s has a scope of type %T, want %T", kind, s.Source, s.Config, zero)
	}
	if check != nil {
		if err := check(v); err != nil {
			return v, err
		}
	}
	return v, nil
}

// TargetConfig returns the kind's own push target held by t, checked by
// check.
func TargetConfig[T any](kind string, t Target, check func(T) error) (T, error) {
	v, ok := t.Config.(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("%s: push target %s is of type %T, want %T", kind, t.Key, t.Config, zero)
	}
	if check != nil {
		if err := check(v); err != nil {
			return v, err
		}
	}
	return v, nil
}
