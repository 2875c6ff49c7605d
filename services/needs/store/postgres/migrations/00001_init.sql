-- The needs registry. One row per need; lists that filters look into are
-- child tables, lists that are only ever read back whole are JSON arrays.

-- +goose Up
CREATE TABLE needs (
    id                   text        PRIMARY KEY,
    owner_org            text        NOT NULL,
    state                smallint    NOT NULL, -- need.State
    title                text        NOT NULL,
    problem_statement    text        NOT NULL,
    desired_outcomes     jsonb       NOT NULL DEFAULT '[]', -- ordered
    places               jsonb       NOT NULL DEFAULT '[]', -- ordered; need_region_keys is derived from them
    certifications       jsonb       NOT NULL DEFAULT '[]', -- ordered
    remote_possible      boolean     NOT NULL,
    budget_min_eur       bigint      NOT NULL,
    budget_max_eur       bigint      NOT NULL,
    start_date           text        CHECK (start_date ~ '^\d{4}-\d{2}-\d{2}$'),
    end_date             text        CHECK (end_date ~ '^\d{4}-\d{2}-\d{2}$'),
    open_source_required boolean     NOT NULL,
    response_deadline    timestamptz,
    close_reason         text        NOT NULL,
    -- The award is there or not as a whole.
    award_vendor_name    text,
    award_vendor         text,
    award_value_eur      bigint,
    award_date           text        CHECK (award_date ~ '^\d{4}-\d{2}-\d{2}$'),
    create_time          timestamptz NOT NULL,
    update_time          timestamptz NOT NULL,
    publish_time         timestamptz,
    close_time           timestamptz,
    revision             bigint      NOT NULL,
    -- need.Need.SearchText: words already split and lower-cased in Go, so
    -- that PostgreSQL and SQLite agree on what a word is.
    search_text          text        NOT NULL,
    search_vector        tsvector    GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED,
    CONSTRAINT needs_award_whole CHECK (
        (award_value_eur IS NULL) = (award_vendor_name IS NULL)
        AND (award_value_eur IS NULL) = (award_vendor IS NULL)
        AND (award_value_eur IS NOT NULL OR award_date IS NULL)
    )
);

-- List's keyset order, both directions.
CREATE INDEX needs_create_time_id ON needs (create_time, id);
CREATE INDEX needs_owner_org ON needs (owner_org);
CREATE INDEX needs_search_vector ON needs USING gin (search_vector);

CREATE TABLE need_cpv_codes (
    need_id  text    NOT NULL REFERENCES needs (id) ON DELETE CASCADE,
    position integer NOT NULL, -- order of Need.CPVCodes
    code     text    NOT NULL,
    PRIMARY KEY (need_id, position)
);
-- text_pattern_ops lets "code LIKE '722%'" use the index whatever the
-- database collation.
CREATE INDEX need_cpv_codes_code ON need_cpv_codes (code text_pattern_ops);

CREATE TABLE need_region_keys (
    need_id text NOT NULL REFERENCES needs (id) ON DELETE CASCADE,
    key     text NOT NULL, -- refdata.RegionKeys of the places
    PRIMARY KEY (need_id, key)
);
CREATE INDEX need_region_keys_key ON need_region_keys (key);

CREATE TABLE need_co_buyers (
    need_id  text    NOT NULL REFERENCES needs (id) ON DELETE CASCADE,
    position integer NOT NULL, -- order of joining
    org      text    NOT NULL,
    PRIMARY KEY (need_id, position)
);
CREATE INDEX need_co_buyers_org ON need_co_buyers (org);

-- +goose Down
DROP TABLE need_co_buyers;
DROP TABLE need_region_keys;
DROP TABLE need_cpv_codes;
DROP TABLE needs;
