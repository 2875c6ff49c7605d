-- Market-exploration responses: one per vendor and need.

-- +goose Up
CREATE TABLE need_responses (
    need_id              TEXT    NOT NULL REFERENCES needs (id) ON DELETE CASCADE,
    vendor               TEXT    NOT NULL, -- vendor id = organisation id of its users
    summary              TEXT    NOT NULL,
    indicative_price_eur INTEGER NOT NULL,
    contact_email        TEXT    NOT NULL,
    state                INTEGER NOT NULL, -- need.ResponseState
    create_time          INTEGER NOT NULL, -- unix microseconds
    update_time          INTEGER NOT NULL,
    revision             INTEGER NOT NULL,
    PRIMARY KEY (need_id, vendor)
) WITHOUT ROWID;
-- A vendor's responses across needs, newest first.
CREATE INDEX need_responses_vendor ON need_responses (vendor, create_time, need_id);

-- +goose Down
DROP TABLE need_responses;
