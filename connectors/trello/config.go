package trello

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/pmsync/pmsync/config/yamlnode"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/httpapi"
)

// Scope is a Trello source's scope: one board, by its 24-hex id.
//
// The 8-character short link of the board's URL is refused although
// Trello's API resolves it: the scope's JSON form is the source's identity,
// so the link and the id of one board would be two sources, and actions,
// cards and custom fields name their board by id only.
type Scope struct {
	Board string `yaml:"board" json:"board"`
}

// Check says what is wrong with a scope.
func (s Scope) Check() error {
	switch b := strings.TrimSpace(s.Board); {
	case b == "":
		return fmt.Errorf(`trello scope needs board (the board's 24-hex id, e.g. board: "5abbe4b7ddc1b351ef961414")`)
	case len(b) == 8 && isShortLink(b):
		return fmt.Errorf("trello scope board %q looks like the short link from the board's URL; give the board's 24-hex id (open the board URL with .json appended and copy its \"id\")", b)
	case !IsID(b):
		return fmt.Errorf("trello scope board %q is not a board id (24 hexadecimal digits)", b)
	}
	return nil
}

// DecodeScope decodes and checks a source's scope block.
func DecodeScope(b *yamlnode.Block) any {
	var s Scope
	if !b.Decode(&s) {
		return s
	}
	if err := s.Check(); err != nil {
		key := "board"
		if !b.Has(key) {
			key = ""
		}
		b.Errorf(key, "%v", err)
	}
	return s
}

// Target is a push target: one card that carries a single program's
// rollup, or a list in which every program gets a card of its own. Comment
// adds a comment to the card for every rollup version.
type Target struct {
	Card    string `yaml:"card" json:"card,omitempty"`
	List    string `yaml:"list" json:"list,omitempty"`
	Comment bool   `yaml:"comment" json:"comment,omitempty"`
}

// Check says what is wrong with a push target.
func (t Target) Check() error {
	switch {
	case t.Card == "" && t.List == "":
		return fmt.Errorf("trello push target needs card (the card that shows one program's rollup) or list (a list that gets a card per program)")
	case t.Card != "" && t.List != "":
		return fmt.Errorf("trello push target takes card or list, not both")
	case t.Card != "" && !IsID(t.Card):
		return fmt.Errorf("trello push target card %q is not a card id (24 hexadecimal digits; the short link in a card URL is not enough)", t.Card)
	case t.List != "" && !IsID(t.List):
		return fmt.Errorf("trello push target list %q is not a list id (24 hexadecimal digits)", t.List)
	}
	return nil
}

// Key names the target stably: "card=ID" or "list=ID".
func (t Target) Key() string {
	if t.Card != "" {
		return "card=" + t.Card
	}
	return "list=" + t.List
}

// DecodeTarget decodes and checks a push target block.
func DecodeTarget(b *yamlnode.Block) connectors.Target {
	var t Target
	if b.Decode(&t) {
		if err := t.Check(); err != nil {
			key := ""
			switch {
			case t.Card != "" && t.List == "":
				key = "card"
			case t.List != "" && t.Card == "":
				key = "list"
			}
			b.Errorf(key, "%v", err)
		}
	}
	return connectors.Target{Key: t.Key(), Config: t}
}

// IsID reports whether s is a Trello object id: 24 hexadecimal digits, the
// first 8 of which are the creation time in seconds.
func IsID(s string) bool {
	if len(s) != 24 {
		return false
	}
	for i := range len(s) {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isShortLink(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// scopeOf returns the checked scope held by s.
func scopeOf(s connectors.Scope) (Scope, error) {
	switch v := s.Config.(type) {
	case Scope:
		return v, v.Check()
	case *Scope:
		if v != nil {
			return *v, v.Check()
		}
	}
	return connectors.ScopeConfig(Kind, s, func(v Scope) error { return v.Check() })
}

// targetOf returns the checked push target held by t.
func targetOf(t connectors.Target) (Target, error) {
	if v, ok := t.Config.(*Target); ok && v != nil {
		return *v, v.Check()
	}
	return connectors.TargetConfig(Kind, t, func(v Target) error { return v.Check() })
}

func urlValues(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q
}

// requestOf is a GET of path with query q.
func requestOf(path string, q url.Values) httpapi.Request {
	return httpapi.Request{Path: path, Query: q}
}
