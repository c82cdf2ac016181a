package trellosim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/pmsync/pmsync/sandbox/contract"
	"github.com/pmsync/pmsync/sandbox/trellosim"
)

const (
	apiKey   = "0123456789abcdef0123456789abcdef"
	apiToken = "ATTAtrello-token-for-contract-tests-0000"
)

// The calls the Trello connector makes, as it makes them: fields, filters,
// limits and bodies (connectors/trello: board.go, pull.go, push.go).
const (
	cardFields     = "id,name,idBoard,idList,idLabels,idMembers,closed,due,dueComplete,start,dateLastActivity,url,shortUrl,shortLink,idShort,badges"
	pushCardFields = "id,name,desc,due,idBoard,idList,idLabels,closed,url,shortUrl"
	actionFilter   = "createCard,copyCard,convertToCardFromCheckItem,emailCard,moveCardToBoard,moveCardFromBoard,updateCard," +
		"deleteCard,addMemberToCard,removeMemberFromCard,addLabelToCard,removeLabelFromCard,updateCustomFieldItem," +
		"addChecklistToCard,removeChecklistFromCard,updateCheckItemStateOnCard,updateList,moveListToBoard," +
		"moveListFromBoard,updateCustomField,deleteCustomField"
)

// trelloContract loads Atlassian's Trello document (cut to the paths the
// connector uses) with the amendments Trello's own documentation decides.
func trelloContract(t *testing.T) *contract.Spec {
	t.Helper()
	spec, err := contract.Load("../contract/testdata/trello.json", "/1")
	if err != nil {
		t.Fatal(err)
	}
	// The document's security is the key and token as query parameters
	// only. Trello's authorization guide ("Passing token and key in API
	// requests") also takes them in the Authorization header, as
	// OAuth oauth_consumer_key="{key}", oauth_token="{token}", which keeps
	// them out of URLs and logs; the connector sends them so.
	err = spec.Auth(func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		r := in.RequestValidationInput.Request
		h := r.Header.Get("Authorization")
		switch in.SecurityScheme.Name {
		case "key":
			if r.URL.Query().Get("key") != "" || strings.Contains(h, `oauth_consumer_key="`) {
				return nil
			}
		case "token":
			if r.URL.Query().Get("token") != "" || strings.Contains(h, `oauth_token="`) {
				return nil
			}
		}
		return fmt.Errorf("no %s in the query or the OAuth Authorization header", in.SecurityScheme.Name)
	}, "Trello's authorization guide: key and token may travel in the Authorization header (OAuth oauth_consumer_key, oauth_token)")
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	doc := spec.Doc()
	// Writes: the connector sends JSON bodies. The document describes
	// query parameters only, and says of POST /cards and PUT /cards/{id}
	// "Query parameters may also be replaced with a JSON request body
	// instead"; Trello's API introduction says the same of every write.
	// The body is validated against the query parameters' own schemas.
	must(spec.Patch("writes take their parameters as a JSON body (the document on POST /cards and PUT /cards/{id}: "+
		"\"Query parameters may also be replaced with a JSON request body instead\")", func(*openapi3.T) error {
		for _, w := range [][2]string{{"/cards", "POST"}, {"/cards/{id}", "PUT"}, {"/boards/{id}/labels", "POST"}, {"/cards/{id}/actions/comments", "POST"}} {
			op := doc.Paths.Value(w[0]).GetOperation(w[1])
			if op == nil {
				return fmt.Errorf("%s %s not in the document", w[1], w[0])
			}
			body := openapi3.NewObjectSchema()
			for _, p := range op.Parameters {
				if p.Value.In != "query" {
					continue
				}
				body.Properties[p.Value.Name] = p.Value.Schema
				if p.Value.Required {
					body.Required = append(body.Required, p.Value.Name)
					p.Value.Required = false
				}
			}
			op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().WithJSONSchema(body)}
		}
		return nil
	}))
	// A `fields` query parameter is a comma-separated list of field names
	// (its own description, and Trello's "fields" convention throughout),
	// but several operations give it an object schema ($ref Action, Card),
	// which makes a validator read every other query parameter as one of
	// that object's properties.
	must(spec.Patch("query parameter `fields` is a comma-separated list of names (its description), not the object the schema names",
		func(*openapi3.T) error {
			for _, item := range doc.Paths.Map() {
				for _, op := range item.Operations() {
					for _, p := range op.Parameters {
						if p.Value.Name == "fields" && p.Value.Schema != nil && p.Value.Schema.Value.Type.Is("object") {
							p.Value.Schema = openapi3.NewSchemaRef("", openapi3.NewStringSchema())
						}
					}
				}
			}
			return nil
		}))
	// nullable beside a $ref: OpenAPI 3.0 ignores a $ref's siblings, so the
	// document's own "nullable": true on these is lost.
	must(spec.Patch("idAttachmentCover, cover.idAttachment and idMemberReferrer are marked nullable beside a $ref, which OpenAPI 3.0 ignores",
		func(*openapi3.T) error {
			card := doc.Components.Schemas["Card"].Value
			nullableID := func() *openapi3.SchemaRef {
				return openapi3.NewSchemaRef("", &openapi3.Schema{Type: &openapi3.Types{"string"}, Pattern: "^[0-9a-fA-F]{24}$", Nullable: true})
			}
			card.Properties["idAttachmentCover"] = nullableID()
			card.Properties["cover"].Value.Properties["idAttachment"] = nullableID()
			for _, sc := range []*openapi3.Schema{doc.Components.Schemas["Action"].Value.Properties["memberCreator"].Value} {
				sc.Properties["idMemberReferrer"] = nullableID()
			}
			return nil
		}))
	// A card's labels are Label objects; idLabels holds their ids. The
	// document types labels as ids, though its own Label schema describes
	// what Trello returns there (Trello's object definitions: card
	// "labels: array of Label objects").
	must(spec.Patch("Card.labels is an array of Label objects (Trello's card object definition); idLabels holds the ids",
		func(*openapi3.T) error {
			doc.Components.Schemas["Card"].Value.Properties["labels"] = openapi3.NewArraySchema().
				WithItems(doc.Components.Schemas["Label"].Value).NewRef()
			return nil
		}))
	// Trello's due and start are instants (2026-03-01T12:00:00.000Z): a
	// card's due carries a time of day, shown in the viewer's zone. The
	// document types them `format: date`, a calendar date.
	must(spec.Format("date", func(v string) error {
		if _, err := time.Parse(time.DateOnly, v); err == nil {
			return nil
		}
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
			return fmt.Errorf("%q is neither a date nor an RFC 3339 date-time", v)
		}
		return nil
	}, "Trello's due and start are instants with a time of day; the document writes format: date"))
	// The document gives every operation a 200 and nothing else. Trello
	// answers a card it no longer has with 404 and the plain text "The
	// requested resource was not found." (its API introduction's status
	// codes), which the connector reads as a deleted card.
	must(spec.Status(404, "Trello answers a missing card or board with 404 (API introduction, status codes); the document lists 200 only"))
	return spec
}

type trelloClient struct {
	t    *testing.T
	base string
}

func (c trelloClient) do(method, path string, q url.Values, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", fmt.Sprintf(`OAuth oauth_consumer_key="%s", oauth_token="%s"`, apiKey, apiToken))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func q(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// TestTrelloSimulatorMeetsContract drives the simulator through every call
// of the Trello connector's pull and push, and some of the failures it
// handles, with each request and answer validated against the document.
func TestTrelloSimulatorMeetsContract(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	sim := trellosim.New(trellosim.Options{Key: apiKey, Token: apiToken, Now: func() time.Time { return now }})
	board := sim.Generate("Patient portal go-live", 60, 7, now)
	v := trelloContract(t).Wrap(sim.Handler())
	ts := httptest.NewServer(v)
	t.Cleanup(ts.Close)
	c := trelloClient{t: t, base: ts.URL + "/1"}
	must := func(want int, method, path string, q url.Values, body any) []byte {
		t.Helper()
		status, b := c.do(method, path, q, body)
		if status != want {
			t.Fatalf("%s %s: status %d (%s), want %d", method, path, status, b, want)
		}
		return b
	}

	// Pull: the board's metadata, its cards newest first in pages, the
	// actions since a point, one card read again.
	must(200, "GET", "/boards/"+board+"/lists", q("filter", "all", "fields", "id,name,closed"), nil)
	must(200, "GET", "/boards/"+board+"/labels", q("fields", "id,name,color", "limit", "1000"), nil)
	must(200, "GET", "/boards/"+board+"/members", q("fields", "id,fullName,username"), nil)
	must(200, "GET", "/boards/"+board+"/customFields", nil, nil)
	page := must(200, "GET", "/boards/"+board+"/cards/all", q("fields", cardFields, "customFieldItems", "true", "limit", "50"), nil)
	var cards []struct{ ID, IDList string }
	if err := json.Unmarshal(page, &cards); err != nil || len(cards) == 0 {
		t.Fatalf("cards page: %v", err)
	}
	oldest := cards[len(cards)-1].ID
	for _, cd := range cards {
		oldest = min(oldest, cd.ID)
	}
	must(200, "GET", "/boards/"+board+"/cards/all", q("fields", cardFields, "customFieldItems", "true", "limit", "50", "before", oldest), nil)
	must(200, "GET", "/boards/"+board+"/actions", q("filter", actionFilter, "fields", "id,type,date,data", "limit", "1000",
		"memberCreator", "false", "member", "false", "since", now.AddDate(0, 0, -30).Format(time.RFC3339)), nil)
	card := cards[0].ID
	must(200, "GET", "/cards/"+card, q("fields", cardFields, "customFieldItems", "true"), nil)

	// Push: the target card read back, the program's card found in a list
	// or made, written with its health label (made once), commented.
	must(200, "GET", "/cards/"+card, q("fields", pushCardFields), nil)
	list := cards[0].IDList
	must(200, "GET", "/lists/"+list+"/cards", q("fields", pushCardFields), nil)
	made := must(200, "POST", "/cards", nil, map[string]any{"idList": list, "name": "EHR Upgrade — RED", "desc": "pmsync rollup ehr", "pos": "bottom"})
	var mc struct{ ID string }
	_ = json.Unmarshal(made, &mc)
	lb := must(200, "POST", "/boards/"+board+"/labels", nil, map[string]any{"name": "Health: Red", "color": "red"})
	var ml struct{ ID string }
	_ = json.Unmarshal(lb, &ml)
	must(200, "PUT", "/cards/"+mc.ID, nil, map[string]any{"desc": "EHR Upgrade: RED\npmsync rollup ehr v1", "due": "2026-12-18T12:00:00.000Z",
		"idLabels": ml.ID, "name": "EHR Upgrade — RED"})
	must(200, "GET", "/cards/"+mc.ID+"/actions", q("filter", "commentCard", "fields", "id,type,date,data", "memberCreator", "false"), nil)
	must(200, "POST", "/cards/"+mc.ID+"/actions/comments", nil, map[string]any{"text": "EHR Upgrade: RED\npmsync rollup ehr v1"})

	// A failure the connector handles: a card gone (404).
	if status, _ := c.do("GET", "/cards/5f0c1e2d3b4a596877665544", q("fields", cardFields, "customFieldItems", "true"), nil); status != 404 {
		t.Errorf("missing card: %d, want 404", status)
	}

	v.Check(t,
		"GET /boards/{id}/lists",
		"GET /boards/{id}/labels",
		"POST /boards/{id}/labels",
		"GET /boards/{id}/members",
		"GET /boards/{id}/customFields",
		"GET /boards/{id}/cards/{filter}",
		"GET /boards/{boardId}/actions",
		"GET /cards/{id}",
		"PUT /cards/{id}",
		"POST /cards",
		"GET /lists/{id}/cards",
		"GET /cards/{id}/actions",
		"POST /cards/{id}/actions/comments",
	)
	t.Logf("validated: %v", v.Seen())
}

// TestTrelloContractCatchesAMisreading is the control for the test above:
// an answer of the wrong shape must come out as violations.
func TestTrelloContractCatchesAMisreading(t *testing.T) {
	sim := trellosim.New(trellosim.Options{Key: apiKey, Token: apiToken})
	board := sim.Generate("Control", 5, 1, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	sim.Inject(trellosim.Fault{Method: "GET", Path: "/boards/" + board + "/lists", Status: 200, Body: `[{"id":7,"closed":"no"}]`})
	v := trelloContract(t).Wrap(sim.Handler())
	ts := httptest.NewServer(v)
	t.Cleanup(ts.Close)
	c := trelloClient{t: t, base: ts.URL + "/1"}
	c.do("GET", "/boards/"+board+"/lists", q("filter", "all", "fields", "id,name,closed"), nil)
	var errs []string
	for _, x := range v.Violations() {
		errs = append(errs, x.Err)
	}
	joined := strings.Join(errs, "\n")
	if !strings.Contains(joined, `"/0/id"`) || !strings.Contains(joined, `"/0/closed"`) {
		t.Errorf("violations %q, want /0/id and /0/closed", errs)
	}
}
