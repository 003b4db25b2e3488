-- Privacy: erasure reaches every destination right away.
--
-- privacy_destination_removals becomes an outbox read by engine.privacy.removals: one row per
-- erasure request and destination, with what the destination is asked to delete (`members`,
-- in the form the destination matches on: hashed for ad platforms, the email for Klaviyo and
-- HubSpot). `members` is cleared once the destination confirms, so only an undelivered
-- deletion keeps the identifiers needed to retry it. Earlier rows (one per hashed identifier,
-- never acted on) stay as they are.
ALTER TABLE privacy_destination_removals ADD COLUMN kind VARCHAR;            -- the destination's kind
ALTER TABLE privacy_destination_removals ADD COLUMN members JSON;            -- cleared when done
ALTER TABLE privacy_destination_removals ADD COLUMN status VARCHAR DEFAULT 'pending';  -- pending | done | failed
ALTER TABLE privacy_destination_removals ADD COLUMN attempts INTEGER DEFAULT 0;
ALTER TABLE privacy_destination_removals ADD COLUMN last_attempt_at TIMESTAMPTZ;
ALTER TABLE privacy_destination_removals ADD COLUMN last_error VARCHAR;
ALTER TABLE privacy_destination_removals ADD COLUMN response JSON;

-- Which profiles were ever sent to which destination (written with each sent batch of additions),
-- so an erasure also asks a tool to delete someone who left the audience there long ago.
-- Holds profile ids only; an erasure deletes the person's rows after reading them.
CREATE TABLE privacy_recipients (
    destination VARCHAR NOT NULL,
    profile_id VARCHAR NOT NULL,
    first_sent_at TIMESTAMPTZ DEFAULT now(),
    PRIMARY KEY (destination, profile_id)
);
