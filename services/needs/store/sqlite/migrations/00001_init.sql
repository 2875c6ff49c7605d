-- The needs registry. One row per need; lists that filters look into are
-- child tables, lists that are only ever read back whole are JSON arrays.
-- Times are INTEGER microseconds since the Unix epoch, UTC; dates are TEXT
-- YYYY-MM-DD.

-- +goose Up
CREATE TABLE needs (
    -- seq is the rowid: FTS5 refers to rows by rowid, and only an aliased
    -- rowid is guaranteed to survive VACUUM.
    seq                  INTEGER PRIMARY KEY,
    id                   TEXT    NOT NULL UNIQUE,
    owner_org            TEXT    NOT NULL,
    state                INTEGER NOT NULL, -- need.State
    title                TEXT    NOT NULL,
    problem_statement    TEXT    NOT NULL,
    desired_outcomes     TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(desired_outcomes)), -- ordered
    places               TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(places)), -- ordered; need_region_keys is derived from them
    certifications       TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(certifications)), -- ordered
    remote_possible      INTEGER NOT NULL, -- 0 or 1
    budget_min_eur       INTEGER NOT NULL,
    budget_max_eur       INTEGER NOT NULL,
    start_date           TEXT    CHECK (start_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    end_date             TEXT    CHECK (end_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    open_source_required INTEGER NOT NULL, -- 0 or 1
    response_deadline    INTEGER,
    close_reason         TEXT    NOT NULL,
    -- The award is there or not as a whole.
    award_vendor_name    TEXT,
    award_vendor         TEXT,
    award_value_eur      INTEGER,
    award_date           TEXT    CHECK (award_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    create_time          INTEGER NOT NULL,
    update_time          INTEGER NOT NULL,
    publish_time         INTEGER,
    close_time           INTEGER,
    revision             INTEGER NOT NULL,
    -- need.Need.SearchText: words already split and lower-cased in Go, so
    -- that PostgreSQL and SQLite agree on what a word is.
    search_text          TEXT    NOT NULL,
    CONSTRAINT needs_award_whole CHECK (
        (award_value_eur IS NULL) = (award_vendor_name IS NULL)
        AND (award_value_eur IS NULL) = (award_vendor IS NULL)
        AND (award_value_eur IS NOT NULL OR award_date IS NULL)
    )
) STRICT;

-- List's keyset order, both directions.
CREATE INDEX needs_create_time_id ON needs (create_time, id);
CREATE INDEX needs_owner_org ON needs (owner_org);

-- Full-text index over needs.search_text, without a copy of the text
-- (external content). The triggers below keep it in step with needs.
-- remove_diacritics 0: "Müller" and "Muller" are different words, as in
-- PostgreSQL's 'simple' configuration.
CREATE VIRTUAL TABLE needs_fts USING fts5 (
    search_text,
    content = 'needs',
    content_rowid = 'seq',
    tokenize = "unicode61 remove_diacritics 0"
);

-- +goose StatementBegin
CREATE TRIGGER needs_fts_insert AFTER INSERT ON needs BEGIN
    INSERT INTO needs_fts (rowid, search_text) VALUES (new.seq, new.search_text);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER needs_fts_delete AFTER DELETE ON needs BEGIN
    INSERT INTO needs_fts (needs_fts, rowid, search_text) VALUES ('delete', old.seq, old.search_text);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER needs_fts_update AFTER UPDATE OF search_text ON needs BEGIN
    INSERT INTO needs_fts (needs_fts, rowid, search_text) VALUES ('delete', old.seq, old.search_text);
    INSERT INTO needs_fts (rowid, search_text) VALUES (new.seq, new.search_text);
END;
-- +goose StatementEnd

CREATE TABLE need_cpv_codes (
    need_id  TEXT    NOT NULL REFERENCES needs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL, -- order of Need.CPVCodes
    code     TEXT    NOT NULL,
    PRIMARY KEY (need_id, position)
) STRICT, WITHOUT ROWID;
CREATE INDEX need_cpv_codes_code ON need_cpv_codes (code);

CREATE TABLE need_region_keys (
    need_id TEXT NOT NULL REFERENCES needs (id) ON DELETE CASCADE,
    key     TEXT NOT NULL, -- refdata.RegionKeys of the places
    PRIMARY KEY (need_id, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX need_region_keys_key ON need_region_keys (key);

CREATE TABLE need_co_buyers (
    need_id  TEXT    NOT NULL REFERENCES needs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL, -- order of joining
    org      TEXT    NOT NULL,
    PRIMARY KEY (need_id, position)
) STRICT, WITHOUT ROWID;
CREATE INDEX need_co_buyers_org ON need_co_buyers (org);

-- +goose Down
DROP TABLE need_co_buyers;
DROP TABLE need_region_keys;
DROP TABLE need_cpv_codes;
DROP TABLE needs_fts;
DROP TABLE needs;
