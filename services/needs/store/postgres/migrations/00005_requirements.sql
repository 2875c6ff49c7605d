-- A need's requirements (need.Requirement) as a JSON array of
-- {"kind", "value", "must_have"} objects in the need's order, written and
-- read by package columns. Only matching looks inside, through the events,
-- so no table of their own is needed.

-- +goose Up
ALTER TABLE needs ADD COLUMN requirements jsonb NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE needs DROP COLUMN requirements;
