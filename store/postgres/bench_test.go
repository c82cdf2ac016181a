package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
)

const benchTotal, benchPage = 100_000, 100

func benchPages(source string, state pmsync.State) [][]pmsync.Item {
	planned := 1200.0
	out := make([][]pmsync.Item, 0, benchTotal/benchPage)
	for p := range benchTotal / benchPage {
		items := make([]pmsync.Item, benchPage)
		for i := range items {
			items[i] = pmsync.Item{Source: source, ExternalID: fmt.Sprintf("EHR-%d", p*benchPage+i), Kind: pmsync.KindTask,
				Title: "Task", State: state, Due: "2026-04-01", UpdatedAt: t0,
				Labels: []string{"ehr", "wave-2"}, Fields: map[string]any{"team": "integration"}, PlannedCost: &planned}
		}
		out = append(out, items)
	}
	return out
}

// BenchmarkApplyPage measures a sync of 100k items in pages of 100, as the
// SQLite backend's benchmark of the same name does: into an empty source,
// again with nothing changed, and with every item's state changed. One op
// is the whole 100k; items/s is the figure to compare.
func BenchmarkApplyPage(b *testing.B) {
	ctx := context.Background()
	sync := func(b *testing.B, db *DB, source string, ps [][]pmsync.Item) {
		for _, items := range ps {
			if _, err := db.ApplyPage(ctx, store.PageWrite{Source: source, Items: items, Cursor: "c", At: t0}); err != nil {
				b.Fatal(err)
			}
		}
	}
	report := func(b *testing.B) { b.ReportMetric(float64(b.N)*benchTotal/b.Elapsed().Seconds(), "items/s") }
	b.Run("new", func(b *testing.B) {
		db := openTest(b)
		n := 0
		for b.Loop() {
			source := fmt.Sprintf("bench-%d", n)
			b.StopTimer()
			ps := benchPages(source, pmsync.StateTodo)
			b.StartTimer()
			sync(b, db, source, ps)
			n++
		}
		report(b)
	})
	b.Run("unchanged", func(b *testing.B) {
		db := openTest(b)
		ps := benchPages("bench", pmsync.StateTodo)
		sync(b, db, "bench", ps)
		for b.Loop() {
			sync(b, db, "bench", ps)
		}
		report(b)
	})
	b.Run("all-changed", func(b *testing.B) {
		db := openTest(b)
		states := [2][][]pmsync.Item{benchPages("bench", pmsync.StateTodo), benchPages("bench", pmsync.StateInProgress)}
		sync(b, db, "bench", states[0])
		n := 1
		for b.Loop() {
			sync(b, db, "bench", states[n%2])
			n++
		}
		report(b)
	})
}

// BenchmarkItemWrite compares the two batched ways to write a page of
// items that the backend could use: the array-bound INSERT … SELECT FROM
// unnest … ON CONFLICT it uses, and COPY into a temporary table followed by
// INSERT … SELECT … ON CONFLICT. Each op writes 100k new items in pages of
// 100, one transaction per page, as a full sync does.
func BenchmarkItemWrite(b *testing.B) {
	ctx := context.Background()
	rowsOf := func(source string) [][]itemRow {
		var out [][]itemRow
		for _, page := range benchPages(source, pmsync.StateTodo) {
			rows := make([]itemRow, len(page))
			for i, it := range page {
				r, err := encodeItem(it)
				if err != nil {
					b.Fatal(err)
				}
				rows[i] = r
			}
			out = append(out, rows)
		}
		return out
	}
	write := func(b *testing.B, db *DB, fn func(tx pgx.Tx, source string, page int, rows []itemRow) error) {
		n := 0
		for b.Loop() {
			source := fmt.Sprintf("bench-%d", n)
			b.StopTimer()
			pages := rowsOf(source)
			b.StartTimer()
			for p, rows := range pages {
				if err := db.tx(ctx, func(tx pgx.Tx) error { return fn(tx, source, p, rows) }); err != nil {
					b.Fatal(err)
				}
			}
			n++
		}
		b.ReportMetric(float64(b.N)*benchTotal/b.Elapsed().Seconds(), "items/s")
	}
	b.Run("unnest", func(b *testing.B) {
		db := openTest(b)
		write(b, db, func(tx pgx.Tx, source string, page int, rows []itemRow) error {
			var batch itemBatch
			for i, r := range rows {
				batch.add(fmt.Sprintf("EHR-%d", page*benchPage+i), r)
			}
			_, err := tx.Exec(ctx, upsertItemsSQL, batch.args(source, t0)...)
			return err
		})
	})
	b.Run("copy", func(b *testing.B) {
		db := openTest(b)
		write(b, db, func(tx pgx.Tx, source string, page int, rows []itemRow) error {
			if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS page_items
				(LIKE items INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`); err != nil {
				return err
			}
			at := t0.UTC()
			src := make([][]any, len(rows))
			for i, r := range rows {
				start, due := dateArg(r.start), dateArg(r.due)
				src[i] = []any{source, fmt.Sprintf("EHR-%d", page*benchPage+i), r.kind, r.title, r.url, r.owner, r.priority,
					r.status, r.state, start, due, r.doneAt.ptr(), r.updatedAt.ptr(), r.percent.ptr(), r.planned.ptr(),
					r.actual.ptr(), r.likelihood, r.impact, r.milestone, r.parent, r.labels, r.fields, nil, at, at}
			}
			cols := []string{"source", "external_id", "kind", "title", "url", "owner", "priority", "status", "state",
				"start", "due", "done_at", "updated_at", "percent_complete", "planned_cost", "actual_cost", "likelihood",
				"impact", "milestone", "parent", "labels", "fields", "deleted_at", "created_at", "changed_at"}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"page_items"}, cols, pgx.CopyFromRows(src)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO items SELECT * FROM page_items
				ON CONFLICT (source, external_id) DO UPDATE SET kind = excluded.kind, title = excluded.title,
				url = excluded.url, owner = excluded.owner, priority = excluded.priority, status = excluded.status,
				state = excluded.state, start = excluded.start, due = excluded.due, done_at = excluded.done_at,
				updated_at = excluded.updated_at, percent_complete = excluded.percent_complete,
				planned_cost = excluded.planned_cost, actual_cost = excluded.actual_cost, likelihood = excluded.likelihood,
				impact = excluded.impact, milestone = excluded.milestone, parent = excluded.parent,
				labels = excluded.labels, fields = excluded.fields, deleted_at = NULL, changed_at = excluded.changed_at`)
			return err
		})
	})
}

// dateArg is a YYYY-MM-DD text as the time COPY's binary format needs.
func dateArg(s string) any {
	if s == "" {
		return nil
	}
	d, err := time.Parse(pmsync.DateLayout, s)
	if err != nil {
		panic(err)
	}
	return d
}
