-- A rollup reads its program's past snapshots for their figures only
-- (trends, the burn rate, what changed), not their listings of items, which
-- make most of a large program's snapshot: each snapshot keeps its figures
-- apart (pmsync.Rollup.Figures as JSON). Older snapshots have none, and are
-- read whole.
ALTER TABLE snapshots ADD COLUMN figures text;
