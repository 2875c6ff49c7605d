-- The vendor registry. One row per vendor; lists that filters look into are
-- child tables, lists that are only ever read back whole are JSON arrays.

-- +goose Up
CREATE TABLE vendors (
    id                text        PRIMARY KEY,
    external_id       text        CONSTRAINT vendors_external_id_key UNIQUE, -- NULL when not imported with one
    owner_org         text        NOT NULL,
    display_name      text        NOT NULL,
    kind              smallint    NOT NULL, -- profile.Kind
    founding_year     integer     NOT NULL,
    size_band         smallint    NOT NULL, -- profile.SizeBand
    headquarters      text        NOT NULL,
    regions_served    jsonb       NOT NULL DEFAULT '[]', -- ordered; vendor_region_keys is derived from them
    nationwide        boolean     NOT NULL,
    remote            boolean     NOT NULL,
    languages         jsonb       NOT NULL DEFAULT '[]',
    website           text        NOT NULL,
    description       text        NOT NULL,
    capabilities      jsonb       NOT NULL DEFAULT '[]', -- ordered; also in vendor_tags
    certifications    jsonb       NOT NULL DEFAULT '[]', -- ordered; also in vendor_tags
    products          jsonb       NOT NULL DEFAULT '[]',
    client_references jsonb       NOT NULL DEFAULT '[]',
    has_open_source   boolean     NOT NULL, -- a product is open source
    verification      smallint    NOT NULL, -- profile.Verification
    verification_note text        NOT NULL,
    verify_time       timestamptz,
    create_time       timestamptz NOT NULL,
    update_time       timestamptz NOT NULL,
    revision          bigint      NOT NULL,
    -- profile.Vendor.SearchText: words already split and lower-cased in Go,
    -- so that PostgreSQL and SQLite agree on what a word is.
    search_text       text        NOT NULL,
    search_vector     tsvector    GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED
);

-- List's keyset order, both directions.
CREATE INDEX vendors_create_time_id ON vendors (create_time, id);
CREATE INDEX vendors_search_vector ON vendors USING gin (search_vector);

CREATE TABLE vendor_cpv_codes (
    vendor_id text    NOT NULL REFERENCES vendors (id) ON DELETE CASCADE,
    position  integer NOT NULL, -- order of Vendor.CPVCodes
    code      text    NOT NULL,
    PRIMARY KEY (vendor_id, position)
);
-- text_pattern_ops lets "code LIKE '722%'" use the index whatever the
-- database collation.
CREATE INDEX vendor_cpv_codes_code ON vendor_cpv_codes (code text_pattern_ops);

-- profile.Vendor.RegionKeys: the keys of the served regions (self) and of
-- the regions containing them (not self).
CREATE TABLE vendor_region_keys (
    vendor_id text    NOT NULL REFERENCES vendors (id) ON DELETE CASCADE,
    key       text    NOT NULL,
    self      boolean NOT NULL,
    PRIMARY KEY (vendor_id, key, self)
);
CREATE INDEX vendor_region_keys_key ON vendor_region_keys (key, self);

-- Capabilities and certifications, for filters.
CREATE TABLE vendor_tags (
    vendor_id text NOT NULL REFERENCES vendors (id) ON DELETE CASCADE,
    facet     text NOT NULL CHECK (facet IN ('capability', 'certification')),
    tag       text NOT NULL,
    PRIMARY KEY (vendor_id, facet, tag)
);
CREATE INDEX vendor_tags_tag ON vendor_tags (facet, tag);

-- +goose Down
DROP TABLE vendor_tags;
DROP TABLE vendor_region_keys;
DROP TABLE vendor_cpv_codes;
DROP TABLE vendors;
