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
