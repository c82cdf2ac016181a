package trellosim

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TimeFormat is how Trello writes dates: UTC with milliseconds and a Z.
const TimeFormat = "2006-01-02T15:04:05.000Z"

func timeJSON(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(TimeFormat)
}

func timeStr(t time.Time) string { return t.UTC().Format(TimeFormat) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		writeText(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// cardFields are the card fields Trello knows; fields= may name only these.
var cardFields = map[string]bool{
	"id": true, "address": true, "badges": true, "checkItemStates": true, "closed": true, "coordinates": true,
	"creationMethod": true, "cover": true, "dateLastActivity": true, "desc": true, "descData": true, "due": true,
	"dueComplete": true, "dueReminder": true, "email": true, "idAttachmentCover": true, "idBoard": true,
	"idChecklists": true, "idLabels": true, "idList": true, "idMembers": true, "idMembersVoted": true,
	"idShort": true, "isTemplate": true, "labels": true, "locationName": true, "manualCoverAttachment": true,
	"name": true, "pos": true, "shortLink": true, "shortUrl": true, "start": true, "subscribed": true, "url": true,
	"cardRole": true,
}

// parseFields reads a fields= parameter: nil means all fields; ok is false
// when it names a field the object does not have.
func parseFields(v string, known map[string]bool) (fields []string, ok bool) {
	if v == "" || v == "all" {
		return nil, true
	}
	for f := range strings.SplitSeq(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !known[f] {
			return nil, false
		}
		fields = append(fields, f)
	}
	return fields, true
}

// project keeps the named fields of m; the id always stays, as in Trello.
func project(m map[string]any, fields []string) map[string]any {
	if fields == nil {
		return m
	}
	out := map[string]any{"id": m["id"]}
	for _, f := range fields {
		if v, ok := m[f]; ok {
			out[f] = v
		}
	}
	return out
}

func (s *Server) cardJSON(c *card) map[string]any {
	labels := make([]any, 0, len(c.Labels))
	for _, id := range c.Labels {
		labels = append(labels, s.labelJSON(s.labels[id]))
	}
	checklists := []string{}
	if c.checklist != "" {
		checklists = append(checklists, c.checklist)
	}
	idMembers := append([]string{}, c.Members...)
	idLabels := append([]string{}, c.Labels...)
	return map[string]any{
		"id":      c.ID,
		"address": nil,
		"badges": map[string]any{
			"attachmentsByType":     map[string]any{"trello": map[string]any{"board": 0, "card": 0}},
			"externalSource":        nil,
			"location":              false,
			"votes":                 0,
			"viewingMemberVoted":    false,
			"subscribed":            false,
			"fogbugz":               "",
			"checkItems":            c.CheckItems,
			"checkItemsChecked":     c.CheckItemsChecked,
			"checkItemsEarliestDue": nil,
			"comments":              c.comments,
			"attachments":           0,
			"description":           c.Desc != "",
			"due":                   timeJSON(c.Due),
			"dueComplete":           c.DueComplete,
			"start":                 timeJSON(c.Start),
		},
		"checkItemStates":       []any{},
		"closed":                c.Closed,
		"coordinates":           nil,
		"creationMethod":        nil,
		"cover":                 map[string]any{"idAttachment": nil, "color": nil, "idUploadedBackground": nil, "size": "normal", "brightness": "dark", "idPlugin": nil},
		"dateLastActivity":      timeStr(c.DateLastActivity),
		"desc":                  c.Desc,
		"descData":              map[string]any{"emoji": map[string]any{}},
		"due":                   timeJSON(c.Due),
		"dueComplete":           c.DueComplete,
		"dueReminder":           nil,
		"email":                 nil,
		"idAttachmentCover":     nil,
		"idBoard":               c.board,
		"idChecklists":          checklists,
		"idLabels":              idLabels,
		"idList":                c.IDList,
		"idMembers":             idMembers,
		"idMembersVoted":        []string{},
		"idShort":               c.idShort,
		"isTemplate":            false,
		"cardRole":              nil,
		"labels":                labels,
		"locationName":          nil,
		"manualCoverAttachment": false,
		"name":                  c.Name,
		"pos":                   c.pos,
		"shortLink":             c.shortLink,
		"shortUrl":              "https://trello.com/c/" + c.shortLink,
		"start":                 timeJSON(c.Start),
		"subscribed":            false,
		"url":                   "https://trello.com/c/" + c.shortLink + "/" + strconv.Itoa(c.idShort) + "-" + slug(c.Name),
	}
}

// cardOrder is the order Trello writes a card's fields in; it names every
// key of cardJSON.
var cardOrder = []string{
	"id", "badges", "checkItemStates", "closed", "dueComplete", "dateLastActivity", "desc", "descData",
	"due", "dueReminder", "email", "idBoard", "idChecklists", "idList", "idMembers", "idMembersVoted",
	"idShort", "idAttachmentCover", "labels", "idLabels", "manualCoverAttachment", "name", "pos",
	"shortLink", "shortUrl", "start", "subscribed", "url", "cover", "isTemplate", "cardRole", "address",
	"coordinates", "creationMethod", "locationName",
}

func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte("null") // the values are the simulator's own maps and slices
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// appendCard writes a card as a list endpoint returns it, from the card's
// cached JSON.
func (s *Server) appendCard(buf *bytes.Buffer, c *card, cq cardQuery) {
	if c.raw == nil {
		s.encodeCard(c)
	}
	first := true
	put := func(k string, v []byte) {
		if !first {
			buf.WriteByte(',')
		}
		first = false
		buf.WriteByte('"')
		buf.WriteString(k)
		buf.WriteString(`":`)
		buf.Write(v)
	}
	buf.WriteByte('{')
	for i, k := range cardOrder {
		if k == "id" || cq.fields == nil || slices.Contains(cq.fields, k) {
			if !first {
				buf.WriteByte(',')
			}
			first = false
			buf.Write(c.raw[c.rawAt[i]:c.rawAt[i+1]])
		}
	}
	if cq.custom {
		put("customFieldItems", c.rawCustom)
	}
	if cq.members {
		ms := make([]any, 0, len(c.Members))
		for _, id := range c.Members {
			ms = append(ms, s.memberJSON(s.members[id]))
		}
		put("members", marshal(ms))
	}
	if cq.checklists {
		put("checklists", marshal(s.checklistJSON(c)))
	}
	buf.WriteByte('}')
}

// encodeCard fills the card's JSON cache with one encoder and one buffer.
func (s *Server) encodeCard(c *card) {
	m := s.cardJSON(c)
	var buf bytes.Buffer
	buf.Grow(2048)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	c.rawAt = make([]int32, len(cardOrder)+1)
	for i, k := range cardOrder {
		c.rawAt[i] = int32(buf.Len())
		buf.WriteString(`"` + k + `":`)
		if err := enc.Encode(m[k]); err != nil {
			buf.WriteString("null")
		} else {
			buf.Truncate(buf.Len() - 1) // Encode ends with a newline
		}
	}
	c.rawAt[len(cardOrder)] = int32(buf.Len())
	c.raw = bytes.Clone(buf.Bytes())
	c.rawCustom = marshal(s.customItems(c))
}

func (s *Server) labelJSON(l *label) map[string]any {
	var color any = l.color
	if l.color == "" {
		color = nil
	}
	return map[string]any{"id": l.id, "idBoard": l.board, "name": l.name, "color": color}
}

func (s *Server) memberJSON(m *member) map[string]any {
	initials := ""
	for w := range strings.FieldsSeq(m.fullName) {
		initials += strings.ToUpper(w[:1])
	}
	return map[string]any{
		"id": m.id, "fullName": m.fullName, "username": m.username, "initials": initials,
		"avatarHash": avatarHash(m.id), "avatarUrl": "https://trello-members.s3.amazonaws.com/" + m.id + "/" + avatarHash(m.id),
		"activityBlocked": false, "idMemberReferrer": nil,
		"nonPublic": map[string]any{}, "nonPublicAvailable": true,
	}
}

// avatarHash is a member's avatar hash: 32 hex digits, stable per member.
func avatarHash(id string) string {
	h := fnv.New128a()
	_, _ = h.Write([]byte(id))
	return hex.EncodeToString(h.Sum(nil))
}

// customValue is the value object of a custom field item: Trello keeps
// every value as a string, numbers and checkboxes included.
func (s *Server) customValue(f *field, v string) any {
	if v == "" {
		return nil
	}
	switch f.typ {
	case "number":
		return map[string]any{"number": v}
	case "date":
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return map[string]any{"date": v}
		}
		return map[string]any{"date": timeStr(t)}
	case "checkbox":
		return map[string]any{"checked": v}
	case "list":
		if o := f.option(v); o != nil {
			return map[string]any{"idValue": o.id}
		}
		return nil
	}
	return map[string]any{"text": v}
}

// customItem is one customFieldItem of a card, nil when the card has no
// value for the field. A list field names its option by idValue; the other
// types carry a value object.
func (s *Server) customItem(c *card, f *field) map[string]any {
	v := c.Custom[f.name]
	if v == "" {
		return nil
	}
	item := map[string]any{"id": c.itemIDs[f.name], "idCustomField": f.id, "idModel": c.ID, "modelType": "card"}
	if f.typ == "list" {
		item["idValue"] = nil
		if o := f.option(v); o != nil {
			item["idValue"] = o.id
		}
		return item
	}
	item["value"] = s.customValue(f, v)
	return item
}

func (s *Server) customItems(c *card) []any {
	out := []any{}
	for _, fid := range s.boards[c.board].fields {
		if it := s.customItem(c, s.fields[fid]); it != nil {
			out = append(out, it)
		}
	}
	return out
}

func (s *Server) checklistJSON(c *card) []any {
	if c.checklist == "" {
		return []any{}
	}
	items := make([]any, 0, len(c.items))
	for i, it := range c.items {
		state := "incomplete"
		if i < c.CheckItemsChecked {
			state = "complete"
		}
		items = append(items, map[string]any{
			"id": it.id, "name": it.name, "nameData": nil, "pos": it.pos, "state": state,
			"due": nil, "dueReminder": nil, "idMember": nil, "idChecklist": c.checklist,
		})
	}
	return []any{map[string]any{
		"id": c.checklist, "name": "Checklist", "idBoard": c.board, "idCard": c.ID, "pos": 16384, "checkItems": items,
	}}
}

func (s *Server) fieldJSON(f *field) map[string]any {
	out := map[string]any{
		"id": f.id, "idModel": f.board, "modelType": "board",
		// Trello derives fieldGroup from the field's definition, so equal
		// fields on two boards share it.
		"fieldGroup":       fieldGroup(f),
		"display":          map[string]any{"cardFront": true},
		"name":             f.name,
		"pos":              f.pos,
		"type":             f.typ,
		"isSuggestedField": false,
	}
	if f.typ == "list" {
		opts := make([]any, 0, len(f.options))
		for _, o := range f.options {
			opts = append(opts, map[string]any{"id": o.id, "idCustomField": f.id, "value": map[string]any{"text": o.text}, "color": o.color, "pos": o.pos})
		}
		out["options"] = opts
	}
	return out
}

func fieldGroup(f *field) string {
	a, b := shortLink(f.name+"\x00"+f.typ), shortLink(f.typ+"\x00"+f.name)
	var sb strings.Builder
	for _, r := range a + b {
		sb.WriteString(strconv.FormatInt(int64(r), 16))
	}
	return sb.String()
}

func (s *Server) actionJSON(a *action, withCreator bool) map[string]any {
	out := map[string]any{
		"id": a.id, "idMemberCreator": a.member, "type": a.typ, "date": timeStr(a.date),
		"data": a.data, "appCreator": nil, "limits": map[string]any{},
	}
	if withCreator {
		if m := s.members[a.member]; m != nil {
			out["memberCreator"] = s.memberJSON(m)
		}
	}
	return out
}

// Warm fills the JSON cache of every card, as the first list of a board
// would, so that a benchmark's first read of a large board costs the
// simulator what later reads cost rather than encoding every card.
func (s *Server) Warm() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.cards {
		if c.raw == nil {
			s.encodeCard(c)
		}
	}
}
