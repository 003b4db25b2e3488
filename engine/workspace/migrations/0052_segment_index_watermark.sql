-- The events watermark (engine.event_appends) as of the event index's last build or append, so
-- that collector micro-batches and new loads are appended to the index instead of rebuilding
-- all of it.
ALTER TABLE segment_event_index_state ADD COLUMN watermark VARCHAR;
