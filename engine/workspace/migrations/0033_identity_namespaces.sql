-- Identifier namespaces: a source's own ids (customer_id) are scoped to the source, or to a
-- namespace the settings declare shared (identity setting `id_namespaces`: source -> namespace).
ALTER TABLE identity_ids ADD COLUMN namespace VARCHAR;   -- NULL: one namespace across sources

-- Workspaces made before namespaces treated customer_id as one namespace across every source:
-- the sources that already hold customer ids keep sharing one, so nothing merged moves.
-- Sources loaded from now on get their own.
INSERT OR REPLACE INTO settings (key, value, updated_at, updated_by)
SELECT 'identity',
       json_merge_patch(COALESCE((SELECT CAST(value AS VARCHAR) FROM settings WHERE key = 'identity'), '{}'),
                        json_object('id_namespaces', json_group_object(source, 'shared'))),
       now(), 'migration 0033'
FROM (SELECT source FROM contacts WHERE customer_id IS NOT NULL AND trim(customer_id) <> ''
      UNION SELECT source FROM orders WHERE customer_id IS NOT NULL AND trim(customer_id) <> ''
      UNION SELECT source FROM subscriptions WHERE customer_id IS NOT NULL AND trim(customer_id) <> ''
      UNION SELECT source FROM consents WHERE customer_id IS NOT NULL AND trim(customer_id) <> '')
HAVING count(*) > 0;
