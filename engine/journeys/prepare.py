"""Keep `journey_events` (migrations 0042-0043) in step with `events` and the identity graph.

Funnels, paths, attribution and cohorts read this one narrow table: each event already
carries its profile (same rule as the `profile_events` view: user id first, else anonymous
id), its step name and, for marketing touches, its channel. It is rebuilt in one statement
whenever the identifiers change (a cheap signature check first), so every query sees the
whole workspace as it is now. When only new events arrived (file loads, the collector's
micro-batches: see engine.event_appends), just those are appended. Each profile also gets a
dense number (`journey_profiles`, renumbered on every rebuild) that path queries join on.
"""
from __future__ import annotations

import json

from engine.event_appends import appended_since, carried_ids_filter, watermark
from engine.freshness import REBUILD, rebuilds
from engine.journeys.base import (
    PAGE_HOST_SQL, REFERRER_HOST_SQL, STEP_SQL, UTM_CAMPAIGN_SQL, UTM_MEDIUM_SQL, UTM_SOURCE_SQL, channel_sql,
)

SIGNATURE_KEY = "journey_events_signature"

_IDENTITY_SQL = """
SELECT concat_ws('|', (SELECT count(*) FROM profile_identifiers),
                      (SELECT max(first_seen) FROM profile_identifiers),
                      (SELECT count(*) FROM profiles), (SELECT max(updated_at) FROM profiles))
"""

NUMBER_PROFILES_SELECT = """
SELECT CAST(row_number() OVER () AS INTEGER) AS pk, profile_id FROM (SELECT DISTINCT profile_id FROM profile_identifiers)
"""
NUMBER_PROFILES_SQL = "INSERT INTO journey_profiles" + NUMBER_PROFILES_SELECT

BUILD_SELECT = f"""
WITH ids AS (
    SELECT i.id_type, i.id_value, i.profile_id, n.pk
    FROM profile_identifiers i JOIN journey_profiles n USING (profile_id)
    WHERE i.id_type IN ('user_id', 'anonymous_id') AND {{ids_filter}}
),
ev AS (
    SELECT user_id, anonymous_id, timestamp AS ts, type, event, name, properties,
           json_extract_string(context, ['$.page.url', '$.page.referrer', '$.campaign.source',
                                         '$.campaign.medium', '$.campaign.name']) AS cx
    FROM events WHERE {{events_filter}}
),
f AS (
    SELECT user_id, anonymous_id, ts, type, event, name, properties,
           cx[1] AS url, cx[2] AS referrer, cx[3] AS c_source, cx[4] AS c_medium, cx[5] AS c_campaign
    FROM ev
),
g AS (
    SELECT *, {UTM_SOURCE_SQL} AS utm_source, {UTM_MEDIUM_SQL} AS utm_medium, {UTM_CAMPAIGN_SQL} AS utm_campaign,
           {REFERRER_HOST_SQL} AS ref_host, {PAGE_HOST_SQL} AS page_host, {STEP_SQL} AS step
    FROM f
)
SELECT COALESCE(pu.profile_id, pa.profile_id) AS profile_id, g.ts, g.step, g.type, g.properties,
       g.utm_source, g.utm_medium, g.utm_campaign, g.ref_host AS referrer_host, {channel_sql()} AS channel,
       COALESCE(pu.pk, pa.pk) AS pk
FROM g
LEFT JOIN ids pu ON pu.id_type = 'user_id' AND pu.id_value = g.user_id
LEFT JOIN ids pa ON pa.id_type = 'anonymous_id' AND pa.id_value = g.anonymous_id
WHERE COALESCE(pu.profile_id, pa.profile_id) IS NOT NULL
"""
BUILD_SQL = "INSERT INTO journey_events" + BUILD_SELECT.replace("{ids_filter}", "true")
# Appending a landing's events: only the identifiers those events carry are joined, not every one
# (hashing 2M identifiers for 200 new events was a third of a landing's time at 10M events).
APPEND_SQL = "INSERT INTO journey_events" + BUILD_SELECT


def _state(con) -> dict:
    return {"identity": con.execute(_IDENTITY_SQL).fetchone()[0], **watermark(con)}


def _stored(con) -> dict | None:
    row = con.execute("SELECT value FROM meta WHERE key = ?", [SIGNATURE_KEY]).fetchone()
    try:
        return json.loads(row[0]) if row else None
    except (TypeError, ValueError):
        return None


def _appended(con, stored: dict | None, now: dict) -> tuple[str, list] | None:
    """The condition for the events added since the last build, if that is all that changed."""
    if not stored or stored.get("identity") != now["identity"]:
        return None
    return appended_since(con, stored, now)


def _plan(con, force: bool, append_only: bool) -> tuple[dict, tuple[str, list] | None] | None:
    """(state now, condition for the events to append or None to rebuild); None when there is
    nothing to do (up to date, or with `append_only`, only a rebuild would do)."""
    now, stored = _state(con), _stored(con)
    if not force and stored == now:
        return None
    append = None if force else _appended(con, stored, now)
    if append is None and append_only:
        return None
    return now, append


def prepare_journeys(workspace, force: bool = False, progress=None, *, append_only: bool = False) -> bool:
    """Bring journey_events up to date (append new loads, or rebuild); True if it changed.

    With `append_only` (the collector after a landing), a table that needs a rebuild is left as
    it is (False): rebuilds belong to the background refresh, not to the landing.
    """
    if not append_only:   # a look first, without the write (a landing always brings something)
        with workspace.connect() as con:
            plan = _plan(con, force, append_only)
        if plan is None:
            return False
        if progress:
            progress(0.0, "Adding new events to journeys" if plan[1] else "Attributing events to profiles")
    try:
        _write(workspace, force, append_only)
    except _Unchanged:
        return False
    if progress:
        progress(1.0, "Journeys ready")
    return True


class _Unchanged(Exception):
    """Raised inside the write to roll it back (no version bump): nothing to do after all."""


def _write(workspace, force: bool, append_only: bool) -> None:
    with workspace.transaction() as con:
        # Planned (again) inside the write: another writer (a thread, the collector) may have
        # appended the same events since, and appending them twice would count them twice.
        plan = _plan(con, force, append_only)
        if plan is None:
            raise _Unchanged
        now, append = plan
        if append:
            where, params = append
            ids_where, ids_params = carried_ids_filter(con, where, params, "i.id_value")
            con.execute(APPEND_SQL.replace("{ids_filter}", ids_where).replace("{events_filter}", where),
                        [*ids_params, *params])
        else:
            con.execute("DELETE FROM journey_events")
            con.execute("DELETE FROM journey_profiles")
            con.execute(NUMBER_PROFILES_SQL)
            con.execute(BUILD_SQL.replace("{events_filter}", "true"))
        con.execute("DELETE FROM meta WHERE key = ?", [SIGNATURE_KEY])
        con.execute("INSERT INTO meta VALUES (?, ?)", [SIGNATURE_KEY, json.dumps(now)])


def journeys_ready(workspace, freshness: str = REBUILD) -> None:
    """Before a read of journey_events: bring it up to date, or (AS_BUILT) read it as last built."""
    if rebuilds(freshness):
        prepare_journeys(workspace)


def journeys_stale(workspace) -> bool:
    """True when journey_events does not reflect the events and identities as they are now."""
    with workspace.connect() as con:
        return _stored(con) != _state(con)


def journeys_built(workspace) -> bool:
    """True once journey_events has been built at least once (a screen has something to show)."""
    with workspace.connect() as con:
        return _stored(con) is not None


def journeys_backend(workspace, backend=None, events: bool = True, freshness: str = REBUILD):
    """The backend a journey query runs on, with `journey_events` ready there (unless `events` is
    False): in the workspace, brought up to date as above (or read as last built: `freshness`); on
    Spark, built from the lakehouse's
    events by the same SQL."""
    from engine.backend.choose import backend_for

    backend = backend or backend_for(workspace)
    if not events:
        return backend
    if backend.name == "duckdb":
        journeys_ready(workspace, freshness)
    else:
        backend.materialize("journey_profiles", NUMBER_PROFILES_SELECT)
        backend.materialize("journey_events", BUILD_SELECT.replace("{events_filter}", "true")
                            .replace("{ids_filter}", "true"))
    return backend
