package trello

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pmsync/pmsync/config/yamlnode"
	"github.com/pmsync/pmsync/connectors"
)

// block parses src as the block at path.
func block(t *testing.T, path, src string) *yamlnode.Block {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	return &yamlnode.Block{Node: doc.Content[0], Path: path}
}

func problems(b *yamlnode.Block) string {
	var out []string
	for _, p := range b.Problems() {
		out = append(out, p.String())
	}
	return strings.Join(out, "\n")
}

func TestDecodeScope(t *testing.T) {
	for _, tc := range []struct {
		src, want string // want: a substring of the problems, "" for none
	}{
		{`board: "5abbe4b7ddc1b351ef961414"`, ""},
		{`board: "Ii6vhIyq"`, `1: programs[0].sources[0].scope.board: trello scope board "Ii6vhIyq" looks like the short link`},
		{`board: "12345"`, "is not a board id"},
		{`{}`, "needs board"},
		{`bord: "5abbe4b7ddc1b351ef961414"`, `did you mean "board"`},
	} {
		b := block(t, "programs[0].sources[0].scope", tc.src)
		v := DecodeScope(b)
		got := problems(b)
		switch {
		case tc.want == "" && got != "":
			t.Errorf("%s: problems %q", tc.src, got)
		case tc.want != "" && !strings.Contains(got, tc.want):
			t.Errorf("%s: problems %q, want %q", tc.src, got, tc.want)
		}
		if tc.want == "" && v != (Scope{Board: "5abbe4b7ddc1b351ef961414"}) {
			t.Errorf("%s: decoded %#v", tc.src, v)
		}
	}
}

func TestDecodeTarget(t *testing.T) {
	for _, tc := range []struct {
		src, key, want string
	}{
		{`card: "5abbe4b7ddc1b351ef961416"`, "card=5abbe4b7ddc1b351ef961416", ""},
		{"list: \"5abbe4b7ddc1b351ef961415\"\ncomment: true", "list=5abbe4b7ddc1b351ef961415", ""},
		{"card: \"5abbe4b7ddc1b351ef961416\"\nlist: \"5abbe4b7ddc1b351ef961415\"", "", "not both"},
		{`card: "H0TZyzbK"`, "", `1: push[0].target.card: trello push target card "H0TZyzbK" is not a card id`},
		{`comment: true`, "", "needs card"},
		{`cards: "5abbe4b7ddc1b351ef961416"`, "", `did you mean "card"`},
	} {
		b := block(t, "push[0].target", tc.src)
		tg := DecodeTarget(b)
		got := problems(b)
		switch {
		case tc.want == "" && got != "":
			t.Errorf("%s: problems %q", tc.src, got)
		case tc.want != "" && !strings.Contains(got, tc.want):
			t.Errorf("%s: problems %q, want %q", tc.src, got, tc.want)
		}
		if tc.key != "" && tg.Key != tc.key {
			t.Errorf("%s: key %q, want %q", tc.src, tg.Key, tc.key)
		}
	}
}

func TestDecodeOptions(t *testing.T) {
	b := block(t, "connections[3]", "token_limit: 50\nkey_limit: 200\nresync: 6h")
	if o := DecodeOptions(b); o != (Options{TokenLimit: 50, KeyLimit: 200, Resync: 6 * time.Hour}) || !b.OK() {
		t.Errorf("decoded %#v, problems %q", o, problems(b))
	}
	b = &yamlnode.Block{Path: "connections[3]"} // no keys of its own
	if o := DecodeOptions(b); o != (Options{}) || !b.OK() {
		t.Errorf("absent options: %#v, %q", o, problems(b))
	}
	for src, want := range map[string]string{
		"token_limit: -1":  "connections[3].token_limit: must be a positive number",
		"key_limit: -5":    "connections[3].key_limit: must be a positive number",
		"resync: 10s":      "shorter than a minute",
		"token_limt: 50":   `did you mean "token_limit"`,
		"token_limit: ten": "token_limit",
	} {
		b := block(t, "connections[3]", src)
		DecodeOptions(b)
		if got := problems(b); !strings.Contains(got, want) {
			t.Errorf("%s: problems %q, want %q", src, got, want)
		}
	}
}

func TestCheckParams(t *testing.T) {
	ok := connectors.Params{Credentials: connectors.Credentials{Key: testKey, Token: testToken}}
	if err := CheckParams(ok); err != nil {
		t.Errorf("good params: %v", err)
	}
	for name, edit := range map[string]func(*connectors.Params){
		"no key":       func(p *connectors.Params) { p.Credentials.Key = "" },
		"no token":     func(p *connectors.Params) { p.Credentials.Token = "" },
		"plain http":   func(p *connectors.Params) { p.BaseURL = "http://trello.example.com/1" },
		"query":        func(p *connectors.Params) { p.BaseURL = "https://api.trello.com/1?key=x" },
		"both budgets": func(p *connectors.Params) { p.Options = Options{TokenLimit: 50}; p.RateLimit.PerMinute = 300 },
	} {
		p := ok
		edit(&p)
		err := CheckParams(p)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), testToken) {
			t.Errorf("%s: error holds a credential: %v", name, err)
		}
	}
	if _, err := New(connectors.Params{Credentials: connectors.Credentials{Token: testToken}}); err == nil {
		t.Errorf("New without a key succeeded")
	}
}

// The package registers the kind with everything config needs.
func TestRegistered(t *testing.T) {
	s, err := connectors.Default.Lookup(Kind)
	if err != nil {
		t.Fatal(err)
	}
	if s.Options == nil || s.Scope == nil || s.Target == nil || s.CheckParams == nil ||
		s.DefaultMapping != "trello-default" || len(s.DefaultMappingYAML) == 0 ||
		strings.Join(s.AuthKeys, ",") != "key,token" {
		t.Errorf("spec %+v", s)
	}
	c, err := connectors.Default.New(connectors.Params{Name: "t", Kind: Kind, Credentials: connectors.Credentials{Key: testKey, Token: testToken}})
	if err != nil {
		t.Fatal(err)
	}
	for name, ok := range map[string]bool{
		"Pusher":           is[connectors.Pusher](c),
		"Checker":          is[connectors.Checker](c),
		"DeletionReporter": is[connectors.DeletionReporter](c),
		"RequestCounter":   is[connectors.RequestCounter](c),
	} {
		if !ok {
			t.Errorf("the connector is not a %s", name)
		}
	}
	if !c.(connectors.DeletionReporter).ReportsDeletions() {
		t.Errorf("ReportsDeletions is false")
	}
}

func is[T any](v any) bool {
	_, ok := v.(T)
	return ok
}

// Resync: a cursor whose last full read is older than Resync reads the
// whole board again, live list and all.
func TestResyncReadsTheBoard(t *testing.T) {
	srv := newRecorded(t)
	c, _, clock := newConnector(t, srv.ts.URL+"/1", nil)
	cur := lastCursor(pullPages(t, c, recScope(), ""))
	clock.Advance(DefaultResync + time.Minute)
	srv.then("GET", "/boards/"+recBoard+"/actions", answer{status: 200, file: "actions_empty.json"})
	pages := pullPages(t, c, recScope(), cur)
	if len(pages) != 1 || !pages[0].HasLive || len(pages[0].Records) != 6 {
		t.Fatalf("resync sent %d pages (HasLive %v)", len(pages), len(pages) > 0 && pages[0].HasLive)
	}
	if got := decodeCursor(t, pages[0].Next).Full; got != clock.Now().UTC().Format(time.RFC3339) {
		t.Errorf("cursor full %q, want the resync's start", got)
	}
}
