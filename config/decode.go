package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/config/yamlnode"
	"github.com/pmsync/pmsync/mapping"
)

// file is the YAML document as written. The blocks that belong to a
// connector kind (a connection's own options, a scope, a push target) stay
// nodes until the kind's Spec decodes them.
type file struct {
	Database yaml.Node `yaml:"database"` // a path or URL, or a mapping (databaseBlock)
	// databaseText is the scalar form of Database, which the environment
	// may override.
	databaseText string
	Timezone     string                  `yaml:"timezone"`
	Log          Log                     `yaml:"log"`
	HTTP         HTTP                    `yaml:"http"`
	Schedule     Schedule                `yaml:"schedule"`
	Sync         Sync                    `yaml:"sync"`
	Retention    Retention               `yaml:"retention"`
	Audit        Audit                   `yaml:"audit"`
	Rules        Rules                   `yaml:"rules"`
	Connections  []yaml.Node             `yaml:"connections"`
	Programs     []fileProgram           `yaml:"programs"`
	Mappings     map[string]mapping.Spec `yaml:"mappings"`
	Push         []filePush              `yaml:"push"`
}

type fileProgram struct {
	ID        string       `yaml:"id"`
	Name      string       `yaml:"name"`
	Portfolio string       `yaml:"portfolio"`
	Owner     string       `yaml:"owner"`
	Start     pmsync.Date  `yaml:"start"`
	End       pmsync.Date  `yaml:"end"`
	Budget    Budget       `yaml:"budget"`
	Rules     *Rules       `yaml:"rules"`
	Sources   []fileSource `yaml:"sources"`
}

type fileSource struct {
	Name       string    `yaml:"name"`
	Connection string    `yaml:"connection"`
	Scope      yaml.Node `yaml:"scope"`
	Mapping    string    `yaml:"mapping"`
}

// fileConnection holds the keys every connection has; the rest belong to
// its kind.
type fileConnection struct {
	Name      string        `yaml:"name"`
	Kind      string        `yaml:"kind"`
	BaseURL   string        `yaml:"base_url"`
	Timeout   time.Duration `yaml:"timeout"`
	RateLimit RateLimit     `yaml:"rate_limit"`
	Auth      Auth          `yaml:"auth"`
	TLS       ClientTLS     `yaml:"tls"`
}

type filePush struct {
	Connection string    `yaml:"connection"`
	Target     yaml.Node `yaml:"target"`
	Webhook    *Webhook  `yaml:"webhook"`
	File       *File     `yaml:"file"`
	Programs   yaml.Node `yaml:"programs"`
}

// defaults is the document before the file is decoded over it, so that a
// key left out keeps its default.
func defaults() file {
	return file{
		Log:      Log{Level: "info", Format: "auto"},
		HTTP:     HTTP{Listen: DefaultListen},
		Schedule: Schedule{Sync: DefaultSync, Rollup: DefaultRollup, Deletions: DefaultDeletions, Prune: DefaultPrune},
		Sync: Sync{Overlap: DefaultOverlap, RunTimeout: DefaultRunTimeout, LeaseTTL: DefaultLeaseTTL, Workers: DefaultWorkers,
			Breaker: Breaker{Failures: DefaultBreakerFailures, Cooldown: DefaultBreakerCooldown, MaxCooldown: DefaultBreakerMaxCooldown}},
		Retention: Retention{SyncRuns: DefaultKeepSyncRuns, ItemChanges: DefaultKeepItemChanges, Snapshots: DefaultKeepSnapshots,
			Outbox: DefaultKeepOutbox, DeletedItems: DefaultKeepDeletedItems, Audit: DefaultKeepAudit},
	}
}

// decode fills doc from data strictly and indexes the document's nodes.
// Every problem is placed by the node it concerns. It reports false when
// the YAML cannot be read at all (a syntax error) or is not a mapping, in
// which case nothing more can be said about it.
func (l *loader) decode(data []byte, doc *file) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	switch err := dec.Decode(&root); {
	case errors.Is(err, io.EOF):
		l.idx = newIndex(nil)
		return true // an empty file: every key keeps its default
	case err != nil:
		l.syntaxError(data, err)
		return false
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		l.add(Problem{File: l.file, Line: next.Line, Msg: "a config file holds one YAML document; remove the second one"})
	}
	l.expanded = map[string][]string{}
	l.expand(&root, "", "", 0)
	l.idx = newIndex(&root)
	l.root = &root
	top := &root
	if len(root.Content) > 0 {
		top = root.Content[0]
	}
	if top.Kind != yaml.MappingNode && !(top.Kind == yaml.ScalarNode && top.ShortTag() == "!!null") {
		l.add(Problem{File: l.file, Line: top.Line, Msg: "expected a mapping of keys such as database, connections, programs"})
		return false
	}
	for _, p := range yamlnode.Decode(&root, "", doc) {
		l.decodeProblem(p)
	}
	return true
}

// decodeProblem records a problem the strict decoder found.
func (l *loader) decodeProblem(p yamlnode.Problem) {
	l.decodeErrs = append(l.decodeErrs, p.Path)
	l.add(Problem{File: l.file, Line: p.Line, Path: p.Path, Msg: p.Msg})
}

// index locates every key and list item of the document by key path.
type index struct {
	byPath map[string]*entry // the first entry of each path
}

type entry struct {
	key   *yaml.Node // nil for a list item
	value *yaml.Node
}

func (e *entry) line() int {
	if e.key != nil {
		return e.key.Line
	}
	return e.value.Line
}

func newIndex(root *yaml.Node) *index {
	ix := &index{byPath: map[string]*entry{}}
	if root != nil {
		ix.walk(root, "", 0)
	}
	return ix
}

func (ix *index) walk(n *yaml.Node, path string, depth int) {
	if depth > 64 {
		return
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			ix.walk(n.Content[0], path, depth+1)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.Value == "<<" {
				continue
			}
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			ix.add(p, &entry{key: k, value: v})
			ix.walk(v, p, depth+1)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			ix.add(p, &entry{value: item})
			ix.walk(item, p, depth+1)
		}
	}
}

func (ix *index) add(path string, e *entry) {
	if _, ok := ix.byPath[path]; !ok {
		ix.byPath[path] = e
	}
}

// line returns the line of path, or of its nearest ancestor present in the
// file (a missing key is reported where its parent is), or 0.
func (ix *index) line(path string) int {
	for {
		if e := ix.byPath[path]; e != nil {
			return e.line()
		}
		if path == "" {
			return 0
		}
		path = parentPath(path)
	}
}

// node returns the value node at path, or nil.
func (ix *index) node(path string) *yaml.Node {
	if e := ix.byPath[path]; e != nil {
		return e.value
	}
	return nil
}

// scalar returns the text of the scalar at path, or "".
func (ix *index) scalar(path string) string {
	if n := ix.node(path); n != nil && n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

// parentPath strips the last key or index from a key path.
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}
