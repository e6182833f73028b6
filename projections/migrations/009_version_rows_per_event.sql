-- A shared log message (several writers' decisions on one secret, written as one
-- message by group commit) may change one environment several times: each change
-- keeps its own history row, numbered by its event's position in the message
-- (0 for every row written before).
ALTER TABLE secret_versions ADD COLUMN idx integer NOT NULL DEFAULT 0;
ALTER TABLE secret_versions DROP CONSTRAINT secret_versions_pkey;
ALTER TABLE secret_versions ADD PRIMARY KEY (org_id, secret_id, env, seq, idx);
