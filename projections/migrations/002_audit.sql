-- The audit trail: one row per audited action (per environment where an action touches
-- several), chained per organization by hash so that an edited row is detected.
-- Secret names are sealed here as in the grid; secret_names outlives a deleted secret
-- so that its history keeps its name.

CREATE TABLE secret_names (
    org_id      uuid NOT NULL,
    secret_id   uuid NOT NULL,
    name_sealed text NOT NULL,
    PRIMARY KEY (org_id, secret_id)
);

CREATE TABLE audit_log (
    org_id             uuid NOT NULL,
    seq                bigint NOT NULL,
    idx                integer NOT NULL,
    event_id           text NOT NULL,
    at                 timestamptz NOT NULL,
    action             text NOT NULL,
    outcome            text NOT NULL,
    actor_id           text NOT NULL,
    actor_email        text NOT NULL,
    secret_id          uuid,
    secret_name_sealed text,
    env                text,
    details            text NOT NULL DEFAULT '',
    ip                 text NOT NULL,
    user_agent         text NOT NULL,
    prev_hash          text NOT NULL,
    hash               text NOT NULL,
    PRIMARY KEY (org_id, seq, idx)
);
CREATE INDEX audit_log_action ON audit_log (org_id, action, seq DESC);
CREATE INDEX audit_log_secret ON audit_log (org_id, secret_id, seq DESC);
CREATE INDEX audit_log_actor ON audit_log (org_id, actor_id, seq DESC);

CREATE TABLE audit_heads (
    org_id uuid PRIMARY KEY,
    seq    bigint NOT NULL,
    hash   text NOT NULL
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['secret_names', 'audit_log', 'audit_heads'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY org_isolation ON %I USING (
            org_id::text = current_setting('keyledger.org_id', true)
            OR current_setting('keyledger.bypass_rls', true) = 'on')$p$, t);
    END LOOP;
END $$;
