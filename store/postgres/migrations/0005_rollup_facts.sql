-- Every write to a source's items advances the source's version, in the
-- writing transaction: triggers, so that no code path that writes items can
-- forget to (one per statement, not per row). The rollup keeps each
-- source's facts (the compact form of its items that a rollup reads) with
-- the version they were made at, and reads them instead of the items while
-- the version has not moved.
CREATE TABLE item_versions (
    source  text COLLATE "C" PRIMARY KEY,
    version bigint NOT NULL
);

CREATE FUNCTION pmsync_advance_item_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Sources in one order, so that two writers never wait on each other
    -- in opposite orders.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO item_versions (source, version)
            SELECT DISTINCT source, 1 FROM new_items ORDER BY source
            ON CONFLICT (source) DO UPDATE SET version = item_versions.version + 1;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO item_versions (source, version)
            SELECT source, 1 FROM (SELECT source FROM new_items UNION SELECT source FROM old_items) s ORDER BY source
            ON CONFLICT (source) DO UPDATE SET version = item_versions.version + 1;
    ELSE
        INSERT INTO item_versions (source, version)
            SELECT DISTINCT source, 1 FROM old_items ORDER BY source
            ON CONFLICT (source) DO UPDATE SET version = item_versions.version + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER items_version_insert AFTER INSERT ON items
    REFERENCING NEW TABLE AS new_items
    FOR EACH STATEMENT EXECUTE FUNCTION pmsync_advance_item_versions();
CREATE TRIGGER items_version_update AFTER UPDATE ON items
    REFERENCING OLD TABLE AS old_items NEW TABLE AS new_items
    FOR EACH STATEMENT EXECUTE FUNCTION pmsync_advance_item_versions();
CREATE TRIGGER items_version_delete AFTER DELETE ON items
    REFERENCING OLD TABLE AS old_items
    FOR EACH STATEMENT EXECUTE FUNCTION pmsync_advance_item_versions();

CREATE TABLE rollup_facts (
    source  text COLLATE "C" PRIMARY KEY,
    version bigint NOT NULL, -- the source's item version the facts were made at
    facts   bytea  NOT NULL  -- pmsync.Facts in its binary form
);
