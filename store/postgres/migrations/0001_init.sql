-- pmsync's schema on PostgreSQL: the same tables as the SQLite backend, in
-- PostgreSQL's own types. Text keys use the "C" collation so that every
-- listing orders by bytes, as SQLite does, whatever the database's locale.
-- Times are timestamptz (microsecond precision); calendar dates are date;
-- NULL means unset.

CREATE TABLE items (
    source           text COLLATE "C" NOT NULL,
    external_id      text COLLATE "C" NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('task', 'milestone', 'risk')),
    title            text NOT NULL,
    url              text NOT NULL,
    owner            text NOT NULL,
    priority         text NOT NULL,
    status           text NOT NULL,
    state            text NOT NULL CHECK (state IN ('todo', 'in_progress', 'blocked', 'done', 'cancelled')),
    start            date,
    due              date,
    done_at          timestamptz,
    updated_at       timestamptz,
    percent_complete double precision,
    planned_cost     double precision,
    actual_cost      double precision,
    likelihood       smallint NOT NULL,
    impact           smallint NOT NULL,
    milestone        text NOT NULL,
    parent           text NOT NULL,
    labels           json NOT NULL, -- array of strings, kept as written
    fields           json NOT NULL, -- object, kept as written (keys sorted)
    deleted_at       timestamptz,
    created_at       timestamptz NOT NULL, -- when the store first saw the item
    changed_at       timestamptz NOT NULL, -- when the store last wrote it
    PRIMARY KEY (source, external_id)
);
-- The deletion checks list a source's live items.
CREATE INDEX items_live ON items (source, external_id) WHERE deleted_at IS NULL;

CREATE TABLE sync_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      text COLLATE "C" NOT NULL,
    full_sync   boolean NOT NULL,
    started     timestamptz NOT NULL,
    finished    timestamptz,
    status      text NOT NULL,
    requests    bigint NOT NULL DEFAULT 0,
    seen        integer NOT NULL DEFAULT 0,
    changed     integer NOT NULL DEFAULT 0,
    quarantined integer NOT NULL DEFAULT 0,
    deleted     integer NOT NULL DEFAULT 0,
    error       text NOT NULL DEFAULT ''
);
CREATE INDEX sync_runs_source ON sync_runs (source, id);
CREATE INDEX sync_runs_source_status ON sync_runs (source, status, id);

CREATE TABLE item_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      text COLLATE "C" NOT NULL,
    external_id text COLLATE "C" NOT NULL,
    run_id      bigint REFERENCES sync_runs (id) ON DELETE SET NULL,
    at          timestamptz NOT NULL,
    field       text NOT NULL,
    old_value   text NOT NULL,
    new_value   text NOT NULL,
    FOREIGN KEY (source, external_id) REFERENCES items (source, external_id) ON DELETE CASCADE
);
CREATE INDEX item_changes_item ON item_changes (source, external_id, id);
CREATE INDEX item_changes_run ON item_changes (run_id);

CREATE TABLE cursors (
    source  text COLLATE "C" PRIMARY KEY,
    value   text NOT NULL,
    updated timestamptz NOT NULL
);

CREATE TABLE quarantine (
    source      text COLLATE "C" NOT NULL,
    external_id text COLLATE "C" NOT NULL,
    reason      text NOT NULL,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    PRIMARY KEY (source, external_id)
);

CREATE TABLE snapshots (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    program text COLLATE "C" NOT NULL,
    as_of   date,
    version text NOT NULL,
    at      timestamptz NOT NULL,
    rollup  jsonb NOT NULL -- pmsync.Rollup
);
CREATE INDEX snapshots_program ON snapshots (program, id);

CREATE TABLE outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target     text COLLATE "C" NOT NULL,
    program    text COLLATE "C" NOT NULL,
    version    text COLLATE "C" NOT NULL,
    payload    bytea NOT NULL,
    status     text NOT NULL CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
    attempts   integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    receipt    text NOT NULL DEFAULT '',
    created    timestamptz NOT NULL,
    updated    timestamptz NOT NULL,
    UNIQUE (target, program, version)
);
CREATE INDEX outbox_status ON outbox (status, id);

CREATE TABLE meta (
    key   text COLLATE "C" PRIMARY KEY,
    value text NOT NULL
);

-- Leases keep pmsync processes (replicas, a CLI run beside the daemon)
-- from doing one job at once. The token grows each time the lease passes to
-- another holder; every write made under a lease checks it.
CREATE TABLE leases (
    name    text COLLATE "C" PRIMARY KEY,
    holder  text NOT NULL,
    token   bigint NOT NULL,
    expires timestamptz NOT NULL
);
