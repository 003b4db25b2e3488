-- The typed record tables lose their PRIMARY KEY (source, source_record_id).
--
-- Why: DuckDB keeps a primary key as an ART index that every insert must update and every
-- commit must write; for a million-row upload that index was about a third of the load
-- time. Nothing reads through it (DuckDB joins by hashing, and no module uses ON CONFLICT on
-- these tables), and the one writer that needs the uniqueness, engine.ingest, keeps it
-- itself: it upserts by (source, source_record_id) and quarantines repeats within a file.
-- DuckDB cannot drop a key in place, so each table is copied, keeping every column (also
-- any another module added), then NOT NULL and defaults are put back.
CREATE TABLE contacts__unindexed AS SELECT * FROM contacts;
DROP TABLE contacts;
ALTER TABLE contacts__unindexed RENAME TO contacts;
ALTER TABLE contacts ALTER COLUMN source SET NOT NULL;
ALTER TABLE contacts ALTER COLUMN source_record_id SET NOT NULL;
ALTER TABLE contacts ALTER COLUMN loaded_at SET DEFAULT now();

CREATE TABLE orders__unindexed AS SELECT * FROM orders;
DROP TABLE orders;
ALTER TABLE orders__unindexed RENAME TO orders;
ALTER TABLE orders ALTER COLUMN source SET NOT NULL;
ALTER TABLE orders ALTER COLUMN source_record_id SET NOT NULL;
ALTER TABLE orders ALTER COLUMN loaded_at SET DEFAULT now();

CREATE TABLE subscriptions__unindexed AS SELECT * FROM subscriptions;
DROP TABLE subscriptions;
ALTER TABLE subscriptions__unindexed RENAME TO subscriptions;
ALTER TABLE subscriptions ALTER COLUMN source SET NOT NULL;
ALTER TABLE subscriptions ALTER COLUMN source_record_id SET NOT NULL;
ALTER TABLE subscriptions ALTER COLUMN loaded_at SET DEFAULT now();

CREATE TABLE consents__unindexed AS SELECT * FROM consents;
DROP TABLE consents;
ALTER TABLE consents__unindexed RENAME TO consents;
ALTER TABLE consents ALTER COLUMN source SET NOT NULL;
ALTER TABLE consents ALTER COLUMN source_record_id SET NOT NULL;
ALTER TABLE consents ALTER COLUMN purpose SET NOT NULL;
ALTER TABLE consents ALTER COLUMN granted SET NOT NULL;
ALTER TABLE consents ALTER COLUMN loaded_at SET DEFAULT now();
