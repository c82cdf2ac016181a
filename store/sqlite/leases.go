package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// AcquireLease takes or renews the lease name for holder until at + ttl. It
// succeeds when nobody holds the lease, when holder already does, or when
// the other holder's lease has run out; it reports whether holder now has it.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, at time.Time, ttl time.Duration) (bool, error) {
	var got bool
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO leases (name, holder, expires) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
			WHERE leases.holder = excluded.holder OR leases.expires < ?`,
			name, holder, formatTime(at.Add(ttl)), formatTime(at))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		got = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("acquire lease %q: %w", name, err)
	}
	return got, nil
}

// ReleaseLease gives up holder's lease name; someone else's is left alone.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := db.write.ExecContext(ctx, "DELETE FROM leases WHERE name = ? AND holder = ?", name, holder); err != nil {
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
// provided from still holds it; it reports whether holder now has it.
func (db *DB) TakeOverLease(ctx context.Context, name, from, holder string, at time.Time, ttl time.Duration) (bool, error) {
	res, err := db.write.ExecContext(ctx, "UPDATE leases SET holder = ?, expires = ? WHERE name = ? AND holder = ?",
		holder, formatTime(at.Add(ttl)), name, from)
	if err != nil {
		return false, fmt.Errorf("take over lease %q: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("take over lease %q: %w", name, err)
	}
	return n == 1, nil
}
