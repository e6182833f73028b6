-- The grid's in-memory name index (name_index.go) keeps itself current from these: each
-- secret row records the stream sequence of the last event that changed it, and a
-- deletion leaves a tombstone with its sequence. A grid page then reads what changed
-- since the index's sequence and the page's own rows, never the whole organization.
ALTER TABLE secrets ADD COLUMN changed_seq bigint NOT NULL DEFAULT 0;
CREATE INDEX secrets_changed ON secrets (org_id, changed_seq);

CREATE TABLE secret_deletions (
    org_id    uuid   NOT NULL,
    secret_id uuid   NOT NULL,
    seq       bigint NOT NULL,
    PRIMARY KEY (org_id, seq, secret_id)
);
ALTER TABLE secret_deletions ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON secret_deletions USING (
    org_id::text = current_setting('keyledger.org_id', true));
