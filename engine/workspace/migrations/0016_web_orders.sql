-- Web purchases are orders. A Segment e-commerce `Order Completed` event (properties order_id,
-- total or revenue, currency, products) counts as a paid order when no loaded orders file holds
-- that order id, so a buyer seen only on the website has orders and revenue; once the shop's
-- own export is loaded, its row (with status and refunds) is the order instead. Repeats of one
-- order id (a retried event) are one order, the first received.
CREATE VIEW web_orders AS
SELECT source, 'event:' || message_id AS source_record_id, order_id, timestamp AS ordered_at,
       amount, currency, 'paid' AS status, NULL::VARCHAR AS status_raw, NULL::DOUBLE AS amount_refunded,
       items, 'online' AS channel, user_id, anonymous_id, load_id
FROM (
    SELECT e.*, json_extract_string(e.properties, '$.order_id') AS order_id,
           TRY_CAST(COALESCE(json_extract_string(e.properties, '$.total'),
                             json_extract_string(e.properties, '$.revenue'),
                             json_extract_string(e.properties, '$.value')) AS DOUBLE) AS amount,
           upper(json_extract_string(e.properties, '$.currency')) AS currency,
           json_extract(e.properties, '$.products') AS items,
           row_number() OVER (PARTITION BY json_extract_string(e.properties, '$.order_id')
                              ORDER BY e.timestamp, e.message_id) AS repeat_n
    FROM events e
    WHERE e.type = 'track' AND e.event = 'Order Completed'
) w
WHERE repeat_n = 1 AND order_id IS NOT NULL AND order_id <> ''
  AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.order_id = w.order_id);

-- The revenue views of 0015, now with the web orders (same rule: money kept, net amount).
CREATE OR REPLACE VIEW revenue_orders AS
SELECT o.*, order_net_amount(o.status, o.amount, o.amount_refunded) AS net_amount
FROM orders o WHERE order_counts(o.status)
UNION ALL BY NAME
SELECT w.*, w.amount AS net_amount FROM web_orders w;

CREATE OR REPLACE VIEW profile_revenue_orders AS
SELECT o.*, order_net_amount(o.status, o.amount, o.amount_refunded) AS net_amount
FROM profile_orders o WHERE order_counts(o.status)
UNION ALL BY NAME
SELECT COALESCE(pu.profile_id, pa.profile_id) AS profile_id, w.*, w.amount AS net_amount
FROM web_orders w
LEFT JOIN profile_identifiers pu ON pu.id_type = 'user_id' AND pu.id_value = w.user_id
LEFT JOIN profile_identifiers pa ON pa.id_type = 'anonymous_id' AND pa.id_value = w.anonymous_id
WHERE COALESCE(pu.profile_id, pa.profile_id) IS NOT NULL;
