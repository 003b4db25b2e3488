"""Which backend runs the data plane, from the workspace's settings or one run's override.

Settings (control plane, in the workspace): `engine.backend` (duckdb | spark), `engine.spark`
(a master URL such as `local[2]`, or `sc://host:port` for Spark Connect) and `engine.tables`
(name → {path, format: parquet | delta | iceberg | table}: where the lakehouse keeps contacts,
orders, events, ...). $CDP_ENGINE (`cdp --engine spark`) overrides the backend for one run.
"""
from __future__ import annotations

import json
import os

from engine.backend.table_formats import checked_format

ENGINES = ("duckdb", "spark")
ENV = "CDP_ENGINE"
DEFAULT_MASTER = "local[2]"
KEYS = {"backend": "engine.backend", "spark": "engine.spark", "tables": "engine.tables"}
_SESSIONS: dict[str, object] = {}


def engine_settings(workspace) -> dict:
    """{backend, spark, tables} as saved (defaults filled in)."""
    rows = dict(workspace.query_rows("SELECT key, value FROM settings WHERE key IN (?, ?, ?)", list(KEYS.values())))
    saved = {name: json.loads(rows[key]) for name, key in KEYS.items() if rows.get(key) is not None}
    return {"backend": saved.get("backend", "duckdb"), "spark": saved.get("spark", DEFAULT_MASTER),
            "tables": saved.get("tables", {})}


def check_table(entry: dict) -> dict:
    """A mapping entry with a path and a known format (parquet when not given)."""
    if not isinstance(entry, dict) or not str(entry.get("path") or "").strip():
        raise ValueError("A mapped table needs a path (or, for format 'table', a catalog name).")
    fmt = checked_format(entry.get("format"))
    return {"path": str(entry["path"]).strip(), "format": fmt}


def set_engine(workspace, user, *, backend: str | None = None, spark: str | None = None,
               tables: dict | None = None, unmap: list[str] | None = None) -> dict:
    """Save the backend, the Spark master and table mappings (added to, or `unmap`ped); audited."""
    from engine.access import audit, require

    require(user, "manage_workspace")
    if backend is not None and backend not in ENGINES:
        raise ValueError(f"The engine is one of {', '.join(ENGINES)}, not {backend!r}.")
    current = engine_settings(workspace)
    mapped = dict(current["tables"])
    mapped.update({name: check_table(entry) for name, entry in (tables or {}).items()})
    for name in unmap or []:
        mapped.pop(name, None)
    new = {"backend": backend or current["backend"], "spark": (spark or current["spark"]).strip(),
           "tables": mapped}
    with workspace.transaction() as con:
        for name, key in KEYS.items():
            con.execute("INSERT OR REPLACE INTO settings (key, value, updated_at, updated_by) VALUES (?, ?, now(), ?)",
                        [key, json.dumps(new[name]), user.username])
        audit(con, user, "workspace.engine", "engine", {"backend": new["backend"], "spark": new["spark"],
                                                         "tables": sorted(mapped)})
    return new


def chosen_engine(workspace) -> str:
    """duckdb or spark: $CDP_ENGINE when set, else the workspace's setting."""
    override = os.environ.get(ENV, "").strip().lower()
    if override:
        if override not in ENGINES:
            raise ValueError(f"${ENV} is one of {', '.join(ENGINES)}, not {override!r}.")
        return override
    return engine_settings(workspace)["backend"]


def spark_session(master: str):
    """One session per master URL in this process: local (`local[2]`) or Spark Connect (`sc://`)."""
    if master not in _SESSIONS:
        from engine.backend.spark_backend import local_session

        if master.startswith("sc://"):
            from pyspark.sql import SparkSession

            _SESSIONS[master] = SparkSession.builder.remote(master).getOrCreate()
        else:
            _SESSIONS[master] = local_session(master)
    return _SESSIONS[master]


def backend_for(workspace, engine: str | None = None):
    """The backend the data plane runs on for this workspace (DuckDB unless turned on)."""
    engine = engine or chosen_engine(workspace)
    if engine == "duckdb":
        from engine.backend.duckdb_backend import DuckDBBackend

        return DuckDBBackend(workspace)
    if engine not in ENGINES:
        raise ValueError(f"The engine is one of {', '.join(ENGINES)}, not {engine!r}.")
    try:
        from engine.backend.lakehouse import LakehouseBackend
    except ImportError as exc:
        raise ValueError(f"Running on Spark needs the spark extra ({exc.name} is missing): "
                         "pip install -e '.[spark]', and Java 17+.") from None
    settings = engine_settings(workspace)
    return LakehouseBackend(spark_session(settings["spark"]), settings["tables"], workspace)
