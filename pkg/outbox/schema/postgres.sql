-- The transactional outbox (pkg/outbox), PostgreSQL. Frozen: a change is a
-- new file and a new migration, never an edit (TestDDLIsFrozen).
CREATE TABLE outbox (
    -- Insertion order. Identity values are handed out at INSERT, not at
    -- COMMIT, so a lower seq can become visible after a higher one; the
    -- relay never skips past a row for that reason (it deletes what it
    -- published and reads from the lowest again), and Insert serialises
    -- the writers of one aggregate, so their seqs follow commit order.
    seq               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id          text        NOT NULL, -- the envelope's id, a UUIDv7
    source            text        NOT NULL, -- the service, the stream's name
    aggregate_type    text        NOT NULL,
    aggregate_id      text        NOT NULL,
    aggregate_version bigint      NOT NULL,
    event_type        text        NOT NULL, -- the payload's full message name
    occur_time        timestamptz NOT NULL,
    data              bytea       NOT NULL  -- the marshalled govmatch.events.v1.Event
);
