-- Read models of the event log. Every table here can be dropped and rebuilt from
-- KEYLEDGER_EVENTS. Secret names and descriptions are stored sealed (as values are):
-- Postgres never holds them in plaintext.

CREATE TABLE projection_checkpoints (
    name text PRIMARY KEY,
    seq  bigint NOT NULL
);

CREATE TABLE users (
    id         uuid PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    name       text NOT NULL,
    superadmin boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL
);

CREATE TABLE orgs (
    id            uuid PRIMARY KEY,
    org_id        uuid NOT NULL,
    name          text NOT NULL,
    reveal_policy text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE members (
    org_id   uuid NOT NULL,
    user_id  uuid NOT NULL,
    role     text NOT NULL,
    added_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

CREATE TABLE secrets (
    org_id             uuid NOT NULL,
    id                 uuid NOT NULL,
    name_sealed        text NOT NULL,
    description_sealed text NOT NULL,
    owner_id           uuid NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    version            integer NOT NULL,
    PRIMARY KEY (org_id, id)
);

CREATE TABLE secret_values (
    org_id     uuid NOT NULL,
    secret_id  uuid NOT NULL,
    env        text NOT NULL,
    is_set     boolean NOT NULL,
    version    integer NOT NULL,
    mask       text,
    sealed     text,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, secret_id, env)
);

CREATE TABLE secret_versions (
    org_id    uuid NOT NULL,
    secret_id uuid NOT NULL,
    env       text NOT NULL,
    version   integer NOT NULL,
    action    text NOT NULL,
    actor_id  text NOT NULL,
    at        timestamptz NOT NULL,
    mask      text,
    seq       bigint NOT NULL,
    PRIMARY KEY (org_id, secret_id, env, seq)
);

-- Isolation twice: the API checks membership, and row-level security on org_id stops
-- a query that forgot to. Queries run with keyledger.org_id set for their transaction;
-- the projector, which writes every org, sets keyledger.bypass_rls.
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['orgs', 'members', 'secrets', 'secret_values', 'secret_versions'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY org_isolation ON %I USING (
            org_id::text = current_setting('keyledger.org_id', true)
            OR current_setting('keyledger.bypass_rls', true) = 'on')$p$, t);
    END LOOP;
END $$;
