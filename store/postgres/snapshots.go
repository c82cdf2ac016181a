package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/store"
	"github.com/pmsync/pmsync/store/internal/itemcodec"
)

// snapshotLock is the first key of the advisory lock that serialises
// SaveSnapshot per program ("snap" in ASCII); the second is a hash of the
// program id.
const snapshotLock int32 = 0x736e6170

// SaveSnapshot stores r unless the newest snapshot of its program already
// has r.Version, and reports whether it stored one. Rollups that say the
// same thing are kept once, so the history shows only real movement. Two
// replicas saving the same program at once take turns (an advisory lock
// per program), so the check and the insert cannot interleave.
func (db *DB) SaveSnapshot(ctx context.Context, r pmsync.Rollup, at time.Time) (bool, error) {
	if r.ID == "" {
		return false, errors.New("save snapshot: rollup has no program id")
	}
	if r.Version == "" {
		return false, fmt.Errorf("save snapshot of program %q: rollup has no version", r.ID)
	}
	asOf, err := itemcodec.Date(r.AsOf)
	if err != nil {
		return false, fmt.Errorf("save snapshot of program %q: as-of %w", r.ID, err)
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
	err = db.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", snapshotLock, r.ID); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		var newest string
		err := tx.QueryRow(ctx, "SELECT version FROM snapshots WHERE program = $1 ORDER BY id DESC LIMIT 1", r.ID).Scan(&newest)
		switch {
		case err == nil && newest == r.Version:
			return nil
		case err != nil && !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("read newest version: %w", err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO snapshots (program, as_of, version, at, rollup, figures) VALUES ($1, $2, $3, $4, $5, $6)",
			r.ID, nullText(asOf), r.Version, ts(at), string(doc), string(figures)); err != nil {
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
	q := "SELECT program, to_char(as_of, 'YYYY-MM-DD'), version, at, rollup::text FROM snapshots"
	var args []any
	if program != "" {
		args = append(args, program)
		q += fmt.Sprintf(" WHERE program = $%d", len(args))
	}
	q += " ORDER BY id DESC"
	if limit > 0 {
		args = append(args, limit)
		q += fmt.Sprintf(" LIMIT $%d", len(args))
	}
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list snapshots of program %q: %w", program, err)
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
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list snapshots of program %q: %w", program, err)
	}
	return out, nil
}
