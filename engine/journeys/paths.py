"""Paths: the most common next steps after a start event, or previous steps before an end event.

Each person's journey is anchored at their first start event (or first end event when
looking backwards); the following (preceding) events within `within` form the path, with
consecutive repeats collapsed (a reload is not a step). At each depth the `top` most common
steps keep their names and the rest become "Other"; a path that stops early ends in
"(end)" ("(start)" backwards). The result feeds a Sankey diagram: links between
(depth, step) nodes with the number of people.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pandas as pd

from engine.access import User, require
from engine.journeys.base import JourneyError, Step, step_condition, time_range
from engine.freshness import REBUILD
from engine.journeys.prepare import journeys_backend

MAX_DEPTH = 8
END, START, OTHER = "(end)", "(start)", "Other"


@dataclass
class PathResult:
    links: pd.DataFrame      # source_depth, source, target_depth, target, people
    paths: pd.DataFrame      # path (list of steps), people: the most common whole paths
    people: int              # people who did the anchor event
    direction: str
    stopped: int = 0         # of them, people with no other step in the window


def paths(workspace, user: User, anchor, direction: str = "after", depth: int = 4, top: int = 6,
          within: timedelta = timedelta(days=1), since=None, until=None, collapse_repeats: bool = True,
          *, freshness: str = REBUILD, backend=None) -> PathResult:
    """Common paths after (direction="after") or before ("before") the anchor step."""
    require(user, "view")
    if direction not in ("after", "before"):
        raise JourneyError("Direction is 'after' (next steps) or 'before' (previous steps).")
    depth, top = int(depth), int(top)
    if not 1 <= depth <= MAX_DEPTH:
        raise JourneyError(f"Depth is between 1 and {MAX_DEPTH} steps.")
    if top < 1:
        raise JourneyError("Keep at least one step per depth.")
    step = Step.of(anchor)
    params: list = []
    anchor_cond = step_condition(step, params)
    in_range = time_range(since, until, params, column="ts")
    micros = int(within.total_seconds() * 1_000_000)
    if micros <= 0:
        raise JourneyError("The path window must be positive.")
    after = direction == "after"
    window_cond = (f"e.ts >= a.t0 AND e.ts <= a.t0 + to_microseconds(CAST({micros} AS BIGINT))" if after else
                   f"e.ts <= a.t0 AND e.ts >= a.t0 - to_microseconds(CAST({micros} AS BIGINT))")
    # The anchor event leads its path even when another event shares its timestamp.
    order = "e.ts, e.step <> $anchor, e.step" if after else "e.ts DESC, e.step <> $anchor, e.step"
    filler = END if after else START
    # People are joined on their journey number (pk), and paths are counted per distinct
    # step sequence before the Other grouping: a few hundred sequences, not a row per person.
    sql = f"""
    WITH a AS MATERIALIZED (
        SELECT pk, min(ts) AS t0 FROM journey_events
        WHERE {anchor_cond} AND {in_range} GROUP BY pk),
    seqs AS (
        SELECT list(e.step ORDER BY {order}) AS s
        FROM journey_events e JOIN a USING (pk)
        WHERE {window_cond} AND e.step IS NOT NULL GROUP BY e.pk),
    counted AS (
        SELECT (CASE WHEN $collapse THEN list_filter(s, lambda x, i: i = 1 OR x <> s[i - 1]) ELSE s END)[1:$depth + 1] AS s,
               count(*) AS n
        FROM seqs GROUP BY 1),
    cells AS (
        SELECT c.s, c.n, r.d, COALESCE(c.s[r.d + 1], $filler) AS step FROM counted c, range(0, $depth + 1) r(d)),
    ranked AS (
        SELECT d, step, row_number() OVER (PARTITION BY d ORDER BY (step = $filler), sum(n) DESC, step) AS rk
        FROM cells GROUP BY d, step),
    named AS (
        SELECT c.s, c.n,
               list(CASE WHEN c.d = 0 OR c.step = $filler OR r.rk <= $top THEN c.step ELSE $other END ORDER BY c.d) AS path
        FROM cells c JOIN ranked r USING (d, step) GROUP BY c.s, c.n)
    SELECT path, sum(n) AS people FROM named GROUP BY path
    """
    named = {"collapse": bool(collapse_repeats), "depth": depth, "filler": filler, "top": top, "other": OTHER,
             "anchor": step.event}
    positional = params
    # Mixed parameter styles are not allowed: turn the positional ones into named ones.
    for i in range(len(positional)):
        sql = sql.replace("?", f"$p{i}", 1)
        named[f"p{i}"] = positional[i]
    with workspace.connect():
        backend = journeys_backend(workspace, backend, freshness=freshness)
        backend.materialize("_journey_paths", sql, named)
        people, stopped = backend.query(
            "SELECT COALESCE(sum(people), 0), COALESCE(sum(people) FILTER (WHERE path[2] = $filler), 0) "
            "FROM _journey_paths", {"filler": filler}).iloc[0].tolist()
        # Every path has depth + 1 steps (the cells above), so its links start at steps 1..depth.
        links = backend.query("""
            WITH pairs AS (
                SELECT i - 1 AS source_depth, path[i] AS source, i AS target_depth, path[i + 1] AS target, people
                FROM _journey_paths, range(1, $depth + 1) r(i) WHERE i < array_length(path) AND path[i] <> $filler)
            SELECT source_depth, source, target_depth, target, CAST(sum(people) AS BIGINT) AS people
            FROM pairs GROUP BY ALL ORDER BY source_depth, people DESC, source, target""",
            {"filler": filler, "depth": depth})
        common = backend.query("""
            SELECT list_filter(path, lambda x: x <> $filler) AS path, CAST(sum(people) AS BIGINT) AS people
            FROM _journey_paths GROUP BY 1 ORDER BY people DESC, path LIMIT 20""", {"filler": filler})
    if not after:  # read backwards paths left to right, ending at the anchor
        links = links.assign(source_depth=-links["source_depth"], target_depth=-links["target_depth"])
        links = links.rename(columns={"source_depth": "target_depth", "source": "target",
                                      "target_depth": "source_depth", "target": "source"})
        links = links[["source_depth", "source", "target_depth", "target", "people"]]
        common["path"] = common["path"].map(lambda p: list(reversed(list(p))))
    common["path"] = common["path"].map(lambda p: " → ".join(p))
    return PathResult(links, common, int(people), direction, int(stopped))


def sankey_nodes(links: pd.DataFrame) -> tuple[list[str], list[int], list[int], list[int]]:
    """Node labels and (source index, target index, value) lists for a plotly Sankey."""
    nodes = pd.concat([links[["source_depth", "source"]].set_axis(["d", "s"], axis=1),
                       links[["target_depth", "target"]].set_axis(["d", "s"], axis=1)]).drop_duplicates()
    nodes = nodes.sort_values(["d", "s"]).reset_index(drop=True)
    index = {(d, s): i for i, (d, s) in enumerate(zip(nodes["d"], nodes["s"]))}
    src = [index[k] for k in zip(links["source_depth"], links["source"])]
    dst = [index[k] for k in zip(links["target_depth"], links["target"])]
    return nodes["s"].tolist(), src, dst, links["people"].astype(int).tolist()
