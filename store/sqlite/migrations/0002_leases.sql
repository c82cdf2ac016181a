-- Leases keep two pmsync processes (the daemon and a CLI run, or replicas)
-- from syncing one source at the same time.
CREATE TABLE leases (
    name    TEXT PRIMARY KEY,
    holder  TEXT NOT NULL,
    expires TEXT NOT NULL
);
