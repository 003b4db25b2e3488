"""Every SQL statement of the value module, in one place (DuckDB dialect).

Dates are bound parameters. An order counts on or before the as-of date when its
ordered_at falls on that calendar day or earlier (the session time zone decides the day).
Orders and money are read from the revenue-bearing orders and their net amount
(engine/revenue.py): failed, cancelled and pending payments are not purchases, refunds are taken off.
"""
from engine.revenue import NET_AMOUNT, PROFILE_REVENUE_ORDERS

# Purchase days per profile up to and including the as-of date: the one scan of the orders
# that both the BTYD summary and RFM are computed from. Parameter: as_of.
DAILY = f"""
SELECT profile_id, CAST(ordered_at AS DATE) AS day,
       sum(coalesce({NET_AMOUNT}, 0)) AS amount, count(*) AS orders
FROM {PROFILE_REVENUE_ORDERS}
WHERE ordered_at IS NOT NULL AND CAST(ordered_at AS DATE) <= CAST(? AS DATE)
GROUP BY ALL
"""
DAILY_TABLE = "value_days"  # temp table fit_clv fills from DAILY


def days_relation(materialised: bool) -> str:
    """The DAILY rows: the temp table, or the query itself (then it takes the as_of param)."""
    return DAILY_TABLE if materialised else f"({DAILY})"


# The (x, t_x, T) summary of buy-till-you-die models counts distinct purchase *days*, as is
# standard; monetary is the mean value of repeat purchase days. Parameter: as_of.
HISTORY = """
SELECT profile_id,
       count(*) - 1 AS frequency,
       date_diff('day', min(day), max(day)) AS recency,
       date_diff('day', min(day), CAST(? AS DATE)) AS T,
       CASE WHEN count(*) > 1
            THEN (sum(amount) - arg_min(amount, day)) / (count(*) - 1) END AS monetary,
       sum(amount) AS total_amount,
       sum(orders) AS orders
FROM {days} AS days
GROUP BY profile_id
"""

# Purchase days and revenue per profile in (start, end]. Parameters: start, end.
WINDOW_ACTUALS = f"""
SELECT profile_id, count(DISTINCT CAST(ordered_at AS DATE)) AS purchases,
       sum(coalesce({NET_AMOUNT}, 0)) AS revenue
FROM {PROFILE_REVENUE_ORDERS}
WHERE CAST(ordered_at AS DATE) > ? AND CAST(ordered_at AS DATE) <= ?
GROUP BY profile_id
"""

ORDER_DATE_RANGE = f"""
SELECT CAST(min(ordered_at) AS DATE), CAST(max(ordered_at) AS DATE), count(*)
FROM {PROFILE_REVENUE_ORDERS} WHERE ordered_at IS NOT NULL
"""

# RFM aggregates and quintile scores as of a date. Quintiles are by rank: ties share the
# lower score, so all one-time buyers get the same frequency score. Parameter: as_of.
RFM_SCORES = """
WITH agg AS (
    SELECT profile_id,
           date_diff('day', max(day), CAST(? AS DATE)) AS recency_days,
           sum(orders) AS frequency,
           sum(amount) AS monetary
    FROM {days} AS days
    GROUP BY profile_id
)
SELECT profile_id, recency_days, frequency, monetary,
       CAST(least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY recency_days DESC))) AS INTEGER) AS r_score,
       CAST(least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY frequency))) AS INTEGER) AS f_score,
       CAST(least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY monetary))) AS INTEGER) AS m_score
FROM agg
"""

# The source customer ids of each profile, comma-separated.
CUSTOMER_IDS = """
SELECT profile_id, string_agg(customer_id, ',' ORDER BY customer_id) AS customer_id
FROM (
    SELECT profile_id, customer_id FROM profile_orders
    UNION SELECT profile_id, customer_id FROM profile_contacts
    UNION SELECT profile_id, customer_id FROM profile_subscriptions
    UNION SELECT profile_id, customer_id FROM profiles
)
WHERE customer_id IS NOT NULL AND customer_id <> ''
GROUP BY profile_id
"""

SETTING_GET = "SELECT value FROM settings WHERE key = ?"
SETTING_PUT = """
INSERT INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, now(), ?)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
    updated_by = excluded.updated_by
"""

# profile_scores keeps one row per profile; RFM and CLV columns are written at different times.
# Rows are updated in place (DuckDB rewrites only the changed columns; deleting and re-inserting
# a million primary keys took ~30 s), new profiles are inserted, and rows left with neither
# kind of score are deleted. The new values come from a registered frame `new_scores`.
SCORE_RFM_COLUMNS = ["recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
                     "rfm_segment"]
SCORE_CLV_COLUMNS = ["predicted_purchases", "p_alive", "predicted_clv", "clv_decile", "model",
                     "clv_low", "clv_high"]


def _set(columns: list[str]) -> str:
    return ", ".join(f"{c} = n.{c}" for c in columns)


def _nulls(columns: list[str]) -> str:
    return ", ".join(f"{c} = NULL" for c in columns)


# Parameter: as_of.
UPDATE_RFM = f"""
UPDATE profile_scores s SET as_of = CAST(? AS DATE), {_set(SCORE_RFM_COLUMNS)}, computed_at = now()
FROM new_scores n WHERE s.profile_id = n.profile_id
"""
CLEAR_RFM = f"""
UPDATE profile_scores SET as_of = NULL, {_nulls(SCORE_RFM_COLUMNS)}
WHERE r_score IS NOT NULL AND profile_id NOT IN (SELECT profile_id FROM new_scores)
"""
INSERT_RFM = f"""
INSERT INTO profile_scores (profile_id, as_of, {", ".join(SCORE_RFM_COLUMNS)})
SELECT n.profile_id, CAST(? AS DATE), {", ".join("n." + c for c in SCORE_RFM_COLUMNS)}
FROM new_scores n ANTI JOIN profile_scores s ON s.profile_id = n.profile_id
"""
# Parameters: clv_as_of, clv_horizon_days.
UPDATE_CLV = f"""
UPDATE profile_scores s SET {_set(SCORE_CLV_COLUMNS)}, clv_as_of = CAST(? AS DATE),
    clv_horizon_days = CAST(? AS INTEGER), computed_at = now()
FROM new_scores n WHERE s.profile_id = n.profile_id
"""
CLEAR_CLV = f"""
UPDATE profile_scores SET clv_as_of = NULL, clv_horizon_days = NULL, {_nulls(SCORE_CLV_COLUMNS)}
WHERE predicted_purchases IS NOT NULL AND profile_id NOT IN (SELECT profile_id FROM new_scores)
"""
INSERT_CLV = f"""
INSERT INTO profile_scores (profile_id, {", ".join(SCORE_CLV_COLUMNS)}, clv_as_of, clv_horizon_days)
SELECT n.profile_id, {", ".join("n." + c for c in SCORE_CLV_COLUMNS)}, CAST(? AS DATE), CAST(? AS INTEGER)
FROM new_scores n ANTI JOIN profile_scores s ON s.profile_id = n.profile_id
"""
DROP_EMPTY_SCORES = """
DELETE FROM profile_scores WHERE r_score IS NULL AND predicted_purchases IS NULL
"""

RUN_INSERT = """
INSERT INTO value_model_runs (kind, model, as_of, holdout_end, horizon_days, margin,
    discount_rate, params, customers, repeat_customers, details, made_by)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING run_id
"""

PREDICTIONS_INSERT = """
INSERT INTO value_predictions (run_id, profile_id, as_of, horizon_days, predicted_purchases,
    p_alive, predicted_clv, clv_decile)
SELECT ?, profile_id, CAST(? AS DATE), ?, predicted_purchases, p_alive, predicted_clv, clv_decile
FROM new_scores
"""

LATEST_RUN = """
SELECT run_id, kind, model, as_of, holdout_end, horizon_days, margin, discount_rate, params,
       customers, repeat_customers, details, made_at, made_by
FROM value_model_runs WHERE kind = ? ORDER BY run_id DESC LIMIT 1
"""

RUNS = """
SELECT run_id, kind, model, as_of, holdout_end, horizon_days, customers, repeat_customers,
       made_at, made_by
FROM value_model_runs ORDER BY run_id DESC LIMIT ?
"""

# -- insights -----------------------------------------------------------------------
SEGMENT_SUMMARY = """
SELECT rfm_segment AS segment, count(*) AS customers, sum(monetary) AS revenue,
       avg(recency_days) AS avg_recency_days, avg(frequency) AS avg_orders,
       avg(predicted_clv) AS avg_predicted_clv
FROM profile_scores WHERE rfm_segment IS NOT NULL
GROUP BY rfm_segment ORDER BY revenue DESC
"""

RFM_GRID = """
SELECT r_score, f_score, count(*) AS customers, avg(monetary) AS avg_monetary,
       sum(monetary) AS revenue
FROM profile_scores WHERE r_score IS NOT NULL
GROUP BY r_score, f_score ORDER BY r_score, f_score
"""

# Revenue concentration: customers ranked by revenue, cumulative shares at 100 points.
PARETO = f"""
WITH ranked AS (
    SELECT sum(coalesce({NET_AMOUNT}, 0)) AS revenue FROM {PROFILE_REVENUE_ORDERS}
    WHERE ordered_at IS NOT NULL AND CAST(ordered_at AS DATE) <= ?
    GROUP BY profile_id
), cum AS (
    SELECT row_number() OVER (ORDER BY revenue DESC) AS rank_,
           sum(revenue) OVER (ORDER BY revenue DESC ROWS UNBOUNDED PRECEDING) AS cum_revenue,
           count(*) OVER () AS n, sum(revenue) OVER () AS total
    FROM ranked
)
SELECT 0.0 AS customer_share, 0.0 AS revenue_share
UNION ALL
SELECT rank_ / n AS customer_share, cum_revenue / nullif(total, 0) AS revenue_share
FROM cum
WHERE rank_ = n OR rank_ % greatest(1, n // 200) = 0
ORDER BY customer_share
"""

# Share of each first-order-month cohort that ordered again k months later.
COHORTS = f"""
WITH o AS (
    SELECT profile_id, date_trunc('month', CAST(ordered_at AS DATE)) AS month
    FROM {PROFILE_REVENUE_ORDERS} WHERE ordered_at IS NOT NULL AND CAST(ordered_at AS DATE) <= ?
    GROUP BY ALL
), firsts AS (
    SELECT profile_id, min(month) AS cohort FROM o GROUP BY profile_id
), activity AS (
    SELECT f.cohort, date_diff('month', f.cohort, o.month) AS months_since, count(*) AS active
    FROM o JOIN firsts f USING (profile_id) GROUP BY ALL
), sizes AS (
    SELECT cohort, count(*) AS cohort_size FROM firsts GROUP BY cohort
)
SELECT strftime(a.cohort, '%Y-%m') AS cohort, s.cohort_size, a.months_since,
       a.active, a.active / s.cohort_size AS retention
FROM activity a JOIN sizes s USING (cohort)
WHERE a.months_since <= ?
ORDER BY cohort, months_since
"""

# Predicted CLV histogram: 40 equal bins up to the 99th percentile (the rest in the last bin).
CLV_HISTOGRAM = """
WITH bounds AS (
    SELECT greatest(quantile_cont(predicted_clv, 0.99), 1e-9) AS hi FROM profile_scores
    WHERE predicted_clv IS NOT NULL
)
SELECT least(39, floor(predicted_clv / hi * 40)) * hi / 40 AS bin_start, hi / 40 AS bin_width,
       count(*) AS customers, sum(predicted_clv) AS clv
FROM profile_scores, bounds WHERE predicted_clv IS NOT NULL
GROUP BY ALL ORDER BY bin_start
"""

# Predicted value per CLV decile with the sum of each customer's range (the ranges of one
# fit move together: they come from the same parameters).
CLV_BY_DECILE = """
SELECT clv_decile AS decile, count(*) AS customers, sum(predicted_clv) AS clv,
       sum(clv_low) AS clv_low, sum(clv_high) AS clv_high, avg(predicted_clv) AS avg_clv
FROM profile_scores WHERE predicted_clv IS NOT NULL
GROUP BY clv_decile ORDER BY clv_decile
"""

CLV_TOTALS = """
SELECT count(*) AS customers, sum(predicted_clv) AS total_clv, avg(predicted_clv) AS avg_clv,
       sum(predicted_purchases) AS total_purchases, avg(p_alive) AS avg_p_alive,
       max(clv_as_of) AS as_of, max(clv_horizon_days) AS horizon_days, max(model) AS model
FROM profile_scores WHERE predicted_clv IS NOT NULL
"""

# Past high spenders (top monetary quintile by default) who are probably gone.
CHURN_RISK = """
SELECT s.profile_id, p.first_name, p.last_name, p.email, s.rfm_segment, s.monetary,
       s.frequency, s.recency_days, s.p_alive, s.predicted_clv, s.clv_low, s.clv_high
FROM profile_scores s LEFT JOIN profiles p USING (profile_id)
WHERE s.p_alive < ? AND s.m_score >= ?
ORDER BY s.monetary DESC, s.profile_id
LIMIT ?
"""

# Behavioural features for the gradient-boosting model, as of a date. Parameter: $as_of.
ML_FEATURES = f"""
WITH o AS (
    SELECT profile_id, CAST(ordered_at AS DATE) AS day, coalesce({NET_AMOUNT}, 0) AS amount
    FROM {PROFILE_REVENUE_ORDERS}
    WHERE ordered_at IS NOT NULL AND CAST(ordered_at AS DATE) <= CAST($as_of AS DATE)
)
SELECT profile_id,
       count(DISTINCT day) - 1 AS frequency,
       date_diff('day', min(day), max(day)) AS recency,
       date_diff('day', min(day), CAST($as_of AS DATE)) AS T,
       date_diff('day', max(day), CAST($as_of AS DATE)) AS days_since_last,
       count(*) AS orders,
       sum(amount) AS total_amount,
       avg(amount) AS avg_order,
       max(amount) AS max_order,
       count(DISTINCT day) FILTER (WHERE day > CAST($as_of AS DATE) - 30) AS days_30,
       count(DISTINCT day) FILTER (WHERE day > CAST($as_of AS DATE) - 90) AS days_90,
       count(DISTINCT day) FILTER (WHERE day > CAST($as_of AS DATE) - 180) AS days_180,
       count(DISTINCT day) FILTER (WHERE day > CAST($as_of AS DATE) - 365) AS days_365,
       coalesce(sum(amount) FILTER (WHERE day > CAST($as_of AS DATE) - 90), 0) AS amount_90,
       coalesce(sum(amount) FILTER (WHERE day > CAST($as_of AS DATE) - 365), 0) AS amount_365
FROM o
GROUP BY profile_id
ORDER BY profile_id
"""
