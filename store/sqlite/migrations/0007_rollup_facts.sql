-- Every write to a source's items advances the source's version, in the
-- writing transaction: triggers, so that no code path that writes items can
-- forget to. The rollup keeps each source's facts (the compact form of its
-- items that a rollup reads) with the version they were made at, and reads
-- them instead of the items while the version has not moved.
CREATE TABLE item_versions (
    source  TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);

CREATE TRIGGER items_version_insert AFTER INSERT ON items BEGIN
    INSERT INTO item_versions (source, version) VALUES (NEW.source, 1)
        ON CONFLICT (source) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER items_version_update AFTER UPDATE ON items BEGIN
    INSERT INTO item_versions (source, version) VALUES (NEW.source, 1)
        ON CONFLICT (source) DO UPDATE SET version = version + 1;
    INSERT INTO item_versions (source, version) SELECT OLD.source, 1 WHERE OLD.source <> NEW.source
        ON CONFLICT (source) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER items_version_delete AFTER DELETE ON items BEGIN
    INSERT INTO item_versions (source, version) VALUES (OLD.source, 1)
        ON CONFLICT (source) DO UPDATE SET version = version + 1;
END;

CREATE TABLE rollup_facts (
    source  TEXT PRIMARY KEY,
    version INTEGER NOT NULL, -- the source's item version the facts were made at
    facts   BLOB    NOT NULL  -- pmsync.Facts in its binary form
);
