package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// insertBatch is how many new items one multi-row INSERT writes: one
// statement execution for a batch costs far less than one per row (each
// goes through database/sql and a cgo call), and 32 rows of 25 columns
// stay well under SQLite's limit on bound variables.
const insertBatch = 32

// The statements a page write runs. They are prepared once on the writer
// connection when the store opens and reused by every page's transaction
// (Tx.StmtContext finds the statement already prepared on that
// connection), so a sync does not compile its SQL again for every page.
const (
	storedRowsSQL = `SELECT external_id, ` + itemCols + ` FROM items
		WHERE source = ? AND external_id IN (SELECT value FROM json_each(?))`
	unquarantineSQL = `DELETE FROM quarantine
		WHERE source = ? AND external_id IN (SELECT value FROM json_each(?))`
	cursorSQL = `SELECT value FROM cursors WHERE source = ?`
)

// insertItemsSQL inserts n items in one statement.
func insertItemsSQL(n int) string {
	row := "(" + placeholders(25) + ")"
	return `INSERT INTO items (` + itemCols + `, created_at, changed_at, source, external_id) VALUES ` +
		strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// pageStmts are the prepared statements of the page writes: on the writer
// pool as the store keeps them, or bound to one transaction (in).
type pageStmts struct {
	stored, insert, insertBatch, update, change, tombstone *sql.Stmt
	quarantine, unquarantine, cursor, setCursor            *sql.Stmt
}

// prepare compiles the page write statements on db.
func (p *pageStmts) prepare(ctx context.Context, db *sql.DB) error {
	for _, s := range []struct {
		dst *(*sql.Stmt)
		sql string
	}{
		{&p.stored, storedRowsSQL},
		{&p.insert, insertItemsSQL(1)},
		{&p.insertBatch, insertItemsSQL(insertBatch)},
		{&p.update, updateItemSQL},
		{&p.change, insertChangeSQL},
		{&p.tombstone, tombstoneSQL},
		{&p.quarantine, upsertQuarantineSQL},
		{&p.unquarantine, unquarantineSQL},
		{&p.cursor, cursorSQL},
		{&p.setCursor, setCursorSQL},
	} {
		st, err := db.PrepareContext(ctx, s.sql)
		if err != nil {
			p.close()
			return fmt.Errorf("prepare page statements: %w", err)
		}
		*s.dst = st
	}
	return nil
}

// close releases the statements prepared so far.
func (p *pageStmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{p.stored, p.insert, p.insertBatch, p.update, p.change, p.tombstone,
		p.quarantine, p.unquarantine, p.cursor, p.setCursor} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// in binds the prepared statements to tx.
func (p *pageStmts) in(ctx context.Context, tx *sql.Tx) *pageStmts {
	return &pageStmts{
		stored: tx.StmtContext(ctx, p.stored), insert: tx.StmtContext(ctx, p.insert),
		insertBatch: tx.StmtContext(ctx, p.insertBatch), update: tx.StmtContext(ctx, p.update),
		change: tx.StmtContext(ctx, p.change), tombstone: tx.StmtContext(ctx, p.tombstone),
		quarantine: tx.StmtContext(ctx, p.quarantine), unquarantine: tx.StmtContext(ctx, p.unquarantine),
		cursor: tx.StmtContext(ctx, p.cursor), setCursor: tx.StmtContext(ctx, p.setCursor),
	}
}

// pageTx runs fn in one IMMEDIATE transaction with the page statements.
// fn reports whether it wrote anything: a transaction that wrote nothing is
// rolled back, so that it leaves no trace in the WAL.
func (db *DB) pageTx(ctx context.Context, fn func(tx *sql.Tx, st *pageStmts) (bool, error)) error {
	if db.pages == nil {
		return errors.New("the store is open read-only")
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin write: %w", err)
	}
	wrote, err := fn(tx, db.pages.in(ctx, tx))
	if err != nil || !wrote {
		_ = tx.Rollback() // fn's error says what went wrong; the rollback only discards
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// insertRows inserts the rows at the indexes fresh, insertBatch at a time
// and the rest one by one.
func insertRows(ctx context.Context, st *pageStmts, source, at string, rows []itemRow, ids []string, fresh []int) error {
	args := make([]any, 0, 25*insertBatch)
	for len(fresh) >= insertBatch {
		args = args[:0]
		for _, i := range fresh[:insertBatch] {
			args = append(append(args, rows[i].args()...), at, at, source, ids[i])
		}
		if _, err := st.insertBatch.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("insert items %q to %q: %w", ids[fresh[0]], ids[fresh[insertBatch-1]], err)
		}
		fresh = fresh[insertBatch:]
	}
	for _, i := range fresh {
		args = append(append(args[:0], rows[i].args()...), at, at, source, ids[i])
		if _, err := st.insert.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("insert item %q: %w", ids[i], err)
		}
	}
	return nil
}
