package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pmsync/pmsync/store"
)

// StartRun records the start of a sync of source and returns its id.
func (db *DB) StartRun(ctx context.Context, source string, full bool, at time.Time) (int64, error) {
	if source == "" {
		return 0, errors.New("start run: source is empty")
	}
	var id int64
	if err := db.pool.QueryRow(ctx, `INSERT INTO sync_runs (source, full_sync, started, status) VALUES ($1, $2, $3, $4) RETURNING id`,
		source, full, ts(at), store.RunRunning).Scan(&id); err != nil {
		return 0, fmt.Errorf("start run of source %q: %w", source, err)
	}
	return id, nil
}

// FinishRun records how run id ended. A run finishes once.
func (db *DB) FinishRun(ctx context.Context, id int64, res store.RunResult, at time.Time) error {
	switch res.Status {
	case store.RunOK, store.RunFailed, store.RunCancelled, store.RunStopped:
	default:
		return fmt.Errorf("finish run %d: status %q is not one of ok, failed, cancelled, stopped", id, res.Status)
	}
	err := db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE sync_runs SET finished = $1, status = $2, requests = $3, seen = $4, changed = $5,
			quarantined = $6, deleted = $7, error = $8 WHERE id = $9 AND status = $10`,
			ts(at), res.Status, res.Requests, res.Seen, res.Changed, res.Quarantined, res.Deleted, res.Error, id, store.RunRunning)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var status string
		switch err := tx.QueryRow(ctx, "SELECT status FROM sync_runs WHERE id = $1", id).Scan(&status); {
		case errors.Is(err, pgx.ErrNoRows):
			return store.ErrNotFound
		case err != nil:
			return err
		}
		return fmt.Errorf("it already finished with status %q", status)
	})
	if err != nil {
		return fmt.Errorf("finish run %d: %w", id, err)
	}
	return nil
}

// Runs returns the runs of source ("" for all), newest first, at most limit
// of them (all when limit <= 0).
func (db *DB) Runs(ctx context.Context, source string, limit int) ([]store.Run, error) {
	q := `SELECT id, source, full_sync, started, finished, status, requests, seen, changed, quarantined, deleted, error
		FROM sync_runs`
	var args []any
	if source != "" {
		args = append(args, source)
		q += fmt.Sprintf(" WHERE source = $%d", len(args))
	}
	q += " ORDER BY id DESC"
	if limit > 0 {
		args = append(args, limit)
		q += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs of source %q: %w", source, err)
	}
	defer rows.Close()
	var out []store.Run
	for rows.Next() {
		var r store.Run
		var finished *time.Time
		if err := rows.Scan(&r.ID, &r.Source, &r.Full, &r.Started, &finished, &r.Status, &r.Requests,
			&r.Seen, &r.Changed, &r.Quarantined, &r.Deleted, &r.Error); err != nil {
			return nil, fmt.Errorf("list runs of source %q: %w", source, err)
		}
		r.Started, r.Finished = r.Started.UTC(), fromNull(finished)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs of source %q: %w", source, err)
	}
	return out, nil
}

// LastSuccess returns the finish time of the newest ok run of source (zero
// if none) and, when the newest finished run failed, its error text. A run
// still in progress is skipped, so a failure stays visible while the next
// attempt runs.
func (db *DB) LastSuccess(ctx context.Context, source string) (time.Time, string, error) {
	var finished *time.Time
	var status, errText *string
	err := db.pool.QueryRow(ctx, `SELECT
		(SELECT finished FROM sync_runs WHERE source = $1 AND status = $2 ORDER BY id DESC LIMIT 1),
		(SELECT status FROM sync_runs WHERE source = $1 AND status <> $3 ORDER BY id DESC LIMIT 1),
		(SELECT error FROM sync_runs WHERE source = $1 AND status <> $3 ORDER BY id DESC LIMIT 1)`,
		source, store.RunOK, store.RunRunning).Scan(&finished, &status, &errText)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("read last success of source %q: %w", source, err)
	}
	t := fromNull(finished)
	if status == nil || *status != store.RunFailed {
		return t, "", nil
	}
	if errText == nil || *errText == "" {
		return t, "the last run failed without an error message", nil
	}
	return t, *errText, nil
}

// Cursor returns the saved cursor of source, "" when there is none.
func (db *DB) Cursor(ctx context.Context, source string) (string, error) {
	var cur string
	err := db.pool.QueryRow(ctx, "SELECT value FROM cursors WHERE source = $1", source).Scan(&cur)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read cursor of source %q: %w", source, err)
	}
	return cur, nil
}

// ResetCursor forgets the cursor of source, so that the next pull starts
// from the beginning. A set fence must still hold (store.ErrFenced).
func (db *DB) ResetCursor(ctx context.Context, fence store.Fence, source string) error {
	err := db.tx(ctx, func(tx pgx.Tx) error {
		if err := checkFence(ctx, tx, fence); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "DELETE FROM cursors WHERE source = $1", source)
		return err
	})
	if err != nil {
		return fmt.Errorf("reset cursor of source %q: %w", source, err)
	}
	return nil
}

// AbandonRuns closes the runs of source still marked running, as
// abandoned, and returns how many it closed. Call it only while holding the
// source's sync lease: then no other process can be running them.
func (db *DB) AbandonRuns(ctx context.Context, source string, at time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE sync_runs SET status = $1, finished = $2,
		error = 'the process running it ended without finishing it' WHERE source = $3 AND status = $4`,
		store.RunAbandoned, ts(at), source, store.RunRunning)
	if err != nil {
		return 0, fmt.Errorf("abandon runs of source %q: %w", source, err)
	}
	return int(tag.RowsAffected()), nil
}

// Meta returns the value stored under key and whether there is one.
func (db *DB) Meta(ctx context.Context, key string) (string, bool, error) {
	var v string
	err := db.pool.QueryRow(ctx, "SELECT value FROM meta WHERE key = $1", key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read meta %q: %w", key, err)
	}
	return v, true, nil
}

// SetMeta stores value under key, replacing any previous value.
func (db *DB) SetMeta(ctx context.Context, key, value string) error {
	if key == "" {
		return errors.New("set meta: key is empty")
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO meta (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
		return fmt.Errorf("set meta %q: %w", key, err)
	}
	return nil
}
