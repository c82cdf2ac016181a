-- The rollup reads history by field and time (due-date moves of milestones,
-- moves into done) and new items by when they were first seen; the latest
-- computed report is kept whole, for the dashboard and the API.
CREATE INDEX item_changes_field ON item_changes (source, field, at);
CREATE INDEX items_created ON items (source, created_at);

CREATE TABLE reports (
    id     INTEGER PRIMARY KEY CHECK (id = 1), -- one row: the latest
    at     TEXT NOT NULL,
    report TEXT NOT NULL -- pmsync.Report as JSON
);
