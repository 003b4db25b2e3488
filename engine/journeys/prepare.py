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

from engine.event_appends import appended_since, watermark
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
    WHERE i.id_type IN ('user_id', 'anonymous_id')
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
BUILD_SQL = "INSERT INTO journey_events" + BUILD_SELECT


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


def prepare_journeys(workspace, force: bool = False, progress=None) -> bool:
    """Bring journey_events up to date (append new loads, or rebuild); True if it changed."""
    with workspace.connect() as con:
        now, stored = _state(con), _stored(con)
        if not force and stored == now:
            return False
        append = None if force else _appended(con, stored, now)
    if progress:
        progress(0.0, "Adding new events to journeys" if append else "Attributing events to profiles")
    with workspace.transaction() as con:
        if append:
            where, params = append
            con.execute(BUILD_SQL.replace("{events_filter}", where), params)
        else:
            con.execute("DELETE FROM journey_events")
            con.execute("DELETE FROM journey_profiles")
            con.execute(NUMBER_PROFILES_SQL)
            con.execute(BUILD_SQL.replace("{events_filter}", "true"))
        con.execute("DELETE FROM meta WHERE key = ?", [SIGNATURE_KEY])
        con.execute("INSERT INTO meta VALUES (?, ?)", [SIGNATURE_KEY, json.dumps(now)])
    if progress:
        progress(1.0, "Journeys ready")
    return True


def journeys_stale(workspace) -> bool:
    """True when the next journey query will rebuild first (pages show a progress bar then)."""
    with workspace.connect() as con:
        return _stored(con) != _state(con)


def journeys_backend(workspace, backend=None, events: bool = True):
    """The backend a journey query runs on, with `journey_events` ready there (unless `events` is
    False): in the workspace, brought up to date as above; on Spark, built from the lakehouse's
    events by the same SQL."""
    from engine.backend.choose import backend_for

    backend = backend or backend_for(workspace)
    if not events:
        return backend
    if backend.name == "duckdb":
        prepare_journeys(workspace)
    else:
        backend.materialize("journey_profiles", NUMBER_PROFILES_SELECT)
        backend.materialize("journey_events", BUILD_SELECT.replace("{events_filter}", "true"))
    return backend
