package contract

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json from the vendors' documents in ../shared/contracts")

// sharedContracts is where the vendors' whole documents sit beside a
// checkout (shared/ next to the repository).
const sharedContracts = "../../../shared/contracts"

// copies are the repository's cuts of the vendors' documents: the paths
// the connectors (and their simulators) use. A connector that starts
// calling a new endpoint adds its path here and runs
// `go test ./sandbox/contract -run TestCopies -update`.
var copies = []struct {
	src, dst, base string
	paths          []string
}{
	{
		src: "jira-cloud-platform-v3.openapi.json", dst: "jira.json",
		paths: []string{
			"/rest/api/3/search/jql",
			"/rest/api/3/search", // removed on Cloud in 2025: the simulator answers 410
			"/rest/api/3/field",
			"/rest/api/3/myself",
			"/rest/api/3/serverInfo",
			"/rest/api/3/issue/{issueIdOrKey}",
			"/rest/api/3/issue/{issueIdOrKey}/comment",
		},
	},
	{
		src: "trello.openapi.json", dst: "trello.json", base: "/1",
		paths: []string{
			"/boards/{id}/cards",
			"/boards/{id}/cards/{filter}",
			"/boards/{id}/lists",
			"/boards/{id}/labels",
			"/boards/{id}/members",
			"/boards/{id}/customFields",
			"/boards/{boardId}/actions",
			"/lists/{id}/cards",
			"/cards",
			"/cards/{id}",
			"/cards/{id}/actions",
			"/cards/{id}/actions/comments",
		},
	},
}

// TestCopies checks that each copy under testdata is the vendor's document
// cut to its paths (when the vendors' documents are beside the checkout),
// and that each copy loads.
func TestCopies(t *testing.T) {
	for _, c := range copies {
		t.Run(c.dst, func(t *testing.T) {
			dst := filepath.Join("testdata", c.dst)
			src, err := os.ReadFile(filepath.Join(sharedContracts, c.src))
			switch {
			case err == nil:
				cut, err := Trim(src, c.paths)
				if err != nil {
					t.Fatal(err)
				}
				if *update {
					if err := os.WriteFile(dst, cut, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				have, err := os.ReadFile(dst)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(have, cut) {
					t.Errorf("%s is not %s cut to its paths; run go test ./sandbox/contract -run TestCopies -update", dst, c.src)
				}
			case *update:
				t.Fatalf("read the vendor's document: %v", err)
			default:
				t.Logf("%s not beside the checkout; checking only that the copy loads", c.src)
			}
			spec, err := Load(dst, c.base)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range c.paths {
				if spec.Doc().Paths.Value(p) == nil {
					t.Errorf("%s lacks path %s", dst, p)
				}
			}
		})
	}
}
