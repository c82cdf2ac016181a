package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pmsync/pmsync/store"
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
	tag, err := db.pool.Exec(ctx, `INSERT INTO outbox (target, program, version, payload, status, created, updated)
		VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (target, program, version) DO NOTHING`,
		target, program, version, payload, store.PushPending, ts(at))
	if err != nil {
		return false, fmt.Errorf("enqueue push of program %q version %q to %q: %w", program, version, target, err)
	}
	return tag.RowsAffected() == 1, nil
}

// PendingPushes returns the pushes still to deliver to target ("" for all),
// oldest first: pending, failed and sending ones. A push left "sending" by a
// crash is included; ClaimPush decides who may send it.
func (db *DB) PendingPushes(ctx context.Context, target string) ([]store.Push, error) {
	q := `SELECT id, target, program, version, payload, status, attempts, last_error, receipt, created, updated
		FROM outbox WHERE status IN ($1, $2, $3)`
	args := []any{store.PushPending, store.PushFailed, store.PushSending}
	if target != "" {
		q += " AND target = $4"
		args = append(args, target)
	}
	rows, err := db.pool.Query(ctx, q+" ORDER BY id", args...)
	if err != nil {
		return nil, fmt.Errorf("list pending pushes to %q: %w", target, err)
	}
	defer rows.Close()
	var out []store.Push
	for rows.Next() {
		var p store.Push
		if err := rows.Scan(&p.ID, &p.Target, &p.Program, &p.Version, &p.Payload, &p.Status, &p.Attempts,
			&p.LastError, &p.Receipt, &p.Created, &p.Updated); err != nil {
			return nil, fmt.Errorf("list pending pushes to %q: %w", target, err)
		}
		p.Created, p.Updated = p.Created.UTC(), p.Updated.UTC()
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list pending pushes to %q: %w", target, err)
	}
	return out, nil
}

// claimable selects push $1 when nobody is sending it: pending or failed,
// or sending for longer than the lease (its sender died, the cutoff is
// $2). SKIP LOCKED passes over a row another transaction is claiming at
// this moment instead of waiting for it, so of two replicas that reach one
// push together exactly one gets it.
const claimable = `SELECT id FROM outbox WHERE id = $1 AND (status IN ('pending', 'failed') OR (status = 'sending' AND updated < $2))
	FOR UPDATE SKIP LOCKED`

// ClaimPush starts an attempt to deliver push id, counting it, unless
// another process is already at it: a push is claimed when it is pending or
// failed, or when it has been sending for longer than lease (its sender
// died). It reports whether this caller holds the claim.
func (db *DB) ClaimPush(ctx context.Context, id int64, at time.Time, lease time.Duration) (bool, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated = $3
		WHERE id = (`+claimable+`)`, id, ts(at.Add(-lease)), ts(at))
	if err != nil {
		return false, fmt.Errorf("claim push %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// SupersedePush closes push id unsent because a newer rollup replaces it,
// unless another process is sending it right now (a claim younger than
// lease), and audits it as superseded. It reports whether the push was
// closed.
func (db *DB) SupersedePush(ctx context.Context, id int64, o store.PushOutcome, lease time.Duration) (bool, error) {
	o.Outcome = store.DeliverySuperseded
	var closed bool
	err := db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE outbox SET status = 'delivered', receipt = $3, last_error = '', updated = $4
			WHERE id = (`+claimable+`)`, id, ts(o.At.Add(-lease)), o.Receipt, ts(o.At))
		if err != nil || tag.RowsAffected() != 1 {
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

// MarkDelivered records that push id arrived, with the target's receipt,
// and audits it. Delivered is final: a second MarkDelivered fails with
// ErrPushState, so a caller learns of a double send.
func (db *DB) MarkDelivered(ctx context.Context, id int64, o store.PushOutcome) error {
	if o.Outcome == "" {
		o.Outcome = store.DeliveryDelivered
	}
	if o.Outcome != store.DeliveryDelivered && o.Outcome != store.DeliveryExisting {
		return fmt.Errorf("mark push %d delivered: outcome %q is not %s or %s", id, o.Outcome, store.DeliveryDelivered, store.DeliveryExisting)
	}
	return db.movePush(ctx, id, store.PushDelivered, "receipt = $5, last_error = ''", o.Receipt, o)
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
	return db.movePush(ctx, id, store.PushFailed, "last_error = $5", o.Error, o)
}

// movePush sets push id to status to, with the assignment set (whose value
// is arg), unless it was delivered, and adds o to the push audit in the
// same transaction; otherwise it says why not: ErrNotFound or
// ErrPushState.
func (db *DB) movePush(ctx context.Context, id int64, to, set string, arg any, o store.PushOutcome) error {
	from := []string{store.PushPending, store.PushSending, store.PushFailed}
	err := db.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "UPDATE outbox SET status = $1, updated = $2, "+set+" WHERE id = $3 AND status = ANY($4)",
			to, ts(o.At), id, from, arg)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			return addAudit(ctx, tx, id, o)
		}
		var status string
		switch err := tx.QueryRow(ctx, "SELECT status FROM outbox WHERE id = $1", id).Scan(&status); {
		case errors.Is(err, pgx.ErrNoRows):
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
