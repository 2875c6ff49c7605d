-- The event counter of each vendor id: the aggregate_version of the last
-- event emitted for it (table outbox, migration 2; see package
-- vendorevents). It is not a child of vendors: it outlives a deleted
-- vendor, so that a vendor created again under the same id, whose
-- revisions start at 1 again, continues above the deleted one's versions
-- and consumers do not take its events for stale ones. Ids deleted before
-- this migration are not known.

-- +goose Up
CREATE TABLE vendor_event_versions (
    vendor_id TEXT    PRIMARY KEY,
    version   INTEGER NOT NULL -- of the last event emitted
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE vendor_event_versions;
