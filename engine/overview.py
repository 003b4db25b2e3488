"""Headline figures for the Overview screen."""
from __future__ import annotations

import pandas as pd

PEOPLE_TABLES = ("contacts", "orders", "subscriptions", "consents")


def headline(workspace) -> dict:
    """Profiles, source records, events, merge rate, consented share, last load."""
    people_sql = " + ".join(f"(SELECT count(*) FROM {t})" for t in PEOPLE_TABLES)
    with workspace.connect() as con:
        profiles, records, events, members, last_load = con.execute(f"""
            SELECT (SELECT count(*) FROM profiles),
                   {people_sql},
                   (SELECT count(*) FROM events),
                   (SELECT count(*) FROM profile_members),
                   (SELECT max(finished_at) FROM loads)
        """).fetchone()
        consent = con.execute("""
            SELECT count(DISTINCT profile_id) FILTER (WHERE granted)
            FROM profile_consent_state WHERE purpose = 'advertising'
        """).fetchone()[0]
        people_profiles = con.execute(
            "SELECT count(DISTINCT profile_id) FROM profile_members"
        ).fetchone()[0]
    return {
        "profiles": profiles,
        "source_records": records,
        "events": events,
        # Share of people records that were folded into a profile holding another record.
        "merge_rate": (1 - people_profiles / members) if members else None,
        "advertising_consent_share": (consent / profiles) if profiles else None,
        "last_load": last_load,
    }


def events_per_day(workspace, days: int = 90) -> pd.DataFrame:
    """Events per day and type over the last `days` days with data."""
    return workspace.query_df("""
        WITH bounds AS (SELECT max(timestamp) AS last FROM events)
        SELECT CAST(date_trunc('day', timestamp) AS DATE) AS day, type, count(*) AS events
        FROM events, bounds
        WHERE timestamp > bounds.last - to_days(CAST(? AS INTEGER))
        GROUP BY ALL ORDER BY day, type
    """, [days])


def source_freshness(workspace) -> pd.DataFrame:
    """Per source: kind, rows held, last load or event, and hours since then."""
    return workspace.query_df("""
        WITH held AS (
            SELECT source, count(*) AS records, max(loaded_at) AS last_seen FROM contacts GROUP BY source
            UNION ALL SELECT source, count(*), max(loaded_at) FROM orders GROUP BY source
            UNION ALL SELECT source, count(*), max(loaded_at) FROM subscriptions GROUP BY source
            UNION ALL SELECT source, count(*), max(loaded_at) FROM consents GROUP BY source
            UNION ALL SELECT source, count(*), max(received_at) FROM events GROUP BY source
        ),
        last_loads AS (SELECT source, max(finished_at) AS last_load FROM loads GROUP BY source)
        SELECT s.name AS source, s.kind,
               coalesce(sum(h.records), 0) AS records,
               greatest(max(h.last_seen), max(l.last_load)) AS last_update,
               round(date_diff('minute', greatest(max(h.last_seen), max(l.last_load)), now()) / 60.0, 1)
                   AS hours_ago
        FROM sources s
        LEFT JOIN held h ON h.source = s.name
        LEFT JOIN last_loads l ON l.source = s.name
        GROUP BY s.name, s.kind
        ORDER BY s.name
    """)


def records_per_profile(workspace) -> pd.DataFrame:
    """How many source records each profile unifies (distribution)."""
    return workspace.query_df("""
        SELECT record_count AS records, count(*) AS profiles
        FROM (SELECT profile_id, count(*) AS record_count FROM profile_members GROUP BY profile_id)
        GROUP BY ALL ORDER BY records
    """)
