package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pmsync/pmsync/store"
)

// AcquireLease takes or renews the lease name for holder until at + ttl. It
// succeeds when nobody holds the lease, when holder already does, or when
// the other holder's lease has run out; the token grows when the lease
// changes holder. The upsert locks the lease row, so of two processes
// acquiring one lease at once exactly one gets it.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, at time.Time, ttl time.Duration) (store.Fence, bool, error) {
	if name == "" || holder == "" {
		return store.Fence{}, false, fmt.Errorf("acquire lease %q for %q: name and holder are both required", name, holder)
	}
	var token int64
	err := db.pool.QueryRow(ctx, `INSERT INTO leases AS l (name, holder, token, expires) VALUES ($1, $2, 1, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires,
			token = CASE WHEN l.holder = excluded.holder THEN l.token ELSE l.token + 1 END
		WHERE l.holder = excluded.holder OR l.expires < $4
		RETURNING token`, name, holder, ts(at.Add(ttl)), ts(at)).Scan(&token)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.Fence{}, false, nil
	case err != nil:
		return store.Fence{}, false, fmt.Errorf("acquire lease %q: %w", name, err)
	}
	return store.Fence{Lease: name, Holder: holder, Token: token}, true, nil
}

// ReleaseLease gives up holder's lease name: it runs out at once but keeps
// its holder and token, which must never go back. Someone else's lease is
// left alone.
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := db.pool.Exec(ctx, "UPDATE leases SET expires = '-infinity' WHERE name = $1 AND holder = $2", name, holder); err != nil {
		return fmt.Errorf("release lease %q: %w", name, err)
	}
	return nil
}

// LeaseHolder returns who holds lease name, if anyone (run out or not).
func (db *DB) LeaseHolder(ctx context.Context, name string) (string, bool, error) {
	var holder string
	err := db.pool.QueryRow(ctx, "SELECT holder FROM leases WHERE name = $1", name).Scan(&holder)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
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
	err := db.pool.QueryRow(ctx, `UPDATE leases SET holder = $1, expires = $2, token = token + 1
		WHERE name = $3 AND holder = $4 RETURNING token`, holder, ts(at.Add(ttl)), name, from).Scan(&token)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.Fence{}, false, nil
	case err != nil:
		return store.Fence{}, false, fmt.Errorf("take over lease %q: %w", name, err)
	}
	return store.Fence{Lease: name, Holder: holder, Token: token}, true, nil
}

// Leases lists every lease by name. A released lease shows a zero Expires.
func (db *DB) Leases(ctx context.Context) ([]store.Lease, error) {
	rows, err := db.pool.Query(ctx, `SELECT name, holder, token,
		CASE WHEN expires = '-infinity' THEN NULL ELSE expires END FROM leases ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	defer rows.Close()
	var out []store.Lease
	for rows.Next() {
		var l store.Lease
		var exp *time.Time
		if err := rows.Scan(&l.Name, &l.Holder, &l.Token, &exp); err != nil {
			return nil, fmt.Errorf("list leases: %w", err)
		}
		l.Expires = fromNull(exp)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	return out, nil
}

// checkFence refuses a write whose fence no longer holds. It runs inside the
// write's transaction and locks the lease row FOR SHARE until the commit:
// a takeover (an UPDATE of the row) waits for the write to finish, so the
// check cannot go stale before the write is committed. The zero fence
// checks nothing.
func checkFence(ctx context.Context, tx pgx.Tx, f store.Fence) error {
	if f == (store.Fence{}) {
		return nil
	}
	var holder string
	var token int64
	err := tx.QueryRow(ctx, "SELECT holder, token FROM leases WHERE name = $1 FOR SHARE", f.Lease).Scan(&holder, &token)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("lease %q (token %d) does not exist: %w", f.Lease, f.Token, store.ErrFenced)
	case err != nil:
		return fmt.Errorf("check lease %q: %w", f.Lease, err)
	case holder != f.Holder || token != f.Token:
		return fmt.Errorf("lease %q (token %d of %s) is now token %d of %s: %w", f.Lease, f.Token, f.Holder, token, holder, store.ErrFenced)
	}
	return nil
}
