package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/pmsync/pmsync/store"
)

// AcquireLease takes or renews the lease name for holder until at + ttl. It
// succeeds when nobody holds the lease, when holder already does, or when
// the other holder's lease has run out; the token grows when the lease
// changes holder.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, at time.Time, ttl time.Duration) (store.Fence, bool, error) {
	var token int64
	got := true
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		// SQLite evaluates every SET expression on the old row.
		err := tx.QueryRowContext(ctx, `INSERT INTO leases (name, holder, expires, token) VALUES (?, ?, ?, 1)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires,
				token = CASE WHEN leases.holder = excluded.holder THEN leases.token ELSE leases.token + 1 END
			WHERE leases.holder = excluded.holder OR leases.expires < ?
			RETURNING token`,
			name, holder, formatTime(at.Add(ttl)), formatTime(at)).Scan(&token)
		if errors.Is(err, sql.ErrNoRows) {
			got = false
			return nil
		}
		return err
	})
	if err != nil {
		return store.Fence{}, false, fmt.Errorf("acquire lease %q: %w", name, err)
	}
	if !got {
		return store.Fence{}, false, nil
	}
	return store.Fence{Lease: name, Holder: holder, Token: token}, true, nil
}

// ReleaseLease gives up holder's lease name: it runs out at once but keeps
// its token, which must never go back. Someone else's lease is left alone.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := db.write.ExecContext(ctx, "UPDATE leases SET expires = ? WHERE name = ? AND holder = ?",
		formatTime(time.Time{}), name, holder); err != nil {
		return fmt.Errorf("release lease %q: %w", name, err)
	}
	return nil
}

// LeaseHolder returns who holds lease name, if anyone.
func (db *DB) LeaseHolder(ctx context.Context, name string) (string, bool, error) {
	var holder string
	err := db.read.QueryRowContext(ctx, "SELECT holder FROM leases WHERE name = ?", name).Scan(&holder)
	switch {
	case err == sql.ErrNoRows:
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("read lease %q: %w", name, err)
	}
	return holder, true, nil
}

// TakeOverLease hands lease name from a holder known to be dead to holder,
// provided from still holds it; the token grows.
func (db *DB) TakeOverLease(ctx context.Context, name, from, holder string, at time.Time, ttl time.Duration) (store.Fence, bool, error) {
	var token int64
	err := db.write.QueryRowContext(ctx, "UPDATE leases SET holder = ?, expires = ?, token = token + 1 WHERE name = ? AND holder = ? RETURNING token",
		holder, formatTime(at.Add(ttl)), name, from).Scan(&token)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Fence{}, false, nil
	case err != nil:
		return store.Fence{}, false, fmt.Errorf("take over lease %q: %w", name, err)
	}
	return store.Fence{Lease: name, Holder: holder, Token: token}, true, nil
}

// Leases lists every lease by name.
func (db *DB) Leases(ctx context.Context) ([]store.Lease, error) {
	rows, err := db.read.QueryContext(ctx, "SELECT name, holder, token, expires FROM leases ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	defer rows.Close()
	var out []store.Lease
	for rows.Next() {
		var l store.Lease
		var exp sql.NullString
		if err := rows.Scan(&l.Name, &l.Holder, &l.Token, &exp); err != nil {
			return nil, fmt.Errorf("list leases: %w", err)
		}
		if l.Expires, err = parseTime(exp); err != nil {
			return nil, fmt.Errorf("list leases: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	return out, nil
}

// checkFence refuses a write whose fence no longer holds. It runs inside the
// write transaction, which SQLite's single writer makes atomic with the
// write itself.
func checkFence(ctx context.Context, tx *sql.Tx, f store.Fence) error {
	if f == (store.Fence{}) {
		return nil
	}
	var token int64
	err := tx.QueryRowContext(ctx, "SELECT token FROM leases WHERE name = ? AND holder = ?", f.Lease, f.Holder).Scan(&token)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("lease %q (token %d): %w", f.Lease, f.Token, store.ErrFenced)
	case err != nil:
		return fmt.Errorf("check lease %q: %w", f.Lease, err)
	case token != f.Token:
		return fmt.Errorf("lease %q (token %d, now %d): %w", f.Lease, f.Token, token, store.ErrFenced)
	}
	return nil
}
