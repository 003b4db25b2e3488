-- Identity resolution: working tables, match pairs, reviewer decisions,
-- unmerge constraints, the learned model and run history.
-- Settings live in the core `settings` table under the key 'identity'.

-- Every people-bearing record, normalised (rebuilt by each run; rec_id is per run).
CREATE TABLE identity_records (
    rec_id BIGINT PRIMARY KEY,
    kind VARCHAR NOT NULL,              -- contact | order | subscription | consent | event_user | event_anonymous
    source VARCHAR NOT NULL,
    source_record_id VARCHAR NOT NULL,
    ts TIMESTAMPTZ,                     -- when the record was made / last changed
    email VARCHAR, phone VARCHAR, first_name VARCHAR, last_name VARCHAR,
    address_line1 VARCHAR, address_line2 VARCHAR, city VARCHAR, postcode VARCHAR,
    state VARCHAR, country VARCHAR, date_of_birth DATE,
    customer_id VARCHAR, user_id VARCHAR, anonymous_id VARCHAR,
    n_email VARCHAR, n_email_key VARCHAR, n_phone VARCHAR,
    n_first VARCHAR, n_first_key VARCHAR, n_last VARCHAR,
    n_address VARCHAR, n_postcode VARCHAR, n_city VARCHAR, n_dob DATE,
    is_new BOOLEAN DEFAULT FALSE        -- not a member of any profile before this run
);

-- Normalised identifiers per record (strong identifiers that join records deterministically).
CREATE TABLE identity_ids (
    rec_id BIGINT NOT NULL,
    id_type VARCHAR NOT NULL,
    id_value VARCHAR NOT NULL,
    via VARCHAR NOT NULL DEFAULT 'record'   -- record | event_link | alias (only 'record' is exported)
);

-- Normalised phone numbers cache: phonenumbers is called once per distinct raw value.
CREATE TABLE identity_phone_cache (
    raw VARCHAR NOT NULL,
    region VARCHAR NOT NULL,
    e164 VARCHAR,
    PRIMARY KEY (raw, region)
);

-- Candidate pairs scored by the model, keyed by the records' stable keys.
CREATE TABLE identity_pairs (
    pair_key VARCHAR PRIMARY KEY,       -- md5 of the two record keys, ordered
    l_source VARCHAR NOT NULL, l_record_id VARCHAR NOT NULL,
    r_source VARCHAR NOT NULL, r_record_id VARCHAR NOT NULL,
    rules VARCHAR,                      -- blocking rules (or guard) that produced the pair
    probability DOUBLE,                 -- match probability (model in use)
    fs_weight DOUBLE,                   -- Fellegi-Sunter match weight (log2 Bayes factor)
    features JSON,                      -- per-field similarity values
    contributions JSON,                 -- per-field contribution to the score (explanation)
    uncertainty DOUBLE,                 -- active learning: higher = more to learn
    reason VARCHAR,                     -- fuzzy | guard:<type>
    status VARCHAR NOT NULL DEFAULT 'open', -- open | merged | ignored
    scored_at TIMESTAMPTZ DEFAULT now()
);

-- Reviewer decisions: the latest non-undone decision per pair counts.
CREATE SEQUENCE identity_decision_seq;
CREATE TABLE identity_decisions (
    decision_id BIGINT PRIMARY KEY DEFAULT nextval('identity_decision_seq'),
    pair_key VARCHAR NOT NULL,
    l_source VARCHAR NOT NULL, l_record_id VARCHAR NOT NULL,
    r_source VARCHAR NOT NULL, r_record_id VARCHAR NOT NULL,
    decision VARCHAR NOT NULL,          -- accept | reject
    features JSON,                      -- features at decision time (training data)
    decided_by VARCHAR, decided_at TIMESTAMPTZ DEFAULT now(),
    undone_at TIMESTAMPTZ, undone_by VARCHAR
);

-- Unmerge: records of a split profile are kept in separate groups on every re-run.
CREATE SEQUENCE identity_split_seq;
CREATE TABLE identity_splits (
    split_id BIGINT NOT NULL,
    group_no INTEGER NOT NULL,
    source VARCHAR NOT NULL,
    source_record_id VARCHAR NOT NULL,
    profile_id VARCHAR,                 -- the profile that was split
    created_by VARCHAR, created_at TIMESTAMPTZ DEFAULT now(),
    undone_at TIMESTAMPTZ
);

-- Trained models (the Fellegi-Sunter parameters, and the reviewer-trained classifier).
CREATE TABLE identity_models (
    name VARCHAR PRIMARY KEY,           -- fellegi_sunter | supervised
    params JSON,
    blob BLOB,                          -- pickled scikit-learn estimator
    labels INTEGER,
    trained_at TIMESTAMPTZ DEFAULT now()
);

-- Profile id allocation and history of previous memberships, for stable ids.
CREATE SEQUENCE identity_profile_seq;
CREATE TABLE identity_profile_registry (
    profile_id VARCHAR PRIMARY KEY,
    created_at TIMESTAMPTZ DEFAULT now(),
    retired_at TIMESTAMPTZ,
    merged_into VARCHAR
);

CREATE SEQUENCE identity_run_seq;
CREATE TABLE identity_runs (
    run_id BIGINT PRIMARY KEY DEFAULT nextval('identity_run_seq'),
    started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
    full_run BOOLEAN, username VARCHAR,
    records BIGINT, profiles BIGINT, pairs_scored BIGINT,
    auto_merged BIGINT, to_review BIGINT, guarded BIGINT,
    seconds DOUBLE, stats JSON
);

-- A pair's key: md5 of its two record keys in sorted order (the same whichever side is left).
CREATE MACRO identity_pair_key(ls, lr, rs, rr) AS
    md5(least(ls || chr(31) || lr, rs || chr(31) || rr) || chr(30) || greatest(ls || chr(31) || lr, rs || chr(31) || rr));

-- The decision in force per pair: the latest one not undone.
CREATE MACRO identity_current_decisions() AS TABLE
    SELECT * FROM identity_decisions WHERE undone_at IS NULL
    QUALIFY row_number() OVER (PARTITION BY pair_key ORDER BY decision_id DESC) = 1;

-- Pairs waiting for a reviewer: open, undecided, between the thresholds (or held by a guard).
CREATE MACRO identity_review_queue(low, high) AS TABLE
    SELECT p.* FROM identity_pairs p
    WHERE p.status = 'open'
      AND p.pair_key NOT IN (SELECT pair_key FROM identity_current_decisions())
      AND (p.reason LIKE 'guard:%' OR (p.probability >= low AND p.probability < high));
