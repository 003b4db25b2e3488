-- Money in several currencies is never added up raw: every value figure is in the workspace's
-- reporting currency (setting 'revenue.reporting_currency', an ISO 4217 code), converted with
-- the rates the user loads (`cdp currency rates FILE`, engine/currency.py).
--
-- A rate says what one unit of `currency` is worth in `reporting_currency`, from `valid_from`
-- (NULL: any date); an order takes the latest rate in force on its day. An order in the
-- reporting currency, or with no currency (a till export), needs no rate. An order in a
-- currency with no rate to the reporting currency is not revenue: the view
-- `unconverted_orders` lists those orders so screens and ingest can say how many were left out.
CREATE TABLE currency_rates (
    currency VARCHAR NOT NULL,
    reporting_currency VARCHAR NOT NULL,
    valid_from DATE,
    rate DOUBLE NOT NULL,
    loaded_at TIMESTAMPTZ DEFAULT now(),
    loaded_by VARCHAR
);

-- The reporting currency: the setting, else none (then no order is converted: each counts as it is).
CREATE MACRO reporting_currency() AS
    (SELECT upper(json_extract_string(value, '$')) FROM settings WHERE key = 'revenue.reporting_currency');

-- Rates to the current reporting currency, one per currency and start day (the last loaded wins);
-- an undated rate applies from the beginning of time.
CREATE VIEW reporting_rates AS
SELECT upper(trim(currency)) AS currency, COALESCE(valid_from, DATE '0001-01-01') AS valid_from,
       arg_max(rate, loaded_at) AS rate
FROM currency_rates WHERE upper(trim(reporting_currency)) = reporting_currency()
GROUP BY ALL;

-- For the lookup: per currency its latest rate and since when, and its undated rate; and one
-- row per day from its first dated rate to its latest one. rate_maps() holds both as maps, read
-- once per query, so that an order's rate is a look-up rather than a join (a join of every order,
-- with all its columns, cost as much again as the revenue query itself).
CREATE VIEW rate_latest AS
SELECT currency, max(valid_from) AS latest_from, arg_max(rate, valid_from) AS latest_rate,
       any_value(rate) FILTER (WHERE valid_from = DATE '0001-01-01') AS undated_rate
FROM reporting_rates GROUP BY currency;

CREATE VIEW rate_days AS
SELECT currency, CAST(day AS DATE) AS day, rate
FROM (SELECT currency, valid_from, rate,
             lead(valid_from) OVER (PARTITION BY currency ORDER BY valid_from) AS valid_to
      FROM reporting_rates WHERE valid_from > DATE '0001-01-01') s,
     generate_series(CAST(s.valid_from AS TIMESTAMP), CAST(s.valid_to AS TIMESTAMP) - INTERVAL 1 DAY,
                     INTERVAL 1 DAY) AS g(day)
WHERE s.valid_to IS NOT NULL;

CREATE MACRO rate_maps() AS (SELECT struct_pack(
    latest := (SELECT map_from_entries(list((currency, struct_pack(since := latest_from, rate := latest_rate,
                                                                   undated := undated_rate))))
               FROM rate_latest),
    days := (SELECT map_from_entries(list((currency || ' ' || CAST(day AS VARCHAR), rate))) FROM rate_days)));

-- The rate of an amount in currency `code` (upper case) on day `on_day` into the reporting currency.
CREATE MACRO currency_rate(code, on_day) AS (CASE
    WHEN code = '' OR code = reporting_currency() THEN 1.0
    WHEN on_day >= rate_maps().latest[code].since THEN rate_maps().latest[code].rate
    ELSE COALESCE(rate_maps().days[code || ' ' || CAST(on_day AS VARCHAR)], rate_maps().latest[code].undated) END);

-- An order's rate: 1 when it needs no conversion (no currency, the reporting currency, or no
-- reporting currency set), NULL when its currency has no rate. Orders without a date take the
-- latest rate.
CREATE MACRO order_rate(code, moment) AS (CASE
    WHEN code IS NULL OR reporting_currency() IS NULL OR code = reporting_currency() THEN 1.0
    ELSE currency_rate(upper(trim(code)), COALESCE(CAST(moment AS DATE), DATE '9999-12-30')) END);

-- Each order (files and web purchases) with its rate.
CREATE VIEW order_rates AS
SELECT o.*, order_rate(o.currency, o.ordered_at) AS rate
FROM (SELECT * FROM orders UNION ALL BY NAME SELECT * FROM web_orders) o;

-- Orders left out of every value figure because their currency has no rate.
CREATE VIEW unconverted_orders AS
SELECT * EXCLUDE (rate) FROM order_rates WHERE rate IS NULL;

-- The revenue views of 0016, now in the reporting currency: net_amount is converted; orders in
-- a currency with no rate are left out (see unconverted_orders). net_amount_local is the same
-- money in the order's own currency (for a platform that is sent the order's currency).
CREATE OR REPLACE VIEW revenue_orders AS
SELECT o.* EXCLUDE (rate), order_net_amount(o.status, o.amount, o.amount_refunded) * o.rate AS net_amount,
       order_net_amount(o.status, o.amount, o.amount_refunded) AS net_amount_local
FROM order_rates o
WHERE order_counts(o.status) AND o.rate IS NOT NULL;

CREATE OR REPLACE VIEW profile_revenue_orders AS
SELECT o.* EXCLUDE (rate), order_net_amount(o.status, o.amount, o.amount_refunded) * o.rate AS net_amount,
       order_net_amount(o.status, o.amount, o.amount_refunded) AS net_amount_local
FROM (SELECT *, order_rate(currency, ordered_at) AS rate FROM (
          SELECT * FROM profile_orders
          UNION ALL BY NAME
          SELECT COALESCE(pu.profile_id, pa.profile_id) AS profile_id, w.*
          FROM web_orders w
          LEFT JOIN profile_identifiers pu ON pu.id_type = 'user_id' AND pu.id_value = w.user_id
          LEFT JOIN profile_identifiers pa ON pa.id_type = 'anonymous_id' AND pa.id_value = w.anonymous_id
          WHERE COALESCE(pu.profile_id, pa.profile_id) IS NOT NULL)) o
WHERE order_counts(o.status) AND o.rate IS NOT NULL;

-- Workspaces with orders already: the most common currency becomes the reporting currency.
INSERT INTO settings (key, value, updated_at, updated_by)
SELECT 'revenue.reporting_currency', to_json(mode(upper(trim(currency)))), now(), 'migration'
FROM orders WHERE trim(currency) <> ''
HAVING count(*) > 0;
