"""Attribution: orders and revenue by channel (or campaign) under five models, and each person's
first and last touch.

A touch is an event with a UTM campaign (context.campaign or utm_ parameters in the URL) or an
external referrer (see base.channel_sql). Each order's touches are its buyer's touches at or
before the order, within the lookback window when one is given. The models share each order
(and its revenue) among those touches:

- first touch: all to the earliest; last touch: all to the latest;
- linear: equally among all of them;
- position-based (40/20/40): 40% each to the first and the last, the other 20% shared equally
  among the ones between (one touch takes all, two take half each).

An order with no touch goes to "direct" when its buyer was on the website (any page, screen or
track event) in that window, and to "no web touch" when not: a till or billing order from
someone the website never saw is not direct traffic. Orders and revenue are money kept
(engine/revenue.py); a model's orders are fractional where it shares an order. People are counted
by their first and last touch overall.
"""
from __future__ import annotations

import pandas as pd

from engine.access import User, can, mask_frame, require
from engine.journeys.base import JourneyError, time_range
from engine.freshness import REBUILD
from engine.journeys.prepare import journeys_backend
from engine.revenue import NET_AMOUNT, PROFILE_REVENUE_ORDERS

DIRECT = "direct"
NO_WEB_TOUCH = "no web touch"
MODELS = ("first_touch", "last_touch", "linear", "position")
WHOLE = ("first_touch", "last_touch")      # models that give each order to one touch
MODEL_LABELS = {"first_touch": "First touch", "last_touch": "Last touch", "linear": "Linear",
                "position": "Position-based (40/20/40)"}
# Rows per channel, or per channel and campaign (utm_campaign; NULL for touches without one).
LEVELS = {"channel": ("channel",), "campaign": ("channel", "campaign")}
# Event types that show the person was on the website or app (a visit, with or without a touch).
WEB_TYPES = ("page", "screen", "track")

_PER_PROFILE_SQL = """
SELECT profile_id, arg_min(channel, ts) AS first_touch_channel, min(ts) AS first_touch_at,
       arg_max(channel, ts) AS last_touch_channel, max(ts) AS last_touch_at, count(*) AS touches
FROM journey_events WHERE channel IS NOT NULL GROUP BY profile_id
"""

# Each model's share of an order for touch i of n (ordered by time).
_WEIGHTS = {
    "first_touch": "CASE WHEN i = 1 THEN 1.0 ELSE 0.0 END",
    "last_touch": "CASE WHEN i = n THEN 1.0 ELSE 0.0 END",
    "linear": "1.0 / n",
    "position": "CASE WHEN n = 1 THEN 1.0 WHEN n = 2 THEN 0.5 WHEN i = 1 OR i = n THEN 0.4 ELSE 0.2 / (n - 2) END",
}


def position_weights(n: int) -> list[float]:
    """Python reference of the position-based (40/20/40) shares of n touches."""
    if n <= 2:
        return [1.0 / n] * n if n else []
    return [0.4] + [0.2 / (n - 2)] * (n - 2) + [0.4]


def _window(lookback_days, params: list, touch: str) -> str:
    """SQL: `touch` happened at or before the order, and within the lookback when given."""
    if lookback_days is None:
        return f"{touch}.ts <= o.ordered_at"
    try:
        days = int(lookback_days)
    except (TypeError, ValueError):
        raise JourneyError(f"The lookback window must be a number of days, not {lookback_days!r}.") from None
    if days < 1:
        raise JourneyError("The lookback window must be at least one day.")
    params.append(days)
    return f"{touch}.ts <= o.ordered_at AND {touch}.ts >= o.ordered_at - to_days(CAST(? AS INTEGER))"


def _same(other: str, dims) -> str:
    """Join condition of rows r with `other` on the dimensions (a campaign may be NULL)."""
    return " AND ".join(f"r.{d} IS NOT DISTINCT FROM {other}.{d}" for d in dims)


def attribution(workspace, user: User, since=None, until=None, *, lookback_days: int | None = None,
                level: str = "channel", freshness: str = REBUILD, backend=None) -> pd.DataFrame:
    """Per channel (level "campaign": per channel and utm_campaign): people by first and last touch,
    and orders and revenue under the first-touch, last-touch, linear and position-based models.

    since/until bound the orders' dates; lookback_days keeps only touches (and visits) that many
    days before each order.
    """
    require(user, "view")
    if level not in LEVELS:
        raise JourneyError(f"Attribution level must be one of {', '.join(LEVELS)}.")
    dims = LEVELS[level]
    keys = ", ".join(dims)
    params: list = []
    in_range = time_range(since, until, params, column="ordered_at")
    touch_window = _window(lookback_days, params, "t")
    visit_window = _window(lookback_days, params, "v")
    web_types = ", ".join(f"'{t}'" for t in WEB_TYPES)
    weights = ",\n               ".join(f"{w} AS w_{m}" for m, w in _WEIGHTS.items())
    # first and last touch give whole orders: counted as integers, as before the shared models came
    sums = ",\n           ".join(
        f"{'CAST(sum(w_' + m + ') AS BIGINT)' if m in WHOLE else 'sum(w_' + m + ')'} AS {m}_orders, "
        f"sum(w_{m} * amount) AS {m}_revenue" for m in MODELS)
    untouched = ", ".join(f"1.0 AS w_{m}" for m in MODELS)
    nulls = ", ".join(f"NULL AS {d}" for d in dims[1:])
    none = ", " + nulls if nulls else ""
    people_key = "struct_pack(" + ", ".join(f"{d} := {d}" for d in dims) + ")"
    model_cols = ",\n           ".join(f"COALESCE(m.{m}_orders, 0) AS {m}_orders, COALESCE(m.{m}_revenue, 0) AS {m}_revenue"
                                       for m in MODELS)
    sql = f"""
    WITH t AS (SELECT profile_id, ts, channel, utm_campaign AS campaign FROM journey_events WHERE channel IS NOT NULL),
    o AS (SELECT row_number() OVER () AS order_n, * FROM (
              SELECT profile_id, COALESCE(order_id, source || ':' || source_record_id) AS order_key,
                     max(ordered_at) AS ordered_at, max({NET_AMOUNT}) AS amount
              FROM {PROFILE_REVENUE_ORDERS} WHERE ordered_at IS NOT NULL AND {in_range} GROUP BY ALL)),
    ot AS (SELECT o.order_n, o.amount, {", ".join("t." + d for d in dims)},
                  row_number() OVER (PARTITION BY o.order_n ORDER BY t.ts, t.channel, t.campaign) AS i,
                  count(*) OVER (PARTITION BY o.order_n) AS n
           FROM o JOIN t ON t.profile_id = o.profile_id AND {touch_window}),
    untouched AS (SELECT * FROM o WHERE order_n NOT IN (SELECT order_n FROM ot)),
    visited AS (SELECT DISTINCT o.order_n FROM untouched o
                JOIN journey_events v ON v.profile_id = o.profile_id AND v.type IN ({web_types}) AND {visit_window}),
    credit AS (
        SELECT {keys}, amount,
               {weights}
        FROM ot
        UNION ALL BY NAME
        SELECT CASE WHEN order_n IN (SELECT order_n FROM visited) THEN '{DIRECT}' ELSE '{NO_WEB_TOUCH}' END
                   AS channel{none}, amount, {untouched}
        FROM untouched),
    m AS (SELECT {keys},
           {sums}
          FROM credit GROUP BY ALL),
    touches AS (SELECT profile_id, arg_min({people_key}, ts) AS first_key, arg_max({people_key}, ts) AS last_key
                FROM t GROUP BY profile_id),
    fp AS (SELECT {", ".join(f"first_key.{d} AS {d}" for d in dims)}, count(*) AS n FROM touches GROUP BY ALL),
    lp AS (SELECT {", ".join(f"last_key.{d} AS {d}" for d in dims)}, count(*) AS n FROM touches GROUP BY ALL),
    rows_ AS (SELECT {keys} FROM m UNION SELECT {keys} FROM fp UNION SELECT {keys} FROM lp)
    SELECT {", ".join("r." + d for d in dims)},
           COALESCE(fp.n, 0) AS first_touch_people, COALESCE(lp.n, 0) AS last_touch_people,
           {model_cols}
    FROM rows_ r LEFT JOIN m ON {_same("m", dims)} LEFT JOIN fp ON {_same("fp", dims)}
    LEFT JOIN lp ON {_same("lp", dims)}
    ORDER BY last_touch_revenue DESC, first_touch_revenue DESC, {keys} NULLS LAST
    """
    with workspace.connect():
        return journeys_backend(workspace, backend, freshness=freshness).query(sql, params)


def profile_touches(workspace, user: User, profile_ids: list[str] | None = None, limit: int = 1000,
                    *, freshness: str = REBUILD, backend=None) -> pd.DataFrame:
    """First and last touch channel per profile (optionally for some profiles), with name and email."""
    require(user, "view")
    where, params = "", []
    if profile_ids:
        where = "WHERE t.profile_id IN (SELECT unnest(?))"
        params.append([str(p) for p in profile_ids])
    params.append(int(limit))
    with workspace.connect():
        frame = journeys_backend(workspace, backend, freshness=freshness).query(
            f"SELECT t.*, p.email, concat_ws(' ', p.first_name, p.last_name) AS name "
            f"FROM ({_PER_PROFILE_SQL}) t LEFT JOIN profiles p USING (profile_id) {where} "
            f"ORDER BY t.first_touch_at DESC, t.profile_id LIMIT ?", params)
    return frame if can(user, "view_pii") else mask_frame(frame, user)
