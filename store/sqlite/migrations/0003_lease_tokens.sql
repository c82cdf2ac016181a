-- Fencing tokens: a lease's token grows each time it passes to another
-- holder, and every write made under a lease checks it, so a process that
-- lost its lease (paused, partitioned) cannot write over its successor.
ALTER TABLE leases ADD COLUMN token INTEGER NOT NULL DEFAULT 1;
