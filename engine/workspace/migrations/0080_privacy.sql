-- Privacy: consent signals carried on events, the request register, destination removals
-- queued by erasures, and a consent state that joins uploads, events and manual edits.

-- Consent preferences seen on events (context.consent.categoryPreferences, Global Privacy Control).
CREATE TABLE event_consent_signals (
    message_id VARCHAR NOT NULL,
    user_id VARCHAR,
    anonymous_id VARCHAR,
    purpose VARCHAR NOT NULL,
    granted BOOLEAN NOT NULL,
    recorded_at TIMESTAMPTZ,
    method VARCHAR,                     -- cmp | gpc
    PRIMARY KEY (message_id, purpose)
);

CREATE OR REPLACE VIEW profile_consent_state AS
WITH signals AS (
    SELECT profile_id, purpose, granted, recorded_at, method, source FROM profile_consents
    UNION ALL
    SELECT COALESCE(pu.profile_id, pa.profile_id), s.purpose, s.granted, s.recorded_at, s.method, 'events'
    FROM event_consent_signals s
    LEFT JOIN profile_identifiers pu ON pu.id_type = 'user_id' AND pu.id_value = s.user_id
    LEFT JOIN profile_identifiers pa ON pa.id_type = 'anonymous_id' AND pa.id_value = s.anonymous_id
    WHERE COALESCE(pu.profile_id, pa.profile_id) IS NOT NULL
)
SELECT profile_id, purpose,
       arg_max(granted, recorded_at) AS granted,
       max(recorded_at) AS recorded_at,
       arg_max(method, recorded_at) AS method,
       arg_max(source, recorded_at) AS source
FROM signals
GROUP BY profile_id, purpose;

CREATE SEQUENCE privacy_request_seq;
CREATE TABLE privacy_requests (
    request_id BIGINT PRIMARY KEY DEFAULT nextval('privacy_request_seq'),
    kind VARCHAR NOT NULL,              -- access | erasure
    regulation VARCHAR NOT NULL,        -- gdpr | ccpa
    subject_hash VARCHAR NOT NULL,      -- sha256 of the identifier the request named
    subject_hint VARCHAR,               -- masked, e.g. j••••@e••••
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    deadline TIMESTAMPTZ NOT NULL,
    status VARCHAR NOT NULL DEFAULT 'open',   -- open | done
    handled_by VARCHAR,
    completed_at TIMESTAMPTZ,
    details JSON                        -- counts only; never personal data
);

-- Removals an erasure queued for destinations the person was sent to (hashed identifiers only).
CREATE TABLE privacy_destination_removals (
    request_id BIGINT,
    destination VARCHAR,
    id_type VARCHAR,
    id_hash VARCHAR,
    queued_at TIMESTAMPTZ DEFAULT now(),
    done_at TIMESTAMPTZ
);
