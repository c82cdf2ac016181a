package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
)

// ChangeLog returns the recorded item changes q selects, oldest first. The
// kinds filter reads the items' current kind.
func (db *DB) ChangeLog(ctx context.Context, q store.ChangeQuery) ([]store.Change, error) {
	sqlText := `SELECT c.source, c.external_id, c.run_id, c.at, c.field, c.old_value, c.new_value FROM item_changes c`
	var where []string
	var args []any
	if len(q.Kinds) > 0 {
		sqlText += ` JOIN items i ON i.source = c.source AND i.external_id = c.external_id`
		where = append(where, "i.kind IN ("+placeholders(len(q.Kinds))+")")
		for _, k := range q.Kinds {
			args = append(args, string(k))
		}
	}
	if len(q.Sources) > 0 {
		where = append(where, "c.source IN ("+placeholders(len(q.Sources))+")")
		args = append(args, toAny(q.Sources)...)
	}
	if len(q.Fields) > 0 {
		where = append(where, "c.field IN ("+placeholders(len(q.Fields))+")")
		args = append(args, toAny(q.Fields)...)
	}
	if !q.Since.IsZero() {
		where = append(where, "c.at >= ?")
		args = append(args, formatTime(q.Since))
	}
	if len(q.New) > 0 {
		where = append(where, "c.new_value IN ("+placeholders(len(q.New))+")")
		args = append(args, toAny(q.New)...)
	}
	if len(where) > 0 {
		sqlText += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := db.read.QueryContext(ctx, sqlText+" ORDER BY c.id", args...)
	if err != nil {
		return nil, fmt.Errorf("read change log of %q: %w", q.Sources, err)
	}
	defer rows.Close()
	var out []store.Change
	for rows.Next() {
		var c store.Change
		var run sql.NullInt64
		var at sql.NullString
		if err := rows.Scan(&c.Source, &c.ExternalID, &run, &at, &c.Field, &c.Old, &c.New); err != nil {
			return nil, fmt.Errorf("read change log of %q: %w", q.Sources, err)
		}
		c.RunID = run.Int64
		if c.At, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("read change log: item %q of source %q: %w", c.ExternalID, c.Source, err)
		}
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
	q := "SELECT source, external_id, created_at FROM items WHERE created_at >= ?"
	args := []any{formatTime(since)}
	if len(sources) > 0 {
		q += " AND source IN (" + placeholders(len(sources)) + ")"
		args = append(args, toAny(sources)...)
	}
	rows, err := db.read.QueryContext(ctx, q+" ORDER BY source, external_id", args...)
	if err != nil {
		return nil, fmt.Errorf("list items first seen since %s in %q: %w", since.Format(time.RFC3339), sources, err)
	}
	defer rows.Close()
	var out []pmsync.Seen
	for rows.Next() {
		var s pmsync.Seen
		var at sql.NullString
		if err := rows.Scan(&s.Source, &s.ExternalID, &at); err != nil {
			return nil, fmt.Errorf("list items first seen in %q: %w", sources, err)
		}
		if s.At, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("list items first seen: item %q of source %q: %w", s.ExternalID, s.Source, err)
		}
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
	var finished sql.NullString
	err := db.read.QueryRowContext(ctx, "SELECT finished FROM sync_runs WHERE source = ? AND status = ? ORDER BY id LIMIT 1",
		source, store.RunOK).Scan(&finished)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read first success of source %q: %w", source, err)
	}
	t, err := parseTime(finished)
	if err != nil {
		return time.Time{}, fmt.Errorf("read first success of source %q: %w", source, err)
	}
	return t, nil
}

// SnapshotsSince returns the snapshots of program as of from or later,
// oldest first, after the newest one before from, with their figures: a
// snapshot saved before figures were kept apart is read whole and cut down
// to them.
func (db *DB) SnapshotsSince(ctx context.Context, program string, from pmsync.Date) ([]store.Snapshot, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT program, as_of, version, at, coalesce(figures, rollup) FROM (
			SELECT id, program, as_of, version, at, rollup, figures FROM snapshots WHERE program = ? AND as_of >= ?
			UNION ALL
			SELECT * FROM (SELECT id, program, as_of, version, at, rollup, figures FROM snapshots WHERE program = ? AND as_of < ? ORDER BY id DESC LIMIT 1)
		) ORDER BY id`, program, string(from), program, string(from))
	if err != nil {
		return nil, fmt.Errorf("list snapshots of program %q since %s: %w", program, from, err)
	}
	defer rows.Close()
	out, err := scanSnapshots(rows, program)
	for i := range out {
		out[i].Rollup = out[i].Rollup.Figures()
	}
	return out, err
}

// scanSnapshots reads snapshot rows (program, as_of, version, at, rollup).
func scanSnapshots(rows *sql.Rows, program string) ([]store.Snapshot, error) {
	var out []store.Snapshot
	for rows.Next() {
		var s store.Snapshot
		var asOf string
		var at sql.NullString
		var doc []byte
		if err := rows.Scan(&s.Program, &asOf, &s.Version, &at, &doc); err != nil {
			return nil, fmt.Errorf("list snapshots of program %q: %w", program, err)
		}
		s.AsOf = pmsync.Date(asOf)
		var err error
		if s.At, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("list snapshots of program %q: %w", s.Program, err)
		}
		if err := json.Unmarshal(doc, &s.Rollup); err != nil {
			return nil, fmt.Errorf("list snapshots of program %q: decode version %s: %w", s.Program, s.Version, err)
		}
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
	if _, err := db.write.ExecContext(ctx, `INSERT INTO reports (id, at, report, revision) VALUES (1, ?, ?, 1)
		ON CONFLICT (id) DO UPDATE SET at = excluded.at, report = excluded.report, revision = reports.revision + 1`, formatTime(at), string(doc)); err != nil {
		return fmt.Errorf("save report as of %s: %w", rep.AsOf, err)
	}
	return nil
}

// LatestReport returns the report SaveReport kept last.
func (db *DB) LatestReport(ctx context.Context) (pmsync.Report, time.Time, bool, error) {
	var at sql.NullString
	var doc []byte
	err := db.read.QueryRowContext(ctx, "SELECT at, report FROM reports WHERE id = 1").Scan(&at, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return pmsync.Report{}, time.Time{}, false, nil
	}
	if err != nil {
		return pmsync.Report{}, time.Time{}, false, fmt.Errorf("read latest report: %w", err)
	}
	t, err := parseTime(at)
	if err != nil {
		return pmsync.Report{}, time.Time{}, false, fmt.Errorf("read latest report: %w", err)
	}
	var rep pmsync.Report
	if err := json.Unmarshal(doc, &rep); err != nil {
		return pmsync.Report{}, time.Time{}, false, fmt.Errorf("read latest report: decode: %w", err)
	}
	return rep, t, true, nil
}

// ReportRevision returns the revision of the latest report, 0 when none
// was saved.
func (db *DB) ReportRevision(ctx context.Context) (int64, error) {
	var rev int64
	if err := db.read.QueryRowContext(ctx, "SELECT coalesce((SELECT revision FROM reports WHERE id = 1), 0)").Scan(&rev); err != nil {
		return 0, fmt.Errorf("read the latest report's revision: %w", err)
	}
	return rev, nil
}

// LookupPush returns the push of version of program to target, if any.
func (db *DB) LookupPush(ctx context.Context, target, program, version string) (store.Push, bool, error) {
	var p store.Push
	var created, updated sql.NullString
	err := db.read.QueryRowContext(ctx, `SELECT id, target, program, version, payload, status, attempts, last_error, receipt, created, updated
		FROM outbox WHERE target = ? AND program = ? AND version = ?`, target, program, version).Scan(
		&p.ID, &p.Target, &p.Program, &p.Version, &p.Payload, &p.Status, &p.Attempts, &p.LastError, &p.Receipt, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Push{}, false, nil
	}
	if err != nil {
		return store.Push{}, false, fmt.Errorf("look up push of program %q version %q to %q: %w", program, version, target, err)
	}
	if p.Created, err = parseTime(created); err != nil {
		return store.Push{}, false, fmt.Errorf("look up push %d: %w", p.ID, err)
	}
	if p.Updated, err = parseTime(updated); err != nil {
		return store.Push{}, false, fmt.Errorf("look up push %d: %w", p.ID, err)
	}
	return p, true, nil
}
