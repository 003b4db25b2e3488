"""Attribution: first-touch and last-touch channel per profile, and revenue by channel.

A touch is an event with a UTM campaign (context.campaign or utm_ parameters in the URL)
or an external referrer (see base.channel_sql). For each order, first touch is the
person's earliest touch before the order and last touch the latest touch before it (an
ASOF join); orders with no touch before them count as "direct". People are counted by
their first and last touch overall. Orders and revenue are money kept (engine/revenue.py).
"""
from __future__ import annotations

import pandas as pd

from engine.access import User, can, mask_frame, require
from engine.journeys.base import time_range
from engine.journeys.prepare import prepare_journeys
from engine.revenue import NET_AMOUNT, PROFILE_REVENUE_ORDERS

DIRECT = "direct"

_PER_PROFILE_SQL = """
SELECT profile_id, arg_min(channel, ts) AS first_touch_channel, min(ts) AS first_touch_at,
       arg_max(channel, ts) AS last_touch_channel, max(ts) AS last_touch_at, count(*) AS touches
FROM journey_events WHERE channel IS NOT NULL GROUP BY profile_id
"""


def attribution(workspace, user: User, since=None, until=None) -> pd.DataFrame:
    """Per channel: people (first/last touch), orders and revenue under first- and last-touch models.

    since/until bound the orders' dates.
    """
    require(user, "view")
    params: list = []
    in_range = time_range(since, until, params, column="ordered_at")
    sql = f"""
    WITH t AS (SELECT profile_id, ts, channel FROM journey_events WHERE channel IS NOT NULL),
    o AS (SELECT profile_id, COALESCE(order_id, source || ':' || source_record_id) AS order_key,
                 max(ordered_at) AS ordered_at, max({NET_AMOUNT}) AS amount
          FROM {PROFILE_REVENUE_ORDERS} WHERE ordered_at IS NOT NULL AND {in_range} GROUP BY ALL),
    firsts AS (SELECT profile_id, arg_min(channel, ts) AS channel, min(ts) AS ts FROM t GROUP BY profile_id),
    last_per_order AS (
        SELECT o.order_key, o.amount, COALESCE(t.channel, '{DIRECT}') AS channel
        FROM o ASOF LEFT JOIN t ON o.profile_id = t.profile_id AND o.ordered_at >= t.ts),
    first_per_order AS (
        SELECT o.order_key, o.amount,
               CASE WHEN f.ts <= o.ordered_at THEN f.channel ELSE '{DIRECT}' END AS channel
        FROM o LEFT JOIN firsts f USING (profile_id)),
    people AS ({_PER_PROFILE_SQL}),
    ft AS (SELECT channel, count(*) AS orders, sum(amount) AS revenue FROM first_per_order GROUP BY channel),
    lt AS (SELECT channel, count(*) AS orders, sum(amount) AS revenue FROM last_per_order GROUP BY channel),
    fp AS (SELECT first_touch_channel AS channel, count(*) AS n FROM people GROUP BY 1),
    lp AS (SELECT last_touch_channel AS channel, count(*) AS n FROM people GROUP BY 1),
    channels AS (SELECT channel FROM ft UNION SELECT channel FROM lt UNION SELECT channel FROM fp
                 UNION SELECT channel FROM lp)
    SELECT c.channel,
           COALESCE(fp.n, 0) AS first_touch_people, COALESCE(lp.n, 0) AS last_touch_people,
           COALESCE(ft.orders, 0) AS first_touch_orders, COALESCE(ft.revenue, 0) AS first_touch_revenue,
           COALESCE(lt.orders, 0) AS last_touch_orders, COALESCE(lt.revenue, 0) AS last_touch_revenue
    FROM channels c LEFT JOIN ft USING (channel) LEFT JOIN lt USING (channel)
    LEFT JOIN fp USING (channel) LEFT JOIN lp USING (channel)
    ORDER BY last_touch_revenue DESC, first_touch_revenue DESC, channel
    """
    with workspace.connect():
        prepare_journeys(workspace)
        return workspace.query_df(sql, params)


def profile_touches(workspace, user: User, profile_ids: list[str] | None = None, limit: int = 1000) -> pd.DataFrame:
    """First and last touch channel per profile (optionally for some profiles), with name and email."""
    require(user, "view")
    where, params = "", []
    if profile_ids:
        where = "WHERE t.profile_id IN (SELECT unnest(?))"
        params.append([str(p) for p in profile_ids])
    params.append(int(limit))
    with workspace.connect():
        prepare_journeys(workspace)
        frame = workspace.query_df(
            f"SELECT t.*, p.email, concat_ws(' ', p.first_name, p.last_name) AS name "
            f"FROM ({_PER_PROFILE_SQL}) t LEFT JOIN profiles p USING (profile_id) {where} "
            f"ORDER BY t.first_touch_at DESC, t.profile_id LIMIT ?", params)
    return frame if can(user, "view_pii") else mask_frame(frame, user)
