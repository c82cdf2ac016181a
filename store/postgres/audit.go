package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pmsync/pmsync/store"
)

// addAudit adds the outcome o of push id to the push audit, inside the
// transaction that moved the push. The push's target, program, version and
// attempt count are read from the outbox in the same transaction.
func addAudit(ctx context.Context, tx pgx.Tx, id int64, o store.PushOutcome) error {
	var (
		target, program, version string
		attempts                 int
		payload                  []byte
	)
	if err := tx.QueryRow(ctx, "SELECT target, program, version, attempts, payload FROM outbox WHERE id = $1", id).
		Scan(&target, &program, &version, &attempts, &payload); err != nil {
		return fmt.Errorf("audit push %d: %w", id, err)
	}
	hash := o.PayloadHash
	if hash == "" {
		sum := sha256.Sum256(payload)
		hash = hex.EncodeToString(sum[:])
	}
	var kept []byte // NULL unless the payload is to be kept
	if o.Payload != nil {
		kept = o.Payload
	}
	if _, err := tx.Exec(ctx, `INSERT INTO push_audit
		(push_id, target, program, version, attempt, outcome, payload_hash, payload, receipt, error, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		id, target, program, version, attempts, o.Outcome, hash, kept, o.Receipt, o.Error, ts(o.At)); err != nil {
		return fmt.Errorf("audit push %d: %w", id, err)
	}
	return nil
}

// Deliveries returns the push audit entries f selects, newest first.
func (db *DB) Deliveries(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, error) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	for _, c := range []struct{ col, v string }{
		{"target", f.Target}, {"program", f.Program}, {"version", f.Version}, {"outcome", f.Outcome},
	} {
		if c.v != "" {
			where = append(where, c.col+" = "+arg(c.v))
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= "+arg(ts(f.Since)))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < "+arg(ts(f.Until)))
	}
	q := `SELECT id, push_id, target, program, version, attempt, outcome, payload_hash, payload, receipt, error, at FROM push_audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY at DESC, id DESC"
	if f.Limit > 0 {
		q += " LIMIT " + arg(f.Limit)
	}
	rows, err := db.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list push audit: %w", err)
	}
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		var d store.Delivery
		if err := rows.Scan(&d.ID, &d.PushID, &d.Target, &d.Program, &d.Version, &d.Attempt, &d.Outcome,
			&d.PayloadHash, &d.Payload, &d.Receipt, &d.Error, &d.At); err != nil {
			return nil, fmt.Errorf("list push audit: %w", err)
		}
		d.At = d.At.UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list push audit: %w", err)
	}
	return out, nil
}

// PruneDeliveries deletes the push audit entries older than before.
func (db *DB) PruneDeliveries(ctx context.Context, before time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, "DELETE FROM push_audit WHERE at < $1", ts(before))
	if err != nil {
		return 0, fmt.Errorf("prune push audit before %s: %w", before.UTC().Format(time.RFC3339), err)
	}
	return int(tag.RowsAffected()), nil
}
