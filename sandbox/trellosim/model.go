package trellosim

import (
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Errors of the Go API (the HTTP API answers with Trello's bodies instead).
var (
	// ErrNotFound reports an unknown or deleted board, list or card.
	ErrNotFound = errors.New("trellosim: not found")
	// ErrInvalid reports a value Trello would refuse: an unknown custom
	// field, list option, label or list of another board.
	ErrInvalid = errors.New("trellosim: invalid value")
)

// Card is the simulator's own model of a Trello card, used by the Go API.
// The HTTP API renders it in Trello's JSON.
type Card struct {
	// ID is set by the simulator; AddCard ignores it.
	ID, Name, Desc, IDList string
	Labels                 []string // label ids
	Members                []string // member ids
	Due, Start             *time.Time
	DueComplete, Closed    bool
	// Custom holds custom field values by field NAME, as Trello keeps
	// them: a number as its decimal string, a date as RFC 3339, a checkbox
	// as "true"/"false", a list field as the option's text.
	Custom                        map[string]string
	CheckItems, CheckItemsChecked int
	// DateLastActivity is set to the simulator's clock when zero.
	DateLastActivity time.Time
}

func (c Card) clone() Card {
	c.Labels = slices.Clone(c.Labels)
	c.Members = slices.Clone(c.Members)
	c.Custom = maps.Clone(c.Custom)
	if c.Due != nil {
		d := *c.Due
		c.Due = &d
	}
	if c.Start != nil {
		d := *c.Start
		c.Start = &d
	}
	return c
}

type board struct {
	id, name, shortLink string
	closed              bool
	lastActivity        time.Time
	idShort             int      // last card number handed out
	lists               []string // ids, creation order
	labels              []string
	members             []string
	fields              []string
	cards               []string  // ids in ascending id order, deleted ones removed
	actions             []*action // ascending id order
}

type list struct {
	id, board, name string
	closed          bool
	pos             float64
}

type label struct {
	id, board, name, color string
}

type member struct {
	id, fullName, username string
}

type field struct {
	id, board, name, typ string
	pos                  float64
	options              []option
}

type option struct {
	id, text, color string
	pos             float64
}

type checkItem struct {
	id, name string
	pos      float64
}

type card struct {
	Card
	board, shortLink string
	idShort          int
	pos              float64
	checklist        string      // id of the card's one checklist, "" when none
	items            []checkItem // its items; the first CheckItemsChecked are complete
	itemIDs          map[string]string
	comments         int
	// raw caches the card's fields as `"name":value` segments in cardOrder,
	// segment i at raw[rawAt[i]:rawAt[i+1]], and rawCustom its custom field
	// items: a 100k-card board is paged without re-encoding every card.
	raw       []byte
	rawAt     []int32
	rawCustom []byte
}

// touch drops the cached JSON after a change.
func (c *card) touch() { c.raw, c.rawAt, c.rawCustom = nil, nil, nil }

type action struct {
	id, typ, member string
	date            time.Time
	board, card     string
	data            map[string]any
}

// ids makes Trello ids: 24 hex digits like a MongoDB ObjectID, whose first
// 8 digits are the creation time in seconds, so that ids sort by creation
// and a date can stand for an id in since/before. The rest is a fixed
// "machine" part and a counter, which keeps ids deterministic.
type ids struct {
	machine string
	counter uint32
}

func (g *ids) next(at time.Time) string {
	g.counter++
	sec := max(at.Unix(), 0)
	return fmt.Sprintf("%08x%s%06x", uint32(sec), g.machine, g.counter&0xffffff)
}

// boundaryID is the smallest id created at t's second: comparing ids with
// it compares creation times.
func boundaryID(t time.Time) string {
	return fmt.Sprintf("%08x%016x", uint32(max(t.Unix(), 0)), 0)
}

// idTime is the creation time an id carries.
func idTime(id string) time.Time {
	n, err := strconv.ParseUint(id[:8], 16, 32)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(int64(n), 0).UTC()
}

func validID(id string) bool {
	if len(id) != 24 {
		return false
	}
	for _, r := range id {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// shortLink derives the 8-character link Trello shows in URLs from an id.
func shortLink(id string) string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	h := fnv.New64a()
	h.Write([]byte(id))
	n := h.Sum64()
	var b [8]byte
	for i := range b {
		b[i] = alphabet[n%uint64(len(alphabet))]
		n /= uint64(len(alphabet))
	}
	return string(b[:])
}

func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// AddBoard creates an open board and returns its id.
func (s *Server) AddBoard(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addBoardAt(name, s.now())
}

func (s *Server) addBoardAt(name string, at time.Time) string {
	b := &board{id: s.ids.next(at), name: name, lastActivity: at}
	b.shortLink = shortLink(b.id)
	s.boards[b.id] = b
	s.byShort[b.shortLink] = b.id
	return b.id
}

// AddList appends an open list to a board and returns its id, or "" when
// the board is unknown.
func (s *Server) AddList(boardID, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addListAt(boardID, name, s.now())
}

func (s *Server) addListAt(boardID, name string, at time.Time) string {
	b := s.boards[boardID]
	if b == nil {
		return ""
	}
	l := &list{id: s.ids.next(at), board: b.id, name: name, pos: float64(len(b.lists)+1) * 16384}
	s.lists[l.id] = l
	b.lists = append(b.lists, l.id)
	return l.id
}

// AddLabel adds a label to a board and returns its id, or "" when the board
// is unknown. color is a Trello label colour or "" for none.
func (s *Server) AddLabel(boardID, name, color string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addLabelAt(boardID, name, color, s.now())
}

func (s *Server) addLabelAt(boardID, name, color string, at time.Time) string {
	b := s.boards[boardID]
	if b == nil {
		return ""
	}
	l := &label{id: s.ids.next(at), board: b.id, name: name, color: color}
	s.labels[l.id] = l
	b.labels = append(b.labels, l.id)
	return l.id
}

// AddMember makes a person a member of a board and returns the member id.
// A username seen before keeps its id, so one person shares one id across
// boards, as in Trello.
func (s *Server) AddMember(boardID, fullName, username string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addMemberAt(boardID, fullName, username, s.now())
}

func (s *Server) addMemberAt(boardID, fullName, username string, at time.Time) string {
	m := s.memberByName(fullName, username, at)
	if b := s.boards[boardID]; b != nil && !slices.Contains(b.members, m.id) {
		b.members = append(b.members, m.id)
	}
	return m.id
}

func (s *Server) memberByName(fullName, username string, at time.Time) *member {
	for _, m := range s.members {
		if m.username == username {
			return m
		}
	}
	m := &member{id: s.ids.next(at), fullName: fullName, username: username}
	s.members[m.id] = m
	return m
}

// AddCustomField defines a custom field on a board and returns its id, or
// "" when the board is unknown or typ is not one of text, number, date,
// checkbox, list. options are the texts of a list field's options.
func (s *Server) AddCustomField(boardID, name, typ string, options ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addFieldAt(boardID, name, typ, options, s.now())
}

func (s *Server) addFieldAt(boardID, name, typ string, options []string, at time.Time) string {
	b := s.boards[boardID]
	if b == nil || !slices.Contains([]string{"text", "number", "date", "checkbox", "list"}, typ) {
		return ""
	}
	f := &field{id: s.ids.next(at), board: b.id, name: name, typ: typ, pos: float64(len(b.fields)+1) * 16384}
	if typ == "list" {
		colors := []string{"green", "yellow", "orange", "red", "purple", "blue", "sky", "lime", "pink", "black"}
		for i, o := range options {
			f.options = append(f.options, option{id: s.ids.next(at), text: o, color: colors[i%len(colors)], pos: float64(i+1) * 16384})
		}
	}
	s.fields[f.id] = f
	b.fields = append(b.fields, f.id)
	return f.id
}

// AddCard creates a card on a board (in c.IDList, which must be one of the
// board's lists) and logs a createCard action. It returns the card id. It
// panics when the card names an unknown list, label, member, custom field
// or list option: that is a mistake in the test or demo that calls it.
func (s *Server) AddCard(boardID string, c Card) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, err := s.addCardAt(boardID, c, s.now(), s.me.id)
	if err != nil {
		panic(fmt.Sprintf("trellosim: add card %q: %v", c.Name, err))
	}
	return id
}

func (s *Server) addCardAt(boardID string, c Card, at time.Time, creator string) (string, error) {
	b := s.boards[boardID]
	if b == nil {
		return "", fmt.Errorf("board %s: %w", boardID, ErrNotFound)
	}
	c = c.clone()
	if err := s.check(b, c); err != nil {
		return "", err
	}
	if c.DateLastActivity.IsZero() {
		c.DateLastActivity = at
	}
	c.CheckItemsChecked = min(c.CheckItemsChecked, c.CheckItems)
	b.idShort++
	cd := &card{Card: c, board: b.id, idShort: b.idShort, itemIDs: map[string]string{}}
	cd.ID = s.ids.next(at)
	cd.shortLink = shortLink(cd.ID)
	cd.pos = s.bottom(cd.IDList)
	s.syncChecklist(cd, at)
	s.syncCustomIDs(cd, at)
	s.cards[cd.ID] = cd
	s.byShort[cd.shortLink] = cd.ID
	i, _ := slices.BinarySearch(b.cards, cd.ID)
	b.cards = slices.Insert(b.cards, i, cd.ID)
	b.lastActivity = laterOf(b.lastActivity, at)
	s.log(b, cd, at, creator, "createCard", map[string]any{"list": s.listRef(cd.IDList)})
	return cd.ID, nil
}

// check validates a card against its board the way Trello validates the
// ids and values it is sent.
func (s *Server) check(b *board, c Card) error {
	if l := s.lists[c.IDList]; l == nil || l.board != b.id {
		return fmt.Errorf("list %q: %w", c.IDList, ErrInvalid)
	}
	for _, id := range c.Labels {
		if l := s.labels[id]; l == nil || l.board != b.id {
			return fmt.Errorf("label %q: %w", id, ErrInvalid)
		}
	}
	for _, id := range c.Members {
		if s.members[id] == nil {
			return fmt.Errorf("member %q: %w", id, ErrInvalid)
		}
	}
	for name, v := range c.Custom {
		f := s.fieldByName(b, name)
		if f == nil {
			return fmt.Errorf("custom field %q: %w", name, ErrInvalid)
		}
		if v == "" {
			continue
		}
		if err := checkValue(f, v); err != nil {
			return fmt.Errorf("custom field %q: %w", name, err)
		}
	}
	return nil
}

func checkValue(f *field, v string) error {
	switch f.typ {
	case "number":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("number %q: %w", v, ErrInvalid)
		}
	case "date":
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			return fmt.Errorf("date %q: %w", v, ErrInvalid)
		}
	case "checkbox":
		if v != "true" && v != "false" {
			return fmt.Errorf("checkbox %q: %w", v, ErrInvalid)
		}
	case "list":
		if f.option(v) == nil {
			return fmt.Errorf("option %q: %w", v, ErrInvalid)
		}
	}
	return nil
}

func (f *field) option(text string) *option {
	for i := range f.options {
		if f.options[i].text == text {
			return &f.options[i]
		}
	}
	return nil
}

func (s *Server) fieldByName(b *board, name string) *field {
	for _, id := range b.fields {
		if f := s.fields[id]; f.name == name {
			return f
		}
	}
	return nil
}

// bottom hands out the position after the last card of a list.
func (s *Server) bottom(listID string) float64 {
	s.lastPos[listID] += 16384
	return s.lastPos[listID]
}

// syncChecklist keeps the card's one checklist in step with its counts:
// items are added or dropped, and ids of the ones kept stay the same.
func (s *Server) syncChecklist(c *card, at time.Time) {
	if c.CheckItems <= 0 {
		c.checklist, c.items = "", nil
		return
	}
	if c.checklist == "" {
		c.checklist = s.ids.next(at)
	}
	for len(c.items) < c.CheckItems {
		n := len(c.items)
		c.items = append(c.items, checkItem{id: s.ids.next(at), name: stepNames[n%len(stepNames)], pos: float64(n+1) * 16384})
	}
	c.items = c.items[:c.CheckItems]
}

var stepNames = []string{
	"Confirm scope with the clinical lead",
	"Build in the TST environment",
	"Unit test with test patients",
	"Peer review of the build",
	"Document in the go-live runbook",
	"Sign-off by the workstream lead",
	"Migrate to PRD",
	"Smoke test in PRD",
}

// syncCustomIDs gives every custom field value of the card a stable item
// id, as Trello keeps one customFieldItem per field and card.
func (s *Server) syncCustomIDs(c *card, at time.Time) {
	// In name order: ids come from a counter, and map order is random.
	for _, name := range slices.Sorted(maps.Keys(c.Custom)) {
		if c.Custom[name] != "" && c.itemIDs[name] == "" {
			c.itemIDs[name] = s.ids.next(at)
		}
	}
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// UpdateCard changes a card through f, logs an action for each change the
// way Trello does (updateCard with data.old, addLabelToCard,
// updateCustomFieldItem, …) and bumps dateLastActivity to the clock.
func (s *Server) UpdateCard(id string, f func(*Card)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.updateCardAt(id, f, s.now(), s.me.id); err != nil {
		return fmt.Errorf("update card %s: %w", id, err)
	}
	return nil
}

func (s *Server) updateCardAt(id string, f func(*Card), at time.Time, creator string) error {
	c := s.cards[id]
	if c == nil {
		return ErrNotFound
	}
	before := c.Card.clone()
	after := c.Card.clone()
	f(&after)
	after.ID = before.ID
	after.CheckItemsChecked = min(max(after.CheckItemsChecked, 0), max(after.CheckItems, 0))
	b := s.boards[c.board]
	if err := s.check(b, after); err != nil {
		return err
	}
	if after.IDList != before.IDList {
		c.pos = s.bottom(after.IDList)
	}
	after.DateLastActivity = laterOf(before.DateLastActivity, at)
	c.Card = after
	s.syncChecklist(c, at)
	s.syncCustomIDs(c, at)
	c.touch()
	b.lastActivity = laterOf(b.lastActivity, at)
	s.logChanges(b, c, before, at, creator)
	return nil
}

// logChanges writes the actions Trello records for the differences
// between before and the card's current state.
func (s *Server) logChanges(b *board, c *card, before Card, at time.Time, creator string) {
	after := c.Card
	update := func(old map[string]any, extra map[string]any) {
		data := map[string]any{"old": old, "list": s.listRef(after.IDList)}
		maps.Copy(data, extra)
		s.log(b, c, at, creator, "updateCard", data)
	}
	if after.Name != before.Name {
		update(map[string]any{"name": before.Name}, nil)
	}
	if after.Desc != before.Desc {
		update(map[string]any{"desc": before.Desc}, nil)
	}
	if after.IDList != before.IDList {
		update(map[string]any{"idList": before.IDList}, map[string]any{
			"listBefore": s.listRef(before.IDList), "listAfter": s.listRef(after.IDList),
		})
	}
	if !sameTime(after.Due, before.Due) {
		update(map[string]any{"due": timeJSON(before.Due)}, nil)
	}
	if !sameTime(after.Start, before.Start) {
		update(map[string]any{"start": timeJSON(before.Start)}, nil)
	}
	if after.DueComplete != before.DueComplete {
		update(map[string]any{"dueComplete": before.DueComplete}, nil)
	}
	if after.Closed != before.Closed {
		update(map[string]any{"closed": before.Closed}, nil)
	}
	for _, id := range after.Labels {
		if !slices.Contains(before.Labels, id) {
			s.log(b, c, at, creator, "addLabelToCard", map[string]any{"label": s.labelJSON(s.labels[id]), "text": s.labels[id].name})
		}
	}
	for _, id := range before.Labels {
		if !slices.Contains(after.Labels, id) {
			s.log(b, c, at, creator, "removeLabelFromCard", map[string]any{"label": s.labelJSON(s.labels[id]), "text": s.labels[id].name})
		}
	}
	for _, id := range after.Members {
		if !slices.Contains(before.Members, id) {
			s.log(b, c, at, creator, "addMemberToCard", map[string]any{"idMember": id, "member": s.memberRef(id)})
		}
	}
	for _, id := range before.Members {
		if !slices.Contains(after.Members, id) {
			s.log(b, c, at, creator, "removeMemberFromCard", map[string]any{"idMember": id, "member": s.memberRef(id)})
		}
	}
	for _, fid := range b.fields {
		f := s.fields[fid]
		nv, ov := after.Custom[f.name], before.Custom[f.name]
		if nv == ov {
			continue
		}
		s.log(b, c, at, creator, "updateCustomFieldItem", map[string]any{
			"customField":     map[string]any{"id": f.id, "name": f.name, "type": f.typ},
			"customFieldItem": s.customItem(c, f),
			"old":             map[string]any{"value": s.customValue(f, ov)},
		})
	}
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

// ArchiveCard closes a card (Trello's "archive") and logs the updateCard
// action with data.card.closed true and data.old.closed false.
func (s *Server) ArchiveCard(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.updateCardAt(id, func(c *Card) { c.Closed = true }, s.now(), s.me.id); err != nil {
		return fmt.Errorf("archive card %s: %w", id, err)
	}
	return nil
}

// DeleteCard removes a card for good and logs a deleteCard action.
func (s *Server) DeleteCard(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.deleteCardAt(id, s.now(), s.me.id); err != nil {
		return fmt.Errorf("delete card %s: %w", id, err)
	}
	return nil
}

func (s *Server) deleteCardAt(id string, at time.Time, creator string) error {
	c := s.cards[id]
	if c == nil {
		return ErrNotFound
	}
	b := s.boards[c.board]
	delete(s.cards, id)
	delete(s.byShort, c.shortLink)
	if i, ok := slices.BinarySearch(b.cards, id); ok {
		b.cards = slices.Delete(b.cards, i, i+1)
	}
	b.lastActivity = laterOf(b.lastActivity, at)
	// A deleteCard action names the card by id and number only: its name
	// is gone with it.
	s.logAction(&action{id: s.ids.next(at), typ: "deleteCard", member: creator, date: at, board: b.id, card: id,
		data: map[string]any{
			"card":  map[string]any{"id": id, "idShort": c.idShort},
			"list":  s.listRef(c.IDList),
			"board": s.boardRef(b),
		}})
	return nil
}

func (s *Server) addCommentAt(id, text string, at time.Time, creator string) (*action, error) {
	c := s.cards[id]
	if c == nil {
		return nil, ErrNotFound
	}
	b := s.boards[c.board]
	c.comments++
	c.touch()
	c.DateLastActivity = laterOf(c.DateLastActivity, at)
	b.lastActivity = laterOf(b.lastActivity, at)
	return s.log(b, c, at, creator, "commentCard", map[string]any{
		"text": text, "textData": map[string]any{"emoji": map[string]any{}}, "list": s.listRef(c.IDList),
	}), nil
}

// log records an action about a card. data.card and data.board are filled
// in from the card's current state.
func (s *Server) log(b *board, c *card, at time.Time, creator, typ string, data map[string]any) *action {
	data["card"] = map[string]any{
		"id": c.ID, "name": c.Name, "idShort": c.idShort, "shortLink": c.shortLink,
		"idList": c.IDList, "closed": c.Closed,
	}
	data["board"] = s.boardRef(b)
	a := &action{id: s.ids.next(at), typ: typ, member: creator, date: at, board: b.id, card: c.ID, data: data}
	s.logAction(a)
	return a
}

func (s *Server) logAction(a *action) {
	b := s.boards[a.board]
	i, _ := slices.BinarySearchFunc(b.actions, a.id, func(x *action, id string) int { return strings.Compare(x.id, id) })
	b.actions = slices.Insert(b.actions, i, a)
}

func (s *Server) listRef(id string) map[string]any {
	if l := s.lists[id]; l != nil {
		return map[string]any{"id": l.id, "name": l.name}
	}
	return map[string]any{"id": id}
}

func (s *Server) boardRef(b *board) map[string]any {
	return map[string]any{"id": b.id, "name": b.name, "shortLink": b.shortLink}
}

func (s *Server) memberRef(id string) map[string]any {
	if m := s.members[id]; m != nil {
		return map[string]any{"id": m.id, "name": m.fullName}
	}
	return map[string]any{"id": id}
}

// Card returns a copy of a card, closed ones included; false when it is
// unknown or deleted.
func (s *Server) Card(id string) (Card, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cards[id]
	if c == nil {
		return Card{}, false
	}
	return c.Card.clone(), true
}

// Cards returns copies of a board's cards, closed ones included, oldest
// first.
func (s *Server) Cards(boardID string) []Card {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.boards[boardID]
	if b == nil {
		return nil
	}
	out := make([]Card, 0, len(b.cards))
	for _, id := range b.cards {
		out = append(out, s.cards[id].Card.clone())
	}
	return out
}

// ListID returns the id of the board's list with that name, or "".
func (s *Server) ListID(boardID, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.boards[boardID]; b != nil {
		for _, id := range b.lists {
			if s.lists[id].name == name {
				return id
			}
		}
	}
	return ""
}

// LabelID returns the id of the board's label with that name, or "".
func (s *Server) LabelID(boardID, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.boards[boardID]; b != nil {
		for _, id := range b.labels {
			if s.labels[id].name == name {
				return id
			}
		}
	}
	return ""
}

// Comments returns the texts of a card's comments, oldest first.
func (s *Server) Comments(cardID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, b := range s.boards {
		for _, a := range b.actions {
			if a.typ == "commentCard" && a.card == cardID {
				out = append(out, a.data["text"].(string))
			}
		}
	}
	return out
}

// boardOrder sorts card ids the way Trello lists a board's cards when no
// paging parameter is given: by list position, then card position.
func (s *Server) boardOrder(cardIDs []string) {
	sort.SliceStable(cardIDs, func(i, j int) bool {
		a, b := s.cards[cardIDs[i]], s.cards[cardIDs[j]]
		la, lb := s.lists[a.IDList], s.lists[b.IDList]
		if la.pos != lb.pos {
			return la.pos < lb.pos
		}
		if la.id != lb.id {
			return la.id < lb.id
		}
		if a.pos != b.pos {
			return a.pos < b.pos
		}
		return a.ID < b.ID
	})
}
