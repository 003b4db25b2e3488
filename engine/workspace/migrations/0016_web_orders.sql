-- Web purchases are orders. A Segment e-commerce `Order Completed` event (properties order_id,
-- total or revenue, currency, products) counts as an order when no loaded orders file holds
-- that order id, so a buyer seen only on the website has orders and revenue; once the shop's
-- own export is loaded, its row (with status and refunds) is the order instead. Repeats of one
-- order id (a retried event) are one order, the first received. `Order Refunded` events of
-- that order id are its refunds: their total (else revenue or value), or all of it when they
-- give no amount.
-- The amount a Segment e-commerce event gives, as text: total, else revenue, else value.
CREATE MACRO event_order_amount(properties) AS
    COALESCE(json_extract_string(properties, '$.total'), json_extract_string(properties, '$.revenue'),
             json_extract_string(properties, '$.value'));

CREATE VIEW web_orders AS
WITH purchases AS (
    SELECT e.source, e.message_id, e.timestamp, e.user_id, e.anonymous_id, e.load_id,
           json_extract_string(e.properties, '$.order_id') AS order_id,
           TRY_CAST(event_order_amount(e.properties) AS DOUBLE) AS amount,
           upper(json_extract_string(e.properties, '$.currency')) AS currency,
           json_extract(e.properties, '$.products') AS items,
           row_number() OVER (PARTITION BY json_extract_string(e.properties, '$.order_id')
                              ORDER BY e.timestamp, e.message_id) AS repeat_n
    FROM events e
    WHERE e.type = 'track' AND e.event = 'Order Completed'
), refunds AS (
    SELECT json_extract_string(e.properties, '$.order_id') AS order_id,
           sum(TRY_CAST(event_order_amount(e.properties) AS DOUBLE)) AS refunded,
           bool_or(event_order_amount(e.properties) IS NULL) AS in_full
    FROM events e
    WHERE e.type = 'track' AND e.event = 'Order Refunded'
    GROUP BY 1
), refunded AS (
    SELECT p.*, CASE WHEN r.order_id IS NULL THEN NULL WHEN r.in_full THEN p.amount
                     ELSE least(r.refunded, p.amount) END AS amount_refunded
    FROM purchases p LEFT JOIN refunds r USING (order_id)
    WHERE p.repeat_n = 1 AND p.order_id IS NOT NULL AND p.order_id <> ''
      AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.order_id = p.order_id)
)
SELECT source, 'event:' || message_id AS source_record_id, order_id, timestamp AS ordered_at, amount,
       currency, order_status('paid', amount, amount_refunded) AS status, NULL::VARCHAR AS status_raw,
       amount_refunded, items, 'online' AS channel, user_id, anonymous_id, load_id
FROM refunded;

-- The revenue views of 0015, now over the orders and the web orders (the same rule).
CREATE OR REPLACE VIEW revenue_orders AS
SELECT o.*, order_net_amount(o.status, o.amount, o.amount_refunded) AS net_amount
FROM (SELECT * FROM orders UNION ALL BY NAME SELECT * FROM web_orders) o
WHERE order_counts(o.status);

CREATE OR REPLACE VIEW profile_revenue_orders AS
SELECT o.*, order_net_amount(o.status, o.amount, o.amount_refunded) AS net_amount
FROM (SELECT * FROM profile_orders
      UNION ALL BY NAME
      SELECT COALESCE(pu.profile_id, pa.profile_id) AS profile_id, w.*
      FROM web_orders w
      LEFT JOIN profile_identifiers pu ON pu.id_type = 'user_id' AND pu.id_value = w.user_id
      LEFT JOIN profile_identifiers pa ON pa.id_type = 'anonymous_id' AND pa.id_value = w.anonymous_id
      WHERE COALESCE(pu.profile_id, pa.profile_id) IS NOT NULL) o
WHERE order_counts(o.status);
