-- The served report's revision grows with every save, so that a reader
-- keeps the report it decoded (and what it made of it) until a new one is
-- saved, instead of decoding the whole document on every request.
ALTER TABLE reports ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
