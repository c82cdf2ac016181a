-- The push audit: one row per outcome of a push (delivered, already there,
-- failed, superseded), written in the transaction that moves the push in the
-- outbox. It holds no reference to the outbox row, so that pruning the
-- outbox's history leaves the audit alone. The payload is kept only when
-- the configuration asks for it; its hash always.
CREATE TABLE push_audit (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    push_id      bigint NOT NULL,
    target       text COLLATE "C" NOT NULL,
    program      text COLLATE "C" NOT NULL,
    version      text COLLATE "C" NOT NULL,
    attempt      integer NOT NULL,
    outcome      text NOT NULL CHECK (outcome IN ('delivered', 'existing', 'failed', 'superseded')),
    payload_hash text NOT NULL,
    payload      bytea,
    receipt      text NOT NULL DEFAULT '',
    error        text NOT NULL DEFAULT '',
    at           timestamptz NOT NULL
);
CREATE INDEX push_audit_at ON push_audit (at, id);
CREATE INDEX push_audit_target ON push_audit (target, program, at);
