package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pmsync/pmsync"
)

// factsSQL reads what pmsync.FactsOf keeps of a source's items, in the
// order of Items: the done time only for done items, the milestone only
// for tasks, and the descriptive fields only for the live, open milestones
// and risks, since a rollup names no other item.
const factsSQL = `SELECT external_id,
		CASE kind WHEN 'task' THEN 0 WHEN 'milestone' THEN 1 ELSE 2 END,
		CASE state WHEN 'todo' THEN 0 WHEN 'in_progress' THEN 1 WHEN 'blocked' THEN 2 WHEN 'done' THEN 3 ELSE 4 END,
		deleted_at IS NOT NULL, planned_cost, actual_cost,
		CASE WHEN state = 'done' THEN done_at END,
		CASE WHEN kind = 'task' AND milestone <> '' THEN milestone END,
		likelihood, impact,
		detail, CASE WHEN detail THEN title END, CASE WHEN detail THEN url END, CASE WHEN detail THEN owner END,
		CASE WHEN detail THEN to_char(start, 'YYYY-MM-DD') END, CASE WHEN detail THEN to_char(due, 'YYYY-MM-DD') END,
		CASE WHEN detail THEN percent_complete END, CASE WHEN detail THEN fields::text END
	FROM (SELECT *, kind <> 'task' AND deleted_at IS NULL AND state NOT IN ('done', 'cancelled') AS detail
		FROM items WHERE source = $1) i
	ORDER BY external_id`

// RollupFacts returns the rollup facts of source: those kept at the
// source's current item version, or, when the items have changed since (or
// the kept ones are in another build's form), facts made anew from the
// items, which it then keeps. The version and whatever is read with it come
// from one repeatable-read transaction, so that facts are never kept under
// a version they do not reflect. A read-only store makes them without
// keeping them.
func (db *DB) RollupFacts(ctx context.Context, source string) (pmsync.Facts, error) {
	f, version, fresh, err := db.readFacts(ctx, source)
	if err != nil {
		return pmsync.Facts{}, fmt.Errorf("read rollup facts of source %q: %w", source, err)
	}
	if fresh || db.readOnly {
		return f, nil
	}
	blob, err := f.MarshalBinary()
	if err != nil {
		return pmsync.Facts{}, fmt.Errorf("keep rollup facts of source %q: %w", source, err)
	}
	// A replica that read an older version never replaces newer facts.
	if _, err := db.pool.Exec(ctx, `INSERT INTO rollup_facts (source, version, facts) VALUES ($1, $2, $3)
		ON CONFLICT (source) DO UPDATE SET version = excluded.version, facts = excluded.facts
		WHERE excluded.version >= rollup_facts.version`, source, version, blob); err != nil {
		return pmsync.Facts{}, fmt.Errorf("keep rollup facts of source %q: %w", source, err)
	}
	return f, nil
}

// readFacts returns the facts of source and the item version they reflect,
// and whether they are the kept ones (fresh) rather than made anew.
func (db *DB) readFacts(ctx context.Context, source string) (pmsync.Facts, int64, bool, error) {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return pmsync.Facts{}, 0, false, fmt.Errorf("begin: %w", err)
	}
	// Read-only: rolling back is how it ends.
	defer func() { _ = tx.Rollback(ctx) }()
	var version int64
	err = tx.QueryRow(ctx, "SELECT version FROM item_versions WHERE source = $1", source).Scan(&version)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return pmsync.Facts{}, 0, false, fmt.Errorf("read item version: %w", err)
	}
	var kept int64
	var blob []byte
	err = tx.QueryRow(ctx, "SELECT version, facts FROM rollup_facts WHERE source = $1", source).Scan(&kept, &blob)
	switch {
	case err == nil && kept == version:
		var f pmsync.Facts
		if f.UnmarshalBinary(blob) == nil {
			return f, version, true, nil
		}
		// Kept by a build with another form: made anew below.
	case err != nil && !errors.Is(err, pgx.ErrNoRows):
		return pmsync.Facts{}, 0, false, fmt.Errorf("read kept facts: %w", err)
	}
	f, err := factsFromItems(ctx, tx, source)
	return f, version, false, err
}

// factsFromItems makes the facts of source from its items.
func factsFromItems(ctx context.Context, tx pgx.Tx, source string) (pmsync.Facts, error) {
	var n int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM items WHERE source = $1", source).Scan(&n); err != nil {
		return pmsync.Facts{}, fmt.Errorf("count items: %w", err)
	}
	rows, err := tx.Query(ctx, factsSQL, source)
	if err != nil {
		return pmsync.Facts{}, fmt.Errorf("read items: %w", err)
	}
	defer rows.Close()
	kinds := [...]pmsync.Kind{pmsync.KindTask, pmsync.KindMilestone, pmsync.KindRisk}
	states := [...]pmsync.State{pmsync.StateTodo, pmsync.StateInProgress, pmsync.StateBlocked, pmsync.StateDone, pmsync.StateCancelled}
	var b pmsync.FactsBuilder
	b.Grow(n)
	var (
		id                                   string
		kind, state                          int32
		deleted, detail                      bool
		planned, actual, percent             *float64
		doneAt                               *time.Time
		milestone                            *string
		likelihood, impact                   int16
		title, url, owner, start, due, field *string
	)
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	for rows.Next() {
		if err := rows.Scan(&id, &kind, &state, &deleted, &planned, &actual, &doneAt, &milestone, &likelihood, &impact,
			&detail, &title, &url, &owner, &start, &due, &percent, &field); err != nil {
			return pmsync.Facts{}, fmt.Errorf("read items: %w", err)
		}
		it := pmsync.Item{Source: source, ExternalID: id, Kind: kinds[kind], State: states[state],
			Milestone: str(milestone), Likelihood: int(likelihood), Impact: int(impact),
			PlannedCost: planned, ActualCost: actual}
		if deleted {
			it.DeletedAt = time.Unix(1, 0) // the facts keep only that it is deleted
		}
		if doneAt != nil {
			it.DoneAt = *doneAt
		}
		if detail {
			it.Title, it.URL, it.Owner = str(title), str(url), str(owner)
			it.Start, it.Due = pmsync.Date(str(start)), pmsync.Date(str(due))
			it.PercentComplete = percent
			if err := json.Unmarshal([]byte(str(field)), &it.Fields); err != nil {
				return pmsync.Facts{}, fmt.Errorf("read items: item %q: fields: %w", id, err)
			}
		}
		b.Add(&it)
	}
	if err := rows.Err(); err != nil {
		return pmsync.Facts{}, fmt.Errorf("read items: %w", err)
	}
	return b.Facts(), nil
}
