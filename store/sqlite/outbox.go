package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/pmsync/pmsync/store"
	"strings"
	"time"
)

// Enqueue queues payload for target unless that (target, program, version)
// was queued before, and reports whether it queued it. This is what makes a
// rollup version go out at most once per target.
func (db *DB) Enqueue(ctx context.Context, target, program, version string, payload []byte, at time.Time) (bool, error) {
	if target == "" || program == "" || version == "" {
		return false, fmt.Errorf("enqueue push of program %q version %q to %q: target, program and version are all required", program, version, target)
	}
	if payload == nil {
		payload = []byte{}
	}
	t := formatTime(at)
	res, err := db.write.ExecContext(ctx, `INSERT INTO outbox (target, program, version, payload, status, created, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (target, program, version) DO NOTHING`,
		target, program, version, payload, store.PushPending, t, t)
	if err != nil {
		return false, fmt.Errorf("enqueue push of program %q version %q to %q: %w", program, version, target, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("enqueue push of program %q version %q to %q: %w", program, version, target, err)
	}
	return n == 1, nil
}

// PendingPushes returns the pushes still to deliver to target ("" for all),
// oldest first: pending, failed and sending ones. A push left "sending" by a
// crash is included; the pusher's idempotency guard makes resending safe.
func (db *DB) PendingPushes(ctx context.Context, target string) ([]store.Push, error) {
	q := `SELECT id, target, program, version, payload, status, attempts, last_error, receipt, created, updated
		FROM outbox WHERE status IN (?, ?, ?)`
	args := []any{store.PushPending, store.PushFailed, store.PushSending}
	if target != "" {
		q += " AND target = ?"
		args = append(args, target)
	}
	rows, err := db.read.QueryContext(ctx, q+" ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("list pending pushes to %q: %w", target, err)
	}
	defer rows.Close()
	var out []store.Push
	for rows.Next() {
		var p store.Push
		var created, updated sql.NullString
		if err := rows.Scan(&p.ID, &p.Target, &p.Program, &p.Version, &p.Payload, &p.Status, &p.Attempts,
			&p.LastError, &p.Receipt, &created, &updated); err != nil {
			return nil, fmt.Errorf("list pending pushes to %q: %w", target, err)
		}
		if p.Created, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("list pending pushes: push %d: %w", p.ID, err)
		}
		if p.Updated, err = parseTime(updated); err != nil {
			return nil, fmt.Errorf("list pending pushes: push %d: %w", p.ID, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list pending pushes to %q: %w", target, err)
	}
	return out, nil
}

// MarkSending records that an attempt to deliver push id starts, counting
// it. A delivered push cannot be sent again.
func (db *DB) MarkSending(ctx context.Context, id int64, at time.Time) error {
	return db.movePush(ctx, id, store.PushSending,
		"attempts = attempts + 1, updated = ?", []any{formatTime(at)}, nil,
		store.PushPending, store.PushFailed, store.PushSending)
}

// MarkDelivered records that push id arrived, with the target's receipt,
// and audits it. A push that was never sent may be closed this way too.
// Delivered is final: a second MarkDelivered fails with ErrPushState, so a
// caller learns of a double send.
func (db *DB) MarkDelivered(ctx context.Context, id int64, o store.PushOutcome) error {
	if o.Outcome == "" {
		o.Outcome = store.DeliveryDelivered
	}
	if o.Outcome != store.DeliveryDelivered && o.Outcome != store.DeliveryExisting {
		return fmt.Errorf("mark push %d delivered: outcome %q is not %s or %s", id, o.Outcome, store.DeliveryDelivered, store.DeliveryExisting)
	}
	return db.movePush(ctx, id, store.PushDelivered,
		"receipt = ?, last_error = '', updated = ?", []any{o.Receipt, formatTime(o.At)}, &o,
		store.PushPending, store.PushSending, store.PushFailed)
}

// MarkFailed records that an attempt to deliver push id failed, so that it
// is retried, and audits it. A delivered push cannot fail.
func (db *DB) MarkFailed(ctx context.Context, id int64, o store.PushOutcome) error {
	if o.Outcome == "" {
		o.Outcome = store.DeliveryFailed
	}
	if o.Outcome != store.DeliveryFailed {
		return fmt.Errorf("mark push %d failed: outcome %q is not %s", id, o.Outcome, store.DeliveryFailed)
	}
	return db.movePush(ctx, id, store.PushFailed,
		"last_error = ?, updated = ?", []any{o.Error, formatTime(o.At)}, &o,
		store.PushPending, store.PushSending, store.PushFailed)
}

// movePush sets push id to status to, with the assignments in set, if its
// status is one of from, and adds audit (when not nil) to the push audit
// in the same transaction; otherwise it says why not: ErrNotFound or
// ErrPushState.
func (db *DB) movePush(ctx context.Context, id int64, to, set string, args []any, audit *store.PushOutcome, from ...string) error {
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		q := "UPDATE outbox SET status = ?, " + set + " WHERE id = ? AND status IN (" + placeholders(len(from)) + ")"
		a := append(append(append([]any{to}, args...), id), toAny(from)...)
		res, err := tx.ExecContext(ctx, q, a...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 1 {
			if audit != nil {
				return addAudit(ctx, tx, id, *audit)
			}
			return nil
		}
		var status string
		switch err := tx.QueryRowContext(ctx, "SELECT status FROM outbox WHERE id = ?", id).Scan(&status); {
		case errors.Is(err, sql.ErrNoRows):
			return store.ErrNotFound
		case err != nil:
			return err
		}
		return fmt.Errorf("%w: it is %s, want %s", store.ErrPushState, status, strings.Join(from, " or "))
	})
	if err != nil {
		return fmt.Errorf("mark push %d %s: %w", id, to, err)
	}
	return nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// ClaimPush starts an attempt to deliver push id, counting it, unless
// another process is already at it: a push is claimed when it is pending or
// failed, or when it has been sending for longer than lease (its sender
// died). It reports whether this caller holds the claim, so that a CLI push
// beside the daemon never sends the same rollup twice at once.
func (db *DB) ClaimPush(ctx context.Context, id int64, at time.Time, lease time.Duration) (bool, error) {
	var claimed bool
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET status = ?, attempts = attempts + 1, updated = ?
			WHERE id = ? AND (status IN (?, ?) OR (status = ? AND updated < ?))`,
			store.PushSending, formatTime(at), id, store.PushPending, store.PushFailed, store.PushSending, formatTime(at.Add(-lease)))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		claimed = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("claim push %d: %w", id, err)
	}
	return claimed, nil
}

// SupersedePush closes push id unsent because a newer rollup replaces it,
// unless another process is sending it right now (a claim younger than
// lease), and audits it as superseded. It reports whether the push was
// closed.
func (db *DB) SupersedePush(ctx context.Context, id int64, o store.PushOutcome, lease time.Duration) (bool, error) {
	o.Outcome = store.DeliverySuperseded
	var closed bool
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET status = ?, receipt = ?, last_error = '', updated = ?
			WHERE id = ? AND (status IN (?, ?) OR (status = ? AND updated < ?))`,
			store.PushDelivered, o.Receipt, formatTime(o.At), id, store.PushPending, store.PushFailed, store.PushSending, formatTime(o.At.Add(-lease)))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n != 1 {
			return err
		}
		closed = true
		return addAudit(ctx, tx, id, o)
	})
	if err != nil {
		return false, fmt.Errorf("supersede push %d: %w", id, err)
	}
	return closed, nil
}
