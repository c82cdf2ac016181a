package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
	"github.com/pmsync/pmsync/store/internal/itemcodec"
)

// changeTimeLayout renders a tombstone time in an item's history (the Old
// or New of a "deleted" change): RFC 3339 in UTC with a fixed nine-digit
// fraction, the same text the SQLite backend records.
const changeTimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// itemCols are the stored columns of an item besides its key, in the
// order itemRow.dest scans them. Dates are read as text in ISO form
// whatever the session's DateStyle; JSON is read as written.
const itemCols = `kind, title, url, owner, priority, status, state,
	to_char(start, 'YYYY-MM-DD'), to_char(due, 'YYYY-MM-DD'), done_at, updated_at,
	percent_complete, planned_cost, actual_cost, likelihood, impact, milestone, parent,
	labels::text, fields::text, deleted_at`

// micros is a nullable time as a count of microseconds, so that itemRow
// stays comparable with ==.
type micros struct {
	us int64
	ok bool
}

func toMicros(t time.Time) micros {
	if t.IsZero() {
		return micros{}
	}
	return micros{us: t.UnixMicro(), ok: true}
}

func (m micros) time() time.Time {
	if !m.ok {
		return time.Time{}
	}
	return time.UnixMicro(m.us).UTC()
}

// ptr is the value bound for a nullable timestamptz: nil for NULL.
func (m micros) ptr() *time.Time {
	if !m.ok {
		return nil
	}
	t := m.time()
	return &t
}

// optFloat is a nullable number.
type optFloat struct {
	v  float64
	ok bool
}

func (f optFloat) ptr() *float64 {
	if !f.ok {
		return nil
	}
	v := f.v
	return &v
}

// itemRow is an item in its stored form. It is comparable, so that an
// unchanged item is found with == and costs no write.
type itemRow struct {
	kind, title, url, owner, priority, status, state string
	start, due                                       string // YYYY-MM-DD, "" for NULL
	doneAt, updatedAt                                micros
	percent, planned, actual                         optFloat
	likelihood, impact                               int16
	milestone, parent                                string
	labels, fields                                   string // JSON text
	deletedAt                                        micros
}

// scanned holds the destinations of one stored row while it is scanned.
type scanned struct {
	kind, title, url, owner, priority, status, state string
	start, due                                       *string
	doneAt, updatedAt, deletedAt                     *time.Time
	percent, planned, actual                         *float64
	likelihood, impact                               int16
	milestone, parent, labels, fields                string
}

func (s *scanned) dest() []any {
	return []any{&s.kind, &s.title, &s.url, &s.owner, &s.priority, &s.status, &s.state,
		&s.start, &s.due, &s.doneAt, &s.updatedAt, &s.percent, &s.planned, &s.actual,
		&s.likelihood, &s.impact, &s.milestone, &s.parent, &s.labels, &s.fields, &s.deletedAt}
}

func (s *scanned) row() itemRow {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	tm := func(p *time.Time) micros {
		if p == nil {
			return micros{}
		}
		return toMicros(*p)
	}
	return itemRow{
		kind: s.kind, title: s.title, url: s.url, owner: s.owner, priority: s.priority, status: s.status, state: s.state,
		start: str(s.start), due: str(s.due), doneAt: tm(s.doneAt), updatedAt: tm(s.updatedAt),
		percent: toOptFloat(s.percent), planned: toOptFloat(s.planned), actual: toOptFloat(s.actual),
		likelihood: s.likelihood, impact: s.impact, milestone: s.milestone, parent: s.parent,
		labels: s.labels, fields: s.fields, deletedAt: tm(s.deletedAt),
	}
}

// encodeItem turns a validated item into its stored form. It rejects what
// the column types cannot hold faithfully.
func encodeItem(it pmsync.Item) (itemRow, error) {
	r := itemRow{
		kind: string(it.Kind), title: it.Title, url: it.URL, owner: it.Owner, priority: it.Priority,
		status: it.Status, state: string(it.State),
		doneAt: toMicros(it.DoneAt), updatedAt: toMicros(it.UpdatedAt),
		milestone: it.Milestone, parent: it.Parent, deletedAt: toMicros(it.DeletedAt),
	}
	if it.Likelihood < math.MinInt16 || it.Likelihood > math.MaxInt16 || it.Impact < math.MinInt16 || it.Impact > math.MaxInt16 {
		return itemRow{}, fmt.Errorf("likelihood %d or impact %d out of range", it.Likelihood, it.Impact)
	}
	r.likelihood, r.impact = int16(it.Likelihood), int16(it.Impact)
	v, err := itemcodec.Encode(it)
	if err != nil {
		return itemRow{}, err
	}
	r.start, r.due = v.Start, v.Due
	r.percent, r.planned, r.actual = toOptFloat(v.Percent), toOptFloat(v.Planned), toOptFloat(v.Actual)
	r.labels, r.fields = v.Labels, v.Fields
	return r, nil
}

// item turns a stored row back into an item.
func (r itemRow) item(source, externalID string) (pmsync.Item, error) {
	it := pmsync.Item{
		Source: source, ExternalID: externalID,
		Kind: pmsync.Kind(r.kind), Title: r.title, URL: r.url, Owner: r.owner, Priority: r.priority,
		Status: r.status, State: pmsync.State(r.state),
		Start: pmsync.Date(r.start), Due: pmsync.Date(r.due),
		DoneAt: r.doneAt.time(), UpdatedAt: r.updatedAt.time(), DeletedAt: r.deletedAt.time(),
		PercentComplete: r.percent.ptr(), PlannedCost: r.planned.ptr(), ActualCost: r.actual.ptr(),
		Likelihood: int(r.likelihood), Impact: int(r.impact),
		Milestone: r.milestone, Parent: r.parent,
	}
	if err := itemcodec.DecodeJSON(r.labels, r.fields, &it); err != nil {
		return pmsync.Item{}, err
	}
	return it, nil
}

func toOptFloat(f *float64) optFloat {
	if f == nil {
		return optFloat{}
	}
	return optFloat{v: *f, ok: true}
}

func nullRun(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func nullText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// upsertItemsSQL writes a batch of items in one statement: the page's
// columns arrive as one array each and unnest turns them back into rows. A
// new item is inserted; a stored one is overwritten and keeps its
// created_at; either way it is live (a tombstone is lifted).
const upsertItemsSQL = `INSERT INTO items (source, external_id, kind, title, url, owner, priority, status, state,
		start, due, done_at, updated_at, percent_complete, planned_cost, actual_cost, likelihood, impact,
		milestone, parent, labels, fields, deleted_at, created_at, changed_at)
	SELECT $1, u.external_id, u.kind, u.title, u.url, u.owner, u.priority, u.status, u.state,
		u.start::date, u.due::date, u.done_at, u.updated_at, u.percent, u.planned, u.actual, u.likelihood, u.impact,
		u.milestone, u.parent, u.labels::json, u.fields::json, NULL, $2, $2
	FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
		$11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[], $15::float8[], $16::float8[], $17::float8[],
		$18::int2[], $19::int2[], $20::text[], $21::text[], $22::text[], $23::text[])
		AS u(external_id, kind, title, url, owner, priority, status, state, start, due, done_at, updated_at,
			percent, planned, actual, likelihood, impact, milestone, parent, labels, fields)
	ON CONFLICT (source, external_id) DO UPDATE SET
		kind = excluded.kind, title = excluded.title, url = excluded.url, owner = excluded.owner,
		priority = excluded.priority, status = excluded.status, state = excluded.state, start = excluded.start,
		due = excluded.due, done_at = excluded.done_at, updated_at = excluded.updated_at,
		percent_complete = excluded.percent_complete, planned_cost = excluded.planned_cost,
		actual_cost = excluded.actual_cost, likelihood = excluded.likelihood, impact = excluded.impact,
		milestone = excluded.milestone, parent = excluded.parent, labels = excluded.labels,
		fields = excluded.fields, deleted_at = NULL, changed_at = excluded.changed_at`

// insertChangesSQL records a batch of field changes, in the order given.
const insertChangesSQL = `INSERT INTO item_changes (source, external_id, run_id, at, field, old_value, new_value)
	SELECT $1, u.external_id, $2, $3, u.field, u.old_value, u.new_value
	FROM unnest($4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY
		AS u(external_id, field, old_value, new_value, n)
	ORDER BY u.n`

// upsertQuarantineSQL records records that failed to map: a new one with
// its first failure, a known one with its newest reason and time.
const upsertQuarantineSQL = `INSERT INTO quarantine (source, external_id, reason, first_seen, last_seen)
	SELECT $1, u.external_id, u.reason, u.first_seen, u.last_seen
	FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[]) AS u(external_id, reason, first_seen, last_seen)
	ON CONFLICT (source, external_id) DO UPDATE SET reason = excluded.reason, last_seen = excluded.last_seen`

// itemBatch is a set of item rows as the column arrays upsertItemsSQL binds.
type itemBatch struct {
	ids, kind, title, url, owner, priority, status, state []string
	start, due                                            []*string
	doneAt, updatedAt                                     []*time.Time
	percent, planned, actual                              []*float64
	likelihood, impact                                    []int16
	milestone, parent, labels, fields                     []string
}

func (b *itemBatch) add(id string, r itemRow) {
	b.ids = append(b.ids, id)
	b.kind, b.title, b.url = append(b.kind, r.kind), append(b.title, r.title), append(b.url, r.url)
	b.owner, b.priority = append(b.owner, r.owner), append(b.priority, r.priority)
	b.status, b.state = append(b.status, r.status), append(b.state, r.state)
	b.start, b.due = append(b.start, nullText(r.start)), append(b.due, nullText(r.due))
	b.doneAt, b.updatedAt = append(b.doneAt, r.doneAt.ptr()), append(b.updatedAt, r.updatedAt.ptr())
	b.percent, b.planned, b.actual = append(b.percent, r.percent.ptr()), append(b.planned, r.planned.ptr()), append(b.actual, r.actual.ptr())
	b.likelihood, b.impact = append(b.likelihood, r.likelihood), append(b.impact, r.impact)
	b.milestone, b.parent = append(b.milestone, r.milestone), append(b.parent, r.parent)
	b.labels, b.fields = append(b.labels, r.labels), append(b.fields, r.fields)
}

func (b *itemBatch) args(source string, at time.Time) []any {
	return []any{source, at, b.ids, b.kind, b.title, b.url, b.owner, b.priority, b.status, b.state,
		b.start, b.due, b.doneAt, b.updatedAt, b.percent, b.planned, b.actual, b.likelihood, b.impact,
		b.milestone, b.parent, b.labels, b.fields}
}

// changeBatch is a set of field changes of one source, in order.
type changeBatch struct {
	ids, fields, olds, news []string
}

func (b *changeBatch) add(id, field, old, new string) {
	b.ids, b.fields = append(b.ids, id), append(b.fields, field)
	b.olds, b.news = append(b.olds, old), append(b.news, new)
}

func (b *changeBatch) write(ctx context.Context, tx pgx.Tx, source string, runID int64, at time.Time) error {
	if len(b.ids) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, insertChangesSQL, source, nullRun(runID), at, b.ids, b.fields, b.olds, b.news); err != nil {
		return fmt.Errorf("record %d item changes: %w", len(b.ids), err)
	}
	return nil
}

// ApplyPage writes one page in one transaction: its items, its quarantined
// records, its deletions and its cursor. A crash before the commit leaves
// the previous cursor and data, so the page is pulled again; after it, the
// page is never pulled twice. A set fence is checked first, under a lock on
// the lease row that holds until the commit, so the lease cannot pass to
// another holder while the page is written.
//
// An item identical to the stored one in every column costs no write and is
// not counted as changed. The changed items are written with one upsert
// statement, their recorded field changes with one insert. An item carried
// in the page exists again (its tombstone, if any, is lifted) and leaves
// quarantine. A quarantine entry leaves the stored item, if any, as it was.
// If any item is invalid or belongs to another source, nothing of the page
// is written.
func (db *DB) ApplyPage(ctx context.Context, w store.PageWrite) (store.PageResult, error) {
	if err := w.Check(); err != nil {
		return store.PageResult{}, err
	}
	rows := make([]itemRow, len(w.Items))
	ids := make([]string, len(w.Items))
	for i, it := range w.Items {
		it.DeletedAt = time.Time{}
		r, err := encodeItem(it)
		if err != nil {
			return store.PageResult{}, fmt.Errorf("apply page of source %q: item %q: %w", w.Source, it.ExternalID, err)
		}
		rows[i], ids[i] = r, it.ExternalID
	}

	at := ts(w.At)
	var res store.PageResult
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := checkFence(ctx, tx, w.Fence); err != nil {
			return err
		}
		stored, err := storedRows(ctx, tx, w.Source, ids)
		if err != nil {
			return err
		}
		var changes changeBatch
		var order []string // the changed ids, each once, in page order
		final := map[string]itemRow{}
		for i, r := range rows {
			id := ids[i]
			old, exists := stored[id]
			if exists && old == r {
				continue
			}
			if exists {
				diff(old, r, func(field, o, n string) { changes.add(id, field, o, n) })
			}
			if _, seen := final[id]; !seen {
				order = append(order, id)
			}
			final[id] = r
			stored[id] = r // a later duplicate in the same page compares against this
			res.Changed++
		}
		if len(order) > 0 {
			var b itemBatch
			for _, id := range order {
				b.add(id, final[id])
			}
			if _, err := tx.Exec(ctx, upsertItemsSQL, b.args(w.Source, at)...); err != nil {
				return fmt.Errorf("write %d items: %w", len(order), err)
			}
		}
		if err := changes.write(ctx, tx, w.Source, w.RunID, at); err != nil {
			return err
		}
		if err := unquarantine(ctx, tx, w.Source, ids); err != nil {
			return err
		}
		if err := quarantine(ctx, tx, w.Source, w.Quarantine, at); err != nil {
			return err
		}
		res.Quarantined = len(w.Quarantine)
		n, err := tombstone(ctx, tx, w.Source, w.Deleted, w.RunID, at)
		if err != nil {
			return err
		}
		res.Deleted += n
		// A record that is gone at the source has nothing left to fix.
		if err := unquarantine(ctx, tx, w.Source, w.Deleted); err != nil {
			return err
		}
		if w.HasLive {
			n, err := tombstoneExcept(ctx, tx, w.Source, w.Live, w.RunID, at)
			if err != nil {
				return err
			}
			res.Deleted += n
		}
		if _, err := tx.Exec(ctx, `INSERT INTO cursors (source, value, updated) VALUES ($1, $2, $3)
			ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated = excluded.updated`,
			w.Source, w.Cursor, at); err != nil {
			return fmt.Errorf("save cursor: %w", err)
		}
		return nil
	})
	if err != nil {
		return store.PageResult{}, fmt.Errorf("apply page of source %q: %w", w.Source, err)
	}
	return res, nil
}

// diff reports the recorded field changes from old to cur.
func diff(old, cur itemRow, add func(field, old, new string)) {
	if old.kind != cur.kind {
		add(store.FieldKind, old.kind, cur.kind)
	}
	if old.state != cur.state {
		add(store.FieldState, old.state, cur.state)
	}
	if old.due != cur.due {
		add(store.FieldDue, old.due, cur.due)
	}
	if old.milestone != cur.milestone {
		add(store.FieldMilestone, old.milestone, cur.milestone)
	}
	if old.deletedAt.ok && !cur.deletedAt.ok {
		add(store.FieldDeleted, old.deletedAt.time().Format(changeTimeLayout), "")
	}
}

// storedRows reads and locks the stored rows of the given ids of source,
// keyed by external id. Each id is one probe of the primary key: the
// LIMIT keeps the planner from flattening the lookup into a join, which,
// with the statistics of a source still being filled (a new source's first
// full sync), it planned as a scan of every item of the source per page,
// quadratic in the source's size. Deletions and quarantine clean-ups, rare
// and small, join an unnest of their ids.
func storedRows(ctx context.Context, tx pgx.Tx, source string, ids []string) (map[string]itemRow, error) {
	out := make(map[string]itemRow, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `SELECT i.* FROM unnest($2::text[]) AS u(id),
		LATERAL (SELECT external_id, `+itemCols+` FROM items
			WHERE source = $1 AND external_id = u.id LIMIT 1 FOR UPDATE) AS i`, source, ids)
	if err != nil {
		return nil, fmt.Errorf("read stored items: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var s scanned
		if err := rows.Scan(append([]any{&id}, s.dest()...)...); err != nil {
			return nil, fmt.Errorf("read stored items: %w", err)
		}
		out[id] = s.row()
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read stored items: %w", err)
	}
	return out, nil
}

// quarantine records the page's failed records. A record listed twice
// keeps its first time as first seen and its last reason.
func quarantine(ctx context.Context, tx pgx.Tx, source string, qs []store.Quarantined, at time.Time) error {
	if len(qs) == 0 {
		return nil
	}
	type entry struct {
		reason      string
		first, last time.Time
	}
	byID := map[string]*entry{}
	var order []string
	for _, q := range qs {
		when := at
		if !q.At.IsZero() {
			when = ts(q.At)
		}
		if e, ok := byID[q.ExternalID]; ok {
			e.reason, e.last = q.Reason, when
			continue
		}
		byID[q.ExternalID] = &entry{reason: q.Reason, first: when, last: when}
		order = append(order, q.ExternalID)
	}
	reasons := make([]string, len(order))
	firsts := make([]time.Time, len(order))
	lasts := make([]time.Time, len(order))
	for i, id := range order {
		e := byID[id]
		reasons[i], firsts[i], lasts[i] = e.reason, e.first, e.last
	}
	if _, err := tx.Exec(ctx, upsertQuarantineSQL, source, order, reasons, firsts, lasts); err != nil {
		return fmt.Errorf("quarantine %d records: %w", len(order), err)
	}
	return nil
}

// unquarantine removes the quarantine rows of ids.
func unquarantine(ctx context.Context, tx pgx.Tx, source string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, "DELETE FROM quarantine USING unnest($2::text[]) AS u(id) WHERE source = $1 AND external_id = u.id", source, ids); err != nil {
		return fmt.Errorf("clear quarantine: %w", err)
	}
	return nil
}

// tombstone marks the live items among ids deleted and records the change
// of each. Unknown and already tombstoned ids are skipped.
func tombstone(ctx context.Context, tx pgx.Tx, source string, ids []string, runID int64, at time.Time) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	var n int
	err := tx.QueryRow(ctx, `WITH gone AS (
			UPDATE items SET deleted_at = $3, changed_at = $3
			FROM unnest($2::text[]) AS u(id)
			WHERE source = $1 AND external_id = u.id AND deleted_at IS NULL
			RETURNING external_id
		), recorded AS (
			INSERT INTO item_changes (source, external_id, run_id, at, field, old_value, new_value)
			SELECT $1, external_id, $4, $3, $5, '', $6 FROM gone ORDER BY external_id
		)
		SELECT count(*) FROM gone`,
		source, ids, at, nullRun(runID), store.FieldDeleted, at.Format(changeTimeLayout)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("tombstone items: %w", err)
	}
	return n, nil
}

// tombstoneExcept tombstones every live item of source not in live and
// drops the quarantine rows of records not in live (deleted at the source
// or moved out of its scope). The sets are compared here rather than in
// SQL: a list of 100k ids is one array, and a set difference in Go costs
// a predictable few milliseconds where a plan over an unnest of unknown
// size may not.
func tombstoneExcept(ctx context.Context, tx pgx.Tx, source string, live []string, runID int64, at time.Time) (int, error) {
	keep := make(map[string]struct{}, len(live))
	for _, id := range live {
		keep[id] = struct{}{}
	}
	absent := func(q string) ([]string, error) {
		rows, err := tx.Query(ctx, q, source)
		if err != nil {
			return nil, err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		var out []string
		for _, id := range ids {
			if _, ok := keep[id]; !ok {
				out = append(out, id)
			}
		}
		return out, nil
	}
	gone, err := absent("SELECT external_id FROM items WHERE source = $1 AND deleted_at IS NULL")
	if err != nil {
		return 0, fmt.Errorf("list live items: %w", err)
	}
	n, err := tombstone(ctx, tx, source, gone, runID, at)
	if err != nil {
		return 0, err
	}
	stale, err := absent("SELECT external_id FROM quarantine WHERE source = $1")
	if err != nil {
		return 0, fmt.Errorf("list quarantine: %w", err)
	}
	if err := unquarantine(ctx, tx, source, stale); err != nil {
		return 0, err
	}
	return n, nil
}

// Tombstone marks deleted every live item of source whose external id is
// not in live, records a deleted change for each, and returns how many it
// marked. Already tombstoned items are left alone. A set fence must still
// hold (store.ErrFenced).
func (db *DB) Tombstone(ctx context.Context, fence store.Fence, source string, live []string, at time.Time) (int, error) {
	if source == "" {
		return 0, errors.New("tombstone: source is empty")
	}
	var n int
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := checkFence(ctx, tx, fence); err != nil {
			return err
		}
		var err error
		n, err = tombstoneExcept(ctx, tx, source, live, 0, ts(at))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("tombstone items of source %q: %w", source, err)
	}
	return n, nil
}

// Items returns the items of the given sources (all sources when none),
// tombstones included, ordered by source and external id.
func (db *DB) Items(ctx context.Context, sources ...string) ([]pmsync.Item, error) {
	q := "SELECT source, external_id, " + itemCols + " FROM items"
	var args []any
	if len(sources) > 0 {
		q += " WHERE source = ANY($1)"
		args = append(args, sources)
	}
	rows, err := db.pool.Query(ctx, q+" ORDER BY source, external_id", args...)
	if err != nil {
		return nil, fmt.Errorf("list items of %q: %w", sources, err)
	}
	defer rows.Close()
	var out []pmsync.Item
	for rows.Next() {
		var source, id string
		var s scanned
		if err := rows.Scan(append([]any{&source, &id}, s.dest()...)...); err != nil {
			return nil, fmt.Errorf("list items of %q: %w", sources, err)
		}
		it, err := s.row().item(source, id)
		if err != nil {
			return nil, fmt.Errorf("list items: item %q of source %q: %w", id, source, err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list items of %q: %w", sources, err)
	}
	return out, nil
}

// Item returns one item, tombstone or not, and whether it exists.
func (db *DB) Item(ctx context.Context, source, externalID string) (pmsync.Item, bool, error) {
	var s scanned
	err := db.pool.QueryRow(ctx, "SELECT "+itemCols+" FROM items WHERE source = $1 AND external_id = $2",
		source, externalID).Scan(s.dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return pmsync.Item{}, false, nil
	}
	if err != nil {
		return pmsync.Item{}, false, fmt.Errorf("read item %q of source %q: %w", externalID, source, err)
	}
	it, err := s.row().item(source, externalID)
	if err != nil {
		return pmsync.Item{}, false, fmt.Errorf("read item %q of source %q: %w", externalID, source, err)
	}
	return it, true, nil
}

// Changes returns the recorded field changes of one item, oldest first.
func (db *DB) Changes(ctx context.Context, source, externalID string) ([]store.Change, error) {
	rows, err := db.pool.Query(ctx, `SELECT run_id, at, field, old_value, new_value FROM item_changes
		WHERE source = $1 AND external_id = $2 ORDER BY id`, source, externalID)
	if err != nil {
		return nil, fmt.Errorf("list changes of item %q of source %q: %w", externalID, source, err)
	}
	defer rows.Close()
	var out []store.Change
	for rows.Next() {
		c := store.Change{Source: source, ExternalID: externalID}
		var run *int64
		if err := rows.Scan(&run, &c.At, &c.Field, &c.Old, &c.New); err != nil {
			return nil, fmt.Errorf("list changes of item %q of source %q: %w", externalID, source, err)
		}
		if run != nil {
			c.RunID = *run
		}
		c.At = c.At.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list changes of item %q of source %q: %w", externalID, source, err)
	}
	return out, nil
}

// Quarantine returns the quarantined records of source ("" for all),
// ordered by source and external id.
func (db *DB) Quarantine(ctx context.Context, source string) ([]store.Quarantined, error) {
	q := "SELECT source, external_id, reason, first_seen, last_seen FROM quarantine"
	var args []any
	if source != "" {
		q += " WHERE source = $1"
		args = append(args, source)
	}
	rows, err := db.pool.Query(ctx, q+" ORDER BY source, external_id", args...)
	if err != nil {
		return nil, fmt.Errorf("list quarantine of source %q: %w", source, err)
	}
	defer rows.Close()
	var out []store.Quarantined
	for rows.Next() {
		var e store.Quarantined
		if err := rows.Scan(&e.Source, &e.ExternalID, &e.Reason, &e.FirstSeen, &e.At); err != nil {
			return nil, fmt.Errorf("list quarantine of source %q: %w", source, err)
		}
		e.FirstSeen, e.At = e.FirstSeen.UTC(), e.At.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list quarantine of source %q: %w", source, err)
	}
	return out, nil
}

// CountItems counts the live and tombstoned items of source ("" for all).
func (db *DB) CountItems(ctx context.Context, source string) (live, deleted int, err error) {
	q := "SELECT count(*) FILTER (WHERE deleted_at IS NULL), count(deleted_at) FROM items"
	var args []any
	if source != "" {
		q += " WHERE source = $1"
		args = append(args, source)
	}
	if err := db.pool.QueryRow(ctx, q, args...).Scan(&live, &deleted); err != nil {
		return 0, 0, fmt.Errorf("count items of source %q: %w", source, err)
	}
	return live, deleted, nil
}
