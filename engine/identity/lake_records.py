"""The records step on a backend, over lakehouse tables (`cdp --engine spark resolve` with
contacts, orders, subscriptions, consents or events mapped by `cdp engine set --table`).

The backend runs records.record_steps, the same SELECTs the workspace runs, through the
dialect; what the control plane then needs (guards, graph, review queue, profiles and golden
records, all in the workspace) comes back in bounded chunks:

* identity_records and identity_ids, as the workspace's own tables;
* a digest of events, one row per (type, user_id, anonymous_id, previous_id) with its last
  timestamp, as a temporary `events` of resolve's transaction (aliases for the graph's limits,
  last-seen times for the golden records); resolve drops it before committing.

The plane then reads both from the workspace's copies, as when nothing is mapped: the guards
change identity_ids there, and the records' Spark plan (the normalisation's long expressions)
is not carried into every blocking table built on it.
"""
from __future__ import annotations

from engine.identity.records import ID_COLUMNS, RECORD_COLUMNS, record_counts, record_steps
from engine.identity.tables import rebuild_table

PERSON_INPUTS = ("consents", "contacts", "events", "orders", "subscriptions")
EVENTS_DIGEST = ("type", "user_id", "anonymous_id", "previous_id", "timestamp")
EVENTS_DIGEST_SQL = """SELECT type, user_id, anonymous_id, previous_id, max(timestamp) AS timestamp FROM events
                       WHERE user_id IS NOT NULL OR anonymous_id IS NOT NULL
                       GROUP BY type, user_id, anonymous_id, previous_id"""


def mapped_inputs(backend) -> list[str]:
    """The person tables the backend reads from the lakehouse (none on DuckDB)."""
    return sorted(n for n in getattr(backend, "tables", {}) if n in PERSON_INPUTS)


def pull(backend, con, sql: str, columns: list[str], table: str, temporary: bool = False) -> int:
    """Rows of `sql` (the backend's) into the workspace's `table`, emptied first (or into a
    temporary table of the same name and column types), a chunk at a time; returns rows."""
    names = ", ".join(columns)
    empty = f"SELECT {names} FROM main.{table} WHERE FALSE"
    if temporary:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {empty}")
    else:
        rebuild_table(con, table, f"({names}) {empty}")
    target = f"temp.main.{table}" if temporary else f"main.{table}"
    n = 0
    for chunk in backend.chunks(f"SELECT {names} FROM ({sql}) pulled"):
        con.register("_pulled", chunk[columns])
        try:
            con.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM _pulled")
        finally:
            con.unregister("_pulled")
        n += len(chunk)
    return n


def build_on_backend(backend, con, settings: dict) -> dict:
    """identity_records and identity_ids built on the backend and copied into the workspace."""
    for name, sql in record_steps(backend.columns, settings):
        backend.materialize(name, sql)
    pull(backend, con, "SELECT * FROM identity_records", RECORD_COLUMNS, "identity_records")
    pull(backend, con, "SELECT * FROM identity_ids", ID_COLUMNS, "identity_ids")
    if "events" in backend.tables:
        pull(backend, con, EVENTS_DIGEST_SQL, list(EVENTS_DIGEST), "events", temporary=True)
    for name in ("identity_records", "identity_ids"):
        backend.forget(name)
    return record_counts(con)


def drop_events_digest(con) -> None:
    """The temporary events of build_on_backend, if any (the workspace's own are then read again)."""
    con.execute("DROP TABLE IF EXISTS temp.main.events")
