"""The segment event index: attributed events materialised and sorted by (event, ts).

`profile_events` is a view that joins every event to `profile_identifiers` twice; scanning
it three times for a three-condition segment over 10M events takes seconds. The index holds
the same rows (profile_id, event, ts, properties), sorted so DuckDB's zone maps skip every
row group of other events and other dates: counts take milliseconds.

It is derived data. A fingerprint of `events` and the user/anonymous identifiers says when it
is stale; while it is stale, segments read the view (same answers, slower), and
`ensure_fresh` (called by `cdp segment refresh`, the Segments screen's refresh, and anyone
after loading events or resolving identities) brings it up to date in one transaction: when
only new events arrived (new loads, the collector's micro-batches; see engine.event_appends)
and the identities are unchanged, it appends them; otherwise it rebuilds.
"""
from __future__ import annotations

import json
import threading
import time

from engine.event_appends import appended_since, carried_ids_filter, watermark
from engine.segments.compiler import EVENT_INDEX_TABLE, EVENTS_VIEW_RELATION
from engine.workspace import versions

# Events change by appends and deletions (erasure, retention): their count, highest load and
# the sum of their timestamps catch both without hashing 10M strings (epoch_us, not epoch_ms: the
# same catch without a division per row, 15 ms instead of 83 ms over 10M events; an index built
# under the old formula looks stale once and is brought up to date by appending nothing). Identities change by
# re-mapping ids to profiles at the same count, so those rows are hashed (about 2M).
_EVENTS_FINGERPRINT_SQL = """
SELECT count(*) || ':' || COALESCE(max(load_id), -1) || ':' || COALESCE(sum(epoch_us(timestamp)), 0) FROM events
"""
_IDENTITIES_FINGERPRINT_SQL = """
SELECT count(*) || ':' || COALESCE(bit_xor(hash(profile_id, id_type, id_value)), 0)
FROM profile_identifiers WHERE id_type IN ('user_id', 'anonymous_id')
"""
_BUILD_SQL = f"""
INSERT INTO {EVENT_INDEX_TABLE}
SELECT profile_id, event, ts, properties FROM {EVENTS_VIEW_RELATION}
ORDER BY event, ts
"""
# The same rows as the build (the profile_events view, written out), for the new events only and
# joining only the identifiers they carry: the view would hash every identifier for each landing.
_APPEND_SQL = f"""
INSERT INTO {EVENT_INDEX_TABLE}
WITH e AS (SELECT * FROM events WHERE {{new}}),
ids AS (SELECT id_type, id_value, profile_id FROM profile_identifiers
        WHERE id_type IN ('user_id', 'anonymous_id') AND {{ids}})
SELECT COALESCE(pu.profile_id, pa.profile_id) AS profile_id, COALESCE(e.event, e.type) AS event,
       e.timestamp AS ts, e.properties
FROM e
LEFT JOIN ids pu ON pu.id_type = 'user_id' AND pu.id_value = e.user_id
LEFT JOIN ids pa ON pa.id_type = 'anonymous_id' AND pa.id_value = e.anonymous_id
WHERE COALESCE(pu.profile_id, pa.profile_id) IS NOT NULL
ORDER BY event, ts
"""

# (workspace path, data_version) -> fresh?  Saves the fingerprint scan on repeated counts.
_fresh_cache: dict[tuple[str, int], bool] = {}
_cache_lock = threading.Lock()


def _data_version(con) -> int:
    return int(con.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()[0])


def fingerprint(con, built: tuple[str | None, str | None] | None = None) -> str:
    """The events' and identities' fingerprint now. Given the build's (fingerprint, watermark):
    when the core data version has not moved since (only landings: identities unchanged), the
    identity half is the build's, not hashed again (40 ms of a landing's checks at 10M events)."""
    events = con.execute(_EVENTS_FINGERPRINT_SQL).fetchone()[0]
    if built and built[0] and built[1] and json.loads(built[1]).get("core") == versions.read(con).core:
        return f"{events}|{_identities(built[0])}"
    return f"{events}|{_hash_identities(con)}"


def _hash_identities(con) -> str:
    return con.execute(_IDENTITIES_FINGERPRINT_SQL).fetchone()[0]


def _built(con) -> tuple[str | None, str | None]:
    """(fingerprint, watermark) recorded by the last build."""
    row = con.execute("SELECT fingerprint, watermark FROM segment_event_index_state WHERE id = 1").fetchone()
    return (row[0], row[1]) if row else (None, None)


def is_fresh(con, path: str = "") -> bool:
    key = (path, _data_version(con))
    with _cache_lock:
        if key in _fresh_cache:
            return _fresh_cache[key]
    row = con.execute("SELECT fingerprint, built_version, watermark FROM segment_event_index_state "
                      "WHERE id = 1").fetchone()
    # Nothing was written since the build: fresh without scanning anything.
    fresh = bool(row) and (row[1] == key[1] or row[0] == fingerprint(con, (row[0], row[2])))
    with _cache_lock:
        if len(_fresh_cache) > 256:
            _fresh_cache.clear()
        _fresh_cache[key] = fresh
    return fresh


def events_relation(con, path: str = "") -> str:
    """The relation behavioural conditions should read right now."""
    return EVENT_INDEX_TABLE if is_fresh(con, path) else EVENTS_VIEW_RELATION


def status(workspace) -> dict:
    with workspace.connect() as con:
        row = con.execute("SELECT row_count, built_at, build_seconds FROM segment_event_index_state "
                          "WHERE id = 1").fetchone()
        fresh = is_fresh(con, str(workspace.path))
    return {"fresh": fresh, "rows": row[0] if row else 0, "built_at": row[1] if row else None,
            "build_seconds": row[2] if row else None}


def _identities(fp: str | None) -> str | None:
    """The identity half of a fingerprint."""
    return fp.split("|", 1)[1] if fp and "|" in fp else None


def _appendable(con, fp: str | None = None) -> tuple[str, list] | None:
    """The condition for events added since the index was built, if nothing else changed."""
    built = _built(con)
    if not built[1] or _identities(built[0]) != _identities(fp or fingerprint(con, built)):
        return None
    return appended_since(con, json.loads(built[1]))


class _Unchanged(Exception):
    """Raised inside the write to roll it back: on a second look there is nothing to do."""


def rebuild(workspace, progress=None, appended: tuple[str, list] | None = None, *,
            append_only: bool = False) -> dict | None:
    """Rebuild the index in one transaction (readers keep the old one until it commits);
    with `appended` (see _appendable), only add those events. With `append_only`, it only
    appends, and does nothing (None) when only a rebuild would do."""
    started = time.monotonic()
    if progress:
        progress(0.05, "Adding new events" if appended or append_only else "Reading attributed events")
    try:
        with workspace.transaction() as con:
            con.execute("SET enable_progress_bar = false")  # progress goes to the caller's callback
            built = _built(con)
            fp, mark = fingerprint(con, built), {**watermark(con), "core": versions.read(con).core}
            if appended or append_only:
                # Decided (again) inside the write: another writer (a thread, the collector) may have
                # appended these events since; appending them twice would count them twice.
                if built[0] == fp:
                    raise _Unchanged
                appended = _appendable(con, fp)
                if appended is None and append_only:
                    raise _Unchanged
            if appended:
                where, params = appended
                ids_where, ids_params = carried_ids_filter(con, where, params)
                con.execute(_APPEND_SQL.replace("{new}", where).replace("{ids}", ids_where), [*params, *ids_params])
            else:
                con.execute(f"DELETE FROM {EVENT_INDEX_TABLE}")
                con.execute(_BUILD_SQL)
            rows = con.execute(f"SELECT count(*) FROM {EVENT_INDEX_TABLE}").fetchone()[0]
            seconds = time.monotonic() - started
            con.execute("INSERT OR REPLACE INTO segment_event_index_state (id, fingerprint, row_count, built_at, "
                        "build_seconds, watermark) VALUES (1, ?, ?, now(), ?, ?)", [fp, rows, seconds, json.dumps(mark)])
    except _Unchanged:
        return None
    # Record the data version the build committed as, so the next reader skips the fingerprint.
    # This bookkeeping write deliberately does not bump the data version (no data changed).
    with workspace.connect() as con:
        con.execute("UPDATE segment_event_index_state SET built_version = ? WHERE id = 1", [_data_version(con)])
    with _cache_lock:
        _fresh_cache.clear()
    if progress:
        progress(1.0, f"Indexed {rows:,} events")
    return {"rows": rows, "seconds": round(seconds, 2), "appended": bool(appended)}


def ensure_fresh(workspace, progress=None, *, append_only: bool = False) -> dict | None:
    """Append new events or rebuild the index if events or identities changed; None if fresh.

    With `append_only` (the collector after a landing), an index that needs a rebuild is left
    as it is (None): rebuilds belong to the background refresh, not to the landing.
    """
    if append_only:     # decided inside the write alone: one fingerprint scan per landing
        return rebuild(workspace, progress, append_only=True)
    with workspace.connect() as con:
        if is_fresh(con, str(workspace.path)):
            return None
        appended = _appendable(con)
    return rebuild(workspace, progress, appended)
