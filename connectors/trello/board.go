package trello

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pmsync/pmsync"
)

// baseCardFields are the card fields every pull asks for: what the record
// hands a mapping. The description is not among them; a mapping that reads
// `fields.desc` gets it.
func baseCardFields() []string {
	return []string{"id", "name", "idBoard", "idList", "idLabels", "idMembers", "closed", "due", "dueComplete",
		"start", "dateLastActivity", "url", "shortUrl", "shortLink", "idShort", "badges"}
}

// optionalCardFields are the other card fields Trello's API description
// lists; a mapping reads them as `fields.<name>` and only then are they
// fetched.
func optionalCardFields() []string {
	return []string{"address", "checkItemStates", "coordinates", "creationMethod", "cover", "desc", "descData",
		"dueReminder", "idAttachmentCover", "idChecklists", "idMembersVoted", "isTemplate", "labels",
		"locationName", "manualCoverAttachment", "pos", "subscribed"}
}

// cardFields splits the names a mapping reads (Scope.Fields) into card
// fields to fetch besides the base ones, and custom field names.
func cardFields(names []string) (query string, extras, custom []string) {
	base, optional := baseCardFields(), optionalCardFields()
	fields := slices.Clone(base)
	for _, n := range names {
		n = strings.TrimSpace(n)
		switch {
		case n == "" || slices.Contains(base, n):
		case slices.Contains(optional, n):
			if !slices.Contains(extras, n) {
				extras = append(extras, n)
				fields = append(fields, n)
			}
		default:
			custom = append(custom, n)
		}
	}
	return strings.Join(fields, ","), extras, custom
}

// cardDoc is a card as the pull reads it.
type cardDoc struct {
	ID               string      `json:"id"`
	Name             string      `json:"name"`
	IDBoard          string      `json:"idBoard"`
	IDList           string      `json:"idList"`
	IDLabels         []string    `json:"idLabels"`
	IDMembers        []string    `json:"idMembers"`
	Closed           bool        `json:"closed"`
	Due              *string     `json:"due"`
	DueComplete      bool        `json:"dueComplete"`
	Start            *string     `json:"start"`
	DateLastActivity string      `json:"dateLastActivity"`
	URL              string      `json:"url"`
	ShortURL         string      `json:"shortUrl"`
	ShortLink        string      `json:"shortLink"`
	IDShort          int         `json:"idShort"`
	Badges           *badgesDoc  `json:"badges"`
	CustomFieldItems []fieldItem `json:"customFieldItems"`

	extra map[string]any // optional fields a mapping asked for
}

type badgesDoc struct {
	CheckItems        int `json:"checkItems"`
	CheckItemsChecked int `json:"checkItemsChecked"`
}

// fieldItem is a card's value of one custom field. Trello keeps every
// value as text: {"number": "12000.5"}, {"checked": "true"}; a list field
// names its option by idValue.
type fieldItem struct {
	IDCustomField string         `json:"idCustomField"`
	IDValue       *string        `json:"idValue"`
	Value         map[string]any `json:"value"`
}

type listDoc struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Closed bool   `json:"closed"`
}

type labelDoc struct {
	ID    string  `json:"id"`
	Name  string  `json:"name"`
	Color *string `json:"color"`
}

type memberDoc struct {
	ID       string `json:"id"`
	FullName string `json:"fullName"`
	Username string `json:"username"`
}

type fieldDoc struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	Options []struct {
		ID    string `json:"id"`
		Value struct {
			Text string `json:"text"`
		} `json:"value"`
	} `json:"options"`
}

// boardMeta resolves the ids a card carries to names.
type boardMeta struct {
	lists   map[string]listDoc
	labels  map[string]labelDoc
	members map[string]memberDoc
	fields  map[string]fieldDoc
	names   map[string]bool // custom field names
}

// readMeta reads a board's lists (archived ones too: their cards are still
// on the board), labels, members and custom field definitions.
func (c *Connector) readMeta(ctx context.Context, board string) (*boardMeta, error) {
	// One request: the board with its lists, labels, members and custom
	// fields as nested resources, each asked for as its own endpoint would
	// be (every list, archived ones too; up to 1000 labels).
	var doc struct {
		Lists        []listDoc   `json:"lists"`
		Labels       []labelDoc  `json:"labels"`
		Members      []memberDoc `json:"members"`
		CustomFields []fieldDoc  `json:"customFields"`
	}
	q := urlValues("fields", "id",
		"lists", "all", "list_fields", "id,name,closed",
		"labels", "all", "label_fields", "id,name,color", "labels_limit", strconv.Itoa(MaxPageLimit),
		"members", "all", "member_fields", "id,fullName,username",
		"customFields", "true")
	if err := c.api.GetJSON(ctx, "/boards/"+board, q, &doc); err != nil {
		return nil, c.fail("read board "+board+" (lists, labels, members, custom fields)", err)
	}
	lists, labels, members, fields := doc.Lists, doc.Labels, doc.Members, doc.CustomFields
	m := &boardMeta{
		lists:   make(map[string]listDoc, len(lists)),
		labels:  make(map[string]labelDoc, len(labels)),
		members: make(map[string]memberDoc, len(members)),
		fields:  make(map[string]fieldDoc, len(fields)),
		names:   make(map[string]bool, len(fields)),
	}
	for _, l := range lists {
		m.lists[l.ID] = l
	}
	for _, l := range labels {
		m.labels[l.ID] = l
	}
	for _, x := range members {
		m.members[x.ID] = x
	}
	for _, f := range fields {
		m.fields[f.ID] = f
		m.names[f.Name] = true
	}
	return m, nil
}

// missing lists the custom field names a mapping reads that the board
// does not define.
func (m *boardMeta) missing(custom []string) []string {
	var out []string
	for _, n := range custom {
		if !m.names[n] && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// decodeCards decodes a JSON array of cards, keeping the optional fields a
// mapping asked for.
func decodeCards(body []byte, extras []string) ([]cardDoc, error) {
	if len(extras) == 0 {
		var cards []cardDoc
		if err := json.Unmarshal(body, &cards); err != nil {
			return nil, err
		}
		return cards, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, err
	}
	cards := make([]cardDoc, len(raws))
	for i, raw := range raws {
		cd, err := decodeCard(raw, extras)
		if err != nil {
			return nil, err
		}
		cards[i] = cd
	}
	return cards, nil
}

// decodeCard decodes one card, keeping the optional fields asked for.
func decodeCard(raw []byte, extras []string) (cardDoc, error) {
	var cd cardDoc
	if err := json.Unmarshal(raw, &cd); err != nil {
		return cd, err
	}
	if len(extras) == 0 {
		return cd, nil
	}
	var all map[string]any
	if err := json.Unmarshal(raw, &all); err != nil {
		return cd, err
	}
	cd.extra = make(map[string]any, len(extras))
	for _, f := range extras {
		cd.extra[f] = all[f]
	}
	return cd, nil
}

// errNoActivity is wrapped when a card carries no readable
// dateLastActivity, which every record needs as its update time.
var errNoActivity = errors.New("no readable dateLastActivity")

// record turns a card into what a mapping sees: the card's own fields, its
// list, labels and members by name, custom field values by field name,
// checklist progress, and the optional fields asked for under "fields".
func (m *boardMeta) record(source string, cd cardDoc) (pmsync.Record, error) {
	if cd.ID == "" {
		// Every record is stored under its id; one without cannot be.
		return pmsync.Record{}, errors.New("a card has no id")
	}
	updated, err := parseTime(cd.DateLastActivity)
	if err != nil {
		return pmsync.Record{}, fmt.Errorf("card %s: %w: %q", cd.ID, errNoActivity, cd.DateLastActivity)
	}
	data := map[string]any{
		"id":               cd.ID,
		"name":             cd.Name,
		"idShort":          float64(cd.IDShort),
		"shortLink":        cd.ShortLink,
		"url":              cd.URL,
		"shortUrl":         cd.ShortURL,
		"closed":           cd.Closed,
		"due":              optional(cd.Due),
		"dueComplete":      cd.DueComplete,
		"start":            optional(cd.Start),
		"dateLastActivity": cd.DateLastActivity,
		"idList":           cd.IDList,
		"list":             m.lists[cd.IDList].Name,
		"list_closed":      m.lists[cd.IDList].Closed,
		"labels":           m.labelNames(cd.IDLabels),
		"members":          m.memberNames(cd.IDMembers),
		"custom":           m.custom(cd.CustomFieldItems),
	}
	if b := cd.Badges; b != nil {
		data["checkItems"] = float64(b.CheckItems)
		data["checkItemsChecked"] = float64(b.CheckItemsChecked)
		if b.CheckItems > 0 {
			data["checklist_percent"] = math.Round(10000*float64(min(b.CheckItemsChecked, b.CheckItems))/float64(b.CheckItems)) / 100
		}
	}
	if cd.extra != nil {
		data["fields"] = cd.extra
	}
	return pmsync.Record{Source: source, ExternalID: cd.ID, UpdatedAt: updated, URL: cd.URL, Data: data}, nil
}

func optional(s *string) any {
	if s == nil || *s == "" {
		return nil
	}
	return *s
}

// labelNames names a card's labels in the card's order; a label without a
// name (colour only) has nothing a mapping could read and is left out.
func (m *boardMeta) labelNames(ids []string) []any {
	out := make([]any, 0, len(ids))
	for _, id := range ids {
		if l, ok := m.labels[id]; ok && l.Name != "" {
			out = append(out, l.Name)
		}
	}
	return out
}

// memberNames gives the full names of a card's members in the card's
// order, the first being the owner by the template's convention.
func (m *boardMeta) memberNames(ids []string) []any {
	out := make([]any, 0, len(ids))
	for _, id := range ids {
		if x, ok := m.members[id]; ok {
			name := x.FullName
			if name == "" {
				name = x.Username
			}
			out = append(out, name)
		}
	}
	return out
}

// custom gives a card's custom field values by field name: text and dates
// as Trello sends them, numbers as the string Trello sends (the mapping
// converts them), checkboxes as booleans and list fields as the chosen
// option's text.
func (m *boardMeta) custom(items []fieldItem) map[string]any {
	out := make(map[string]any, len(items))
	for _, it := range items {
		f, ok := m.fields[it.IDCustomField]
		if !ok {
			continue
		}
		out[f.Name] = fieldValue(f, it)
	}
	return out
}

func fieldValue(f fieldDoc, it fieldItem) any {
	switch f.Type {
	case "list":
		if it.IDValue == nil {
			return nil
		}
		for _, o := range f.Options {
			if o.ID == *it.IDValue {
				return o.Value.Text
			}
		}
		return nil
	case "checkbox":
		v, _ := scalarText(it.Value["checked"])
		return v == "true"
	case "number", "text", "date":
		if v, ok := scalarText(it.Value[f.Type]); ok {
			return v
		}
		return nil
	}
	// A type this connector does not know yet: its one value, as sent.
	for _, v := range it.Value {
		if s, ok := scalarText(v); ok {
			return s
		}
	}
	return nil
}

// scalarText renders a value Trello sends as text; it tolerates a bare
// number or boolean where Trello documents a string.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// parseTime reads Trello's timestamps ("2026-11-26T17:00:00.000Z").
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// idTime is the creation second a Trello id carries in its first 8 hex
// digits; zero for a string that is not an id.
func idTime(id string) time.Time {
	if !IsID(id) {
		return time.Time{}
	}
	n, err := strconv.ParseUint(id[:8], 16, 32)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(int64(n), 0).UTC()
}
