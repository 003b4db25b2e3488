-- profile_field_sources (where each golden value came from) is rebuilt whole by every resolve
-- (engine/identity/golden.py), one row per profile and field by construction. Its primary key
-- was an in-memory index over every row: at 10M records (~50M rows) the index alone outgrew a
-- 4 GB memory limit and the resolve failed at its last step. The table is now unkeyed and
-- written in profile order, so a profile's lookup reads the row groups its id falls in.
CREATE TABLE profile_field_sources_unkeyed (
    profile_id VARCHAR NOT NULL,
    field VARCHAR NOT NULL,
    value VARCHAR,
    source VARCHAR,
    source_record_id VARCHAR,
    rule VARCHAR
);
INSERT INTO profile_field_sources_unkeyed SELECT * FROM profile_field_sources ORDER BY profile_id, field;
DROP TABLE profile_field_sources;
ALTER TABLE profile_field_sources_unkeyed RENAME TO profile_field_sources;
