"""Lift from holdout groups: did pushing an audience change what people bought?

For every audience source (segment or tag) pushed with a holdout, the exposed group is the
people a sync sent to a destination (the first batch that reached it starts their window) and
the holdout group the people activation kept out (activation_holdouts: first held starts the
window). For each person with a complete window of `window_days` by the as-of time: orders
paid for (conversions) and net revenue (engine/revenue.py) within the window.

Lift per person is the difference of the two groups' means, with a 95% interval from the
normal approximation to the difference of two means (Welch: each group's own variance);
for conversion, the same on the share of people who ordered at least once. The groups are
assigned by a hash of the profile id, so the difference estimates the push's effect.
"""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd

from engine.access import require
from engine.revenue import NET_AMOUNT, PROFILE_REVENUE_ORDERS

Z95 = 1.959964
DEFAULT_WINDOW_DAYS = 30
MIN_GROUP = 30  # fewer people than this in a group: say the answer is not yet readable

# One row per person in the exposed or holdout group of a source, with their window's orders
# and revenue. Parameters: window_days, as_of (timestamp), source_key or NULL for all.
PEOPLE = f"""
WITH exposed AS (
    SELECT a.source_kind || ':' || a.source_id AS source_key, r.profile_id, min(b.sent_at) AS start
    FROM activation_run_rows r
    JOIN activation_run_batches b ON b.run_id = r.run_id AND b.op = r.op AND b.batch_no = r.batch_no
    JOIN activation_runs u ON u.run_id = r.run_id
    JOIN activation_audiences a ON a.audience_key = u.audience_key
    WHERE r.op = 'add' AND b.status = 'sent' AND b.sent_at IS NOT NULL
    GROUP BY ALL
), held AS (
    SELECT source_key, profile_id, first_held_at AS start FROM activation_holdouts
), people AS (
    SELECT e.source_key, e.profile_id, e.start, 'exposed' AS grp
    FROM exposed e ANTI JOIN held h ON h.source_key = e.source_key AND h.profile_id = e.profile_id
    WHERE e.source_key IN (SELECT source_key FROM held)
    UNION ALL
    SELECT source_key, profile_id, start, 'holdout' FROM held
), windows AS (
    SELECT *, start + to_days(CAST($window_days AS INTEGER)) AS stop FROM people
    WHERE ($source_key IS NULL OR source_key = $source_key)
)
SELECT w.source_key, w.grp, w.profile_id, w.stop <= CAST($as_of AS TIMESTAMPTZ) AS complete,
       count(o.ordered_at) AS conversions, coalesce(sum(o.{NET_AMOUNT}), 0) AS revenue
FROM windows w
LEFT JOIN {PROFILE_REVENUE_ORDERS} o
       ON o.profile_id = w.profile_id AND o.ordered_at > w.start AND o.ordered_at <= w.stop
GROUP BY ALL
"""


def difference(exposed: np.ndarray, holdout: np.ndarray) -> dict:
    """Mean per person in each group, their difference and its 95% interval (Welch)."""
    exposed, holdout = np.asarray(exposed, float), np.asarray(holdout, float)
    if len(exposed) < 2 or len(holdout) < 2:
        return {"exposed": None, "holdout": None, "lift": None, "low": None, "high": None}
    lift = float(exposed.mean() - holdout.mean())
    se = float(np.sqrt(exposed.var(ddof=1) / len(exposed) + holdout.var(ddof=1) / len(holdout)))
    return {"exposed": float(exposed.mean()), "holdout": float(holdout.mean()), "lift": lift,
            "low": lift - Z95 * se, "high": lift + Z95 * se}


def _money(value: float) -> str:
    return f"{'+' if value > 0 else '-' if value < 0 else ''}{abs(value):,.2f}"


def verdict(revenue: dict, n_exposed: int, n_holdout: int) -> str:
    """The revenue lift in one plain sentence."""
    if min(n_exposed, n_holdout) < MIN_GROUP or revenue["lift"] is None:
        return (f"Too early to tell: {n_exposed} exposed and {n_holdout} held-out people have a "
                f"complete window; at least {MIN_GROUP} in each are needed.")
    figure = (f"{_money(revenue['lift'])} per person, 95% CI {_money(revenue['low'])} to "
              f"{_money(revenue['high'])}")
    if revenue["low"] > 0:
        return f"The push raised revenue: {figure}."
    if revenue["high"] < 0:
        return f"The exposed group spent less than the holdout: {figure}."
    return f"No clear effect yet: {figure} (the interval includes zero)."


def summarise(people: pd.DataFrame, window_days: int) -> list[dict]:
    """One result per source from the PEOPLE rows."""
    results = []
    for source_key, rows in people.groupby("source_key", sort=True):
        done = rows[rows["complete"]]
        groups = {g: done[done["grp"] == g] for g in ("exposed", "holdout")}
        n_exposed, n_holdout = len(groups["exposed"]), len(groups["holdout"])
        revenue = difference(groups["exposed"]["revenue"], groups["holdout"]["revenue"])
        conversion = difference(groups["exposed"]["conversions"] > 0, groups["holdout"]["conversions"] > 0)
        results.append({
            "source": source_key, "window_days": int(window_days),
            "exposed": n_exposed, "holdout": n_holdout,
            "waiting": int((~rows["complete"]).sum()),
            "revenue_per_person": revenue, "conversion_rate": conversion,
            "verdict": verdict(revenue, n_exposed, n_holdout),
        })
    return results


def audience_lift(workspace, user, window_days: int = DEFAULT_WINDOW_DAYS, source: str | None = None,
                  as_of: datetime | None = None) -> list[dict]:
    """Lift of every audience source pushed with a holdout (or of one source, 'segment:ID' or
    'tag:NAME'), over a window of `window_days` from each person's first push or hold.

    as_of: count only windows complete by then (default: now). People whose window is still
    open are counted under "waiting"."""
    require(user, "view")
    if not (isinstance(window_days, (int, np.integer)) and 1 <= window_days <= 365):
        raise ValueError("The window is a whole number of days between 1 and 365.")
    as_of = as_of or datetime.now(timezone.utc)
    people = workspace.query_df(PEOPLE, {"window_days": int(window_days), "as_of": as_of,
                                         "source_key": source})
    return summarise(people, window_days)
