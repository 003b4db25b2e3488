"""Funnels: how many people do these events in this order within a window, and who drops off.

A person enters at their first step-1 event in the date range; each later step counts the
first matching event at or after the previous step and within the conversion window of
entering. One scan of `journey_events` (events already attributed to profiles) picks the events matching any step (materialised),
then one small join per step. Breakdowns attach one value per person (a trait, RFM segment
or first-touch UTM source) from an allow-list. The same pass can return the most recent
drop-offs before each step (`dropoffs=N`): what a screen shows beside the funnel, without
computing who reached what a second time; `funnel_dropoffs` lists all of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pandas as pd

from engine.access import User, can, is_personal_field, mask_frame, require
from engine.journeys.base import JourneyError, Step, breakdown_sql, step_condition, time_range
from engine.freshness import REBUILD
from engine.journeys.prepare import journeys_backend

MAX_STEPS = 10
MAX_BREAKDOWN_VALUES = 8


@dataclass
class FunnelResult:
    steps: pd.DataFrame          # step, label, people, pct_of_start, pct_of_previous, dropped, median_seconds
    breakdown: pd.DataFrame      # value, step, label, people, pct_of_start (empty without a breakdown)
    window: timedelta
    # step k -> the `dropoffs` people who most recently did step k - 1 but not step k (as funnel_dropoffs)
    dropped: dict[int, pd.DataFrame] = field(default_factory=dict)


def _steps(steps, user: User) -> list[Step]:
    parsed = [Step.of(s) for s in steps or []]
    if not can(user, "view_pii"):   # a prefix filter on a personal property would spell it out
        personal = sorted({f.property for s in parsed for f in s.filters
                           if is_personal_field(f.property) and f.op not in ("is set", "is not set")})
        if personal:
            raise JourneyError(f"{user.display_name} ({user.role}) may not filter on personal properties "
                               f"({', '.join(personal)}): their values are masked for this role.")
    if len(parsed) < 2:
        raise JourneyError("A funnel needs at least two steps.")
    if len(parsed) > MAX_STEPS:
        raise JourneyError(f"A funnel has at most {MAX_STEPS} steps.")
    return parsed


def _reach_sql(steps: list[Step], window: timedelta, since, until) -> tuple[str, list]:
    """SQL for `reach(pid, t1..tn)`: when each person reached each step (NULL if not)."""
    if window.total_seconds() <= 0:
        raise JourneyError("The conversion window must be positive.")
    params: list = []
    marks = []
    for i, step in enumerate(steps, 1):
        marks.append(f"{step_condition(step, params)} AS m{i}")
    where_params: list = []
    any_step = " OR ".join(step_condition(s, where_params) for s in steps)
    in_range = time_range(since, until, where_params, column="ts")
    params += where_params
    ctes = [f"fe AS MATERIALIZED (SELECT profile_id AS pid, ts, {', '.join(marks)} "
            f"FROM journey_events WHERE ({any_step}) AND {in_range})",
            "s1 AS (SELECT pid, min(ts) AS t1 FROM fe WHERE m1 GROUP BY pid)"]
    seconds = window.total_seconds()
    for i in range(2, len(steps) + 1):
        strict = ">" if steps[i - 1] == steps[i - 2] else ">="
        ctes.append(
            f"s{i} AS (SELECT s.pid, min(fe.ts) AS t{i} FROM s{i - 1} s JOIN s1 USING (pid) JOIN fe "
            f"ON fe.pid = s.pid AND fe.m{i} AND fe.ts {strict} s.t{i - 1} "
            f"AND fe.ts <= s1.t1 + to_microseconds(CAST({int(seconds * 1_000_000)} AS BIGINT)) "
            f"GROUP BY s.pid)")
    joins = " ".join(f"LEFT JOIN s{i} USING (pid)" for i in range(2, len(steps) + 1))
    cols = ", ".join(f"t{i}" for i in range(1, len(steps) + 1))
    ctes.append(f"reach AS (SELECT pid, {cols} FROM s1 {joins})")
    return "WITH " + ",\n".join(ctes), params


DROPOFF_COLUMNS = ["profile_id", "name", "email", "reached_previous_at"]


def _person(pid: str, previous: str, relation: str = "d") -> str:
    """The drop-off columns (DROPOFF_COLUMNS) of `relation`'s people, their names from profiles."""
    return (f"{pid} AS profile_id, concat_ws(' ', p.first_name, p.last_name) AS name, p.email, "
            f"{previous} AS reached_previous_at FROM {relation} LEFT JOIN profiles p ON p.profile_id = {pid}")


def _dropped_sql(n: int) -> str:
    """`d(k, pid, prev)`: per step k, the `?` people who most recently reached step k - 1 but not k."""
    each = " UNION ALL ".join(f"SELECT {k} AS k, pid, t{k - 1} AS prev FROM r WHERE t{k - 1} IS NOT NULL "
                              f"AND t{k} IS NULL" for k in range(2, n + 1))
    return (f"d AS (SELECT k, pid, prev FROM (SELECT x.*, row_number() OVER (PARTITION BY k ORDER BY prev DESC, "
            f"pid) AS rn FROM ({each}) x) ranked WHERE rn <= ?)")


def funnel(workspace, user: User, steps, window: timedelta = timedelta(days=7), since=None, until=None,
           breakdown: str | None = None, *, dropoffs: int = 0, freshness: str = REBUILD,
           backend=None) -> FunnelResult:
    """People reaching each step, conversion and drop-off, median time from the previous step
    (on `backend`, default the workspace's engine setting); with `dropoffs`, that many of the most
    recent drop-offs before each step, from the same pass."""
    require(user, "view")
    parsed = _steps(steps, user)
    with_sql, params = _reach_sql(parsed, window, since, until)
    n = len(parsed)
    counts = ", ".join(f"count(t{i}) AS c{i}" for i in range(1, n + 1))
    medians = ", ".join(f"median(epoch(t{i}) - epoch(t{i - 1})) AS d{i}" for i in range(2, n + 1))
    group = breakdown_sql(breakdown)
    with workspace.connect():
        backend = journeys_backend(workspace, backend, freshness=freshness)
        if dropoffs > 0:   # reach once: the counts on every row, one row per drop-off shown
            frame = backend.query(
                f"{with_sql}, r AS MATERIALIZED (SELECT * FROM reach), a AS (SELECT {counts}, {medians} FROM r), "
                f"{_dropped_sql(n)} SELECT a.*, s.k AS drop_step, s.profile_id, s.name, s.email, "
                f"s.reached_previous_at FROM a LEFT JOIN (SELECT d.k, {_person('d.pid', 'd.prev')}) s ON true "
                f"ORDER BY s.k, s.reached_previous_at DESC, s.profile_id", params + [int(dropoffs)])
            row = frame.iloc[0].tolist()
            dropped = _dropped_frames(frame, n, user)
        else:
            row = backend.query(f"{with_sql} SELECT {counts}, {medians} FROM reach", params).iloc[0].tolist()
            dropped = {}
        people = [int(row[i]) for i in range(n)]
        med = [None] + [None if pd.isna(row[n + i]) else float(row[n + i]) for i in range(n - 1)]
        steps_df = _step_table(parsed, people, med)
        by = pd.DataFrame(columns=["value", "step", "label", "people", "pct_of_start"])
        if group:
            frame = backend.query(
                f"{with_sql}, b AS ({group}), v AS (SELECT r.*, COALESCE(CAST(b.value AS VARCHAR), '(none)') AS value "
                f"FROM reach r LEFT JOIN b ON b.profile_id = r.pid) "
                f"SELECT value, {counts} FROM v GROUP BY value ORDER BY c1 DESC, value", params)
            by = _breakdown_table(parsed, frame)
    return FunnelResult(steps_df, by, window, dropped)


def _dropped_frames(frame: pd.DataFrame, n: int, user: User) -> dict[int, pd.DataFrame]:
    """The one-pass query's drop-off rows, per step, masked as funnel_dropoffs masks them."""
    rows = frame.loc[frame["drop_step"].notna(), ["drop_step", *DROPOFF_COLUMNS]]
    rows = rows if can(user, "view_pii") else mask_frame(rows, user)
    return {k: rows.loc[rows["drop_step"] == k, DROPOFF_COLUMNS].reset_index(drop=True) for k in range(2, n + 1)}


def _step_table(steps: list[Step], people: list[int], median_seconds: list) -> pd.DataFrame:
    df = pd.DataFrame({"step": range(1, len(steps) + 1), "label": [s.label for s in steps],
                       "people": people})
    start = people[0] or 0
    prev = [None] + people[:-1]
    df["pct_of_start"] = [round(100.0 * p / start, 1) if start else 0.0 for p in people]
    df["pct_of_previous"] = [None if q is None else (round(100.0 * p / q, 1) if q else 0.0)
                             for p, q in zip(people, prev)]
    df["dropped"] = [0] + [q - p for p, q in zip(people[1:], people[:-1])]
    df["median_seconds"] = median_seconds
    return df


def _breakdown_table(steps: list[Step], frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=["value", "step", "label", "people", "pct_of_start"])
    if len(frame) > MAX_BREAKDOWN_VALUES:   # keep the biggest groups; fold the rest into "Other"
        head, tail = frame.iloc[:MAX_BREAKDOWN_VALUES - 1], frame.iloc[MAX_BREAKDOWN_VALUES - 1:]
        other = tail.drop(columns="value").sum().to_frame().T
        other.insert(0, "value", "Other")
        frame = pd.concat([head, other], ignore_index=True)
    order = {v: i for i, v in enumerate(frame["value"])}          # biggest group first, Other last
    long = frame.melt(id_vars="value", var_name="c", value_name="people")
    long["step"] = long["c"].str[1:].astype(int)
    long["label"] = long["step"].map(lambda i: steps[i - 1].label)
    start = long[long["step"] == 1].set_index("value")["people"]
    long["pct_of_start"] = (100.0 * long["people"] / long["value"].map(start).where(lambda s: s > 0)).round(1).fillna(0.0)
    long["people"] = long["people"].astype(int)
    long = long.assign(_order=long["value"].map(order)).sort_values(["_order", "step"])
    return long[["value", "step", "label", "people", "pct_of_start"]].reset_index(drop=True)


def funnel_dropoffs(workspace, user: User, steps, at_step: int, window: timedelta = timedelta(days=7),
                    since=None, until=None, limit: int | None = None, *, freshness: str = REBUILD,
                    backend=None) -> pd.DataFrame:
    """People who reached step at_step - 1 but not at_step (profile_id, name, email, reached_previous_at)."""
    require(user, "view")
    parsed = _steps(steps, user)
    if not 2 <= int(at_step) <= len(parsed):
        raise JourneyError(f"Drop-offs are counted at steps 2 to {len(parsed)}.")
    with_sql, params = _reach_sql(parsed, window, since, until)
    k = int(at_step)
    sql = (f"{with_sql} SELECT {_person('r.pid', f'r.t{k - 1}', 'reach r')} "
           f"WHERE r.t{k - 1} IS NOT NULL AND r.t{k} IS NULL ORDER BY r.t{k - 1} DESC, r.pid")
    if limit:
        sql += " LIMIT ?"
        params = params + [int(limit)]
    with workspace.connect():
        frame = journeys_backend(workspace, backend, freshness=freshness).query(sql, params)
    return frame if can(user, "view_pii") else mask_frame(frame, user)
