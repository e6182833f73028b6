-- Tokens, for listing. Authentication checks tokens against the log, never here, so a
-- revocation is effective at once on every replica. Only hashes exist anywhere.

CREATE TABLE service_tokens (
    org_id       uuid NOT NULL,
    id           uuid NOT NULL,
    name         text NOT NULL,
    environments text[] NOT NULL,
    expires_at   timestamptz,
    created_at   timestamptz NOT NULL,
    created_by   text NOT NULL,
    revoked_at   timestamptz,
    PRIMARY KEY (org_id, id)
);

CREATE TABLE personal_tokens (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL,
    name       text NOT NULL,
    expires_at timestamptz,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX personal_tokens_user ON personal_tokens (user_id);

ALTER TABLE service_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE service_tokens FORCE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON service_tokens USING (
    org_id::text = current_setting('keyledger.org_id', true)
    OR current_setting('keyledger.bypass_rls', true) = 'on');
