-- The transactional outbox (pkg/outbox), SQLite. Frozen: a change is a new
-- file and a new migration, never an edit (TestDDLIsFrozen).
CREATE TABLE outbox (
    -- Insertion order, which is commit order: SQLite has one writer.
    -- AUTOINCREMENT keeps seq growing even when the table runs empty.
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id          TEXT    NOT NULL, -- the envelope's id, a UUIDv7
    source            TEXT    NOT NULL, -- the service, the stream's name
    aggregate_type    TEXT    NOT NULL,
    aggregate_id      TEXT    NOT NULL,
    aggregate_version INTEGER NOT NULL,
    event_type        TEXT    NOT NULL, -- the payload's full message name
    occur_time        INTEGER NOT NULL, -- microseconds since the Unix epoch
    data              BLOB    NOT NULL  -- the marshalled govmatch.events.v1.Event
) STRICT;
