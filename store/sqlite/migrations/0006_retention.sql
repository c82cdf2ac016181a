-- Indexes for pruning history by age (see store.Retention): item changes by
-- when they were recorded, and tombstoned items by when they were deleted.
CREATE INDEX item_changes_at ON item_changes (at);
CREATE INDEX items_deleted_at ON items (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX snapshots_at ON snapshots (at);
