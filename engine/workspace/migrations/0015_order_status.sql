-- Orders keep their payment status and refunds, so that value figures count money kept.
--
-- status is one word of a small vocabulary (engine/revenue.py lists it): paid, pending,
-- failed, cancelled, refunded, partially_refunded, other (a word no tool we know uses);
-- NULL when the source gives no status (a till export: paid at the counter).
-- status_raw keeps the source's own word; amount_refunded the refunded part of amount.
ALTER TABLE orders ADD COLUMN status VARCHAR;
ALTER TABLE orders ADD COLUMN status_raw VARCHAR;
ALTER TABLE orders ADD COLUMN amount_refunded DOUBLE;

-- The source's word -> the vocabulary; a refund amount turns a paid order into a
-- (partially) refunded one. Ingest calls it on every order it loads.
CREATE MACRO order_status_key(raw) AS regexp_replace(lower(trim(CAST(raw AS VARCHAR))), '[\s_\-]+', ' ', 'g');
CREATE MACRO order_status_word(raw) AS (CASE
    WHEN raw IS NULL OR order_status_key(raw) = '' THEN NULL
    WHEN order_status_key(raw) IN ('paid', 'succeeded', 'success', 'successful', 'complete', 'completed',
        'captured', 'settled', 'approved', 'charged', 'processed', 'closed', 'fulfilled') THEN 'paid'
    WHEN order_status_key(raw) IN ('pending', 'authorized', 'authorised', 'partially paid', 'unpaid',
        'processing', 'on hold', 'incomplete', 'uncaptured', 'requires payment method', 'requires action',
        'requires capture', 'awaiting payment') THEN 'pending'
    WHEN order_status_key(raw) IN ('failed', 'failure', 'declined', 'payment failed', 'error', 'rejected',
        'blocked') THEN 'failed'
    WHEN order_status_key(raw) IN ('cancelled', 'canceled', 'voided', 'void', 'expired', 'abandoned')
        THEN 'cancelled'
    WHEN order_status_key(raw) IN ('refunded', 'fully refunded', 'refund', 'returned', 'reversed') THEN 'refunded'
    WHEN order_status_key(raw) IN ('partially refunded', 'partial refund', 'partly refunded',
        'partially returned') THEN 'partially_refunded'
    ELSE 'other' END);
CREATE MACRO order_status(raw, amount, refunded) AS (
    CASE WHEN COALESCE(refunded, 0) > 0
              AND COALESCE(order_status_word(raw), 'paid') IN ('paid', 'other', 'refunded', 'partially_refunded')
         THEN CASE WHEN amount IS NOT NULL AND refunded >= amount THEN 'refunded' ELSE 'partially_refunded' END
         ELSE order_status_word(raw) END);

-- Whether an order is revenue-bearing, and its net amount: the one definition every value
-- figure (RFM, CLV, segments, profile headline, attribution, cohorts) reads.
-- Failed, cancelled (voided) and pending orders are not orders a customer paid for: no
-- revenue, and not counted as orders. Refunded ones are orders worth amount - refunded
-- (nothing when the refund amount is not given for a fully refunded order).
CREATE MACRO order_counts(status) AS (status IS NULL OR status NOT IN ('failed', 'cancelled', 'pending'));
CREATE MACRO order_net_amount(status, amount, refunded) AS (
    CASE WHEN refunded IS NOT NULL THEN greatest(amount - refunded, 0)
         WHEN status = 'refunded' THEN 0 * amount
         ELSE amount END);

CREATE VIEW revenue_orders AS
SELECT o.*, order_net_amount(o.status, o.amount, o.amount_refunded) AS net_amount
FROM orders o WHERE order_counts(o.status);

CREATE VIEW profile_revenue_orders AS
SELECT o.*, order_net_amount(o.status, o.amount, o.amount_refunded) AS net_amount
FROM profile_orders o WHERE order_counts(o.status);

-- Orders loaded before this migration: their status word sits in traits when the file had one.
UPDATE orders SET status_raw = COALESCE(json_extract_string(traits, '$.status'),
                                        json_extract_string(traits, '$.financial_status'),
                                        json_extract_string(traits, '$.payment_status'),
                                        json_extract_string(traits, '$."Financial Status"'),
                                        json_extract_string(traits, '$.Status'))
WHERE traits IS NOT NULL;
UPDATE orders SET status = order_status(status_raw, amount, amount_refunded) WHERE status_raw IS NOT NULL;
