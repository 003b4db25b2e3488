"""Keep `journey_events` (migration 0042) in step with `events` and the identity graph.

Funnels, paths, attribution and cohorts read this one narrow table: each event already
carries its profile (same rule as the `profile_events` view: user id first, else anonymous
id), its step name and, for marketing touches, its channel. It is rebuilt in one statement
whenever the events or the identifiers change (a cheap signature check first), so every
query sees the whole workspace as it is now.
"""
from __future__ import annotations

from engine.journeys.base import (
    PAGE_HOST_SQL, REFERRER_HOST_SQL, STEP_SQL, UTM_MEDIUM_SQL, UTM_SOURCE_SQL, channel_sql,
)

SIGNATURE_KEY = "journey_events_signature"

_SIGNATURE_SQL = """
SELECT concat_ws('|', (SELECT count(*) FROM events), (SELECT max(load_id) FROM events),
                      (SELECT max(received_at) FROM events), (SELECT max(timestamp) FROM events),
                      (SELECT count(*) FROM profile_identifiers),
                      (SELECT max(first_seen) FROM profile_identifiers),
                      (SELECT max(updated_at) FROM profiles))
"""

BUILD_SQL = f"""
INSERT INTO journey_events
WITH ev AS (
    SELECT user_id, anonymous_id, timestamp AS ts, type, event, name, properties,
           json_extract_string(context, ['$.page.url', '$.page.referrer', '$.campaign.source',
                                         '$.campaign.medium', '$.campaign.name']) AS cx
    FROM events
),
f AS (
    SELECT user_id, anonymous_id, ts, type, event, name, properties,
           cx[1] AS url, cx[2] AS referrer, cx[3] AS c_source, cx[4] AS c_medium, cx[5] AS utm_campaign
    FROM ev
),
g AS (
    SELECT *, {UTM_SOURCE_SQL} AS utm_source, {UTM_MEDIUM_SQL} AS utm_medium,
           {REFERRER_HOST_SQL} AS ref_host, {PAGE_HOST_SQL} AS page_host, {STEP_SQL} AS step
    FROM f
)
SELECT COALESCE(pu.profile_id, pa.profile_id), g.ts, g.step, g.type, g.properties,
       g.utm_source, g.utm_medium, g.utm_campaign, g.ref_host, {channel_sql()}
FROM g
LEFT JOIN profile_identifiers pu ON pu.id_type = 'user_id' AND pu.id_value = g.user_id
LEFT JOIN profile_identifiers pa ON pa.id_type = 'anonymous_id' AND pa.id_value = g.anonymous_id
WHERE COALESCE(pu.profile_id, pa.profile_id) IS NOT NULL
"""


def prepare_journeys(workspace, force: bool = False, progress=None) -> bool:
    """Rebuild journey_events if events or identity changed since the last build; True if rebuilt."""
    with workspace.connect() as con:
        signature = con.execute(_SIGNATURE_SQL).fetchone()[0]
        stored = con.execute("SELECT value FROM meta WHERE key = ?", [SIGNATURE_KEY]).fetchone()
    if not force and stored and stored[0] == signature:
        return False
    if progress:
        progress(0.0, "Attributing events to profiles")
    with workspace.transaction() as con:
        con.execute("DELETE FROM journey_events")
        con.execute(BUILD_SQL)
        con.execute("DELETE FROM meta WHERE key = ?", [SIGNATURE_KEY])
        con.execute("INSERT INTO meta VALUES (?, ?)", [SIGNATURE_KEY, signature])
    if progress:
        progress(1.0, "Journeys ready")
    return True


def journeys_stale(workspace) -> bool:
    """True when the next journey query will rebuild first (pages show a progress bar then)."""
    with workspace.connect() as con:
        signature = con.execute(_SIGNATURE_SQL).fetchone()[0]
        stored = con.execute("SELECT value FROM meta WHERE key = ?", [SIGNATURE_KEY]).fetchone()
    return not (stored and stored[0] == signature)
