"""Cohorts: retention by first-seen month (any web activity) or first-order month (repeat orders).

A person's cohort is the month of their first event (basis "first_seen") or first order
("first_order"); they count as retained in month N if they were active (an event, or an
order for first-order cohorts) in the Nth calendar month after it. The result is one row
per cohort and month offset with people and the share of the cohort, ready for a heatmap.
"""
from __future__ import annotations

import pandas as pd

from engine.access import User, require
from engine.journeys.base import JourneyError
from engine.freshness import REBUILD
from engine.journeys.prepare import journeys_backend
from engine.revenue import PROFILE_REVENUE_ORDERS

BASES = {
    "first_seen": "SELECT profile_id, ts FROM journey_events WHERE ts IS NOT NULL",
    # orders customers paid for (engine/revenue.py), not failed or cancelled attempts
    "first_order": f"SELECT profile_id, ordered_at AS ts FROM {PROFILE_REVENUE_ORDERS} WHERE ordered_at IS NOT NULL",
}
BASIS_LABELS = {"first_seen": "First seen (web activity)", "first_order": "First order (repeat purchase)"}


def cohorts(workspace, user: User, basis: str = "first_seen", months: int = 12, since=None,
            *, freshness: str = REBUILD, backend=None) -> pd.DataFrame:
    """Retention matrix in long form: cohort (month), month (offset), people, cohort_size, pct."""
    require(user, "view")
    if basis not in BASES:
        raise JourneyError(f"Cohorts are by {' or '.join(BASES)}, not {basis!r}.")
    if not 1 <= int(months) <= 60:
        raise JourneyError("Show between 1 and 60 months.")
    since_cond, params = "true", {"months": int(months)}
    if since is not None:
        since_cond = "cohort >= date_trunc('month', CAST($since AS DATE))"
        params["since"] = str(since)
    sql = f"""
    WITH act AS (SELECT profile_id, date_trunc('month', ts) AS m FROM ({BASES[basis]}) GROUP BY ALL),
    firsts AS (SELECT profile_id, min(m) AS cohort FROM act GROUP BY profile_id),
    sized AS (SELECT cohort, count(*) AS cohort_size FROM firsts GROUP BY cohort),
    grid AS (
        SELECT f.cohort, datediff('month', f.cohort, a.m) AS month, count(DISTINCT a.profile_id) AS people
        FROM act a JOIN firsts f USING (profile_id)
        WHERE datediff('month', f.cohort, a.m) BETWEEN 0 AND $months
        GROUP BY ALL)
    SELECT CAST(g.cohort AS DATE) AS cohort, g.month, g.people, s.cohort_size,
           round(100.0 * g.people / s.cohort_size, 1) AS pct
    FROM grid g JOIN sized s USING (cohort)
    WHERE {since_cond}
    ORDER BY cohort, month
    """
    with workspace.connect():
        return journeys_backend(workspace, backend, events=basis == "first_seen", freshness=freshness).query(sql, params)


def retention_matrix(long: pd.DataFrame, value: str = "pct") -> pd.DataFrame:
    """Cohorts as rows, month offsets as columns (for a heatmap)."""
    if long.empty:
        return pd.DataFrame()
    return long.pivot(index="cohort", columns="month", values=value).sort_index()
