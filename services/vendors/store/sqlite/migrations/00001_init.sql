-- The vendor registry. One row per vendor; lists that filters look into are
-- child tables, lists that are only ever read back whole are JSON arrays.
-- Times are INTEGER microseconds since the Unix epoch, UTC.

-- +goose Up
CREATE TABLE vendors (
    -- seq is the rowid: FTS5 refers to rows by rowid, and only an aliased
    -- rowid is guaranteed to survive VACUUM.
    seq               INTEGER PRIMARY KEY,
    id                TEXT    NOT NULL UNIQUE,
    external_id       TEXT    UNIQUE, -- NULL when not imported with one
    owner_org         TEXT    NOT NULL,
    display_name      TEXT    NOT NULL,
    kind              INTEGER NOT NULL, -- profile.Kind
    founding_year     INTEGER NOT NULL,
    size_band         INTEGER NOT NULL, -- profile.SizeBand
    headquarters      TEXT    NOT NULL,
    regions_served    TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(regions_served)), -- ordered; vendor_region_keys is derived from them
    nationwide        INTEGER NOT NULL, -- 0 or 1
    remote            INTEGER NOT NULL, -- 0 or 1
    languages         TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(languages)),
    website           TEXT    NOT NULL,
    description       TEXT    NOT NULL,
    capabilities      TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(capabilities)), -- ordered; also in vendor_tags
    certifications    TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(certifications)), -- ordered; also in vendor_tags
    products          TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(products)),
    client_references TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(client_references)),
    has_open_source   INTEGER NOT NULL, -- 0 or 1: a product is open source
    verification      INTEGER NOT NULL, -- profile.Verification
    verification_note TEXT    NOT NULL,
    verify_time       INTEGER,
    create_time       INTEGER NOT NULL,
    update_time       INTEGER NOT NULL,
    revision          INTEGER NOT NULL,
    -- profile.Vendor.SearchText: words already split and lower-cased in Go,
    -- so that PostgreSQL and SQLite agree on what a word is.
    search_text       TEXT    NOT NULL
) STRICT;

-- List's keyset order, both directions.
CREATE INDEX vendors_create_time_id ON vendors (create_time, id);

CREATE VIRTUAL TABLE vendors_fts USING fts5 (
    search_text,
    content = 'vendors',
    content_rowid = 'seq',
    tokenize = "unicode61 remove_diacritics 0"
);

-- +goose StatementBegin
CREATE TRIGGER vendors_fts_insert AFTER INSERT ON vendors BEGIN
    INSERT INTO vendors_fts (rowid, search_text) VALUES (new.seq, new.search_text);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER vendors_fts_delete AFTER DELETE ON vendors BEGIN
    INSERT INTO vendors_fts (vendors_fts, rowid, search_text) VALUES ('delete', old.seq, old.search_text);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER vendors_fts_update AFTER UPDATE OF search_text ON vendors BEGIN
    INSERT INTO vendors_fts (vendors_fts, rowid, search_text) VALUES ('delete', old.seq, old.search_text);
    INSERT INTO vendors_fts (rowid, search_text) VALUES (new.seq, new.search_text);
END;
-- +goose StatementEnd

CREATE TABLE vendor_cpv_codes (
    vendor_id TEXT    NOT NULL REFERENCES vendors (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL, -- order of Vendor.CPVCodes
    code      TEXT    NOT NULL,
    PRIMARY KEY (vendor_id, position)
) STRICT, WITHOUT ROWID;
CREATE INDEX vendor_cpv_codes_code ON vendor_cpv_codes (code);

-- profile.Vendor.RegionKeys: the keys of the served regions (self = 1) and
-- of the regions containing them (self = 0).
CREATE TABLE vendor_region_keys (
    vendor_id TEXT    NOT NULL REFERENCES vendors (id) ON DELETE CASCADE,
    key       TEXT    NOT NULL,
    self      INTEGER NOT NULL, -- 0 or 1
    PRIMARY KEY (vendor_id, key, self)
) STRICT, WITHOUT ROWID;
CREATE INDEX vendor_region_keys_key ON vendor_region_keys (key, self);

-- Capabilities and certifications, for filters.
CREATE TABLE vendor_tags (
    vendor_id TEXT NOT NULL REFERENCES vendors (id) ON DELETE CASCADE,
    facet     TEXT NOT NULL CHECK (facet IN ('capability', 'certification')),
    tag       TEXT NOT NULL,
    PRIMARY KEY (vendor_id, facet, tag)
) STRICT, WITHOUT ROWID;
CREATE INDEX vendor_tags_tag ON vendor_tags (facet, tag);

-- +goose Down
DROP TABLE vendor_tags;
DROP TABLE vendor_region_keys;
DROP TABLE vendor_cpv_codes;
DROP TABLE vendors_fts;
DROP TABLE vendors;
