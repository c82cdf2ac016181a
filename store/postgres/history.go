package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
	"github.com/pmsync/pmsync/store/internal/itemcodec"
)

// ChangeLog returns the recorded item changes q selects, oldest first. The
// kinds filter reads the items' current kind.
func (db *DB) ChangeLog(ctx context.Context, q store.ChangeQuery) ([]store.Change, error) {
	sql := `SELECT c.source, c.external_id, c.run_id, c.at, c.field, c.old_value, c.new_value FROM item_changes c`
	var where []string
	var args []any
	if len(q.Kinds) > 0 {
		sql += ` JOIN items i ON i.source = c.source AND i.external_id = c.external_id`
		kinds := make([]string, len(q.Kinds))
		for i, k := range q.Kinds {
			kinds[i] = string(k)
		}
		args = append(args, kinds)
		where = append(where, fmt.Sprintf("i.kind = ANY($%d)", len(args)))
	}
	if len(q.Sources) > 0 {
		args = append(args, q.Sources)
		where = append(where, fmt.Sprintf("c.source = ANY($%d)", len(args)))
	}
	if len(q.Fields) > 0 {
		args = append(args, q.Fields)
		where = append(where, fmt.Sprintf("c.field = ANY($%d)", len(args)))
	}
	if !q.Since.IsZero() {
		args = append(args, ts(q.Since))
		where = append(where, fmt.Sprintf("c.at >= $%d", len(args)))
	}
	if len(q.New) > 0 {
		args = append(args, q.New)
		where = append(where, fmt.Sprintf("c.new_value = ANY($%d)", len(args)))
	}
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := db.pool.Query(ctx, sql+" ORDER BY c.id", args...)
	if err != nil {
		return nil, fmt.Errorf("read change log of %q: %w", q.Sources, err)
	}
	defer rows.Close()
	var out []store.Change
	for rows.Next() {
		var c store.Change
		var run *int64
		if err := rows.Scan(&c.Source, &c.ExternalID, &run, &c.At, &c.Field, &c.Old, &c.New); err != nil {
			return nil, fmt.Errorf("read change log of %q: %w", q.Sources, err)
		}
		if run != nil {
			c.RunID = *run
		}
		c.At = c.At.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read change log of %q: %w", q.Sources, err)
	}
	return out, nil
}

// FirstSeen returns the items of the sources (all when none is named)
// first stored at or after since, ordered by source and external id.
func (db *DB) FirstSeen(ctx context.Context, since time.Time, sources ...string) ([]pmsync.Seen, error) {
	sql := "SELECT source, external_id, created_at FROM items WHERE created_at >= $1"
	args := []any{ts(since)}
	if len(sources) > 0 {
		sql += " AND source = ANY($2)"
		args = append(args, sources)
	}
	rows, err := db.pool.Query(ctx, sql+" ORDER BY source, external_id", args...)
	if err != nil {
		return nil, fmt.Errorf("list items first seen since %s in %q: %w", since.Format(time.RFC3339), sources, err)
	}
	defer rows.Close()
	var out []pmsync.Seen
	for rows.Next() {
		var s pmsync.Seen
		if err := rows.Scan(&s.Source, &s.ExternalID, &s.At); err != nil {
			return nil, fmt.Errorf("list items first seen in %q: %w", sources, err)
		}
		s.At = s.At.UTC()
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list items first seen in %q: %w", sources, err)
	}
	return out, nil
}

// FirstSuccess returns when the oldest successful run of source finished,
// or the zero time.
func (db *DB) FirstSuccess(ctx context.Context, source string) (time.Time, error) {
	var finished *time.Time
	err := db.pool.QueryRow(ctx, "SELECT finished FROM sync_runs WHERE source = $1 AND status = $2 ORDER BY id LIMIT 1",
		source, store.RunOK).Scan(&finished)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read first success of source %q: %w", source, err)
	}
	return fromNull(finished), nil
}

// SnapshotsSince returns the snapshots of program as of from or later,
// oldest first, after the newest one before from, with their figures: a
// snapshot saved before figures were kept apart is read whole and cut down
// to them.
func (db *DB) SnapshotsSince(ctx context.Context, program string, from pmsync.Date) ([]store.Snapshot, error) {
	d, err := itemcodec.Date(from)
	if err != nil || d == "" {
		return nil, fmt.Errorf("list snapshots of program %q since %q: not a date", program, from)
	}
	rows, err := db.pool.Query(ctx, `SELECT program, to_char(as_of, 'YYYY-MM-DD'), version, at, coalesce(figures, rollup::text) FROM (
			(SELECT id, program, as_of, version, at, rollup, figures FROM snapshots WHERE program = $1 AND as_of >= $2::date)
			UNION ALL
			(SELECT id, program, as_of, version, at, rollup, figures FROM snapshots WHERE program = $1 AND as_of < $2::date ORDER BY id DESC LIMIT 1)
		) s ORDER BY id`, program, d)
	if err != nil {
		return nil, fmt.Errorf("list snapshots of program %q since %s: %w", program, from, err)
	}
	defer rows.Close()
	var out []store.Snapshot
	for rows.Next() {
		var s store.Snapshot
		var asOf *string
		var doc string
		if err := rows.Scan(&s.Program, &asOf, &s.Version, &s.At, &doc); err != nil {
			return nil, fmt.Errorf("list snapshots of program %q: %w", program, err)
		}
		if asOf != nil {
			s.AsOf = pmsync.Date(*asOf)
		}
		s.At = s.At.UTC()
		if err := json.Unmarshal([]byte(doc), &s.Rollup); err != nil {
			return nil, fmt.Errorf("list snapshots of program %q: decode version %s: %w", s.Program, s.Version, err)
		}
		// A snapshot saved before figures were kept apart is read whole.
		s.Rollup = s.Rollup.Figures()
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list snapshots of program %q: %w", program, err)
	}
	return out, nil
}

// SaveReport replaces the latest computed report.
func (db *DB) SaveReport(ctx context.Context, rep pmsync.Report, at time.Time) error {
	doc, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("save report as of %s: encode: %w", rep.AsOf, err)
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO reports (id, at, report, revision) VALUES (1, $1, $2, 1)
		ON CONFLICT (id) DO UPDATE SET at = excluded.at, report = excluded.report, revision = reports.revision + 1`, ts(at), string(doc)); err != nil {
		return fmt.Errorf("save report as of %s: %w", rep.AsOf, err)
	}
	return nil
}

// ReportRevision returns the revision of the latest report, 0 when none
// was saved.
func (db *DB) ReportRevision(ctx context.Context) (int64, error) {
	var rev int64
	if err := db.pool.QueryRow(ctx, "SELECT coalesce((SELECT revision FROM reports WHERE id = 1), 0)").Scan(&rev); err != nil {
		return 0, fmt.Errorf("read the latest report's revision: %w", err)
	}
	return rev, nil
}

// LatestReport returns the report SaveReport kept last.
func (db *DB) LatestReport(ctx context.Context) (pmsync.Report, time.Time, bool, error) {
	var at time.Time
	var doc string
	err := db.pool.QueryRow(ctx, "SELECT at, report FROM reports WHERE id = 1").Scan(&at, &doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return pmsync.Report{}, time.Time{}, false, nil
	}
	if err != nil {
		return pmsync.Report{}, time.Time{}, false, fmt.Errorf("read latest report: %w", err)
	}
	var rep pmsync.Report
	if err := json.Unmarshal([]byte(doc), &rep); err != nil {
		return pmsync.Report{}, time.Time{}, false, fmt.Errorf("read latest report: decode: %w", err)
	}
	return rep, at.UTC(), true, nil
}

// LookupPush returns the push of version of program to target, if any.
func (db *DB) LookupPush(ctx context.Context, target, program, version string) (store.Push, bool, error) {
	var p store.Push
	err := db.pool.QueryRow(ctx, `SELECT id, target, program, version, payload, status, attempts, last_error, receipt, created, updated
		FROM outbox WHERE target = $1 AND program = $2 AND version = $3`, target, program, version).Scan(
		&p.ID, &p.Target, &p.Program, &p.Version, &p.Payload, &p.Status, &p.Attempts, &p.LastError, &p.Receipt, &p.Created, &p.Updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Push{}, false, nil
	}
	if err != nil {
		return store.Push{}, false, fmt.Errorf("look up push of program %q version %q to %q: %w", program, version, target, err)
	}
	p.Created, p.Updated = p.Created.UTC(), p.Updated.UTC()
	return p, true, nil
}
