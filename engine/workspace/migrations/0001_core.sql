-- Core: bookkeeping, audit, sources and loads, the typed tables every source
-- lands in, and the identity outputs every screen reads.

CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
INSERT INTO meta VALUES ('data_version', '0'), ('created_at', CAST(now() AS VARCHAR));

CREATE TABLE settings (
    key VARCHAR PRIMARY KEY,
    value JSON,
    updated_at TIMESTAMPTZ DEFAULT now(),
    updated_by VARCHAR
);

CREATE SEQUENCE audit_log_seq;
CREATE TABLE audit_log (
    id BIGINT PRIMARY KEY DEFAULT nextval('audit_log_seq'),
    logged_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    username VARCHAR NOT NULL,
    role VARCHAR,
    action VARCHAR NOT NULL,
    target VARCHAR,
    details JSON
);

-- A source is one origin of data (a CRM, a store, the website) of one kind.
CREATE TABLE sources (
    name VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,              -- events | contacts | orders | subscriptions | consents
    description VARCHAR,
    write_key VARCHAR UNIQUE,           -- events sources: the collector's key
    mapping JSON,                       -- last confirmed column mapping
    id_column VARCHAR,                  -- column holding the source record id
    created_at TIMESTAMPTZ DEFAULT now(),
    created_by VARCHAR
);

CREATE SEQUENCE load_id_seq;
CREATE TABLE loads (
    load_id BIGINT PRIMARY KEY,
    source VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    file_name VARCHAR,
    file_sha256 VARCHAR,
    rows_read BIGINT,
    rows_loaded BIGINT,
    rows_quarantined BIGINT,
    warnings JSON,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    username VARCHAR
);

CREATE TABLE quarantine (
    load_id BIGINT,
    source VARCHAR,
    row_number BIGINT,
    raw VARCHAR,
    reason VARCHAR,
    created_at TIMESTAMPTZ DEFAULT now()
);

-- People records from every source (CRM contacts, leads, sign-ups).
CREATE TABLE contacts (
    source VARCHAR NOT NULL,
    source_record_id VARCHAR NOT NULL,
    email VARCHAR, phone VARCHAR, first_name VARCHAR, last_name VARCHAR,
    address_line1 VARCHAR, address_line2 VARCHAR, city VARCHAR, postcode VARCHAR,
    state VARCHAR, country VARCHAR, date_of_birth DATE,
    customer_id VARCHAR, user_id VARCHAR, anonymous_id VARCHAR,
    lead_stage VARCHAR, owner VARCHAR, deal_value DOUBLE,
    created_at TIMESTAMPTZ,             -- when the source says the record was created
    updated_at TIMESTAMPTZ,             -- when the source says it last changed
    traits JSON,                        -- every column that was not mapped
    load_id BIGINT, loaded_at TIMESTAMPTZ DEFAULT now(),
    PRIMARY KEY (source, source_record_id)
);

-- CRM lead stage history: one row each time a record's stage is seen to change.
CREATE TABLE lead_stage_changes (
    source VARCHAR NOT NULL,
    source_record_id VARCHAR NOT NULL,
    stage VARCHAR,
    previous_stage VARCHAR,
    changed_at TIMESTAMPTZ,
    load_id BIGINT
);

-- Segment-spec events (identify, track, page, screen, group, alias).
CREATE TABLE events (
    message_id VARCHAR PRIMARY KEY,
    source VARCHAR NOT NULL,
    type VARCHAR NOT NULL,
    event VARCHAR,                      -- track: event name
    name VARCHAR,                       -- page / screen name
    user_id VARCHAR, anonymous_id VARCHAR,
    previous_id VARCHAR,                -- alias
    group_id VARCHAR,                   -- group
    timestamp TIMESTAMPTZ,
    sent_at TIMESTAMPTZ,
    received_at TIMESTAMPTZ,
    properties JSON, context JSON, traits JSON,
    load_id BIGINT
);

-- Purchases, online or at the till; person fields as typed by whoever entered them.
CREATE TABLE orders (
    source VARCHAR NOT NULL,
    source_record_id VARCHAR NOT NULL,
    order_id VARCHAR,
    ordered_at TIMESTAMPTZ,
    amount DOUBLE,
    currency VARCHAR,
    quantity INTEGER,
    items JSON,                         -- line items when given: [{sku, name, category, quantity, price}]
    store VARCHAR,
    channel VARCHAR,                    -- online | store | billing | ...
    email VARCHAR, phone VARCHAR, first_name VARCHAR, last_name VARCHAR,
    address_line1 VARCHAR, address_line2 VARCHAR, city VARCHAR, postcode VARCHAR,
    state VARCHAR, country VARCHAR, date_of_birth DATE,
    customer_id VARCHAR, user_id VARCHAR, anonymous_id VARCHAR,
    traits JSON,
    load_id BIGINT, loaded_at TIMESTAMPTZ DEFAULT now(),
    PRIMARY KEY (source, source_record_id)
);

CREATE TABLE subscriptions (
    source VARCHAR NOT NULL,
    source_record_id VARCHAR NOT NULL,
    subscription_id VARCHAR,
    plan VARCHAR,
    status VARCHAR,                     -- active | trialing | past_due | cancelled
    started_at TIMESTAMPTZ,
    cancelled_at TIMESTAMPTZ,
    amount DOUBLE,                      -- recurring price
    currency VARCHAR,
    billing_interval VARCHAR,           -- month | year
    email VARCHAR, phone VARCHAR, first_name VARCHAR, last_name VARCHAR,
    address_line1 VARCHAR, address_line2 VARCHAR, city VARCHAR, postcode VARCHAR,
    state VARCHAR, country VARCHAR, date_of_birth DATE,
    customer_id VARCHAR, user_id VARCHAR, anonymous_id VARCHAR,
    traits JSON,
    load_id BIGINT, loaded_at TIMESTAMPTZ DEFAULT now(),
    PRIMARY KEY (source, source_record_id)
);

-- Consent given or withdrawn, per person and purpose.
CREATE TABLE consents (
    source VARCHAR NOT NULL,
    source_record_id VARCHAR NOT NULL,
    purpose VARCHAR NOT NULL,           -- analytics | email | advertising | sale_sharing
    granted BOOLEAN NOT NULL,
    recorded_at TIMESTAMPTZ,
    method VARCHAR,                     -- form | checkbox | gpc | import | manual ...
    email VARCHAR, phone VARCHAR, first_name VARCHAR, last_name VARCHAR,
    customer_id VARCHAR, user_id VARCHAR, anonymous_id VARCHAR,
    traits JSON,
    load_id BIGINT, loaded_at TIMESTAMPTZ DEFAULT now(),
    PRIMARY KEY (source, source_record_id)
);

-- Identity outputs: derived, recomputable by `cdp resolve`.
CREATE TABLE profiles (
    profile_id VARCHAR PRIMARY KEY,
    email VARCHAR, phone VARCHAR, first_name VARCHAR, last_name VARCHAR,
    address_line1 VARCHAR, address_line2 VARCHAR, city VARCHAR, postcode VARCHAR,
    state VARCHAR, country VARCHAR, date_of_birth DATE,
    customer_id VARCHAR, user_id VARCHAR,
    record_count INTEGER,
    first_seen TIMESTAMPTZ,
    last_seen TIMESTAMPTZ,
    created_at TIMESTAMPTZ DEFAULT now(),
    updated_at TIMESTAMPTZ DEFAULT now()
);

-- Which source records make up each profile (people-bearing kinds: contacts,
-- orders, subscriptions, consents, plus identified/anonymous event actors).
CREATE TABLE profile_members (
    profile_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    source_record_id VARCHAR NOT NULL,
    PRIMARY KEY (source, source_record_id)
);

-- Every identifier known for a profile, normalised: email, phone, user_id,
-- customer_id, anonymous_id, and click ids / browser ids (fbclid, fbc, fbp, gclid, ...).
CREATE TABLE profile_identifiers (
    profile_id VARCHAR NOT NULL,
    id_type VARCHAR NOT NULL,
    id_value VARCHAR NOT NULL,
    first_seen TIMESTAMPTZ,
    PRIMARY KEY (id_type, id_value)
);

-- Where each golden-record value came from.
CREATE TABLE profile_field_sources (
    profile_id VARCHAR NOT NULL,
    field VARCHAR NOT NULL,
    value VARCHAR,
    source VARCHAR,
    source_record_id VARCHAR,
    rule VARCHAR,
    PRIMARY KEY (profile_id, field)
);

-- Value scores per profile (RFM, predictions); written by the value module.
CREATE TABLE profile_scores (
    profile_id VARCHAR PRIMARY KEY,
    as_of DATE,
    recency_days INTEGER, frequency INTEGER, monetary DOUBLE,
    r_score INTEGER, f_score INTEGER, m_score INTEGER, rfm_segment VARCHAR,
    predicted_purchases DOUBLE, p_alive DOUBLE, predicted_clv DOUBLE, clv_decile INTEGER,
    model VARCHAR,
    computed_at TIMESTAMPTZ DEFAULT now()
);

-- Events attributed to a profile: by user id first, else by anonymous id.
CREATE VIEW profile_events AS
SELECT COALESCE(pu.profile_id, pa.profile_id) AS profile_id, e.*
FROM events e
LEFT JOIN profile_identifiers pu ON pu.id_type = 'user_id' AND pu.id_value = e.user_id
LEFT JOIN profile_identifiers pa ON pa.id_type = 'anonymous_id' AND pa.id_value = e.anonymous_id
WHERE COALESCE(pu.profile_id, pa.profile_id) IS NOT NULL;

CREATE VIEW profile_orders AS
SELECT m.profile_id, o.*
FROM orders o JOIN profile_members m USING (source, source_record_id);

CREATE VIEW profile_subscriptions AS
SELECT m.profile_id, s.*
FROM subscriptions s JOIN profile_members m USING (source, source_record_id);

CREATE VIEW profile_consents AS
SELECT m.profile_id, c.*
FROM consents c JOIN profile_members m USING (source, source_record_id);

CREATE VIEW profile_contacts AS
SELECT m.profile_id, c.*
FROM contacts c JOIN profile_members m USING (source, source_record_id);

-- Current consent per profile and purpose: the latest record wins.
-- (The privacy module may redefine this view to add event and GPC signals.)
CREATE VIEW profile_consent_state AS
SELECT profile_id, purpose,
       arg_max(granted, recorded_at) AS granted,
       max(recorded_at) AS recorded_at
FROM profile_consents
GROUP BY profile_id, purpose;

-- People who must never be loaded or sent again (erasure, opt-out): hashed identifiers only.
CREATE TABLE suppressions (
    id_type VARCHAR NOT NULL,           -- email | phone | user_id | customer_id | anonymous_id
    id_hash VARCHAR NOT NULL,           -- sha256 hex of the normalised identifier
    reason VARCHAR,
    created_at TIMESTAMPTZ DEFAULT now(),
    created_by VARCHAR,
    PRIMARY KEY (id_type, id_hash)
);

-- Tags and notes colleagues put on a profile (shown on the timeline, usable in segments).
CREATE TABLE profile_tags (
    profile_id VARCHAR NOT NULL,
    tag VARCHAR NOT NULL,
    created_at TIMESTAMPTZ DEFAULT now(),
    created_by VARCHAR,
    PRIMARY KEY (profile_id, tag)
);
CREATE SEQUENCE profile_note_seq;
CREATE TABLE profile_notes (
    note_id BIGINT PRIMARY KEY DEFAULT nextval('profile_note_seq'),
    profile_id VARCHAR NOT NULL,
    body VARCHAR NOT NULL,
    created_at TIMESTAMPTZ DEFAULT now(),
    created_by VARCHAR
);
