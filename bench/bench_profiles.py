"""Profiles and journeys benchmark: search latency on the profiles, funnel and path latency on
the events, each against a hand-written DuckDB query run in the same process on the same copy.

    python bench/bench_profiles.py [smoke|medium|full]

Targets (issue 5): search well under a second on 1,000,000 profiles; a funnel or a path view
in a second or two on 10,000,000 events. One-off preparation (migrations' event indexes,
the search term table, journey_events) is reported separately: it happens once per change
of data, not per question.
"""
from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.timing import median_time, row  # noqa: E402
from bench.workspace import bench_workspace  # noqa: E402
from engine.access import User  # noqa: E402
from engine.journeys import funnel, paths, prepare_journeys  # noqa: E402
from engine.profiles import refresh_search_index, search_profiles  # noqa: E402

CAP = "profiles"
REPEAT = {"smoke": 3, "medium": 5, "full": 5}
WINDOW = timedelta(days=7)
FUNNEL_CANDIDATES = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]
USER = User("bench", "admin")

# The obvious hand-written search: case-insensitive substring over names and identifiers
# (no typo tolerance, no ranking); what someone would type into the SQL screen.
HAND_SEARCH = """
SELECT profile_id FROM profiles WHERE lower(concat_ws(' ', first_name, last_name)) LIKE '%' || $q || '%'
UNION
SELECT profile_id FROM profile_identifiers WHERE lower(id_value) LIKE '%' || $q || '%'
LIMIT 25
"""

# Hand-written funnel over the profile_events view: same first-entry semantics.
def hand_funnel_sql(n: int) -> str:
    ctes = ["e AS MATERIALIZED (SELECT profile_id, timestamp AS ts, event FROM profile_events "
            "WHERE type = 'track' AND event IN (SELECT unnest($steps)))",
            "s1 AS (SELECT profile_id, min(ts) AS t1 FROM e WHERE event = $steps[1] GROUP BY 1)"]
    for i in range(2, n + 1):
        ctes.append(f"s{i} AS (SELECT s.profile_id, min(e.ts) AS t{i} FROM s{i-1} s JOIN s1 USING (profile_id) "
                    f"JOIN e ON e.profile_id = s.profile_id AND e.event = $steps[{i}] AND e.ts >= s.t{i-1} "
                    f"AND e.ts <= s1.t1 + INTERVAL 7 DAY GROUP BY 1)")
    joins = " ".join(f"LEFT JOIN s{i} USING (profile_id)" for i in range(2, n + 1))
    counts = ", ".join(f"count(t{i})" for i in range(1, n + 1))
    return f"WITH {', '.join(ctes)} SELECT {counts} FROM s1 {joins}"


# Hand-written next steps: the three events after each person's first anchor event, by lead().
HAND_PATHS = """
WITH e AS (SELECT profile_id, timestamp AS ts,
                  CASE type WHEN 'track' THEN event WHEN 'page' THEN 'Page: ' || COALESCE(name, '/') ELSE type END AS step
           FROM profile_events),
a AS (SELECT profile_id, min(ts) AS t0 FROM e WHERE step = $anchor GROUP BY 1),
n AS (SELECT e.profile_id, e.ts, e.step,
             lead(e.step, 1) OVER w AS s1, lead(e.step, 2) OVER w AS s2, lead(e.step, 3) OVER w AS s3
      FROM e JOIN a USING (profile_id) WHERE e.ts >= a.t0 AND e.ts <= a.t0 + INTERVAL 1 DAY
      WINDOW w AS (PARTITION BY e.profile_id ORDER BY e.ts))
SELECT s1, s2, s3, count(*) FROM n JOIN a USING (profile_id) WHERE n.ts = a.t0 AND n.step = $anchor GROUP BY ALL
"""


def _typo(text: str, rng: random.Random) -> str:
    """Swap two neighbouring letters (the commonest typing slip)."""
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 2)
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


def run(scale: str) -> list[dict]:
    repeat = REPEAT.get(scale, 5)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench_profiles_") as tmp:
        started = time.perf_counter()
        ws = bench_workspace(scale, copy_to=Path(tmp) / "cdp.duckdb")
        copied = time.perf_counter()
        with ws.connect() as con:   # applies migrations 0040-0042 (event indexes) to the copy
            n_profiles = con.execute("SELECT count(*) FROM profiles").fetchone()[0]
            n_events = con.execute("SELECT count(*) FROM events").fetchone()[0]
        rows.append(row(CAP, "upgrade: event actor indexes (one-off)", round(time.perf_counter() - copied, 2), "s",
                        target="", met=None, profiles=n_profiles, events=n_events, copy_seconds=round(copied - started, 1)))

        # -- search ------------------------------------------------------------------------
        t0 = time.perf_counter()
        refresh_search_index(ws, force=True)
        rows.append(row(CAP, "search index build (once per identity change)", round(time.perf_counter() - t0, 2), "s"))
        rng = random.Random(5)
        sample = ws.query_df("SELECT profile_id, first_name, last_name, email FROM profiles "
                             "WHERE first_name IS NOT NULL AND last_name IS NOT NULL AND email IS NOT NULL "
                             "USING SAMPLE 200 ROWS")
        picks = sample.sample(n=min(6, len(sample)), random_state=5)
        queries = []
        for r in picks.itertuples():
            queries.append((f"{_typo(r.first_name.lower(), rng)} {r.last_name.lower()}", r.profile_id))
            queries.append((r.email.split("@")[0][:8], r.profile_id))
        found = sum(1 for q, pid in queries if pid in set(search_profiles(ws, USER, q, limit=25)["profile_id"]))
        t_search, _ = median_time(lambda: [search_profiles(ws, USER, q) for q, _ in queries[:4]], repeat=repeat)
        t_search /= 4
        hand_q = [q for q, _ in queries[:4]]
        t_hand, _ = median_time(lambda: [ws.query_df(HAND_SEARCH, {"q": q}) for q in hand_q], repeat=repeat)
        t_hand /= 4
        rows.append(row(CAP, "search latency (typo in name, email prefix)", round(t_search, 3), "s",
                        baseline="hand-written ILIKE substring scan (no typo tolerance)", baseline_value=round(t_hand, 3),
                        target="< 1 s on 1M profiles", met=t_search < 1.0,
                        recall=f"{found}/{len(queries)} wanted person in top 25"))

        # -- journeys ----------------------------------------------------------------------
        t0 = time.perf_counter()
        prepare_journeys(ws, force=True)
        rows.append(row(CAP, "journey_events build (once per data change)", round(time.perf_counter() - t0, 2), "s"))
        present = set(ws.query_df("SELECT DISTINCT event FROM events WHERE type = 'track'")["event"])
        steps = [s for s in FUNNEL_CANDIDATES if s in present]
        if len(steps) < 2:
            steps = sorted(present)[:3]
        mine = funnel(ws, USER, steps, WINDOW).steps["people"].tolist()
        hand_sql = hand_funnel_sql(len(steps))
        with ws.connect() as con:
            hand = list(con.execute(hand_sql, {"steps": steps}).fetchone())
        if mine != hand:
            raise AssertionError(f"funnel counts differ from the hand-written query: {mine} vs {hand}")
        t_funnel, _ = median_time(lambda: funnel(ws, USER, steps, WINDOW), repeat=repeat)
        t_hand_funnel, _ = median_time(lambda: ws.query_df(hand_sql, {"steps": steps}), repeat=max(2, repeat // 2))
        rows.append(row(CAP, f"funnel latency ({len(steps)} steps, 7-day window)", round(t_funnel, 3), "s",
                        baseline="hand-written step joins over profile_events", baseline_value=round(t_hand_funnel, 3),
                        target="<= 2 s on 10M events", met=t_funnel <= 2.0, counts=mine))
        anchor = steps[0]
        t_paths, _ = median_time(lambda: paths(ws, USER, anchor, depth=3, top=6), repeat=repeat)
        t_hand_paths, _ = median_time(lambda: ws.query_df(HAND_PATHS, {"anchor": anchor}), repeat=max(2, repeat // 2))
        rows.append(row(CAP, "path latency (3 steps after an event, Other grouping)", round(t_paths, 3), "s",
                        baseline="hand-written lead() window over profile_events", baseline_value=round(t_hand_paths, 3),
                        target="<= 2 s on 10M events", met=t_paths <= 2.0))
    return rows


if __name__ == "__main__":
    import json
    for r in run(sys.argv[1] if len(sys.argv) > 1 else "smoke"):
        print(json.dumps(r, default=str))
