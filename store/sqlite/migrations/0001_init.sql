-- Times are UTC text with a fixed nine-digit fraction, so that they also sort
-- correctly as text; calendar dates are YYYY-MM-DD text; NULL means unset.

CREATE TABLE items (
    source           TEXT    NOT NULL,
    external_id      TEXT    NOT NULL,
    kind             TEXT    NOT NULL CHECK (kind IN ('task', 'milestone', 'risk')),
    title            TEXT    NOT NULL,
    url              TEXT    NOT NULL,
    owner            TEXT    NOT NULL,
    priority         TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('todo', 'in_progress', 'blocked', 'done', 'cancelled')),
    start            TEXT,
    due              TEXT,
    done_at          TEXT,
    updated_at       TEXT,
    percent_complete REAL,
    planned_cost     REAL,
    actual_cost      REAL,
    likelihood       INTEGER NOT NULL,
    impact           INTEGER NOT NULL,
    milestone        TEXT    NOT NULL,
    parent           TEXT    NOT NULL,
    labels           TEXT    NOT NULL, -- JSON array
    fields           TEXT    NOT NULL, -- JSON object
    deleted_at       TEXT,
    created_at       TEXT    NOT NULL, -- when the store first saw the item
    changed_at       TEXT    NOT NULL, -- when the store last wrote it
    PRIMARY KEY (source, external_id)
);

CREATE TABLE sync_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT    NOT NULL,
    full_sync   INTEGER NOT NULL,
    started     TEXT    NOT NULL,
    finished    TEXT,
    status      TEXT    NOT NULL,
    requests    INTEGER NOT NULL DEFAULT 0,
    seen        INTEGER NOT NULL DEFAULT 0,
    changed     INTEGER NOT NULL DEFAULT 0,
    quarantined INTEGER NOT NULL DEFAULT 0,
    deleted     INTEGER NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sync_runs_source ON sync_runs (source, id);
CREATE INDEX sync_runs_source_status ON sync_runs (source, status, id);

CREATE TABLE item_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT    NOT NULL,
    external_id TEXT    NOT NULL,
    run_id      INTEGER REFERENCES sync_runs (id) ON DELETE SET NULL,
    at          TEXT    NOT NULL,
    field       TEXT    NOT NULL,
    old_value   TEXT    NOT NULL,
    new_value   TEXT    NOT NULL,
    FOREIGN KEY (source, external_id) REFERENCES items (source, external_id) ON DELETE CASCADE
);
CREATE INDEX item_changes_item ON item_changes (source, external_id, id);
CREATE INDEX item_changes_run ON item_changes (run_id);

CREATE TABLE cursors (
    source  TEXT PRIMARY KEY,
    value   TEXT NOT NULL,
    updated TEXT NOT NULL
);

CREATE TABLE quarantine (
    source      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    reason      TEXT NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    PRIMARY KEY (source, external_id)
);

CREATE TABLE snapshots (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    program TEXT NOT NULL,
    as_of   TEXT NOT NULL,
    version TEXT NOT NULL,
    at      TEXT NOT NULL,
    rollup  TEXT NOT NULL -- pmsync.Rollup as JSON
);
CREATE INDEX snapshots_program ON snapshots (program, id);

CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    target     TEXT    NOT NULL,
    program    TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    status     TEXT    NOT NULL CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT    NOT NULL DEFAULT '',
    receipt    TEXT    NOT NULL DEFAULT '',
    created    TEXT    NOT NULL,
    updated    TEXT    NOT NULL,
    UNIQUE (target, program, version)
);
CREATE INDEX outbox_status ON outbox (status, id);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
