package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/pmsync/pmsync/store"
	"time"

	"github.com/pmsync/pmsync"
)

// SaveSnapshot stores r unless the newest snapshot of its program already
// has r.Version, and reports whether it stored one. Rollups that say the
// same thing are kept once, so the history shows only real movement.
func (db *DB) SaveSnapshot(ctx context.Context, r pmsync.Rollup, at time.Time) (bool, error) {
	if r.ID == "" {
		return false, errors.New("save snapshot: rollup has no program id")
	}
	if r.Version == "" {
		return false, fmt.Errorf("save snapshot of program %q: rollup has no version", r.ID)
	}
	doc, err := json.Marshal(r)
	if err != nil {
		return false, fmt.Errorf("save snapshot of program %q: encode rollup: %w", r.ID, err)
	}
	figures, err := json.Marshal(r.Figures())
	if err != nil {
		return false, fmt.Errorf("save snapshot of program %q: encode figures: %w", r.ID, err)
	}
	var saved bool
	err = db.writeTx(ctx, func(tx *sql.Tx) error {
		var newest string
		err := tx.QueryRowContext(ctx, "SELECT version FROM snapshots WHERE program = ? ORDER BY id DESC LIMIT 1", r.ID).Scan(&newest)
		switch {
		case err == nil && newest == r.Version:
			return nil
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("read newest version: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO snapshots (program, as_of, version, at, rollup, figures) VALUES (?, ?, ?, ?, ?, ?)",
			r.ID, string(r.AsOf), r.Version, formatTime(at), string(doc), string(figures)); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		saved = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("save snapshot of program %q: %w", r.ID, err)
	}
	return saved, nil
}

// LatestSnapshot returns the newest snapshot of program and whether there
// is one.
func (db *DB) LatestSnapshot(ctx context.Context, program string) (store.Snapshot, bool, error) {
	s, err := db.Snapshots(ctx, program, 1)
	if err != nil {
		return store.Snapshot{}, false, err
	}
	if len(s) == 0 {
		return store.Snapshot{}, false, nil
	}
	return s[0], true, nil
}

// Snapshots returns the snapshots of program ("" for all), newest first, at
// most limit of them (all when limit <= 0).
func (db *DB) Snapshots(ctx context.Context, program string, limit int) ([]store.Snapshot, error) {
	q := "SELECT program, as_of, version, at, rollup FROM snapshots"
	var args []any
	if program != "" {
		q += " WHERE program = ?"
		args = append(args, program)
	}
	q += " ORDER BY id DESC"
	if limit > 0 {
		q += " LIMIT ?"
		args = append(args, limit)
	}
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list snapshots of program %q: %w", program, err)
	}
	defer rows.Close()
	return scanSnapshots(rows, program)
}
