-- Change notices wait here between the projector batch that produced them and their
-- publication on the change stream: the batch writes them in its own transaction, and
-- a loop beside the projector publishes them after the commit, in (seq, part) order,
-- and deletes them once stored. A crash in between leaves them here for the next
-- projector, so a committed batch's notices are never lost, and the batch (which every
-- write's answer waits for) no longer waits for one synced publish per notice.
-- data is the notice as the stream stores it: ids and versions, the name sealed with
-- the organization's data key, never a value, mask or name in clear.
CREATE TABLE change_outbox (
    seq    bigint  NOT NULL,
    part   integer NOT NULL,
    org_id uuid    NOT NULL,
    env    text    NOT NULL,
    data   bytea   NOT NULL,
    PRIMARY KEY (seq, part)
);
-- Only the projector (the tables' owner, exempt) reads or writes it; no policy lets
-- the reader role see a row.
ALTER TABLE change_outbox ENABLE ROW LEVEL SECURITY;
