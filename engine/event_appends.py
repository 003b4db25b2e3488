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


# Up to this many identifiers, an append names them as a list (a scan of the identifiers that
# compares each with the list: ~20 ms at a million); more (a file load), it joins a subquery.
LISTED_IDS_MAX = 1_000


def carried_ids_filter(con, where: str, params: list, column: str = "id_value") -> tuple[str, list]:
    """(condition on `column`, params): the user and anonymous ids the events selected by `where`
    carry. Appends join only these identifiers: a semi-join on a subquery of the new events cost
    ~65 ms per append at a million identifiers, where a list of the few hundred values takes ~20."""
    ids_sql = (f"SELECT user_id AS v FROM events WHERE {where} "
               f"UNION SELECT anonymous_id FROM events WHERE {where}")
    values = con.execute(f"SELECT v FROM ({ids_sql}) WHERE v IS NOT NULL LIMIT {LISTED_IDS_MAX + 1}",
                         [*params, *params]).fetchall()
    if len(values) > LISTED_IDS_MAX:
        return f"{column} IN ({ids_sql})", [*params, *params]
    return f"list_contains(?, {column})", [[v[0] for v in values]]
