-- The data version right after the event index was built: while it is still current,
-- readers know the index is fresh without computing the fingerprint.
ALTER TABLE segment_event_index_state ADD COLUMN built_version BIGINT;
