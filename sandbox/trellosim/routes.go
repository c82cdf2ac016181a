package trellosim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// invalid is Trello's plain-text answer to a parameter it refuses.
func invalid(w http.ResponseWriter, param string) {
	writeText(w, http.StatusBadRequest, "invalid value for "+param)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, path string) {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	n := len(seg)
	at := func(i int) string {
		if i < n {
			return seg[i]
		}
		return ""
	}
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	params, err := readParams(r)
	if err != nil {
		writeText(w, http.StatusBadRequest, "invalid request body")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case get && n == 2 && at(0) == "members" && at(1) == "me":
		s.getMe(w, params)
	case at(0) == "boards" && n >= 2:
		s.routeBoard(w, r.Method, seg, params)
	case post && n == 1 && at(0) == "cards":
		s.postCard(w, params)
	case at(0) == "cards" && n >= 2:
		s.routeCard(w, r.Method, seg, params)
	case get && n == 3 && at(0) == "lists" && at(2) == "cards":
		l, ok := s.lookupList(w, at(1))
		if ok {
			s.listCards(w, params, s.boards[l.board].cards, func(c *card) bool { return c.IDList == l.id }, "", "open")
		}
	case post && n == 1 && at(0) == "labels":
		b, ok := s.lookupBoardParam(w, params.Get("idBoard"))
		if ok {
			s.postLabel(w, b, params)
		}
	default:
		writeText(w, http.StatusNotFound, "Cannot "+r.Method+" "+BasePath+path)
	}
}

func (s *Server) routeBoard(w http.ResponseWriter, method string, seg []string, q url.Values) {
	b, ok := s.lookupBoard(w, seg[1])
	if !ok {
		return
	}
	sub, arg := "", ""
	if len(seg) > 2 {
		sub = seg[2]
	}
	if len(seg) > 3 {
		arg = seg[3]
	}
	switch {
	case method == http.MethodGet && len(seg) == 2:
		s.getBoard(w, b, q)
	case method == http.MethodGet && sub == "cards" && len(seg) <= 4:
		s.listCards(w, q, b.cards, nil, arg, "visible")
	case method == http.MethodGet && sub == "lists" && len(seg) <= 4:
		s.getLists(w, b, q, arg)
	case method == http.MethodGet && sub == "labels" && len(seg) == 3:
		s.getLabels(w, b, q)
	case method == http.MethodPost && sub == "labels" && len(seg) == 3:
		s.postLabel(w, b, q)
	case method == http.MethodGet && sub == "members" && len(seg) == 3:
		s.getMembers(w, b, q)
	case method == http.MethodGet && sub == "customFields" && len(seg) == 3:
		writeJSON(w, http.StatusOK, s.fieldsJSON(b))
	case method == http.MethodGet && sub == "actions" && len(seg) == 3:
		s.listActions(w, q, b.actions, "all")
	default:
		writeText(w, http.StatusNotFound, "Cannot "+method+" "+BasePath+"/"+strings.Join(seg, "/"))
	}
}

func (s *Server) routeCard(w http.ResponseWriter, method string, seg []string, q url.Values) {
	c, ok := s.lookupCard(w, seg[1])
	if !ok {
		return
	}
	rest := strings.Join(seg[2:], "/")
	switch {
	case method == http.MethodGet && rest == "":
		s.getCard(w, c, q)
	case method == http.MethodPut && rest == "":
		s.putCard(w, c, q)
	case method == http.MethodDelete && rest == "":
		if err := s.deleteCardAt(c.ID, s.now(), s.me.id); err != nil {
			writeText(w, http.StatusNotFound, MsgNotFound)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"limits": map[string]any{}})
	case method == http.MethodGet && rest == "actions":
		var acts []*action
		for _, a := range s.boards[c.board].actions {
			if a.card == c.ID {
				acts = append(acts, a)
			}
		}
		// Trello's default for a card's actions: comments and list moves.
		s.listActions(w, q, acts, "commentCard,updateCard:idList")
	case method == http.MethodPost && rest == "actions/comments":
		text := q.Get("text")
		if text == "" {
			invalid(w, "text")
			return
		}
		a, err := s.addCommentAt(c.ID, text, s.now(), s.me.id)
		if err != nil {
			writeText(w, http.StatusNotFound, MsgNotFound)
			return
		}
		writeJSON(w, http.StatusOK, s.actionJSON(a, true))
	case method == http.MethodGet && rest == "checklists":
		writeJSON(w, http.StatusOK, s.checklistJSON(c))
	case method == http.MethodGet && rest == "customFieldItems":
		writeJSON(w, http.StatusOK, s.customItems(c))
	default:
		writeText(w, http.StatusNotFound, "Cannot "+method+" "+BasePath+"/"+strings.Join(seg, "/"))
	}
}

// readParams merges the query string with a form or JSON body: Trello reads
// the parameters of a write from either place, the body winning.
func readParams(r *http.Request) (url.Values, error) {
	q := r.URL.Query()
	if r.Body == nil || r.Method == http.MethodGet {
		return q, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return q, nil
	}
	switch ct {
	case "application/json":
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("decode JSON body: %w", err)
		}
		for k, v := range m {
			q.Set(k, paramString(v))
		}
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("decode form body: %w", err)
		}
		for k, vs := range form {
			q[k] = vs
		}
	}
	return q, nil
}

func paramString(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = paramString(x)
		}
		return strings.Join(parts, ",")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// lookupBoard finds a board by id or short link; a malformed id is a 400
// "invalid id" and a well-formed unknown one a 404, as in Trello.
func (s *Server) lookupBoard(w http.ResponseWriter, id string) (*board, bool) {
	if b := s.boards[s.byShort[id]]; b != nil {
		return b, true
	}
	if !validID(id) {
		writeText(w, http.StatusBadRequest, MsgInvalidID)
		return nil, false
	}
	b := s.boards[strings.ToLower(id)]
	if b == nil {
		writeText(w, http.StatusNotFound, MsgNotFound)
		return nil, false
	}
	return b, true
}

func (s *Server) lookupBoardParam(w http.ResponseWriter, id string) (*board, bool) {
	if id == "" || !validID(id) && s.byShort[id] == "" {
		invalid(w, "idBoard")
		return nil, false
	}
	return s.lookupBoard(w, id)
}

func (s *Server) lookupCard(w http.ResponseWriter, id string) (*card, bool) {
	if c := s.cards[s.byShort[id]]; c != nil {
		return c, true
	}
	if !validID(id) {
		writeText(w, http.StatusBadRequest, MsgInvalidID)
		return nil, false
	}
	c := s.cards[strings.ToLower(id)]
	if c == nil {
		writeText(w, http.StatusNotFound, MsgNotFound)
		return nil, false
	}
	return c, true
}

func (s *Server) lookupList(w http.ResponseWriter, id string) (*list, bool) {
	if !validID(id) {
		writeText(w, http.StatusBadRequest, MsgInvalidID)
		return nil, false
	}
	l := s.lists[strings.ToLower(id)]
	if l == nil {
		writeText(w, http.StatusNotFound, MsgNotFound)
		return nil, false
	}
	return l, true
}

var meFields = map[string]bool{
	"id": true, "fullName": true, "username": true, "initials": true, "avatarHash": true, "avatarUrl": true,
	"url": true, "idBoards": true, "activityBlocked": true, "idMemberReferrer": true, "nonPublic": true,
	"nonPublicAvailable": true, "memberType": true, "confirmed": true,
}

func (s *Server) getMe(w http.ResponseWriter, q url.Values) {
	fields, ok := parseFields(q.Get("fields"), meFields)
	if !ok {
		invalid(w, "fields")
		return
	}
	m := s.memberJSON(s.me)
	m["url"] = "https://trello.com/" + s.me.username
	m["memberType"] = "normal"
	m["confirmed"] = true
	idBoards := []string{}
	for id := range s.boards {
		idBoards = append(idBoards, id)
	}
	slices.Sort(idBoards)
	m["idBoards"] = idBoards
	writeJSON(w, http.StatusOK, project(m, fields))
}

var boardFields = map[string]bool{
	"id": true, "name": true, "desc": true, "descData": true, "closed": true, "idOrganization": true,
	"idEnterprise": true, "pinned": true, "url": true, "shortUrl": true, "prefs": true, "labelNames": true,
	"dateLastActivity": true, "dateLastView": true, "idMemberCreator": true, "shortLink": true,
	"starred": true, "subscribed": true, "memberships": true, "powerUps": true, "idTags": true,
}

// boardDefault are the board fields Trello returns when fields= is not
// sent (its reference documents this default); dateLastActivity is not
// among them and must be asked for.
var boardDefault = []string{"name", "desc", "descData", "closed", "idOrganization", "pinned", "url", "shortUrl", "prefs", "labelNames"}

func (s *Server) boardJSON(b *board) map[string]any {
	return map[string]any{
		"id": b.id, "name": b.name, "desc": "", "descData": nil, "closed": b.closed,
		"idOrganization": "5e1f0c3a7a3c51e0d2000000", "idEnterprise": nil, "pinned": false,
		"url":      "https://trello.com/b/" + b.shortLink + "/" + slug(b.name),
		"shortUrl": "https://trello.com/b/" + b.shortLink,
		"prefs": map[string]any{
			"permissionLevel": "org", "comments": "members", "invitations": "members", "voting": "disabled",
			"selfJoin": true, "cardCovers": true, "cardAging": "regular", "background": "blue",
		},
		"labelNames": map[string]any{
			"green": "", "yellow": "", "orange": "", "red": "", "purple": "", "blue": "",
			"sky": "", "lime": "", "pink": "", "black": "",
		},
		"dateLastActivity": timeStr(b.lastActivity), "dateLastView": nil,
		"idMemberCreator": s.me.id, "shortLink": b.shortLink, "starred": false, "subscribed": false,
		"memberships": []any{}, "powerUps": []any{"customFields"}, "idTags": []any{},
	}
}

func (s *Server) getBoard(w http.ResponseWriter, b *board, q url.Values) {
	fields, ok := parseFields(q.Get("fields"), boardFields)
	if !ok {
		invalid(w, "fields")
		return
	}
	if q.Get("fields") == "" {
		fields = boardDefault
	}
	out := project(s.boardJSON(b), fields)
	// Nested resources (Trello's guide to them): lists, labels, members
	// and custom fields come with the board when asked for, with the
	// parameters of their own endpoints under a prefix.
	if v := q.Get("lists"); v != "" && v != "none" {
		ls, bad := s.listsJSON(b, v, q.Get("list_fields"))
		if bad != "" {
			invalid(w, map[string]string{"filter": "lists", "fields": "list_fields"}[bad])
			return
		}
		out["lists"] = ls
	}
	if v := q.Get("labels"); v != "" && v != "none" {
		if v != "all" {
			invalid(w, "labels")
			return
		}
		ls, bad := s.labelsJSON(b, q.Get("label_fields"), q.Get("labels_limit"))
		if bad != "" {
			invalid(w, map[string]string{"fields": "label_fields", "limit": "labels_limit"}[bad])
			return
		}
		out["labels"] = ls
	}
	if v := q.Get("members"); v != "" && v != "none" {
		if v != "all" {
			invalid(w, "members")
			return
		}
		ms, bad := s.membersJSON(b, q.Get("member_fields"))
		if bad != "" {
			invalid(w, "member_fields")
			return
		}
		out["members"] = ms
	}
	switch q.Get("customFields") {
	case "", "false":
	case "true":
		out["customFields"] = s.fieldsJSON(b)
	default:
		invalid(w, "customFields")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

var listFields = map[string]bool{
	"id": true, "name": true, "closed": true, "idBoard": true, "pos": true, "subscribed": true, "softLimit": true, "color": true,
}

func (s *Server) getLists(w http.ResponseWriter, b *board, q url.Values, filter string) {
	if filter == "" {
		filter = q.Get("filter")
	}
	out, bad := s.listsJSON(b, filter, q.Get("fields"))
	if bad != "" {
		invalid(w, bad)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// listsJSON renders a board's lists as GET /boards/{id}/lists does: filter
// open (the default), closed, all or none, and the fields asked for. bad
// names the parameter that was refused.
func (s *Server) listsJSON(b *board, filter, fieldsParam string) (out []any, bad string) {
	if filter == "" {
		filter = "open"
	}
	if !slices.Contains([]string{"all", "open", "closed", "none"}, filter) {
		return nil, "filter"
	}
	fields, ok := parseFields(fieldsParam, listFields)
	if !ok {
		return nil, "fields"
	}
	ls := make([]*list, 0, len(b.lists))
	for _, id := range b.lists {
		l := s.lists[id]
		if filter == "all" || filter == "open" && !l.closed || filter == "closed" && l.closed {
			ls = append(ls, l)
		}
	}
	slices.SortStableFunc(ls, func(a, b *list) int {
		switch {
		case a.pos < b.pos:
			return -1
		case a.pos > b.pos:
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	out = make([]any, 0, len(ls))
	for _, l := range ls {
		out = append(out, project(map[string]any{
			"id": l.id, "name": l.name, "closed": l.closed, "idBoard": l.board, "pos": l.pos,
			"subscribed": false, "softLimit": nil, "color": nil,
		}, fields))
	}
	return out, ""
}

var labelFields = map[string]bool{"id": true, "idBoard": true, "name": true, "color": true}

func (s *Server) getLabels(w http.ResponseWriter, b *board, q url.Values) {
	out, bad := s.labelsJSON(b, q.Get("fields"), q.Get("limit"))
	if bad != "" {
		invalid(w, bad)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// labelsJSON renders a board's labels as GET /boards/{id}/labels does.
func (s *Server) labelsJSON(b *board, fieldsParam, limitParam string) (out []any, bad string) {
	fields, ok := parseFields(fieldsParam, labelFields)
	if !ok {
		return nil, "fields"
	}
	// Trello hands out 50 labels unless told otherwise (limit 0..1000).
	limit := 50
	if limitParam != "" {
		n, err := strconv.Atoi(limitParam)
		if err != nil || n < 0 || n > 1000 {
			return nil, "limit"
		}
		limit = n
	}
	out = []any{}
	for _, id := range b.labels {
		if len(out) == limit {
			break
		}
		out = append(out, project(s.labelJSON(s.labels[id]), fields))
	}
	return out, ""
}

// labelColors are the colours Trello accepts for a label.
var labelColors = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range []string{"green", "yellow", "orange", "red", "purple", "blue", "sky", "lime", "pink", "black"} {
		m[c], m[c+"_dark"], m[c+"_light"] = true, true, true
	}
	return m
}()

func (s *Server) postLabel(w http.ResponseWriter, b *board, q url.Values) {
	if !q.Has("name") {
		invalid(w, "name")
		return
	}
	color := q.Get("color")
	switch {
	case color == "null" || color == "":
		color = ""
	case !labelColors[color]:
		invalid(w, "color")
		return
	}
	id := s.addLabelAt(b.id, q.Get("name"), color, s.now())
	writeJSON(w, http.StatusOK, s.labelJSON(s.labels[id]))
}

var memberFields = map[string]bool{
	"id": true, "fullName": true, "username": true, "initials": true, "avatarHash": true, "avatarUrl": true,
	"activityBlocked": true, "idMemberReferrer": true, "nonPublic": true, "nonPublicAvailable": true,
}

func (s *Server) getMembers(w http.ResponseWriter, b *board, q url.Values) {
	out, bad := s.membersJSON(b, q.Get("fields"))
	if bad != "" {
		invalid(w, bad)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// membersJSON renders a board's members as GET /boards/{id}/members does.
func (s *Server) membersJSON(b *board, fieldsParam string) (out []any, bad string) {
	fields, ok := parseFields(fieldsParam, memberFields)
	if !ok {
		return nil, "fields"
	}
	if fieldsParam == "" {
		fields = []string{"fullName", "username"}
	}
	out = []any{}
	for _, id := range b.members {
		out = append(out, project(s.memberJSON(s.members[id]), fields))
	}
	return out, ""
}

// fieldsJSON renders a board's custom fields as GET
// /boards/{id}/customFields does.
func (s *Server) fieldsJSON(b *board) []any {
	out := []any{}
	for _, id := range b.fields {
		out = append(out, s.fieldJSON(s.fields[id]))
	}
	return out
}

// bound reads a before/since parameter: an id, or a date that stands for
// the smallest id of its second (ids start with their creation time).
func bound(v string) (string, bool) {
	if validID(v) {
		return strings.ToLower(v), true
	}
	for _, layout := range []string{time.RFC3339Nano, TimeFormat, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return boundaryID(t), true
		}
	}
	return "", false
}

// cardQuery is what a card list request asked for.
type cardQuery struct {
	fields        []string
	custom        bool
	members       bool
	checklists    bool
	paged         bool
	limit         int
	before, since string
}

func parseCardQuery(w http.ResponseWriter, q url.Values) (cardQuery, bool) {
	var cq cardQuery
	var ok bool
	if cq.fields, ok = parseFields(q.Get("fields"), cardFields); !ok {
		invalid(w, "fields")
		return cq, false
	}
	cq.custom = q.Get("customFieldItems") == "true"
	cq.members = q.Get("members") == "true"
	switch q.Get("checklists") {
	case "", "none":
	case "all":
		cq.checklists = true
	default:
		invalid(w, "checklists")
		return cq, false
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxCardsLimit {
			invalid(w, "limit")
			return cq, false
		}
		cq.limit, cq.paged = n, true
	}
	for _, p := range []struct {
		name string
		dst  *string
	}{{"before", &cq.before}, {"since", &cq.since}} {
		if v := q.Get(p.name); v != "" {
			id, ok := bound(v)
			if !ok {
				invalid(w, p.name)
				return cq, false
			}
			*p.dst, cq.paged = id, true
		}
	}
	return cq, true
}

// cardFilters are the filters of a card list and what each keeps.
var cardFilters = map[string]func(s *Server, c *card) bool{
	"all":    func(*Server, *card) bool { return true },
	"closed": func(_ *Server, c *card) bool { return c.Closed },
	"open":   func(_ *Server, c *card) bool { return !c.Closed },
	// visible: open cards in open lists, what the board shows.
	"visible":    func(s *Server, c *card) bool { return !c.Closed && !s.lists[c.IDList].closed },
	"none":       func(*Server, *card) bool { return false },
	"complete":   func(_ *Server, c *card) bool { return !c.Closed && c.DueComplete },
	"incomplete": func(_ *Server, c *card) bool { return !c.Closed && !c.DueComplete },
}

// listCards answers a card list: ids are the candidates in ascending id
// order, keep an extra condition (a list), filter the path's filter.
//
// Without limit, before or since the cards come in board order (list by
// list, top to bottom). With any of them Trello pages by id: it keeps the
// cards with since < id < before and returns the newest limit of them,
// newest first; the next page is asked with before = the smallest id of
// this one, until a page comes back shorter than limit.
func (s *Server) listCards(w http.ResponseWriter, q url.Values, ids []string, keep func(*card) bool, filter, def string) {
	if filter == "" {
		filter = q.Get("filter")
	}
	if filter == "" {
		filter = def
	}
	pass, ok := cardFilters[filter]
	if !ok {
		invalid(w, "filter")
		return
	}
	cq, ok := parseCardQuery(w, q)
	if !ok {
		return
	}
	var sel []string
	if cq.paged {
		for i := len(ids) - 1; i >= 0; i-- {
			id := ids[i]
			if cq.before != "" && id >= cq.before {
				continue
			}
			if cq.since != "" && id <= cq.since {
				break
			}
			c := s.cards[id]
			if (keep == nil || keep(c)) && pass(s, c) {
				sel = append(sel, id)
				if cq.limit > 0 && len(sel) == cq.limit {
					break
				}
			}
		}
	} else {
		for _, id := range ids {
			c := s.cards[id]
			if (keep == nil || keep(c)) && pass(s, c) {
				sel = append(sel, id)
			}
		}
		s.boardOrder(sel)
	}
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, id := range sel {
		if i > 0 {
			buf.WriteByte(',')
		}
		s.appendCard(&buf, s.cards[id], cq)
	}
	buf.WriteString("]\n")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) renderCard(c *card, cq cardQuery) map[string]any {
	m := project(s.cardJSON(c), cq.fields)
	if cq.custom {
		m["customFieldItems"] = s.customItems(c)
	}
	if cq.members {
		ms := make([]any, 0, len(c.Members))
		for _, id := range c.Members {
			ms = append(ms, s.memberJSON(s.members[id]))
		}
		m["members"] = ms
	}
	if cq.checklists {
		m["checklists"] = s.checklistJSON(c)
	}
	return m
}

func (s *Server) getCard(w http.ResponseWriter, c *card, q url.Values) {
	cq, ok := parseCardQuery(w, q)
	if !ok {
		return
	}
	m := s.renderCard(c, cq)
	if q.Get("board") == "true" {
		m["board"] = project(s.boardJSON(s.boards[c.board]), boardDefault)
	}
	if q.Get("list") == "true" {
		l := s.lists[c.IDList]
		m["list"] = map[string]any{"id": l.id, "name": l.name, "closed": l.closed, "idBoard": l.board, "pos": l.pos}
	}
	writeJSON(w, http.StatusOK, m)
}

// cardChange reads the card parameters of a POST or PUT into f; the
// returned name is the parameter Trello would call invalid.
func (s *Server) cardChange(b *board, q url.Values, c *Card, pos *string) (bad string) {
	if q.Has("name") {
		if q.Get("name") == "" {
			return "name"
		}
		c.Name = q.Get("name")
	}
	if q.Has("desc") {
		c.Desc = q.Get("desc")
	}
	if q.Has("idList") {
		l := s.lists[strings.ToLower(q.Get("idList"))]
		if l == nil || l.board != b.id {
			return "idList"
		}
		c.IDList = l.id
	}
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"due", &c.Due}, {"start", &c.Start}} {
		if !q.Has(p.name) {
			continue
		}
		v := q.Get(p.name)
		if v == "" || v == "null" {
			*p.dst = nil
			continue
		}
		t, ok := parseDate(v)
		if !ok {
			return p.name
		}
		*p.dst = &t
	}
	for _, p := range []struct {
		name string
		dst  *bool
	}{{"dueComplete", &c.DueComplete}, {"closed", &c.Closed}} {
		if !q.Has(p.name) {
			continue
		}
		v, err := strconv.ParseBool(q.Get(p.name))
		if err != nil {
			return p.name
		}
		*p.dst = v
	}
	if q.Has("idLabels") {
		ids := splitIDs(q.Get("idLabels"))
		for _, id := range ids {
			if l := s.labels[id]; l == nil || l.board != b.id {
				return "idLabels"
			}
		}
		c.Labels = ids
	}
	if q.Has("idMembers") {
		ids := splitIDs(q.Get("idMembers"))
		for _, id := range ids {
			if !slices.Contains(b.members, id) {
				return "idMembers"
			}
		}
		c.Members = ids
	}
	if q.Has("pos") {
		v := q.Get("pos")
		if f, err := strconv.ParseFloat(v, 64); v != "top" && v != "bottom" && (err != nil || f < 0) {
			return "pos"
		}
		*pos = v
	}
	return ""
}

func splitIDs(v string) []string {
	var out []string
	for id := range strings.SplitSeq(v, ",") {
		if id = strings.ToLower(strings.TrimSpace(id)); id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// parseDate reads a date parameter as Trello does: an ISO 8601 date-time,
// a date, or milliseconds since the epoch.
func parseDate(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, TimeFormat, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), true
	}
	return time.Time{}, false
}

// place moves a card to "top", "bottom" or a number within its list.
func (s *Server) place(c *card, pos string) {
	c.touch()
	switch pos {
	case "", "bottom":
		return
	case "top":
		top := c.pos
		for _, o := range s.cards {
			if o.IDList == c.IDList && o.ID != c.ID {
				top = min(top, o.pos)
			}
		}
		c.pos = top / 2
	default:
		c.pos, _ = strconv.ParseFloat(pos, 64)
	}
}

func (s *Server) putCard(w http.ResponseWriter, c *card, q url.Values) {
	b := s.boards[c.board]
	next := c.Card.clone()
	pos := ""
	if bad := s.cardChange(b, q, &next, &pos); bad != "" {
		invalid(w, bad)
		return
	}
	if err := s.updateCardAt(c.ID, func(x *Card) { *x = next }, s.now(), s.me.id); err != nil {
		invalid(w, "card")
		return
	}
	s.place(c, pos)
	writeJSON(w, http.StatusOK, s.cardJSON(c))
}

func (s *Server) postCard(w http.ResponseWriter, q url.Values) {
	l := s.lists[strings.ToLower(q.Get("idList"))]
	if l == nil {
		invalid(w, "idList")
		return
	}
	b := s.boards[l.board]
	c := Card{IDList: l.id}
	pos := ""
	if bad := s.cardChange(b, q, &c, &pos); bad != "" {
		invalid(w, bad)
		return
	}
	id, err := s.addCardAt(b.id, c, s.now(), s.me.id)
	if err != nil {
		invalid(w, "card")
		return
	}
	s.place(s.cards[id], pos)
	writeJSON(w, http.StatusOK, s.cardJSON(s.cards[id]))
}

// actionTypes are the action types a filter may name.
var actionTypes = map[string]bool{}

func init() {
	for _, t := range strings.Fields(`acceptEnterpriseJoinRequest addAttachmentToCard addChecklistToCard
		addLabelToCard addMemberToBoard addMemberToCard addMemberToOrganization addOrganizationToEnterprise
		addToEnterprisePluginWhitelist addToOrganizationBoard commentCard convertToCardFromCheckItem copyBoard
		copyCard copyCommentCard createBoard createCard createCustomField createLabel createList
		createOrganization deleteAttachmentFromCard deleteBoardInvitation deleteCard deleteCheckItem
		deleteCustomField deleteLabel deleteOrganizationInvitation disableEnterprisePluginWhitelist
		disablePlugin disablePowerUp emailCard enableEnterprisePluginWhitelist enablePlugin enablePowerUp
		makeAdminOfBoard makeNormalMemberOfBoard makeNormalMemberOfOrganization makeObserverOfBoard
		memberJoinedTrello moveCardFromBoard moveCardToBoard moveListFromBoard moveListToBoard
		removeChecklistFromCard removeFromEnterprisePluginWhitelist removeFromOrganizationBoard
		removeLabelFromCard removeMemberFromBoard removeMemberFromCard removeOrganizationFromEnterprise
		unconfirmedBoardInvitation unconfirmedOrganizationInvitation updateBoard updateCard updateCheckItem
		updateCheckItemStateOnCard updateChecklist updateCustomField updateCustomFieldItem updateLabel
		updateList updateMember updateOrganization voteOnCard`) {
		actionTypes[t] = true
	}
}

var actionFields = map[string]bool{
	"id": true, "idMemberCreator": true, "type": true, "date": true, "data": true, "appCreator": true, "limits": true,
}

// actionFilter is one entry of a filter: a type, optionally with the field
// an updateCard changed ("updateCard:idList").
type actionFilter struct{ typ, field string }

func (f actionFilter) match(a *action) bool {
	if a.typ != f.typ {
		return false
	}
	if f.field == "" {
		return true
	}
	old, _ := a.data["old"].(map[string]any)
	_, ok := old[f.field]
	return ok
}

func parseActionFilter(v string) ([]actionFilter, bool) {
	if v == "" || v == "all" {
		return nil, true
	}
	var out []actionFilter
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		typ, fld, _ := strings.Cut(part, ":")
		if !actionTypes[typ] {
			return nil, false
		}
		out = append(out, actionFilter{typ, fld})
	}
	return out, true
}

// listActions answers an action list, newest first. acts are the
// candidates in ascending id order; since and before (an action id or a
// date) bound it exclusively, limit (default 50, at most ActionsPageMax)
// cuts it and page skips page×limit actions. A client pages back in time
// with before = the id of the oldest action of the last page.
func (s *Server) listActions(w http.ResponseWriter, q url.Values, acts []*action, def string) {
	fv := def
	if q.Has("filter") {
		fv = q.Get("filter")
	}
	filters, ok := parseActionFilter(fv)
	if !ok {
		invalid(w, "filter")
		return
	}
	fields, ok := parseFields(q.Get("fields"), actionFields)
	if !ok {
		invalid(w, "fields")
		return
	}
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > s.opts.ActionsPageMax {
			invalid(w, "limit")
			return
		}
		limit = n
	}
	page := 0
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			invalid(w, "page")
			return
		}
		page = n
	}
	var before, since string
	for _, p := range []struct {
		name string
		dst  *string
	}{{"before", &before}, {"since", &since}} {
		if v := q.Get(p.name); v != "" {
			id, ok := bound(v)
			if !ok {
				invalid(w, p.name)
				return
			}
			*p.dst = id
		}
	}
	withCreator := q.Get("memberCreator") != "false"
	skip := page * limit
	out := []any{}
	for i := len(acts) - 1; i >= 0 && len(out) < limit; i-- {
		a := acts[i]
		if before != "" && a.id >= before {
			continue
		}
		if since != "" && a.id <= since {
			break
		}
		if filters != nil && !slices.ContainsFunc(filters, func(f actionFilter) bool { return f.match(a) }) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		m := s.actionJSON(a, withCreator)
		creator := m["memberCreator"]
		m = project(m, fields)
		if creator != nil {
			m["memberCreator"] = creator
		}
		out = append(out, m)
	}
	writeJSON(w, http.StatusOK, out)
}
