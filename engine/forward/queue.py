"""Enqueueing conversions: each becomes one row per destination, with its exact payload.

A conversion without advertising consent, or of a suppressed person, is held back and
counted, never sent. The (destination, event_id) key makes enqueueing idempotent.
"""
from __future__ import annotations

from datetime import datetime, timezone

from engine.forward.config import get_destination, list_mappings
from engine.forward.destinations import KINDS
from engine.forward.payloads import conversions_sql, trigger_params

# `c` is a row with the person's email and customer_id (a conversion here, a profile at delivery).
SUPPRESSED = """EXISTS (SELECT 1 FROM suppressions s WHERE
    (s.id_type = 'email' AND s.id_hash = sha256(lower(trim(c.email))))
    OR (s.id_type = 'customer_id' AND s.id_hash = sha256(c.customer_id)))"""


def _enqueue_sql(kind: str, trigger: str) -> str:
    return f"""
    INSERT OR IGNORE INTO forward_queue (destination, event_id, mapping_id, profile_id, event_time, payload,
        status, reason, has_email, has_phone, has_click_id, has_browser_id, has_ip_ua)
    SELECT ?, c.event_id, m.mapping_id, c.profile_id, c.event_time, {KINDS[kind].payload_sql()},
           CASE WHEN {SUPPRESSED} THEN 'held' WHEN NOT c.advertising_ok THEN 'held' ELSE 'pending' END,
           CASE WHEN {SUPPRESSED} THEN 'suppressed'
                WHEN NOT c.advertising_ok THEN 'no advertising consent' END,
           c.email IS NOT NULL, c.phone IS NOT NULL,
           COALESCE(c.gclid, c.gbraid, c.wbraid, c.fbc) IS NOT NULL,
           COALESCE(c.fbp, c.fbc) IS NOT NULL,
           c.ip IS NOT NULL AND c.user_agent IS NOT NULL
    FROM ({conversions_sql(trigger)}) c, (SELECT ? AS mapping_id, ? AS platform_event) m
    WHERE c.event_id IS NOT NULL AND c.event_time IS NOT NULL
    """


def enqueue(workspace, destination: str, now: datetime | None = None) -> dict:
    """Queue every new conversion matching the destination's enabled mappings (look-back from `now`)."""
    now = now or datetime.now(timezone.utc)
    dest = get_destination(workspace, destination)
    mappings = list_mappings(workspace, destination)
    added = {"pending": 0, "held": 0}
    with workspace.transaction() as con:
        before = dict(con.execute("SELECT status, count(*) FROM forward_queue WHERE destination = ? GROUP BY 1",
                                  [destination]).fetchall())
        for mapping in mappings[mappings["enabled"]].to_dict("records"):
            con.execute(_enqueue_sql(dest["kind"], mapping["trigger"]),
                        [destination, *trigger_params(mapping, now), int(mapping["mapping_id"]),
                         mapping["platform_event"]])
        after = dict(con.execute("SELECT status, count(*) FROM forward_queue WHERE destination = ? GROUP BY 1",
                                 [destination]).fetchall())
    for status in added:
        added[status] = after.get(status, 0) - before.get(status, 0)
    return added


def preview(workspace, destination: str, mapping_id: int, limit: int = 3, now: datetime | None = None) -> list[dict]:
    """The exact payloads a mapping would send for its most recent conversions (nothing is queued)."""
    import json

    dest = get_destination(workspace, destination)
    mappings = list_mappings(workspace, destination)
    mapping = mappings[mappings["mapping_id"] == mapping_id].to_dict("records")
    if not mapping:
        raise ValueError(f"No mapping {mapping_id} on {destination}.")
    mapping = mapping[0]
    sql = f"""SELECT {KINDS[dest['kind']].payload_sql()} AS payload, c.advertising_ok
              FROM ({conversions_sql(mapping['trigger'])}) c, (SELECT ? AS mapping_id, ? AS platform_event) m
              ORDER BY c.event_time DESC LIMIT ?"""
    now = now or datetime.now(timezone.utc)
    rows = workspace.query_rows(sql, [*trigger_params(mapping, now), mapping_id, mapping["platform_event"], limit])
    return [{"payload": json.loads(p), "would_send": bool(ok)} for p, ok in rows]
