-- Activation: destinations, audience syncs, their runs, the batch journal that makes a
-- crashed sync resumable, what each destination currently holds, and holdout groups.

-- A configured destination. Settings never hold secrets: those come from
-- .streamlit/secrets.toml [destinations.<name>] or environment variables.
CREATE TABLE activation_destinations (
    name VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,              -- meta | google | klaviyo | hubspot | webhook
    settings JSON,                      -- audience/list ids, base_url, ...
    created_at TIMESTAMPTZ DEFAULT now(),
    created_by VARCHAR,
    updated_at TIMESTAMPTZ DEFAULT now()
);

-- One audience (a segment or a profile tag) linked to one destination.
CREATE TABLE activation_audiences (
    audience_key VARCHAR PRIMARY KEY,   -- '<source>:<id>-><destination>'
    source_kind VARCHAR NOT NULL,       -- segment | tag
    source_id VARCHAR NOT NULL,
    destination VARCHAR NOT NULL,
    schedule VARCHAR DEFAULT 'manual',  -- manual | hourly | daily
    holdout_pct DOUBLE DEFAULT 0,       -- share kept out of every push, 0..50
    created_at TIMESTAMPTZ DEFAULT now(),
    created_by VARCHAR
);

CREATE SEQUENCE activation_run_seq;
CREATE TABLE activation_runs (
    run_id BIGINT PRIMARY KEY,
    audience_key VARCHAR NOT NULL,
    destination VARCHAR NOT NULL,
    mode VARCHAR NOT NULL,              -- diff | full
    status VARCHAR NOT NULL,            -- running | succeeded | failed | partial
    started_by VARCHAR,
    started_at TIMESTAMPTZ DEFAULT now(),
    finished_at TIMESTAMPTZ,
    members BIGINT,                     -- audience size before consent and holdout
    eligible BIGINT,
    to_add BIGINT, to_remove BIGINT,
    added BIGINT DEFAULT 0, removed BIGINT DEFAULT 0, failed BIGINT DEFAULT 0,
    held_back BIGINT DEFAULT 0,
    held_back_reasons JSON,             -- {"no_advertising_consent": n, ...}
    holdout BIGINT DEFAULT 0,
    errors JSON,                        -- list of plain-words messages
    pid INTEGER, host VARCHAR,          -- the process sending, so a crashed run can be resumed
    heartbeat_at TIMESTAMPTZ            -- and a live one is not resumed twice
);

-- The planned work of a run, written before anything is sent (so a crash can resume).
CREATE TABLE activation_run_rows (
    run_id BIGINT NOT NULL,
    op VARCHAR NOT NULL,                -- add | remove
    batch_no INTEGER NOT NULL,
    profile_id VARCHAR NOT NULL,
    member_json VARCHAR NOT NULL        -- the member exactly as sent (hashed where the platform wants hashes)
);

-- One row per request-sized batch: pending -> sending -> sent | failed.
CREATE TABLE activation_run_batches (
    run_id BIGINT NOT NULL,
    op VARCHAR NOT NULL,
    batch_no INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    status VARCHAR NOT NULL,
    attempts INTEGER DEFAULT 0,
    sent_at TIMESTAMPTZ,
    error VARCHAR,
    response JSON,
    PRIMARY KEY (run_id, op, batch_no)
);

-- What each destination holds for an audience after its last successful batches.
CREATE TABLE activation_membership (
    audience_key VARCHAR NOT NULL,
    profile_id VARCHAR NOT NULL,
    member_json VARCHAR NOT NULL,
    run_id BIGINT,
    synced_at TIMESTAMPTZ DEFAULT now(),
    PRIMARY KEY (audience_key, profile_id)
);

-- Holdout group members, kept out of every push of the audience's source, for lift measurement.
CREATE TABLE activation_holdouts (
    source_key VARCHAR NOT NULL,        -- '<source>:<id>'
    profile_id VARCHAR NOT NULL,
    holdout_pct DOUBLE,
    first_held_at TIMESTAMPTZ DEFAULT now(),
    PRIMARY KEY (source_key, profile_id)
);
