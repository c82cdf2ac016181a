package smartsheet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"net/http/httptest"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/sandbox"
	"github.com/pmsync/pmsync/sandbox/contract"
	"github.com/pmsync/pmsync/sandbox/smartsheetsim"
)

var update = flag.Bool("update", false, "rewrite testdata/smartsheet.openapi.json from ../shared/contracts")

// The repository's cut of Smartsheet's OpenAPI document: the paths the
// connector calls, every schema they reach as Smartsheet wrote it.
const (
	openapiCopy   = "testdata/smartsheet.openapi.json"
	openapiShared = "../../../shared/contracts/smartsheet-v2.openapi.json"
)

var openapiPaths = []string{"/users/me", "/sheets/{sheetId}", "/sheets/{sheetId}/rows"}

// TestOpenAPICopy checks that the copy is Smartsheet's document cut to the
// connector's paths, when the document is beside the checkout.
func TestOpenAPICopy(t *testing.T) {
	src, err := os.ReadFile(openapiShared)
	if err != nil {
		if *update {
			t.Fatal(err)
		}
		t.Skipf("%s not beside the checkout", filepath.Base(openapiShared))
	}
	inlined, err := inlineDeepRefs(src)
	if err != nil {
		t.Fatal(err)
	}
	cut, err := contract.Trim(inlined, openapiPaths)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(openapiCopy, cut, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(openapiCopy)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, cut) {
		t.Errorf("%s is not the shared document cut to %v; run go test ./connectors/smartsheet -run TestOpenAPICopy -update", openapiCopy, openapiPaths)
	}
	if _, err := contract.Load(openapiCopy, "/2.0"); err != nil {
		t.Fatal(err)
	}
}

// inlineDeepRefs gives every place Smartsheet's document points at with a
// $ref that is not a whole component — another path's parameter
// ("#/paths/~1reports~1%7BreportId%7D/parameters/1") or a component's
// property ("#/components/schemas/Attachment/properties/createdAt") — a
// component of its own, named after the pointer, and points the $ref there,
// so that contract.Trim, which keeps whole components, can cut the
// document. Every value stays as Smartsheet wrote it.
func inlineDeepRefs(src []byte) ([]byte, error) {
	var root map[string]any
	if err := json.Unmarshal(src, &root); err != nil {
		return nil, fmt.Errorf("decode smartsheet document: %w", err)
	}
	comps, _ := root["components"].(map[string]any)
	if comps == nil {
		return nil, errors.New("smartsheet document has no components")
	}
	var rerr error
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok && deepRef(ref) {
				target, err := pointer(root, ref)
				if err != nil {
					rerr = errors.Join(rerr, err)
					return
				}
				kind, name := componentFor(ref)
				group, _ := comps[kind].(map[string]any)
				if group == nil {
					group = map[string]any{}
					comps[kind] = group
				}
				group[name] = target
				x["$ref"] = "#/components/" + kind + "/" + name
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(root)
	if rerr != nil {
		return nil, fmt.Errorf("smartsheet references: %w", rerr)
	}
	return json.Marshal(root)
}

// componentFor names the component a deep reference becomes: its kind by
// what the pointer ends at, its name the pointer's segments joined.
func componentFor(ref string) (kind, name string) {
	segs := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
	kind = "schemas"
	switch {
	case len(segs) >= 2 && segs[len(segs)-2] == "parameters":
		kind = "parameters"
	case len(segs) >= 2 && segs[len(segs)-2] == "responses":
		kind = "responses"
	case segs[len(segs)-1] == "requestBody":
		kind = "requestBodies"
	}
	var b strings.Builder
	for i, seg := range segs {
		if i > 0 {
			b.WriteByte('.')
		}
		for _, r := range seg {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
				b.WriteRune(r)
			} else {
				b.WriteByte('_')
			}
		}
	}
	return kind, b.String()
}

// deepRef reports whether ref points at something other than a whole
// component.
func deepRef(ref string) bool {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	parts := strings.Split(rest, "/")
	return parts[0] != "components" || len(parts) != 3
}

// pointer resolves a local JSON pointer in root.
func pointer(root map[string]any, ref string) (any, error) {
	var cur any = root
	for _, raw := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		seg, err := url.PathUnescape(strings.NewReplacer("~1", "/", "~0", "~").Replace(raw))
		if err != nil {
			return nil, fmt.Errorf("reference %q: %w", ref, err)
		}
		switch x := cur.(type) {
		case map[string]any:
			v, ok := x[seg]
			if !ok {
				return nil, fmt.Errorf("reference %q: no %q", ref, seg)
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, fmt.Errorf("reference %q: no index %q", ref, seg)
			}
			cur = x[i]
		default:
			return nil, fmt.Errorf("reference %q: %q is inside a scalar", ref, seg)
		}
	}
	return cur, nil
}

// loadSmartsheetContract loads the copy with the amendments Smartsheet's
// documentation decides.
func loadSmartsheetContract(t *testing.T) *contract.Spec {
	t.Helper()
	spec, err := contract.Load(openapiCopy, "/2.0")
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// GET /sheets/{sheetId} answers oneOf [Sheet, {version}], but a full
	// Sheet also matches {version} (an object whose only property is
	// optional), so no answer can match exactly one. The parameter
	// ifVersionAfter says what is meant: the complete Sheet, or, when the
	// version is still current, "an abbreviated Sheet object with only the
	// sheet version property".
	must(spec.Patch("GET /sheets/{sheetId} 200: the complete Sheet or the abbreviated {version} object (ifVersionAfter's description); oneOf as written matches every full sheet twice", func(doc *openapi3.T) error {
		op := doc.Paths.Value("/sheets/{sheetId}").Get
		mt := op.Responses.Status(200).Value.Content.Get("application/json")
		sch := mt.Schema.Value
		if len(sch.OneOf) != 2 {
			return fmt.Errorf("GET /sheets/{sheetId} 200 has %d oneOf branches, want 2", len(sch.OneOf))
		}
		abbreviated := sch.OneOf[1].Value
		abbreviated.Required = []string{"version"}
		abbreviated.AdditionalProperties = openapi3.AdditionalProperties{Has: openapi3.Ptr(false)}
		sch.AnyOf, sch.OneOf = sch.OneOf, nil
		return nil
	}))
	return spec
}

// TestSimulatorKeepsSmartsheetsContract drives smartsheetsim through every
// call the connector makes — the token check, full reads in pages sized by
// cells, an unchanged sheet (ifVersionAfter), incremental reads
// (rowsModifiedSince) with their row listing (columnIds), a sheet with
// formulas, a rate limit, the rollup push (read, PUT and POST rows, a
// partial failure, a busy sheet) and a wrong token — and validates each
// request and answer against Smartsheet's OpenAPI document.
func TestSimulatorKeepsSmartsheetsContract(t *testing.T) {
	spec := loadSmartsheetContract(t)
	clk := sandbox.NewClock(t0)
	sim := smartsheetsim.New(smartsheetsim.Options{Token: secret, Now: clk.Now})
	v := spec.Wrap(sim)
	ts := httptest.NewServer(v)
	defer ts.Close()
	params := connectors.Params{Name: "pmo", Kind: Kind, BaseURL: ts.URL + smartsheetsim.APIPrefix,
		Credentials: connectors.Credentials{Token: secret}, Now: clk.Now, Sleep: (&sandbox.Sleeps{}).Sleep}
	c, err := New(params)
	if err != nil {
		t.Fatal(err)
	}
	c.RowPageSize = 100
	ctx := context.Background()
	st := newStore()

	if err := c.Check(ctx); err != nil {
		t.Fatal(err)
	}
	id := sim.Generate("PACS Viewer Integration", 250, 3, t0)
	st.pull(t, c, scopeOf(id)) // three pages
	st.pull(t, c, scopeOf(id)) // unchanged: ifVersionAfter
	clk.Advance(time.Hour)
	rows, _ := sim.Rows(id)
	if err := sim.UpdateRow(id, rows[7].ID, map[string]any{"Status": "Blocked"}); err != nil {
		t.Fatal(err)
	}
	if err := sim.DeleteRow(id, rows[9].ID); err != nil {
		t.Fatal(err)
	}
	sim.Inject(smartsheetsim.RateLimited())
	st.pull(t, c, scopeOf(id)) // 429, then changed rows and the row listing
	// A sheet with a formula: version check, then a full read.
	if err := sim.SetFormula(id, rows[0].ID, "% Complete", "=AVG(CHILDREN())", 0.3); err != nil {
		t.Fatal(err)
	}
	st.pull(t, c, scopeOf(id))
	clk.Advance(time.Hour)
	if err := sim.Recalculate(id, rows[0].ID, "% Complete", 0.4); err != nil {
		t.Fatal(err)
	}
	st.pull(t, c, scopeOf(id))

	rollupSheet, err := sim.CreateSheet("Executive Rollup", smartsheetsim.RollupColumns(true))
	if err != nil {
		t.Fatal(err)
	}
	tgt := sheetTarget(rollupSheet, nil)
	busy := smartsheetsim.SheetBusy(rollupSheet)
	busy.Method = "POST"
	sim.Inject(busy)
	if _, err := c.Push(ctx, tgt, rollups("v1", 40)); err != nil { // POST refused once, then added
		t.Fatal(err)
	}
	sim.Inject(smartsheetsim.Fault{Method: "PUT", FailRows: []int{1}, ErrorCode: 1050, Message: "You cannot edit a locked row."})
	if _, err := c.Push(ctx, tgt, rollups("v2", 50)); err == nil { // PUT with a partial failure
		t.Fatal("push with a locked row succeeded")
	}

	p := params
	p.Credentials.Token = "wrong-token-value"
	bad, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Check(ctx); connectors.StatusOf(err) != 401 {
		t.Fatalf("Check with a wrong token: %v, want 401", err)
	}

	v.Check(t, "GET /users/me", "GET /sheets/{sheetId}", "POST /sheets/{sheetId}/rows", "PUT /sheets/{sheetId}/rows")
}
