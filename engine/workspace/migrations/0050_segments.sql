-- Segments: saved rule trees (every save a new version), static member lists,
-- size snapshots, and a materialised, sorted index of attributed events that makes
-- behavioural conditions fast (rebuilt by `cdp segment refresh` when events or
-- identities change; segments fall back to the profile_events view while it is stale).

CREATE TABLE segments (
    segment_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    description VARCHAR,
    kind VARCHAR NOT NULL,              -- rules | static
    current_version INTEGER NOT NULL,
    created_at TIMESTAMPTZ DEFAULT now(),
    created_by VARCHAR,
    updated_at TIMESTAMPTZ DEFAULT now(),
    updated_by VARCHAR,
    deleted_at TIMESTAMPTZ,
    deleted_by VARCHAR
);

CREATE TABLE segment_versions (
    segment_id VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    description VARCHAR,
    definition JSON,                    -- NULL for static segments
    note VARCHAR,                       -- e.g. 'restored from version 2'
    saved_at TIMESTAMPTZ DEFAULT now(),
    saved_by VARCHAR,
    PRIMARY KEY (segment_id, version)
);

CREATE TABLE segment_static_members (
    segment_id VARCHAR NOT NULL,
    profile_id VARCHAR NOT NULL,
    added_at TIMESTAMPTZ DEFAULT now(),
    PRIMARY KEY (segment_id, profile_id)
);

CREATE SEQUENCE segment_snapshot_seq;
CREATE TABLE segment_snapshots (
    snapshot_id BIGINT PRIMARY KEY DEFAULT nextval('segment_snapshot_seq'),
    segment_id VARCHAR NOT NULL,
    version INTEGER,
    taken_at TIMESTAMPTZ DEFAULT now(),
    member_count BIGINT,
    reachable_email BIGINT,
    reachable_phone BIGINT,
    reachable_ad_ids BIGINT
);

CREATE TABLE segment_event_index (
    profile_id VARCHAR NOT NULL,
    event VARCHAR,
    ts TIMESTAMPTZ,
    properties JSON
);

CREATE TABLE segment_event_index_state (
    id INTEGER PRIMARY KEY,
    fingerprint VARCHAR,
    row_count BIGINT,
    built_at TIMESTAMPTZ,
    build_seconds DOUBLE
);
