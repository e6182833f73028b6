-- Row-level security with no switch a session can flip. Until now every policy also
-- let a transaction through when it had set keyledger.bypass_rls, which any session,
-- the API's reader role included, could set: RLS was advisory. Now:
--
-- * The role that owns these tables (the one Keyledger connects as, which runs the
--   migrations and the projector, and rebuilds) is exempt from RLS as table owners
--   are (no FORCE): cross-org writing needs no setting, and a superuser is exempt
--   anyway. Reading the tables as the owner is what the projector does, nothing else.
-- * Every API query runs as keyledger_reader (SET LOCAL ROLE, see db.go), which is not
--   the owner and has NOBYPASSRLS, so these policies always bind it. A reader
--   transaction is scoped to one organization (keyledger.org_id) or to one user
--   (keyledger.user_id), set for that transaction only; unset, it sees nothing.
-- * users and personal_tokens, which had no RLS, get per-user policies: a user's own
--   row and tokens, plus the user rows of the members of the organization in scope
--   (member lists show names and emails).

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['orgs', 'members', 'secrets', 'secret_values', 'secret_versions',
                             'secret_names', 'audit_log', 'audit_heads', 'service_tokens'] LOOP
        EXECUTE format('DROP POLICY org_isolation ON %I', t);
        EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY org_isolation ON %I USING (
            org_id::text = current_setting('keyledger.org_id', true))$p$, t);
    END LOOP;
END $$;

-- A user's own memberships, and the organizations they name, across orgs (GET /me).
CREATE POLICY own_memberships ON members USING (
    user_id::text = current_setting('keyledger.user_id', true));
CREATE POLICY member_orgs ON orgs USING (EXISTS (
    SELECT 1 FROM members m
    WHERE m.org_id = orgs.id AND m.user_id::text = current_setting('keyledger.user_id', true)));

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_user ON users USING (
    id::text = current_setting('keyledger.user_id', true));
CREATE POLICY org_members ON users USING (EXISTS (
    SELECT 1 FROM members m
    WHERE m.user_id = users.id AND m.org_id::text = current_setting('keyledger.org_id', true)));

ALTER TABLE personal_tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_tokens ON personal_tokens USING (
    user_id::text = current_setting('keyledger.user_id', true));
