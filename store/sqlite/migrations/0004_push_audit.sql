-- The push audit: one row per outcome of a push (delivered, already there,
-- failed, superseded), written in the transaction that moves the push in the
-- outbox. It holds no reference to the outbox row, so that pruning the
-- outbox's history leaves the audit alone. The payload is kept only when
-- the configuration asks for it; its hash always.
CREATE TABLE push_audit (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    push_id      INTEGER NOT NULL,
    target       TEXT    NOT NULL,
    program      TEXT    NOT NULL,
    version      TEXT    NOT NULL,
    attempt      INTEGER NOT NULL,
    outcome      TEXT    NOT NULL CHECK (outcome IN ('delivered', 'existing', 'failed', 'superseded')),
    payload_hash TEXT    NOT NULL,
    payload      BLOB,
    receipt      TEXT    NOT NULL DEFAULT '',
    error        TEXT    NOT NULL DEFAULT '',
    at           TEXT    NOT NULL
);
CREATE INDEX push_audit_at ON push_audit (at, id);
CREATE INDEX push_audit_target ON push_audit (target, program, at);
