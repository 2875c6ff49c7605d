-- The event counter of each need id, for the aggregate_version of the
-- events in the outbox (table outbox, migration 3; see package needevents).
-- It is not a child of needs: it outlives a deleted need, so that a need
-- created again under the same id continues the count and consumers do not
-- take its events for stale ones.

-- +goose Up
CREATE TABLE need_event_versions (
    need_id text   PRIMARY KEY,
    version bigint NOT NULL -- of the last event emitted
);

-- +goose Down
DROP TABLE need_event_versions;
