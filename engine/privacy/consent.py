"""The consent ledger: uploads, event signals (CMP categories, GPC) and manual edits."""
from __future__ import annotations

import uuid

import pandas as pd

from engine.access import User, audit, require
from engine.sources import ensure_source

PURPOSES = ("analytics", "email", "advertising", "sale_sharing")
MANUAL_SOURCE = "Manual consent"

# CMP category names (Segment's context.consent.categoryPreferences keys) -> our purposes.
CATEGORY_PURPOSES = {
    "analytics": "analytics", "performance": "analytics", "statistics": "analytics",
    "advertising": "advertising", "ads": "advertising", "targeting": "advertising",
    "marketing": "advertising",
    "email": "email", "marketing_email": "email", "emailmarketing": "email",
    "datasharing": "sale_sharing", "data_sharing": "sale_sharing", "sale_sharing": "sale_sharing",
    "salesharing": "sale_sharing", "sale": "sale_sharing",
}

_CAPTURE_SQL = """
INSERT OR IGNORE INTO event_consent_signals
WITH candidates AS (
    SELECT message_id, user_id, anonymous_id, timestamp, context,
           context -> '$.consent.categoryPreferences' AS prefs  -- read once, used three times
    FROM {relation}
    WHERE (CAST(? AS BIGINT) IS NULL OR load_id = ?)
      AND {only}
      AND context IS NOT NULL
      AND (CAST(context AS VARCHAR) LIKE '%"consent"%' OR CAST(context AS VARCHAR) LIKE '%"gpc"%')
),
categories AS (
    SELECT c.message_id, c.user_id, c.anonymous_id, c.timestamp,
           lower(k) AS category,
           TRY_CAST(json_extract_string(c.prefs, k) AS BOOLEAN) AS granted
    FROM candidates c,
         unnest(json_keys(c.prefs)) AS t(k)
    WHERE json_type(c.prefs) = 'OBJECT'
),
mapped AS (
    SELECT message_id, user_id, anonymous_id, m.purpose, granted, timestamp, 'cmp' AS method
    FROM categories JOIN (SELECT unnest(?::VARCHAR[]) AS category, unnest(?::VARCHAR[]) AS purpose) m
         USING (category)
    WHERE granted IS NOT NULL
),
gpc AS (
    SELECT message_id, user_id, anonymous_id, p.purpose, false, timestamp, 'gpc'
    FROM candidates, (VALUES ('advertising'), ('sale_sharing')) p(purpose)
    WHERE json_extract_string(context, '$.gpc') = 'true'
       OR json_extract_string(context, '$.consent.gpc') = 'true'
)
SELECT * FROM gpc
UNION ALL
SELECT * FROM mapped
WHERE (message_id, purpose) NOT IN (SELECT (message_id, purpose) FROM gpc)
"""


def capture_event_consents(con, load_id: int | None = None, message_ids_sql: str | None = None,
                           relation: str = "events") -> int:
    """Record consent signals from events (one load, the events whose ids `message_ids_sql`
    selects, or all); returns rows added.

    Called inside the transaction that lands events. GPC overrides a CMP grant on the same event.
    `relation` may name a table holding just-inserted events (the `events` columns message_id,
    user_id, anonymous_id, timestamp, context, load_id) so a landing need not scan all events.
    """
    before = con.execute("SELECT count(*) FROM event_consent_signals").fetchone()[0]
    only = f"message_id IN ({message_ids_sql})" if message_ids_sql else "true"
    con.execute(_CAPTURE_SQL.replace("{only}", only).replace("{relation}", relation),
                [load_id, load_id, list(CATEGORY_PURPOSES), list(CATEGORY_PURPOSES.values())])
    return con.execute("SELECT count(*) FROM event_consent_signals").fetchone()[0] - before


def consent_state(workspace, profile_id: str) -> pd.DataFrame:
    """Current consent by purpose for one profile (all purposes, unknown ones as None)."""
    state = workspace.query_df(
        "SELECT purpose, granted, recorded_at, method, source FROM profile_consent_state WHERE profile_id = ?",
        [profile_id])
    known = pd.DataFrame({"purpose": list(PURPOSES)})
    return known.merge(state, on="purpose", how="outer")


def consent_history(workspace, profile_id: str) -> pd.DataFrame:
    """Every consent record for one profile, newest first."""
    return workspace.query_df("""
        SELECT recorded_at, purpose, granted, method, source FROM profile_consents WHERE profile_id = ?
        UNION ALL
        SELECT s.recorded_at, s.purpose, s.granted, s.method, 'events'
        FROM event_consent_signals s
        WHERE EXISTS (SELECT 1 FROM profile_identifiers i WHERE i.profile_id = ? AND (
            (i.id_type = 'user_id' AND i.id_value = s.user_id)
            OR (i.id_type = 'anonymous_id' AND i.id_value = s.anonymous_id)))
        ORDER BY recorded_at DESC
    """, [profile_id, profile_id])


def set_consent(workspace, user: User, profile_id: str, purpose: str, granted: bool,
                note: str = "") -> None:
    """A manual consent edit (e.g. a customer phoned in), kept as a record in the ledger."""
    require(user, "privacy_requests")
    if purpose not in PURPOSES:
        raise ValueError(f"Unknown purpose {purpose!r}; choose one of {', '.join(PURPOSES)}.")
    with workspace.transaction() as con:
        golden = con.execute(
            "SELECT email, phone, first_name, last_name, customer_id, user_id FROM profiles WHERE profile_id = ?",
            [profile_id]).fetchone()
        if golden is None:
            raise ValueError(f"No profile {profile_id!r}.")
        ensure_source(con, user, MANUAL_SOURCE, "consents", "Consent edited by hand in the app")
        record_id = uuid.uuid4().hex
        con.execute("""
            INSERT INTO consents (source, source_record_id, purpose, granted, recorded_at, method,
                                  email, phone, first_name, last_name, customer_id, user_id, traits)
            VALUES (?, ?, ?, ?, now(), 'manual', ?, ?, ?, ?, ?, ?, json_object('note', ?, 'by', ?))
        """, [MANUAL_SOURCE, record_id, purpose, granted, *golden, note, user.username])
        con.execute("INSERT INTO profile_members VALUES (?, 'consents', ?, ?)",
                    [profile_id, MANUAL_SOURCE, record_id])
        audit(con, user, "consent.edit", profile_id, {"purpose": purpose, "granted": granted})
