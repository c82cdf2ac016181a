package yamlnode

import (
	"fmt"
	"reflect"

	"go.yaml.in/yaml/v3"
)

// Block is one mapping of a config file that a connector decodes and checks
// itself: a connection's own options, a source's scope, a push target. The
// connector reports what is wrong through it, and config prints each
// problem with the file name in front.
type Block struct {
	// Node is the mapping as written, or nil when the file leaves it out.
	Node *yaml.Node
	// Path is the key path of the block, e.g. "programs[0].sources[1].scope".
	Path string
	// Siblings are keys that are valid beside the block's own (the common
	// keys of a connection entry), offered when a key is misspelt.
	Siblings []string
	// Where positions problems when Node is nil: the entry the block was
	// left out of.
	Where *yaml.Node

	problems []Problem
}

// Decode decodes the block strictly into the struct v points to. It
// reports false when anything was wrong (the problems are recorded).
func (b *Block) Decode(v any) bool {
	if b.Node == nil {
		return true
	}
	d := &decoder{}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic("yamlnode: Block.Decode needs a non-nil pointer")
	}
	d.decode(b.Node, b.Path, rv.Elem(), 0, func(k, _ *yaml.Node) bool {
		known := append(Keys(rv.Elem().Type()), b.Siblings...)
		d.add(k, b.join(k.Value), "%s", UnknownKey(k.Value, known))
		return true
	})
	b.problems = append(b.problems, d.problems...)
	return len(d.problems) == 0
}

// Errorf records a problem with key (a key of the block, or "" for the
// block itself), placed where the key is written, else where the block is.
func (b *Block) Errorf(key, format string, args ...any) {
	p := Problem{Path: b.join(key), Msg: fmt.Sprintf(format, args...)}
	n := b.Node
	if n == nil {
		n = b.Where
	}
	if k := b.key(key); k != nil {
		n = k
	} else if key != "" {
		p.Path = b.Path
	}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	b.problems = append(b.problems, p)
}

// Has reports whether the block sets key.
func (b *Block) Has(key string) bool { return b.key(key) != nil }

// OK reports whether no problem has been recorded.
func (b *Block) OK() bool { return len(b.problems) == 0 }

// Problems returns what was recorded, in order.
func (b *Block) Problems() []Problem { return b.problems }

func (b *Block) join(key string) string {
	switch {
	case key == "":
		return b.Path
	case b.Path == "":
		return key
	}
	return b.Path + "." + key
}

func (b *Block) key(key string) *yaml.Node {
	n := resolve(b.Node)
	if key == "" || n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i]
		}
	}
	return nil
}
