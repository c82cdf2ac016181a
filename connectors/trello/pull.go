package trello

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
)

// cursorVersion is bumped when the cursor's meaning changes; an older
// cursor is then invalid and the engine answers with a full pull.
const cursorVersion = 1

// headLimit is how many of the newest actions a full read asks for to
// mark where the next pull starts: enough to cover the overlap on a busy
// board, small enough to cost little.
const headLimit = 100

// maxSeen bounds how many handled action ids a cursor remembers; past it
// the oldest are dropped and their cards may be read once more.
const maxSeen = 1000

// cardActions are the action types that change what a card's record holds
// or whether the card is on the board. Trello's action-types guide says
// that lists of actions leave some types out (only webhooks get them);
// whatever a list does not return, the periodic resync catches.
func cardActions() []string {
	return []string{"createCard", "copyCard", "convertToCardFromCheckItem", "emailCard", "moveCardToBoard",
		"moveCardFromBoard", "updateCard", "deleteCard", "addMemberToCard", "removeMemberFromCard",
		"addLabelToCard", "removeLabelFromCard", "updateCustomFieldItem", "addChecklistToCard",
		"removeChecklistFromCard", "updateCheckItemStateOnCard"}
}

// boardActions change what many cards' records hold (a list renamed, a
// custom field renamed or deleted) or move whole lists of cards on or off
// the board: the board is read again.
func boardActions() []string {
	return []string{"updateList", "moveListToBoard", "moveListFromBoard", "updateCustomField", "deleteCustomField"}
}

// takesCardOff reports whether an action type takes a card off the board.
func takesCardOff(typ string) bool { return typ == "deleteCard" || typ == "moveCardFromBoard" }

// actionFilter is the filter= of every actions request.
func actionFilter() string { return strings.Join(slices.Concat(cardActions(), boardActions()), ",") }

// cursor is the connector's position on a board. Since is the second from
// which the next pull asks for actions; Seen are the ids of the actions
// from Since on that were already handled, so that the overlap costs no
// card read; Full is when the last full read of the board began.
type cursor struct {
	V     int      `json:"v"`
	Board string   `json:"board"`
	Since string   `json:"since,omitempty"`
	Seen  []string `json:"seen,omitempty"`
	Full  string   `json:"full"`
}

func (c cursor) encode() connectors.Cursor {
	b, _ := json.Marshal(c) // ints, strings and a list of strings always marshal
	return connectors.Cursor(b)
}

// parseCursor reads a saved cursor of board; the empty cursor asks for a
// full read.
func parseCursor(raw connectors.Cursor, board string) (cursor, error) {
	var c cursor
	if raw == "" {
		return c, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return cursor{}, fmt.Errorf("trello: %w: %v", connectors.ErrCursorInvalid, err)
	}
	switch {
	case c.V != cursorVersion:
		return cursor{}, fmt.Errorf("trello: %w: format %d, want %d", connectors.ErrCursorInvalid, c.V, cursorVersion)
	case c.Board != board:
		return cursor{}, fmt.Errorf("trello: %w: it belongs to board %q, not %q", connectors.ErrCursorInvalid, c.Board, board)
	}
	if _, err := time.Parse(time.RFC3339, c.Full); err != nil {
		return cursor{}, fmt.Errorf("trello: %w: full %q is not RFC 3339", connectors.ErrCursorInvalid, c.Full)
	}
	if c.Since != "" {
		if _, err := time.Parse(time.RFC3339, c.Since); err != nil {
			return cursor{}, fmt.Errorf("trello: %w: since %q is not RFC 3339", connectors.ErrCursorInvalid, c.Since)
		}
	}
	for _, id := range c.Seen {
		if !IsID(id) {
			return cursor{}, fmt.Errorf("trello: %w: seen %q is not an action id", connectors.ErrCursorInvalid, id)
		}
	}
	return c, nil
}

// actionDoc is an action as the pull reads it.
type actionDoc struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Date string `json:"date"`
	Data struct {
		Card *struct {
			ID string `json:"id"`
		} `json:"card"`
	} `json:"data"`
}

// when is the action's date, or the second its id carries.
func (a actionDoc) when() time.Time {
	if t, err := parseTime(a.Date); err == nil {
		return t
	}
	return idTime(a.ID)
}

func (a actionDoc) card() string {
	if a.Data.Card == nil {
		return ""
	}
	return a.Data.Card.ID
}

// Pull streams the cards of the scope's board changed since cur.
//
// The empty cursor, and a cursor whose last full read is older than Resync,
// read the whole board: the newest actions first, to mark where the next
// pull starts, then lists, labels, members, custom fields and every card,
// open and archived, in pages of CardsPageSize; the last page lists every
// live card. Otherwise the board's actions since the cursor are read,
// following before= through bursts longer than a page. Actions already
// handled end the pull without a page; deleted cards and cards moved off
// the board become Page.Deleted; changed cards are read one by one when
// there are at most CardByCard of them, else with the board. Records come
// in pages of at most PageRecords, and only the last page carries the new
// cursor: a pull cut short is done again from the old one.
func (c *Connector) Pull(ctx context.Context, scope connectors.Scope, cur connectors.Cursor, page func(connectors.Page) error) error {
	sc, err := scopeOf(scope)
	if err != nil {
		return fmt.Errorf("trello connection %q: %w", c.name, err)
	}
	pos, err := parseCursor(cur, sc.Board)
	if err != nil {
		return err
	}
	fields, extras, custom := cardFields(scope.Fields)
	p := &pull{
		c: c, board: sc.Board, source: scope.Source, fields: fields, extras: extras, custom: custom,
		out: &emitter{ctx: ctx, page: page, size: max(c.PageRecords, 1), keep: cur, board: sc.Board},
	}
	full, _ := time.Parse(time.RFC3339, pos.Full)
	if pos.Full == "" || (c.Resync > 0 && c.now().Sub(full) >= c.Resync) {
		err = p.full(ctx)
	} else {
		err = p.changes(ctx, pos)
	}
	if err != nil {
		return err
	}
	c.log.Debug().Str("source", scope.Source).Int("records", p.out.records).Int("deleted", len(p.deleted)).
		Bool("full", p.wasFull).Int("pages", p.out.pages).Msg("pull done")
	return nil
}

// pull is one run of Pull.
type pull struct {
	c      *Connector
	board  string
	source string
	fields string   // fields= of card requests
	extras []string // optional card fields the mapping reads
	custom []string // custom field names the mapping reads
	out    *emitter

	deleted []string
	wasFull bool
}

// full reads the whole board.
func (p *pull) full(ctx context.Context) error {
	started := p.c.now().UTC()
	limit := min(p.c.ActionsPageSize, headLimit)
	head, err := p.c.actionsPage(ctx, p.board, limit, "", "")
	if err != nil {
		return err
	}
	next := cursor{V: cursorVersion, Board: p.board, Full: started.Format(time.RFC3339)}
	if len(head) > 0 {
		newest := newestOf(head)
		mark := newest.Add(-p.c.Overlap)
		if len(head) >= limit {
			// The page may not reach back to the mark; what is older than
			// its oldest action happened before the cards are read.
			mark = laterOf(mark, oldestOf(head))
		}
		next.Since, next.Seen = seenFrom(mark, head, nil)
	}
	return p.readBoard(ctx, next)
}

// changes reads what the board's actions say changed since pos.
func (p *pull) changes(ctx context.Context, pos cursor) error {
	acts, err := p.c.actionsSince(ctx, p.board, pos.Since)
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(pos.Seen))
	for _, id := range pos.Seen {
		seen[id] = true
	}
	var fresh []actionDoc
	for _, a := range acts {
		if !seen[a.ID] {
			fresh = append(fresh, a)
		}
	}
	if len(fresh) == 0 {
		p.c.log.Debug().Str("source", p.source).Int("actions", len(acts)).Msg("board unchanged")
		return nil
	}
	next := pos
	prev, _ := time.Parse(time.RFC3339, pos.Since)
	mark := laterOf(newestOf(acts).Add(-p.c.Overlap), prev)
	next.Since, next.Seen = seenFrom(mark, acts, pos.Seen)

	// Oldest first, so that the last thing that happened to a card wins:
	// moved off the board and back, it is on the board.
	slices.SortStableFunc(fresh, func(a, b actionDoc) int {
		if c := a.when().Compare(b.when()); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	gone := map[string]bool{}
	var order []string
	wide := false
	for _, a := range fresh {
		if slices.Contains(boardActions(), a.Type) {
			wide = true
			continue
		}
		id := a.card()
		if !IsID(id) {
			continue
		}
		if _, known := gone[id]; !known {
			order = append(order, id)
		}
		gone[id] = takesCardOff(a.Type)
	}
	var changed []string
	for _, id := range order {
		if gone[id] {
			p.deleted = append(p.deleted, id)
		} else {
			changed = append(changed, id)
		}
	}
	if wide || len(changed) > p.c.CardByCard {
		next.Full = p.c.now().UTC().Format(time.RFC3339)
		return p.readBoard(ctx, next)
	}
	return p.readCards(ctx, changed, next)
}

// readBoard reads every card of the board and ends with the live list.
func (p *pull) readBoard(ctx context.Context, next cursor) error {
	p.wasFull = true
	meta, err := p.meta(ctx)
	if err != nil {
		return err
	}
	live := make(map[string]bool)
	var ids []string
	err = p.c.boardCards(ctx, p.board, p.fields, p.extras, func(cards []cardDoc) error {
		for _, cd := range cards {
			if live[cd.ID] {
				continue
			}
			live[cd.ID] = true
			ids = append(ids, cd.ID)
			rec, err := meta.record(p.source, cd)
			if err != nil {
				return fmt.Errorf("trello connection %q: board %s: %w", p.c.name, p.board, err)
			}
			if err := p.out.add(rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// A card deleted after the actions were read is still listed here; one
	// deleted and listed as live cannot be both.
	p.deleted = slices.DeleteFunc(p.deleted, func(id string) bool { return live[id] })
	return p.out.finish(connectors.Page{Deleted: p.deleted, Live: ids, HasLive: true, Next: next.encode()})
}

// readCards reads the changed cards one request each.
func (p *pull) readCards(ctx context.Context, changed []string, next cursor) error {
	if len(changed) > 0 {
		meta, err := p.meta(ctx)
		if err != nil {
			return err
		}
		for _, id := range changed {
			cd, found, err := p.c.card(ctx, id, p.fields, p.extras)
			if err != nil {
				return err
			}
			if !found || cd.IDBoard != p.board {
				// Deleted since the action, or moved to another board.
				p.deleted = append(p.deleted, id)
				continue
			}
			rec, err := meta.record(p.source, cd)
			if err != nil {
				return fmt.Errorf("trello connection %q: board %s: %w", p.c.name, p.board, err)
			}
			if err := p.out.add(rec); err != nil {
				return err
			}
		}
	}
	return p.out.finish(connectors.Page{Deleted: p.deleted, Next: next.encode()})
}

// meta reads the board's names and warns, once per source and set of
// names, about custom fields the mapping reads that the board lacks: they
// stay empty rather than fail the pull, since the template's optional
// fields (Owner) are often left out.
func (p *pull) meta(ctx context.Context) (*boardMeta, error) {
	meta, err := p.c.readMeta(ctx, p.board)
	if err != nil {
		return nil, err
	}
	if miss := meta.missing(p.custom); len(miss) > 0 && p.c.warnOnce(p.source+"\x00"+strings.Join(miss, "\x00")) {
		p.c.log.Warn().Str("source", p.source).Strs("fields", miss).
			Msg("the mapping reads custom fields the board does not define; they stay empty")
	}
	return meta, nil
}

// actionsSince reads every action from since on (all of them when since is
// empty), newest first, following before= until a page comes back short.
func (c *Connector) actionsSince(ctx context.Context, board, since string) ([]actionDoc, error) {
	var all []actionDoc
	before := ""
	for {
		page, err := c.actionsPage(ctx, board, c.ActionsPageSize, since, before)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < c.ActionsPageSize {
			return all, nil
		}
		oldest := page[0].ID
		for _, a := range page {
			oldest = min(oldest, a.ID)
		}
		if before != "" && oldest >= before {
			return nil, fmt.Errorf("trello connection %q: read actions of board %s: the page before %s did not go back in time", c.name, board, before)
		}
		before = oldest
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("trello connection %q: read actions of board %s: %w", c.name, board, err)
		}
	}
}

// actionsPage reads one page of the board's card actions.
func (c *Connector) actionsPage(ctx context.Context, board string, limit int, since, before string) ([]actionDoc, error) {
	q := urlValues("filter", actionFilter(), "fields", "id,type,date,data", "limit", strconv.Itoa(limit),
		"memberCreator", "false", "member", "false")
	if since != "" {
		q.Set("since", since)
	}
	if before != "" {
		q.Set("before", before)
	}
	var page []actionDoc
	if err := c.api.GetJSON(ctx, "/boards/"+board+"/actions", q, &page); err != nil {
		return nil, c.fail("read actions of board "+board, err)
	}
	return page, nil
}

// boardCards reads every card of the board, open and archived, newest
// first in pages of CardsPageSize, handing each page to each.
func (c *Connector) boardCards(ctx context.Context, board, fields string, extras []string, each func([]cardDoc) error) error {
	before := ""
	for {
		q := urlValues("fields", fields, "customFieldItems", "true", "limit", strconv.Itoa(c.CardsPageSize))
		if before != "" {
			q.Set("before", before)
		}
		resp, err := c.api.DoJSON(ctx, requestOf("/boards/"+board+"/cards/all", q), nil)
		if err != nil {
			return c.fail("read cards of board "+board, err)
		}
		cards, err := decodeCards(resp.Body, extras)
		if err != nil {
			return fmt.Errorf("trello connection %q: read cards of board %s: decode: %w", c.name, board, err)
		}
		if err := each(cards); err != nil {
			return err
		}
		if len(cards) < c.CardsPageSize {
			return nil
		}
		oldest := cards[0].ID
		for _, cd := range cards {
			oldest = min(oldest, cd.ID)
		}
		if before != "" && oldest >= before {
			return fmt.Errorf("trello connection %q: read cards of board %s: the page before %s did not go back in time", c.name, board, before)
		}
		before = oldest
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("trello connection %q: read cards of board %s: %w", c.name, board, err)
		}
	}
}

// card reads one card; found is false when Trello no longer has it.
func (c *Connector) card(ctx context.Context, id, fields string, extras []string) (cardDoc, bool, error) {
	q := urlValues("fields", fields, "customFieldItems", "true")
	resp, err := c.api.DoJSON(ctx, requestOf("/cards/"+id, q), nil)
	if connectors.StatusOf(err) == 404 {
		return cardDoc{}, false, nil
	}
	if err != nil {
		return cardDoc{}, false, c.fail("read card "+id, err)
	}
	cd, err := decodeCard(resp.Body, extras)
	if err != nil {
		return cardDoc{}, false, fmt.Errorf("trello connection %q: read card %s: decode: %w", c.name, id, err)
	}
	return cd, true, nil
}

// seenFrom is the cursor's since (mark, to the second) and the ids of the
// actions from it on: those just read and those remembered before.
func seenFrom(mark time.Time, acts []actionDoc, before []string) (string, []string) {
	mark = mark.UTC().Truncate(time.Second)
	var seen []string
	add := func(id string, at time.Time) {
		if !at.Before(mark) && !slices.Contains(seen, id) {
			seen = append(seen, id)
		}
	}
	for _, a := range acts {
		add(a.ID, a.when())
	}
	for _, id := range before {
		add(id, idTime(id))
	}
	slices.Sort(seen)
	if len(seen) > maxSeen {
		// Ids sort by creation second: keep the newest.
		seen = seen[len(seen)-maxSeen:]
	}
	return mark.Format(time.RFC3339), seen
}

func newestOf(acts []actionDoc) time.Time {
	var t time.Time
	for _, a := range acts {
		t = laterOf(t, a.when())
	}
	return t
}

func oldestOf(acts []actionDoc) time.Time {
	t := acts[0].when()
	for _, a := range acts[1:] {
		if w := a.when(); w.Before(t) {
			t = w
		}
	}
	return t
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// emitter hands records to the engine in pages of at most size, holding
// the last batch back so that it leaves with the new cursor and the
// deletions.
type emitter struct {
	ctx     context.Context
	page    func(connectors.Page) error
	size    int
	keep    connectors.Cursor // the cursor intermediate pages carry
	board   string
	pending []pmsync.Record
	pages   int
	records int
}

func (e *emitter) add(r pmsync.Record) error {
	e.pending = append(e.pending, r)
	if len(e.pending) <= e.size {
		return nil
	}
	batch := e.pending[:e.size:e.size]
	e.pending = slices.Clone(e.pending[e.size:])
	return e.send(connectors.Page{Records: batch, Next: e.keep})
}

// finish sends what is pending with the last page's cursor and lists.
func (e *emitter) finish(last connectors.Page) error {
	last.Records = e.pending
	e.pending = nil
	return e.send(last)
}

func (e *emitter) send(p connectors.Page) error {
	if err := e.ctx.Err(); err != nil {
		return fmt.Errorf("trello: board %s: %w", e.board, err)
	}
	e.pages++
	e.records += len(p.Records)
	if err := e.page(p); err != nil {
		return fmt.Errorf("trello: board %s: handle page %d: %w", e.board, e.pages, err)
	}
	if err := e.ctx.Err(); err != nil {
		return fmt.Errorf("trello: board %s: stopped after page %d: %w", e.board, e.pages, err)
	}
	return nil
}
