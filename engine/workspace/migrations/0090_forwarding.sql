-- Conversion forwarding: destinations, event mappings, the delivery queue and its log.

CREATE TABLE forward_destinations (
    name VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,              -- meta_capi | google_conversions
    settings JSON,                      -- pixel_id, test_event_code, account_id, conversion_action_id, base_url ...
    enabled BOOLEAN DEFAULT true,
    created_at TIMESTAMPTZ DEFAULT now(),
    created_by VARCHAR
);

CREATE SEQUENCE forward_mapping_seq;
CREATE TABLE forward_mappings (
    mapping_id BIGINT PRIMARY KEY DEFAULT nextval('forward_mapping_seq'),
    destination VARCHAR NOT NULL,
    trigger VARCHAR NOT NULL,           -- event | order | stage
    match VARCHAR NOT NULL,             -- event name | order source | lead stage
    platform_event VARCHAR NOT NULL,    -- Purchase, Lead, ... (Meta) / label (Google)
    value_path VARCHAR,                 -- JSON path in properties for the value (events)
    currency_path VARCHAR,
    content_ids_path VARCHAR,
    lookback_days INTEGER DEFAULT 7,
    enabled BOOLEAN DEFAULT true,
    created_at TIMESTAMPTZ DEFAULT now(),
    created_by VARCHAR
);

-- One row per conversion per destination: the exact payload, its fate, and what it carried.
CREATE TABLE forward_queue (
    destination VARCHAR NOT NULL,
    event_id VARCHAR NOT NULL,          -- deduplication id sent to the platform
    mapping_id BIGINT,
    profile_id VARCHAR,
    event_time TIMESTAMPTZ,
    payload JSON,
    status VARCHAR NOT NULL,            -- pending | sending | sent | held | dead
    reason VARCHAR,                     -- why held or dead
    attempts INTEGER DEFAULT 0,
    batch_id BIGINT,
    has_email BOOLEAN, has_phone BOOLEAN, has_click_id BOOLEAN, has_browser_id BOOLEAN, has_ip_ua BOOLEAN,
    enqueued_at TIMESTAMPTZ DEFAULT now(),
    sent_at TIMESTAMPTZ,
    PRIMARY KEY (destination, event_id)
);

CREATE SEQUENCE forward_batch_seq;
CREATE TABLE forward_batches (
    batch_id BIGINT PRIMARY KEY,
    destination VARCHAR NOT NULL,
    started_at TIMESTAMPTZ DEFAULT now(),
    finished_at TIMESTAMPTZ,
    events INTEGER,
    accepted INTEGER,
    rejected INTEGER,
    status VARCHAR,                     -- sent | failed | retrying
    error VARCHAR,
    response JSON
);
