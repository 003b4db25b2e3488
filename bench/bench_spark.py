"""The same segment counts, funnel and paths on Apache Spark (PySpark local[2]) beside DuckDB.

The DuckDB side reads a private copy of the bench workspace as the product does (segment
counts through `count_definition` over the materialised event index, the funnel through
`engine.journeys.funnel`). The Spark side runs the very SQL the product generates, translated
by engine/backend/dialect.py, over the relations that SQL reads exported once to Parquet (as a
lakehouse would hold them; cached beside the bench workspace). Each figure is the median of
three runs after the first; Spark's start-up (JVM and session) and its first query (planning,
code generation, Parquet footers: the JIT warm-up) are reported on their own rows.

Interactive screens on Spark stay usable when they read a cached count or a sample: the last
row counts one segment over a 1% sample of profiles (profiles whose hash falls in one
bucket of 100, with their events) and scales it up, beside the exact count.

Spark on one small machine is expected to be slower than DuckDB: it pays for a JVM, task
scheduling and shuffles that only earn their keep across many machines.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.bench_segments import definition as behavioural_definition
from bench.timing import row
from bench.workspace import _locked, bench_workspace, data_root

CAPABILITY = "spark"
SECTION = """## Spark

The same segment counts, funnel and paths on Apache Spark (PySpark 4, `local[2]`, UTC, ANSI on) beside
DuckDB, on this 2-core machine while other engineers' tests and benchmarks shared it (see the
load average below). Spark runs the SQL the product generates, translated by
engine/backend/dialect.py, over the relations it reads exported once to Parquet; DuckDB reads the
workspace as the product does. Every Spark count is checked equal to DuckDB's. **Spark on one
small machine is expected to be slower**: a JVM, query planning and code generation, task
scheduling and shuffles are fixed costs that only pay off when the data is spread over many
machines (a lakehouse with 100M profiles), which is what the Spark backend is for.

Interactive screens on Spark: a count of several seconds is not interactive. The screens stay
usable by reading counts that a background job computed (the segment snapshots, with their
`taken_at`, are already a table of cached counts in the workspace) and by estimating while the
user edits a rule: the last row counts a 1% sample of profiles (one hash bucket of 100, with its
events, written once as a sample table) and multiplies by 100. On one machine Spark's fixed cost
per query dominates, so the sample saves less time than its size suggests; on a cluster it is
the data scanned that a sample cuts.
"""
AS_OF = datetime(2026, 11, 25, tzinfo=timezone.utc)
RUNS = 3
SAMPLE_BUCKETS = 100
FUNNEL_STEPS = ["Product Viewed", "Product Added", "Order Completed"]
FUNNEL_WINDOW = timedelta(days=30)
FUNNEL_SINCE = AS_OF - timedelta(days=90)
PATHS_ANCHOR, PATHS_DEPTH = "Product Viewed", 4    # the Journeys screen's default depth


def _cond(kind: str, **keys) -> dict:
    return {"type": "condition", "kind": kind, **keys}


def segments() -> dict[str, dict]:
    """Three representative segments: behaviour, a trait with order value, a JSON property filter."""
    last = {"type": "last_days", "days": 365}
    return {
        "event conditions (3 events, counts and windows)": behavioural_definition(),
        "trait and order value": {"type": "group", "op": "all", "children": [
            _cond("trait", field="country", op="equals", value="IE"),
            _cond("orders", measure="total_revenue", op="gt", value=50, window=last)]},
        "JSON property filter (text and number)": {"type": "group", "op": "all", "children": [
            _cond("event", event="Product Viewed", window={"type": "last_days", "days": 90},
                  filters=[{"property": "category", "op": "equals", "value": "beans"},
                           {"property": "price", "op": "gt", "value": 20, "value_type": "number"}])]},
    }


def spark_missing() -> str | None:
    """Why Spark cannot run here (None when it can)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install -e '.[spark]')"
    if not shutil.which("java"):
        return "Java is not installed"
    return None


def runs(fn, n: int = RUNS) -> tuple[float, float, object]:
    """(first run's seconds, median of the next n runs, the answer); the answers must agree."""
    started = time.perf_counter()
    answer = fn()
    first = time.perf_counter() - started
    times = []
    for _ in range(n):
        started = time.perf_counter()
        again = fn()
        times.append(time.perf_counter() - started)
        if again != answer:
            raise AssertionError(f"a repeated run answered {again!r}, the first {answer!r}")
    return first, statistics.median(times), answer


# -- the queries, as the product writes them ---------------------------------------------------

def segment_query(ws, d: dict) -> tuple[str, dict]:
    from engine.segments.store import compile_in

    with ws.connect() as con:
        compiled = compile_in(con, d, as_of=AS_OF, use_index=True)
    return compiled.count_sql(), compiled.params


def funnel_query() -> tuple[str, list]:
    from engine.journeys.base import Step
    from engine.journeys.funnels import _reach_sql

    with_sql, params = _reach_sql([Step.of(s) for s in FUNNEL_STEPS], FUNNEL_WINDOW, FUNNEL_SINCE, AS_OF)
    counts = ", ".join(f"count(t{i}) AS c{i}" for i in range(1, len(FUNNEL_STEPS) + 1))
    return f"{with_sql} SELECT {counts} FROM reach", params


def duckdb_segment(ws, d: dict):
    from engine.segments import count_definition

    return lambda: count_definition(ws, d, as_of=AS_OF)


def duckdb_funnel(ws):
    from engine.access import User
    from engine.journeys.funnels import funnel

    user = User("bench", "admin")
    return lambda: tuple(funnel(ws, user, FUNNEL_STEPS, FUNNEL_WINDOW, FUNNEL_SINCE, AS_OF).steps["people"])


def path_answer(workspace, backend) -> tuple:
    """Paths after the anchor over the funnel's 90 days, on `backend`: (people, links, common paths)."""
    from engine.access import User
    from engine.journeys.paths import paths

    result = paths(workspace, User("bench", "admin"), PATHS_ANCHOR, "after", depth=PATHS_DEPTH,
                   since=FUNNEL_SINCE, until=AS_OF, backend=backend)
    rows_of = lambda frame: tuple(tuple(str(v) for v in r) for r in frame.itertuples(index=False))  # noqa: E731
    return int(result.people), rows_of(result.links), rows_of(result.paths)


def spark_paths(workspace, backend, expected: tuple) -> dict:
    """Paths on Spark, or why they do not run there (the answer must match DuckDB's)."""
    try:
        first, median, answer = runs(lambda: path_answer(workspace, backend))
    except Exception as exc:  # noqa: BLE001 - reported as a row, the other figures still count
        return {"spark": None, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"}
    if answer != expected:
        raise AssertionError(f"paths: Spark answered {answer[0]} people and {len(answer[1])} links, "
                             f"DuckDB {expected[0]} and {len(expected[1])}")
    return {"spark_first": first, "spark": median}


# -- the lake: what the queries read, as Parquet ------------------------------------------------

def lake(ws, scale: str, names: list[str]) -> dict[str, Path]:
    """The named relations of the bench workspace as Parquet files, exported once per build."""
    from engine.backend.duckdb_backend import DuckDBBackend

    folder = data_root() / f"{scale}-lake"
    marker = folder / "exported.json"
    built = (data_root() / f"{scale}-workspace" / "built.json").read_text()
    with _locked(folder.with_name(folder.name + ".lock")):
        done = json.loads(marker.read_text()) if marker.exists() else {}
        if done.get("built") != built:
            shutil.rmtree(folder, ignore_errors=True)
            done = {"built": built, "names": []}
        todo = [n for n in names if n not in done["names"]]
        if todo:
            DuckDBBackend(ws).export_parquet(todo, folder)
            done["names"] = sorted(set(done["names"]) | set(todo))
            marker.write_text(json.dumps(done))
    return {n: folder / f"{n}.parquet" for n in names}


def sampled(backend, paths: dict[str, Path], folder: Path, buckets: int = SAMPLE_BUCKETS) -> None:
    """Write each relation restricted to one bucket of profiles (those carrying profile_id) as a
    sample table, and register it under the relation's name."""
    for name, path in paths.items():
        frame = backend.spark.read.parquet(str(path))
        if "profile_id" in frame.columns:
            frame = frame.where(f"pmod(hash(profile_id), {buckets}) = 0")
        frame.write.mode("overwrite").parquet(str(folder / name))
        backend.register(name, folder / name)


def start_spark(session=None):
    """A local[2] Spark backend and the seconds its start-up took; on `session`, a new session
    sharing its JVM (own temporary views, nothing to start: 0 s)."""
    from engine.backend.spark_backend import SparkBackend

    if session is not None:
        return SparkBackend(session.newSession()), 0.0
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS",
                          "--driver-memory 3g --conf spark.ui.showConsoleProgress=false pyspark-shell")
    started = time.perf_counter()
    backend = SparkBackend()
    backend.spark.sparkContext.setLogLevel("ERROR")
    backend.spark.sql("SELECT 1").collect()
    return backend, time.perf_counter() - started


def _one(backend, sql: str, params):
    return lambda: tuple(int(v) for v in backend.query(sql, params).iloc[0].tolist())


def spark_funnel(backend, sql: str, params: list, expected: tuple) -> dict:
    """The funnel on Spark, or why its SQL does not translate yet (the answer must match)."""
    try:
        first, median, people = runs(_one(backend, sql, params))
    except Exception as exc:  # noqa: BLE001 - reported as a row, the other figures still count
        return {"spark": None, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"}
    if people != expected:
        raise AssertionError(f"funnel: Spark reached {people}, DuckDB {expected}")
    return {"spark_first": first, "spark": median, "people": people}


def measure(scale: str, workdir: Path, session=None) -> dict:
    """Every figure of this module, as a dict (run() turns it into rows); on `session` when given
    (it is left running), else on a local[2] session started and stopped here."""
    from engine.backend import relations_read
    from engine.journeys.prepare import prepare_journeys
    from engine.segments import event_index

    ws = bench_workspace(scale, copy_to=workdir / "cdp.duckdb")
    event_index.rebuild(ws)
    prepare_journeys(ws)
    with ws.connect() as con:
        sizes = con.execute("SELECT (SELECT count(*) FROM profiles), (SELECT count(*) FROM events)").fetchone()
    queries = {name: segment_query(ws, d) for name, d in segments().items()}
    funnel_sql, funnel_params = funnel_query()
    from engine.journeys.prepare import BUILD_SELECT, NUMBER_PROFILES_SELECT
    # paths() builds journey_events on Spark from the events and identifiers, as the product does there
    journey_inputs = (set(relations_read(NUMBER_PROFILES_SELECT))
                      | set(relations_read(BUILD_SELECT.replace("{events_filter}", "true")))) - {"journey_profiles"}
    names = sorted({n for sql, _ in [*queries.values(), (funnel_sql, funnel_params)] for n in relations_read(sql)}
                   | set(journey_inputs))
    paths = lake(ws, scale, names)

    out = {"profiles": sizes[0], "events": sizes[1], "segments": {}, "funnel": {}}
    duck = {name: runs(duckdb_segment(ws, d)) for name, d in segments().items()}
    duck_funnel = runs(duckdb_funnel(ws))
    from engine.backend.duckdb_backend import DuckDBBackend
    duck_paths = runs(lambda: path_answer(ws, DuckDBBackend(ws)))

    backend, out["startup"] = start_spark(session)
    try:
        for name, path in paths.items():
            backend.register(name, path)
        for name, (sql, params) in queries.items():
            first, median, (count,) = runs(_one(backend, sql, params))
            if count != duck[name][2]:
                raise AssertionError(f"{name}: Spark counted {count}, DuckDB {duck[name][2]}")
            out["segments"][name] = {"spark_first": first, "spark": median, "duckdb": duck[name][1],
                                     "count": count}
        out["funnel"] = {**spark_funnel(backend, funnel_sql, funnel_params, duck_funnel[2]),
                         "duckdb": duck_funnel[1], "duckdb_people": duck_funnel[2]}
        out["paths"] = {**spark_paths(ws, backend, duck_paths[2]), "duckdb": duck_paths[1],
                        "people": duck_paths[2][0], "links": len(duck_paths[2][1])}

        name = next(iter(queries))
        sampled(backend, paths, workdir / "sample")
        first, median, (count,) = runs(_one(backend, *queries[name]))
        out["sample"] = {"segment": name, "spark": median, "estimate": count * SAMPLE_BUCKETS,
                         "exact": out["segments"][name]["count"]}
    finally:
        if session is None:
            backend.spark.stop()
    return out


RESOLVE_RECORDS = {"medium": 20_000, "full": 100_000}   # people records resolved on both engines


def measure_resolve(n: int, workdir: Path, session=None) -> dict:
    """`resolve --full` of n generated people records (bench/identity_people.py, as contacts) on
    DuckDB and, from a copy of the same workspace, with blocking and features on Spark: seconds,
    pairwise F1 of each against the truth and how far the two partitions agree (pairwise F1
    of one against the other: 1.0 is the same partition)."""
    from bench.bench_identity import _data, load_people
    from bench.identity_people import pairwise_scores
    from engine.access import User
    from engine.identity import resolve
    from engine.workspace import open_workspace

    people = _data(n, contacts=True)
    user = User("bench", "admin")
    base = open_workspace(workdir / "resolve" / "base" / "cdp.duckdb")
    load_people(base, people)
    out: dict = {"records": len(people)}
    partitions = {}
    backend = None
    os.environ["CDP_NO_REFRESH"] = "1"       # the derived refresh is the same workspace code on both
    try:
        for engine in ("duckdb", "spark"):
            folder = workdir / "resolve" / engine
            folder.mkdir(parents=True)
            shutil.copy(base.path, folder / "cdp.duckdb")
            ws = open_workspace(folder / "cdp.duckdb")
            if engine == "spark":        # as `cdp --engine spark resolve` runs it, no table mapped
                from engine.backend.lakehouse import LakehouseBackend
                spark, out["startup"] = start_spark(session)
                backend = LakehouseBackend(spark.spark, {}, ws)
            started = time.perf_counter()
            stats = resolve(ws, user, full=True, backend=backend)
            out[engine] = time.perf_counter() - started
            out[f"{engine}_pairs"] = stats.get("pairs_scored")
            members = ws.query_df("SELECT source_record_id, profile_id FROM profile_members")
            merged = people[["source_record_id", "person_id"]].merge(members, on="source_record_id")
            out[f"{engine}_f1"] = pairwise_scores(merged["person_id"], merged["profile_id"])["f1"]
            partitions[engine] = merged.set_index("source_record_id")["profile_id"]
    finally:
        os.environ.pop("CDP_NO_REFRESH", None)
        if backend is not None and session is None:
            backend.spark.stop()
    both = partitions["duckdb"].to_frame("d").join(partitions["spark"].rename("s"), how="inner")
    out["agreement"] = pairwise_scores(both["d"], both["s"])["f1"]
    return out


def resolve_rows(r: dict) -> list[dict]:
    label = f"resolve --full on Spark (blocking and features there), {r['records']:,} people records"
    return [
        row(CAPABILITY, f"{label}: {r['spark_pairs']:,} candidate pairs, pairwise F1 {r['spark_f1']:.3f} "
            f"(DuckDB {r['duckdb_f1']:.3f}), partitions agree {r['agreement']:.4f}", round(r["spark"], 2), "s",
            baseline="DuckDB, same workspace, product path", baseline_value=round(r["duckdb"], 2),
            target="the same partition as DuckDB (slower is expected)", met=r["agreement"] == 1.0),
        row(CAPABILITY, "Spark local[2] start-up for the resolve (JVM and session)", round(r["startup"], 2), "s"),
    ]


def rows(m: dict) -> list[dict]:
    size = f"{m['profiles']:,} profiles, {m['events']:,} events"
    duck = "DuckDB, same workspace, product path"
    out = [row(CAPABILITY, f"Spark local[2] start-up (JVM and session; {size})", round(m["startup"], 2), "s")]
    for name, s in m["segments"].items():
        out.append(row(CAPABILITY, f"segment count on Spark: {name} ({s['count']:,} members)", round(s["spark"], 3),
                       "s", baseline=duck, baseline_value=round(s["duckdb"], 4),
                       target="same count as DuckDB (slower is expected)", met=True))
        out.append(row(CAPABILITY, f"first Spark query of it (planning, code generation): {name}",
                       round(s["spark_first"], 3), "s"))
    f = m["funnel"]
    label = f"3-step funnel ({' → '.join(FUNNEL_STEPS)}, {FUNNEL_WINDOW.days}-day window, last 90 days; " \
            f"{' / '.join(f'{p:,}' for p in f['duckdb_people'])} people)"
    if f.get("spark") is None:
        out.append(row(CAPABILITY, f"{label} on Spark: not measured ({f['error']})", None, "s",
                       baseline=duck, baseline_value=round(f["duckdb"], 4), target="same people as DuckDB",
                       met=False))
    else:
        out.append(row(CAPABILITY, f"{label} on Spark", round(f["spark"], 3), "s", baseline=duck,
                       baseline_value=round(f["duckdb"], 4), target="same people as DuckDB (slower is expected)",
                       met=True))
        out.append(row(CAPABILITY, "first Spark query of the funnel", round(f["spark_first"], 3), "s"))
    pth = m.get("paths")
    if pth:
        label = (f"paths after {PATHS_ANCHOR} ({PATHS_DEPTH} steps, last 90 days; {pth['people']:,} people, "
                 f"{pth['links']} links)")
        if pth.get("spark") is None:
            out.append(row(CAPABILITY, f"{label} on Spark: not measured ({pth['error']})", None, "s", baseline=duck,
                           baseline_value=round(pth["duckdb"], 4), target="same paths as DuckDB", met=False))
        else:
            out.append(row(CAPABILITY, f"{label} on Spark", round(pth["spark"], 3), "s", baseline=duck,
                           baseline_value=round(pth["duckdb"], 4),
                           target="same paths as DuckDB (slower is expected)", met=True))
            out.append(row(CAPABILITY, "first Spark query of the paths", round(pth["spark_first"], 3), "s"))
    s = m["sample"]
    off = abs(s["estimate"] - s["exact"]) / s["exact"] * 100 if s["exact"] else 0.0
    out.append(row(CAPABILITY, f"1% sample count on Spark ({s['segment']}): estimate {s['estimate']:,} vs "
                   f"exact {s['exact']:,} ({off:.1f}% off)", round(s["spark"], 3), "s",
                   baseline="exact count on Spark", baseline_value=round(m["segments"][s["segment"]]["spark"], 3)))
    return out


def run(scale: str) -> list[dict]:
    missing = spark_missing()
    if scale == "smoke" and not missing:
        missing = "at smoke scale a JVM start-up outweighs it (tests/spark/test_bench_spark.py runs it)"
    if missing:
        return [row(CAPABILITY, f"skipped: {missing}", None, "")]
    with tempfile.TemporaryDirectory(prefix="bench_spark_") as tmp:
        out = rows(measure(scale, Path(tmp)))
    if scale in RESOLVE_RECORDS:
        with tempfile.TemporaryDirectory(prefix="bench_spark_resolve_") as tmp:
            out += resolve_rows(measure_resolve(RESOLVE_RECORDS[scale], Path(tmp)))
    return out


if __name__ == "__main__":
    import sys
    if len(sys.argv) > 2 and sys.argv[1] == "resolve":     # python -m bench.bench_spark resolve 100000
        with tempfile.TemporaryDirectory(prefix="bench_spark_resolve_") as tmp:
            for r in resolve_rows(measure_resolve(int(sys.argv[2]), Path(tmp))):
                print(json.dumps(r))
    else:
        for r in run(sys.argv[1] if len(sys.argv) > 1 else "medium"):
            print(json.dumps(r))
