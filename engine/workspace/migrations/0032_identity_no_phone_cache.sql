-- Identity normalises phones with the workspace-wide SQL rule (engine.phones.e164_sql) in the
-- same pass as every other field, so the cache of raw phone numbers is no longer needed; it
-- held every raw phone ever seen, erased people's included.
DROP TABLE identity_phone_cache;
