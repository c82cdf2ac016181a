package connectors

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Spec is a connector kind: its name, its constructor and what it knows about
// its own configuration.
type Spec struct {
	Kind string
	// New builds a connector for one connection.
	New func(Params) (Connector, error)
	// CheckScope says what is wrong with a scope, or nil.
	CheckScope func(Scope) error
	// CheckTarget says what is wrong with a push target, or nil. A kind
	// without it cannot be pushed to.
	CheckTarget func(Target) error
	// CheckParams says what is wrong with a connection's settings, or nil.
	CheckParams func(Params) error
	// AuthKeys names the credentials the kind needs ("email", "token", "key"),
	// for the config validator. Optional keys end in "?".
	AuthKeys []string
	// DefaultMapping is the name of the embedded default mapping and
	// DefaultMappingYAML its text.
	DefaultMapping     string
	DefaultMappingYAML []byte
}

var registry = struct {
	sync.RWMutex
	specs map[string]Spec
}{specs: map[string]Spec{}}

// Register adds a connector kind. It panics on an empty kind, a missing
// constructor or a duplicate: those are programming errors.
func Register(s Spec) {
	if s.Kind == "" || s.New == nil {
		panic("connectors: Register needs a kind and a constructor")
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.specs[s.Kind]; dup {
		panic("connectors: Register called twice for kind " + s.Kind)
	}
	registry.specs[s.Kind] = s
}

// Lookup returns the spec of a registered kind.
func Lookup(kind string) (Spec, error) {
	registry.RLock()
	defer registry.RUnlock()
	s, ok := registry.specs[kind]
	if !ok {
		known := make([]string, 0, len(registry.specs))
		for k := range registry.specs {
			known = append(known, k)
		}
		sort.Strings(known)
		return Spec{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownKind, kind, strings.Join(known, ", "))
	}
	return s, nil
}

// New builds a connector of a registered kind.
func New(p Params) (Connector, error) {
	s, err := Lookup(p.Kind)
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
func Kinds() []string {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]string, 0, len(registry.specs))
	for k := range registry.specs {
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
