-- Ingest bookkeeping: what each load did, so a re-upload can be recognised and the
-- Sources screen can show fresh, changed and unchanged rows.
ALTER TABLE loads ADD COLUMN file_format VARCHAR;
ALTER TABLE loads ADD COLUMN mapping JSON;
ALTER TABLE loads ADD COLUMN rows_inserted BIGINT;
ALTER TABLE loads ADD COLUMN rows_updated BIGINT;
ALTER TABLE loads ADD COLUMN rows_unchanged BIGINT;
ALTER TABLE loads ADD COLUMN landed_file VARCHAR;   -- raw copy under <workspace>/landing (generated name)
