package mapping

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReferences(t *testing.T) {
	spec, err := Parse("refs", []byte(`
kind: { expr: 'cells["Type"] == "Risk" ? "risk" : custom?.Kind ?? "task"' }
title: { path: 'cells["Task Name"]' }
state: { path: custom.Status, default: todo }
due: { path: 'cells["End Date"]' }
owner: { path: record.id }
labels: { path: fields.labels }
fields:
  team: { path: 'custom["Team"]' }
  first: { path: 'cells[0]' }
`))
	if err != nil {
		t.Fatal(err)
	}
	set, err := Compile("refs", spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"End Date", "Task Name", "Type"}, set.References("cells")); diff != "" {
		t.Errorf("cells (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Kind", "Status", "Team"}, set.References("custom")); diff != "" {
		t.Errorf("custom (-want +got):\n%s", diff)
	}
}

func TestFingerprintFollowsTheRules(t *testing.T) {
	compile := func(text string) string {
		t.Helper()
		base, err := Parse("base", []byte("kind: { value: task }\ntitle: { path: name }\nstate: { value: todo }\n"))
		if err != nil {
			t.Fatal(err)
		}
		spec, err := Parse("mine", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		set, err := Compile("mine", spec, func(n string) (Spec, bool) { return base, n == "base" })
		if err != nil {
			t.Fatal(err)
		}
		return set.Fingerprint()
	}
	a := compile("extends: base\nowner: { path: assignee }\n")
	if b := compile("extends: base\nowner: { path: assignee }\n"); a != b {
		t.Errorf("the same rules gave fingerprints %s and %s", a, b)
	}
	if c := compile("extends: base\nowner: { path: reporter }\n"); a == c {
		t.Errorf("a changed rule kept fingerprint %s", a)
	}
}

// TestReads: the paths a set reads under the pruned keys end where a value
// is used whole; a computed member or the whole data makes everything read.
func TestReads(t *testing.T) {
	base := "kind: { value: task }\nstate: { value: todo }\n"
	for _, tc := range []struct {
		name  string
		rules string
		want  [][]string
		all   bool
	}{
		{"paths", `title: { path: fields.summary }
owner: { path: fields.assignee.displayName }
labels: { path: 'fields.labels[0]' }
due: { path: record.id }
priority: { path: custom.Priority }`,
			[][]string{{"fields", "summary"}, {"fields", "assignee", "displayName"}, {"fields", "labels"}}, false},
		{"member chains in an expression", `title: { expr: 'fields.summary + " " + (fields?.status?.statusCategory?.key ?? "")' }
milestone: { expr: 'fields.parent?.fields?.issuetype?.name == "Milestone" ? fields.parent.id : nil' }`,
			[][]string{{"fields", "summary"}, {"fields", "status", "statusCategory", "key"},
				{"fields", "parent", "fields", "issuetype", "name"}, {"fields", "parent", "id"}}, false},
		{"a value passed on is read whole", `title: { expr: 'string(len(fields.labels)) + fields["summary"]' }
priority: { expr: 'has(fields.priority, "name") ? "P" : ""' }`,
			[][]string{{"fields", "labels"}, {"fields", "summary"}, {"fields", "priority"}}, false},
		{"a computed member keeps its object whole", `title: { expr: 'fields.names[fields.summary].x' }`,
			[][]string{{"fields", "summary"}, {"fields", "names"}}, false},
		{"the key itself used whole", `title: { expr: 'toJSON(fields)' }`, [][]string{{"fields"}}, false},
		{"the whole data", `title: { expr: '$env["fields"].summary' }`, nil, true},
		{"other keys are not the question", `title: { expr: 'key + custom.Team' }`, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := Parse("reads", []byte(base+tc.rules+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			set, err := Compile("reads", spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, all := set.Reads("fields")
			if all != tc.all {
				t.Errorf("all = %v, want %v", all, tc.all)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("paths (-want +got):\n%s", diff)
			}
		})
	}
}
