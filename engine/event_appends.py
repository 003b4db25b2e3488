"""Tell newly appended events from the rest, so copies derived from `events` grow instead of rebuild.

A watermark is taken when a copy is built: how many events there are, the highest load id,
how many have no load, and the latest receipt time within the highest load (the collector's
micro-batches add to their source's load of the day, so a load id alone cannot tell them
apart). Later, `appended_since` gives the SQL condition for the events added since, or None
when anything else happened (a deletion, an event received earlier than the watermark): the
copy must then be rebuilt. The check counts what the condition selects, so it never guesses.
"""
from __future__ import annotations

WATERMARK_SQL = """
SELECT (SELECT count(*) FROM events), (SELECT max(load_id) FROM events),
       (SELECT count(*) FROM events WHERE load_id IS NULL),
       (SELECT max(epoch_us(received_at)) FROM events WHERE load_id = (SELECT max(load_id) FROM events))
"""


def watermark(con) -> dict:
    events, max_load, unloaded, newest = con.execute(WATERMARK_SQL).fetchone()
    return {"events": events, "max_load": max_load, "unloaded": unloaded, "newest": newest}


def new_events_filter(mark: dict) -> tuple[str, list]:
    """Condition on events (or a view of them) for rows added after the watermark."""
    if mark.get("newest") is None:
        return "load_id > ?", [mark["max_load"]]
    return ("(load_id > ? OR (load_id = ? AND epoch_us(received_at) > ?))",
            [mark["max_load"], mark["max_load"], mark["newest"]])


def appended_since(con, mark: dict | None, now: dict | None = None) -> tuple[str, list] | None:
    """(condition, params) selecting exactly the events added since `mark`; None if not only appends."""
    now = now or watermark(con)
    if not mark or mark.get("max_load") is None or mark.get("events") is None:
        return None
    if now["unloaded"] != mark.get("unloaded") or now["events"] <= mark["events"]:
        return None
    where, params = new_events_filter(mark)
    added = con.execute(f"SELECT count(*) FROM events WHERE {where}", params).fetchone()[0]
    return (where, params) if added == now["events"] - mark["events"] else None
