-- Web purchases and refunds kept as rows (engine/order_events.py). `web_orders` read the JSON
-- properties of every tracked event at every revenue read: 7.6 s of a 9 s segment count at
-- 10M events. `order_events` holds the order events' fields once parsed, up to a watermark
-- (the event_appends one); `order_event_rows` is that table plus the order events added since,
-- read live. Whatever deletes events deletes their rows here too (erasure, retention).
CREATE TABLE order_events (
    source VARCHAR, message_id VARCHAR, "timestamp" TIMESTAMPTZ, user_id VARCHAR, anonymous_id VARCHAR,
    load_id BIGINT, event VARCHAR, order_id VARCHAR, amount_text VARCHAR, currency VARCHAR, items JSON
);
CREATE TABLE order_events_state (id INTEGER PRIMARY KEY, max_load BIGINT, newest BIGINT, built_at TIMESTAMPTZ);

-- The order events with their fields, parsed now.
CREATE VIEW order_events_live AS
SELECT e.source, e.message_id, e.timestamp, e.user_id, e.anonymous_id, e.load_id, e.received_at, e.event,
       json_extract_string(e.properties, '$.order_id') AS order_id,
       event_order_amount(e.properties) AS amount_text,
       upper(json_extract_string(e.properties, '$.currency')) AS currency,
       json_extract(e.properties, '$.products') AS items
FROM events e
WHERE e.type = 'track' AND e.event IN ('Order Completed', 'Order Refunded');

-- The table plus the order events after its watermark. engine/order_events.py replaces this
-- view with the watermark written into it as literals each time it fills the table (in the same
-- transaction, so a reader sees a view and a table that belong together), so that the scan of
-- events is filtered before any JSON is read. Until then nothing is covered: all read live.
CREATE VIEW order_event_rows AS
SELECT * EXCLUDE (received_at) FROM order_events_live
UNION ALL BY NAME
SELECT * FROM order_events;

-- 0016's web_orders, over order_event_rows (same columns, same rules).
CREATE OR REPLACE VIEW web_orders AS
WITH purchases AS (
    SELECT e.source, e.message_id, e.timestamp, e.user_id, e.anonymous_id, e.load_id, e.order_id,
           TRY_CAST(e.amount_text AS DOUBLE) AS amount, e.currency, e.items,
           row_number() OVER (PARTITION BY e.order_id ORDER BY e.timestamp, e.message_id) AS repeat_n
    FROM order_event_rows e
    WHERE e.event = 'Order Completed'
), refunds AS (
    SELECT e.order_id, sum(TRY_CAST(e.amount_text AS DOUBLE)) AS refunded, bool_or(e.amount_text IS NULL) AS in_full
    FROM order_event_rows e
    WHERE e.event = 'Order Refunded'
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
