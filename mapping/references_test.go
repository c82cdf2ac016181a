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
