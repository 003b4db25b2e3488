"""Web purchases and refunds kept as rows, so revenue reads do not parse every event's JSON.

`order_events` (migration 0017) holds the `Order Completed` / `Order Refunded` events' fields up
to a watermark (engine/event_appends); the view `order_event_rows` is the table plus the order
events after the watermark, read live, and `web_orders` reads that view. Each fill of the table
rewrites the view with the watermark as literals, in the same transaction: DuckDB then filters
the events scan before reading their JSON (a watermark read from a table in the query would
not be, and every order event's properties would be parsed again), and a reader never sees a
view and a table that do not belong together.

It is one of the derived tables (engine/derived.py): a collector landing appends to it, the
refresh rebuilds it when the events it covers changed otherwise. Erasure deletes a person's rows
with their events (engine/privacy/pii_tables.py), retention old ones with theirs; `is_stale`
notices anything else (the table no longer holds one row per covered order event).
"""
from __future__ import annotations

from engine.event_appends import watermark
from engine.workspace import versions
from engine.workspace.versions import ORDER_EVENTS

COLUMNS = ("source, message_id, timestamp, user_id, anonymous_id, load_id, event, order_id, amount_text, "
           "currency, items")


def _after(max_load: int | None, newest: int | None) -> str:
    """SQL condition (literals only, so DuckDB filters the scan with it) on order_events_live:
    after the watermark (events without a load always are)."""
    if max_load is None:
        return "TRUE"
    later_in_last = "FALSE" if newest is None else f"(load_id = {int(max_load)} AND epoch_us(received_at) > {int(newest)})"
    return f"(load_id IS NULL OR load_id > {int(max_load)} OR {later_in_last})"


def rows_view_sql(max_load: int | None, newest: int | None) -> str:
    return (f"CREATE OR REPLACE VIEW order_event_rows AS "
            f"SELECT * EXCLUDE (received_at) FROM order_events_live WHERE {_after(max_load, newest)} "
            f"UNION ALL BY NAME SELECT * FROM order_events")


def _mark(con) -> tuple[int | None, int | None]:
    row = con.execute("SELECT max_load, newest FROM order_events_state WHERE id = 1").fetchone()
    return (row[0], row[1]) if row else (None, None)


def _state(con, landing: bool = False) -> tuple[bool, int, bool]:
    """(the table holds one row per order event its watermark covers, loaded order events after it,
    whether the first was known without counting).

    For a landing, when the core data version has not moved since the table was last found to hold
    them (nothing but landings since: no event was deleted), it still does: only the events after
    the watermark are counted (zone maps skip the rest), not every event's name."""
    after = _after(*_mark(con))
    behind = con.execute(f"SELECT count(*) FROM order_events_live WHERE load_id IS NOT NULL AND {after}"
                         ).fetchone()[0]
    if landing:
        checked = con.execute("SELECT checked_core FROM order_events_state WHERE id = 1").fetchone()
        if checked and checked[0] == versions.read(con).core:
            return True, int(behind), True
    return _holds_all_covered(con, after), int(behind), False


def _holds_all_covered(con, after: str) -> bool:
    """The table holds one row per order event before the watermark (a scan of every event's name)."""
    covered = con.execute(f"SELECT count(*) FROM order_events_live WHERE NOT {after}").fetchone()[0]
    return covered == con.execute("SELECT count(*) FROM order_events").fetchone()[0]


def _record_checked(con) -> None:
    """Note the core version at which the table was found to hold every covered order event."""
    con.execute("INSERT INTO order_events_state (id, checked_core) VALUES (1, ?) ON CONFLICT (id) DO UPDATE "
                "SET checked_core = excluded.checked_core", [versions.read(con).core])


def is_stale(workspace) -> bool:
    with workspace.connect() as con:
        kept, behind, _ = _state(con)
    return not kept or behind > 0


class _Unchanged(Exception):
    """Raised inside the write to roll it back (no data version bump): nothing to do after all."""

    def __init__(self, kept: bool):
        super().__init__()
        self.kept = kept


def _nothing_to_do(kept: bool, behind: int, append_only: bool) -> bool:
    return (kept and not behind) or (append_only and not kept)


def refresh(workspace, progress=None, *, append_only: bool = False) -> dict | None:
    """Append the order events after the watermark, or rebuild the table when it no longer matches
    the events; None when there was nothing to do (or, append_only, when only a rebuild would do)."""
    return _fill(workspace, progress, append_only)[1]


def append(workspace) -> bool:
    """A landing's part: add the new order events; True when the table is up to date after it,
    False when only a rebuild would do (left to the refresh)."""
    return _fill(workspace, None, append_only=True)[0]


def _fill(workspace, progress, append_only: bool) -> tuple[bool, dict | None]:
    """(the table matched its watermark, what was added or read: None when nothing was).

    A landing (append_only) looks once, inside its write; others look first without one."""
    if not append_only:
        with workspace.connect() as con:
            kept, behind, _ = _state(con)
        if _nothing_to_do(kept, behind, append_only):
            return kept, None
    try:
        with workspace.transaction() as con:
            # Again inside the write: a landing may have appended meanwhile.
            kept, behind, known = _state(con, landing=append_only)
            if _nothing_to_do(kept, behind, append_only):
                if not (append_only and kept and not known):
                    raise _Unchanged(kept)
                _record_checked(con)        # counted: the next landings need not (until a core commit)
                return kept, None
            workspace.also_changing(ORDER_EVENTS)    # revenue reads keyed on order events miss now
            if progress:
                progress(0.1, "Adding new order events" if kept else "Reading order events")
            after = _after(*_mark(con))
            mark = watermark(con)
            if not kept:
                con.execute("DELETE FROM order_events")
            new = f"load_id IS NOT NULL AND {after}" if kept else "load_id IS NOT NULL"
            rows = con.execute(f"INSERT INTO order_events SELECT {COLUMNS} FROM order_events_live WHERE {new}"
                               ).fetchone()[0]
            con.execute("INSERT OR REPLACE INTO order_events_state (id, max_load, newest, built_at) "
                        "VALUES (1, ?, ?, now())", [mark["max_load"], mark["newest"]])
            _record_checked(con)
            con.execute(rows_view_sql(mark["max_load"], mark["newest"]))
    except _Unchanged as nothing:
        return nothing.kept, None
    if progress:
        progress(1.0, f"{rows:,} order events {'added' if kept else 'read'}")
    return kept, {"rows": rows, "appended": kept}


def clear(workspace) -> None:
    """Forget the table: web_orders reads every order event from the events again (as before it
    was first filled)."""
    with workspace.transaction() as con:
        con.execute("DELETE FROM order_events")
        con.execute("DELETE FROM order_events_state")
        con.execute(rows_view_sql(None, None))


def delete_before(con, days: int) -> int:
    """Retention: the order events older than `days`, deleted with their events."""
    return con.execute("DELETE FROM order_events WHERE timestamp < now() - to_days(?)", [days]).fetchone()[0]
