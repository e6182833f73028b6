-- secrets.fetched entries name the secrets whose values left the server. Names are
-- sealed at rest, like everywhere else in the read models.
ALTER TABLE audit_log ADD COLUMN names_sealed text;
