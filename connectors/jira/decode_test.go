package jira

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/valyala/fastjson"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/mapping"
	"github.com/pmsync/pmsync/sandbox/jirasim"
)

// TestPrunedRecordsMapAlike: records decoded with only what the default
// mapping reads map to exactly the items whole records map to, on both
// flavors' answers, while the fields the mapping never reads are left out.
func TestPrunedRecordsMapAlike(t *testing.T) {
	spec, err := mapping.Parse(DefaultMapping, defaultMappingYAML)
	if err != nil {
		t.Fatal(err)
	}
	set, err := mapping.Compile(DefaultMapping, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	paths, all := set.Reads("fields", "custom")
	if all {
		t.Fatal("the default mapping reads the whole record")
	}
	for _, flavor := range []jirasim.Flavor{jirasim.Cloud, jirasim.DataCenter} {
		t.Run(string(flavor), func(t *testing.T) {
			e := newEnv(t, envOpts{flavor: flavor, issues: 400})
			whole := connectors.Scope{Source: "ehr", Config: Scope{Project: "EHR"}, Fields: set.References("fields", "custom")}
			pruned := whole
			pruned.Prune, pruned.Paths = true, paths
			items := func(scope connectors.Scope) map[string]pmsync.Item {
				t.Helper()
				out := map[string]pmsync.Item{}
				for _, p := range e.pull(t, scope, "") {
					for _, rec := range p.Records {
						it, err := set.Map(rec)
						if err != nil {
							t.Fatalf("map %s: %v", rec.ExternalID, err)
						}
						out[rec.ExternalID] = it
					}
				}
				return out
			}
			want, got := items(whole), items(pruned)
			if len(want) != 400 {
				t.Fatalf("%d items from whole records, want 400", len(want))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("items from pruned records differ (-whole +pruned):\n%s", diff)
			}
			// What is left out: a status's URL and icon, the created time.
			rec := e.pull(t, pruned, "")[0].Records[0]
			fields := rec.Data["fields"].(map[string]any)
			status := fields["status"].(map[string]any)
			if _, ok := status["iconUrl"]; ok {
				t.Error("a pruned status keeps its iconUrl")
			}
			if _, ok := fields["created"]; ok {
				t.Error("a pruned record keeps created, which the mapping does not read")
			}
			if status["name"] == nil || fields["updated"] == nil {
				t.Errorf("a pruned record lost what it needs: status %v, updated %v", status, fields["updated"])
			}
		})
	}
}

// TestDecodeSearchLikeEncodingJSON: whole issues decode to the values
// encoding/json gives, numbers, nulls, nesting and escapes included.
func TestDecodeSearchLikeEncodingJSON(t *testing.T) {
	body := []byte(`{"isLast":false,"nextPageToken":"tok\u00e9n","startAt":3,"maxResults":2,"total":9,"issues":[
		{"id":"10001","key":"EHR-1","fields":{"summary":"Line\nbreak \"quoted\" \u2603","n":12.5,"big":1e400,"neg":-3,
		 "list":[1,"a",null,true,false,{"x":[]}],"obj":{"deep":{"deeper":"v"}},"nil":null}},
		{"id":"10002","key":"EHR-2"}]}`)
	var p fastjson.Parser
	got, err := decodeSearch(&p, body, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := searchResponse{NextPageToken: "toké" + "n", StartAt: 3, MaxResults: 2, Total: 9, Issues: []map[string]any{
		{"id": "10001", "key": "EHR-1", "fields": map[string]any{
			"summary": "Line\nbreak \"quoted\" ☃", "n": 12.5, "big": "1e400", "neg": -3.0,
			"list": []any{1.0, "a", nil, true, false, map[string]any{"x": []any{}}},
			"obj":  map[string]any{"deep": map[string]any{"deeper": "v"}}, "nil": nil,
		}},
		{"id": "10002", "key": "EHR-2"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	keep := &keepTree{sub: map[string]*keepTree{}}
	keep.insert([]string{"obj", "deep"})
	keep.insert([]string{"summary"})
	got, err = decodeSearch(&p, body, keep)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"summary": "Line\nbreak \"quoted\" ☃", "obj": map[string]any{"deep": map[string]any{"deeper": "v"}}},
		got.Issues[0]["fields"]); diff != "" {
		t.Errorf("pruned fields (-want +got):\n%s", diff)
	}
	for _, bad := range []string{`[1]`, `{"issues":{}}`, `{"issues":[1]}`, `{"issues":[{"id":"1"}`} {
		if _, err := decodeSearch(&p, []byte(bad), nil); err == nil {
			t.Errorf("%s decoded without an error", bad)
		}
	}
}
