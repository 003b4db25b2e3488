"""A profile's timeline: web events (anonymous ones too), orders, subscriptions, CRM stage
changes, consent changes, tags and notes, and audience syncs, newest first.

One SQL query: each kind is a SELECT in `_PARTS` and the chosen ones are UNION ALLed.
Web events are found through the profile's own user and anonymous ids (index look-ups,
not a join of the whole events table), with the same rule as the `profile_events` view:
a user id wins over an anonymous id.
"""
from __future__ import annotations

import pandas as pd

from engine.access import User, can, require
from engine.identifiers import EMAIL_IN_TEXT
from engine.profiles._db import table_exists

TIMELINE_TYPES = {
    "web": "Web events",
    "order": "Orders",
    "subscription": "Subscriptions",
    "crm": "CRM stage changes",
    "consent": "Consent changes",
    "tag": "Tags",
    "note": "Notes",
    "sync": "Audience syncs",
}
COLUMNS = ["at", "type", "title", "detail", "source", "anonymous"]

_PARTS = {
    "web": """
        SELECT e.timestamp AS ts, 'web' AS type,
               CASE e.type WHEN 'track' THEN e.event
                           WHEN 'page' THEN 'Viewed ' || COALESCE(e.name, json_extract_string(e.context, '$.page.path'), 'a page')
                           WHEN 'screen' THEN 'Viewed screen ' || COALESCE(e.name, '')
                           WHEN 'identify' THEN 'Identified'
                           ELSE e.type END AS title,
               concat_ws(' · ', json_extract_string(e.context, '$.page.url'),
                         CASE WHEN e.properties IS NOT NULL AND CAST(e.properties AS VARCHAR) NOT IN ('{{}}', 'null')
                              THEN CAST(e.properties AS VARCHAR) END) AS detail,
               e.source, e.user_id IS NULL AS anonymous
        FROM (SELECT * FROM by_user
              UNION ALL
              SELECT * FROM by_anon WHERE user_id IS NULL OR user_id NOT IN ({user_ids})) e
        LEFT JOIN profile_identifiers pu ON pu.id_type = 'user_id' AND pu.id_value = e.user_id
        WHERE COALESCE(pu.profile_id, $pid) = $pid""",
    "order": """
        SELECT ordered_at, 'order', 'Order ' || COALESCE(order_id, source_record_id),
               concat_ws(' · ', CAST(amount AS VARCHAR) || ' ' || COALESCE(currency, ''),
                         NULLIF(status, 'paid'), channel, store),
               source, false FROM profile_orders WHERE profile_id = $pid""",
    "subscription": """
        SELECT started_at, 'subscription', 'Subscribed to ' || COALESCE(plan, 'a plan'),
               concat_ws(' · ', status, CAST(amount AS VARCHAR) || ' ' || COALESCE(currency, '') || ' / ' || COALESCE(billing_interval, '?')),
               source, false FROM profile_subscriptions WHERE profile_id = $pid AND started_at IS NOT NULL
        UNION ALL
        SELECT cancelled_at, 'subscription', 'Cancelled ' || COALESCE(plan, 'a plan'), status, source, false
        FROM profile_subscriptions WHERE profile_id = $pid AND cancelled_at IS NOT NULL""",
    "crm": """
        SELECT ch.changed_at, 'crm', 'Lead stage: ' || COALESCE(ch.stage, '?'),
               'from ' || COALESCE(ch.previous_stage, '(new)'), ch.source, false
        FROM lead_stage_changes ch JOIN profile_members m USING (source, source_record_id)
        WHERE m.profile_id = $pid""",
    "consent": """
        SELECT recorded_at, 'consent',
               CASE WHEN granted THEN 'Consent given: ' ELSE 'Consent withdrawn: ' END || purpose,
               method, source, false FROM profile_consents WHERE profile_id = $pid""",
    "tag": """
        SELECT created_at, 'tag', 'Tagged ' || tag, 'by ' || COALESCE(created_by, '?'), 'cdp', false
        FROM profile_tags WHERE profile_id = $pid""",
    "note": """
        SELECT created_at, 'note', 'Note by ' || COALESCE(created_by, '?'), body, 'cdp', false
        FROM profile_notes WHERE profile_id = $pid""",
    "sync": """
        SELECT COALESCE(r.finished_at, r.started_at), 'sync',
               CASE x.op WHEN 'remove' THEN 'Removed from ' ELSE 'Sent to ' END || r.destination,
               concat_ws(' · ', r.audience_key, r.status), 'activation', false
        FROM activation_run_rows x JOIN activation_runs r USING (run_id) WHERE x.profile_id = $pid""",
}

_EMAIL = EMAIL_IN_TEXT
_PHONE = r"\+?\d[\d ()-]{6,}\d"


def profile_timeline(workspace, user: User, profile_id: str, types: list[str] | None = None,
                     limit: int = 2000) -> pd.DataFrame:
    """Timeline rows (at, type, title, detail, source, anonymous), newest first."""
    require(user, "view")
    chosen = list(types) if types else list(TIMELINE_TYPES)
    unknown = [t for t in chosen if t not in _PARTS]
    if unknown:
        raise ValueError(f"Unknown timeline type(s) {', '.join(unknown)}; choose from {', '.join(_PARTS)}.")
    with workspace.connect() as con:
        if "sync" in chosen and not table_exists(con, "activation_run_rows"):
            chosen.remove("sync")
        if not chosen:
            return pd.DataFrame(columns=COLUMNS)
        # The person's ids as bound literals, so DuckDB can use the event indexes (0041).
        ids = con.execute("SELECT id_type, id_value FROM profile_identifiers WHERE profile_id = ? "
                          "AND id_type IN ('user_id', 'anonymous_id')", [profile_id]).fetchall()
        params: dict = {"pid": profile_id, "limit": int(limit)}
        lists = {}
        for id_type in ("user_id", "anonymous_id"):
            values = [v for t, v in ids if t == id_type] or [None]
            names = [f"{id_type}_{i}" for i in range(len(values))]
            params.update(zip(names, values))
            lists[id_type + "s"] = ", ".join("$" + n for n in names)
        parts = [_PARTS[t].format(**lists) if t == "web" else _PARTS[t] for t in chosen]
        # Each look-up on its own (materialised) so that no other filter hides the index from DuckDB.
        sql = (f"WITH by_user AS MATERIALIZED (SELECT * FROM events WHERE user_id IN ({lists['user_ids']})), "
               f"by_anon AS MATERIALIZED (SELECT * FROM events WHERE anonymous_id IN ({lists['anonymous_ids']})) "
               "SELECT * FROM (" + " UNION ALL ".join(f"({p})" for p in parts) + ") t(ts, type, title, detail, source, anonymous) "
               "WHERE ts IS NOT NULL ORDER BY ts DESC, type LIMIT $limit")
        frame = con.execute(sql, params).df()
    frame.columns = COLUMNS
    if not can(user, "view_pii") and not frame.empty:
        # Event properties and notes are free text: hide email addresses and phone numbers in them.
        detail = frame["detail"].astype("string")
        detail = detail.str.replace(_EMAIL, "•••@•••", regex=True).str.replace(_PHONE, "•••", regex=True)
        frame["detail"] = detail.astype("object")
    return frame


def activity_by_day(timeline: pd.DataFrame) -> pd.DataFrame:
    """Counts per day and type, for the activity chart above the timeline table."""
    if timeline.empty:
        return pd.DataFrame(columns=["day", "type", "count"])
    day = pd.to_datetime(timeline["at"], utc=True).dt.floor("D")
    return (timeline.assign(day=day).groupby(["day", "type"]).size()
            .reset_index(name="count"))
