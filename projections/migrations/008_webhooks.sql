-- Webhooks, for listing and for the delivery engine's roster. The URL and the
-- description are sealed with the organization's data key (a URL may hold a
-- credential); the signing secret is not here at all: the delivery engine reads it
-- from the log. created_seq is the event sequence of the registration: the webhook
-- receives the notices of later events. Delivery state lives in NATS, not here.

CREATE TABLE webhooks (
    org_id             uuid        NOT NULL,
    id                 uuid        NOT NULL,
    url_sealed         text        NOT NULL,
    description_sealed text        NOT NULL,
    environments       text[]      NOT NULL,
    created_at         timestamptz NOT NULL,
    created_by         text        NOT NULL,
    created_seq        bigint      NOT NULL,
    PRIMARY KEY (org_id, id)
);

ALTER TABLE webhooks ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON webhooks USING (
    org_id::text = current_setting('keyledger.org_id', true));
