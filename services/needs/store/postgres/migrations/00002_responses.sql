-- Market-exploration responses: one per vendor and need.

-- +goose Up
CREATE TABLE need_responses (
    need_id              text        NOT NULL REFERENCES needs (id) ON DELETE CASCADE,
    vendor               text        NOT NULL, -- vendor id = organisation id of its users
    summary              text        NOT NULL,
    indicative_price_eur bigint      NOT NULL,
    contact_email        text        NOT NULL,
    state                smallint    NOT NULL, -- need.ResponseState
    create_time          timestamptz NOT NULL,
    update_time          timestamptz NOT NULL,
    revision             bigint      NOT NULL,
    PRIMARY KEY (need_id, vendor)
);
-- A vendor's responses across needs, newest first.
CREATE INDEX need_responses_vendor ON need_responses (vendor, create_time, need_id);

-- +goose Down
DROP TABLE need_responses;
