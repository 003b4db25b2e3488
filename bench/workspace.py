"""Benchmark datasets and workspaces, generated once per scale and reused by every bench module.

    from bench.workspace import dataset, bench_workspace
    folder = dataset("full")                  # files from bench/generate.py (cached)
    ws = bench_workspace("full")              # a workspace with typed tables and profiles loaded
    ws = bench_workspace("full", copy_to=tmp) # a private copy for benchmarks that write

`build_bench_workspace` loads the generated files straight into the typed tables with
DuckDB (no ingest, no identity resolution) and maps each generated person to one profile
using the ground truth, so capability benchmarks (segments, profiles, journeys, value,
activation, pages) can run on 1,000,000 profiles and 10,000,000 events without waiting
for the upstream steps. Data lives in bench/data/ (git-ignored) or $CDP_BENCH_DATA.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import SCALES, generate  # noqa: E402
from engine.workspace import Workspace, open_workspace  # noqa: E402

PERSON_FIELDS = ["email", "phone", "first_name", "last_name", "address_line1", "city", "postcode",
                 "country", "date_of_birth", "customer_id"]
SOURCES = {"crm": "contacts", "shop": "orders", "billing": "subscriptions", "consents": "consents", "web": "events"}


def data_root() -> Path:
    return Path(os.environ.get("CDP_BENCH_DATA") or ROOT / "bench" / "data")


@contextmanager
def _locked(path: Path):
    """One process at a time builds a given dataset (bench modules may run side by side)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _sizes(scale: str) -> dict[str, int]:
    if scale not in SCALES:
        raise ValueError(f"Unknown scale {scale!r}; scales are {', '.join(SCALES)}")
    return SCALES[scale]


def dataset_folder(scale: str, *, fmt: str = "csv", events_format: str = "parquet", seed: int = 42) -> Path:
    _sizes(scale)
    return data_root() / f"{scale}-{fmt}-{events_format}-{seed}"


def dataset_lock(folder: Path):
    """Hold this while writing a dataset folder."""
    return _locked(folder.with_name(folder.name + ".lock"))


def dataset(scale: str, *, fmt: str = "csv", events_format: str = "parquet", seed: int = 42) -> Path:
    """The folder of generated files for a scale, generating it the first time."""
    sizes = _sizes(scale)
    folder = dataset_folder(scale, fmt=fmt, events_format=events_format, seed=seed)
    with dataset_lock(folder):
        meta = folder / "generation.json"
        if meta.exists():
            stats = json.loads(meta.read_text())
            if stats.get("profiles") == sizes["profiles"] and stats.get("counts", {}).get("events") is not None:
                return folder
        generate(folder, sizes["profiles"], sizes["events"], seed=seed, fmt=fmt, events_format=events_format)
    return folder


def _reader(path: Path) -> str:
    if path.suffix == ".parquet":
        return "read_parquet(?)"
    if path.suffix == ".ndjson":
        return "read_json(?, format = 'newline_delimited')"
    return "read_csv(?, header = true, all_varchar = true)"


def _file(folder: Path, stem: str) -> Path:
    for suffix in (".parquet", ".csv", ".ndjson"):
        if (folder / f"{stem}{suffix}").exists():
            return folder / f"{stem}{suffix}"
    raise FileNotFoundError(f"No {stem} file in {folder}")


class _Timed:
    """A connection wrapper adding up the time of each INSERT/CREATE by its target table."""

    def __init__(self, con, steps: dict[str, float]):
        self.con, self.steps = con, steps

    def execute(self, sql: str, params=None):
        words = sql.split()
        key = next((words[i + 2] for i, w in enumerate(words[:-2]) if w in ("INSERT", "CREATE")), "other")
        started = time.monotonic()
        try:
            return self.con.execute(sql, params or [])
        finally:
            self.steps[key] = self.steps.get(key, 0.0) + time.monotonic() - started


def build_bench_workspace(data_dir: str | Path, path: str | Path, *, replace: bool = True,
                          memory_limit: str = "4GB") -> dict:
    """Load a generated dataset into a fresh workspace at path; returns row counts and seconds."""
    data_dir, path = Path(data_dir), Path(path)
    if path.exists():
        if not replace:
            raise FileExistsError(f"{path} exists")
        for p in (path, path.with_name(path.name + ".wal")):
            p.unlink(missing_ok=True)
    started = time.monotonic()
    ws = open_workspace(path)
    f = {stem: _file(data_dir, stem) for stem in
         ("persons", "contacts", "lead_stage_changes", "orders", "subscriptions", "consents", "truth", "events")}
    steps: dict[str, float] = {}
    with ws.transaction() as raw:
        con = _Timed(raw, steps)
        con.execute(f"SET memory_limit = '{memory_limit}'")   # several bench processes may share the machine
        con.execute("SET enable_progress_bar = false")
        for name, kind in SOURCES.items():
            con.execute("INSERT INTO sources (name, kind, description, created_by) VALUES (?, ?, ?, 'bench') "
                        "ON CONFLICT DO NOTHING", [name, kind, "benchmark data from bench/generate.py"])
        load_id = con.execute("SELECT nextval('load_id_seq')").fetchone()[0]
        con.execute(f"""
            INSERT INTO contacts (source, source_record_id, email, phone, first_name, last_name, address_line1,
                city, postcode, country, date_of_birth, customer_id, lead_stage, owner, deal_value, created_at,
                updated_at, traits, load_id)
            SELECT 'crm', source_record_id, email, phone, first_name, last_name, address_line1, city, postcode,
                country, CAST(date_of_birth AS DATE), customer_id, lead_stage, owner, CAST(deal_value AS DOUBLE),
                CAST(created_at AS TIMESTAMPTZ), CAST(updated_at AS TIMESTAMPTZ),
                CASE WHEN company IS NOT NULL THEN json_object('company', company) END, ?
            FROM {_reader(f['contacts'])}""", [load_id, str(f["contacts"])])
        con.execute(f"""
            INSERT INTO lead_stage_changes (source, source_record_id, stage, previous_stage, changed_at, load_id)
            SELECT source, source_record_id, stage, previous_stage, CAST(changed_at AS TIMESTAMPTZ), ?
            FROM {_reader(f['lead_stage_changes'])}""", [load_id, str(f["lead_stage_changes"])])
        con.execute(f"""
            INSERT INTO orders (source, source_record_id, order_id, ordered_at, amount, currency, quantity,
                items, store, channel, email, phone, first_name, last_name, address_line1, city, postcode,
                country, customer_id, load_id)
            SELECT 'shop', source_record_id, order_id, CAST(ordered_at AS TIMESTAMPTZ), CAST(amount AS DOUBLE),
                currency, CAST(quantity AS INTEGER),
                json_array(json_object('sku', top_sku, 'quantity', CAST(quantity AS INTEGER))),
                store, channel, email, phone, first_name, last_name, address_line1, city, postcode, country,
                customer_id, ?
            FROM {_reader(f['orders'])}""", [load_id, str(f["orders"])])
        con.execute(f"""
            INSERT INTO subscriptions (source, source_record_id, subscription_id, plan, status, started_at,
                cancelled_at, amount, currency, billing_interval, email, first_name, last_name, customer_id, load_id)
            SELECT 'billing', source_record_id, subscription_id, plan, status, CAST(started_at AS TIMESTAMPTZ),
                CAST(cancelled_at AS TIMESTAMPTZ), CAST(amount AS DOUBLE), currency, billing_interval, email,
                first_name, last_name, customer_id, ?
            FROM {_reader(f['subscriptions'])}""", [load_id, str(f["subscriptions"])])
        con.execute(f"""
            INSERT INTO consents (source, source_record_id, purpose, granted, recorded_at, method, email,
                customer_id, load_id)
            SELECT 'consents', source_record_id, purpose, CAST(granted AS BOOLEAN), CAST(recorded_at AS TIMESTAMPTZ),
                method, email, customer_id, ?
            FROM {_reader(f['consents'])}""", [load_id, str(f["consents"])])
        if f["events"].suffix == ".ndjson":
            columns = ('"messageId", type, event, name, "userId", "anonymousId", '
                       'CAST("timestamp" AS TIMESTAMPTZ), CAST("sentAt" AS TIMESTAMPTZ), CAST("sentAt" AS TIMESTAMPTZ)')
        else:
            columns = "message_id, type, event, name, user_id, anonymous_id, timestamp, sent_at, sent_at"
        con.execute(f"""
            INSERT INTO events (message_id, type, event, name, user_id, anonymous_id, timestamp, sent_at,
                received_at, properties, context, traits, source, load_id)
            SELECT {columns}, CAST(properties AS JSON), CAST(context AS JSON), CAST(traits AS JSON), 'web', ?
            FROM {_reader(f['events'])}""", [load_id, str(f["events"])])
        # identity outputs: one profile per generated person, from the ground truth
        con.execute(f"CREATE TEMP TABLE bench_truth AS SELECT * FROM {_reader(f['truth'])}", [str(f["truth"])])
        con.execute(f"""
            INSERT INTO profiles (profile_id, {', '.join(PERSON_FIELDS)}, user_id, record_count, first_seen, last_seen)
            SELECT p.person_id, p.email, p.phone, p.first_name, p.last_name, p.address_line1, p.city, p.postcode,
                p.country, CAST(p.date_of_birth AS DATE), p.customer_id, p.customer_id,
                COALESCE(t.records, 0), s.first_seen, s.last_seen
            FROM {_reader(f['persons'])} p
            LEFT JOIN (SELECT person_id, count(*) AS records FROM bench_truth WHERE id_type = 'record'
                       GROUP BY person_id) t USING (person_id)
            LEFT JOIN (SELECT person_id, min(ts) AS first_seen, max(ts) AS last_seen FROM (
                           SELECT m.person_id, o.ordered_at AS ts FROM orders o
                           JOIN bench_truth m ON m.source = 'shop' AND m.source_record_id = o.source_record_id
                           UNION ALL
                           SELECT m.person_id, c.created_at FROM contacts c
                           JOIN bench_truth m ON m.source = 'crm' AND m.source_record_id = c.source_record_id)
                       GROUP BY person_id) s USING (person_id)""", [str(f["persons"])])
        con.execute("""
            INSERT INTO profile_members (profile_id, kind, source, source_record_id)
            SELECT person_id, CASE source WHEN 'crm' THEN 'contacts' WHEN 'shop' THEN 'orders'
                                          WHEN 'billing' THEN 'subscriptions' ELSE 'consents' END,
                   source, source_record_id
            FROM bench_truth WHERE id_type = 'record'""")
        con.execute("""
            INSERT INTO profile_identifiers (profile_id, id_type, id_value)
            SELECT profile_id, id_type, id_value FROM (
                SELECT profile_id, 'email' AS id_type, lower(email) AS id_value FROM profiles WHERE email IS NOT NULL
                UNION ALL SELECT profile_id, 'phone', phone FROM profiles WHERE phone IS NOT NULL
                UNION ALL SELECT profile_id, 'customer_id', customer_id FROM profiles WHERE customer_id IS NOT NULL
                UNION ALL SELECT person_id, id_type, source_record_id FROM bench_truth
                          WHERE id_type IN ('anonymous_id', 'user_id'))
            QUALIFY row_number() OVER (PARTITION BY id_type, id_value ORDER BY profile_id) = 1""")
        con.execute("DROP TABLE bench_truth")
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in
                  ("contacts", "lead_stage_changes", "orders", "subscriptions", "consents", "events",
                   "profiles", "profile_members", "profile_identifiers")}
        for table, kind in (("contacts", "contacts"), ("orders", "orders"), ("subscriptions", "subscriptions"),
                            ("consents", "consents"), ("events", "events")):
            source = {"contacts": "crm", "orders": "shop", "subscriptions": "billing"}.get(table, table)
            source = "web" if table == "events" else source
            con.execute("""INSERT INTO loads (load_id, source, kind, file_name, rows_read, rows_loaded,
                               rows_quarantined, started_at, finished_at, username)
                           VALUES (nextval('load_id_seq'), ?, ?, ?, ?, ?, 0, now(), now(), 'bench')""",
                        [source, kind, f"bench:{table}", counts[table], counts[table]])
    return {"counts": counts, "seconds": round(time.monotonic() - started, 2), "path": str(path),
            "steps": {k: round(v, 2) for k, v in steps.items()}}


def bench_workspace(scale: str, *, copy_to: str | Path | None = None) -> Workspace:
    """The benchmark workspace of a scale (built once, then reused); a private copy if copy_to is given.

    Benchmarks that write must ask for a copy: the cached one is shared by every bench module.
    """
    folder = dataset(scale)
    path = data_root() / f"{scale}-workspace" / "cdp.duckdb"
    marker = path.with_name("built.json")
    with dataset_lock(folder), _locked(path.with_name("build.lock")):
        stats = json.loads((folder / "generation.json").read_text())
        source_stats = {k: stats.get(k) for k in ("profiles", "events", "seed", "format", "counts")}
        if not (path.exists() and marker.exists() and json.loads(marker.read_text()).get("source") == source_stats):
            path.parent.mkdir(parents=True, exist_ok=True)
            marker.unlink(missing_ok=True)
            result = build_bench_workspace(folder, path)
            marker.write_text(json.dumps({"source": source_stats, "build": result}))
        _refresh_order_events(Workspace(path))
        if copy_to is None:
            return Workspace(path)
        target = Path(copy_to)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        return Workspace(target)


def _refresh_order_events(ws: Workspace) -> None:
    """What every writer of events does after a load (engine/derived.py): web purchases kept as
    rows. The other derived tables are each benchmark's own to build and time."""
    from engine import order_events

    if order_events.is_stale(ws):
        order_events.refresh(ws)


def build_seconds(scale: str) -> float | None:
    """How long the cached workspace of a scale took to build (None if not built)."""
    marker = data_root() / f"{scale}-workspace" / "built.json"
    return json.loads(marker.read_text())["build"]["seconds"] if marker.exists() else None
