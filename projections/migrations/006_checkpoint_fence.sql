-- The fence is the lease revision of the projector that last claimed the read models.
-- Lease revisions only grow (they are NATS KV stream sequences), so a projector whose
-- revision is below the fence lost its lease to a later holder while it was paused
-- (a GC pause, a stopped VM, a partition) and must not commit: its batch transaction
-- refuses it under the checkpoint's row lock. 0 means no leased projector has claimed
-- the read models yet.
ALTER TABLE projection_checkpoints ADD COLUMN fence bigint NOT NULL DEFAULT 0;
