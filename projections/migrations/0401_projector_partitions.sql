-- Partitioned projector workers (projections/partitions.py): after the number of workers changes,
-- each new worker starts at the smallest old position and, up to recheck_until (the largest old
-- one), skips the events the timeline already holds.
ALTER TABLE projector_position ADD COLUMN recheck_until bigint NOT NULL DEFAULT 0;
