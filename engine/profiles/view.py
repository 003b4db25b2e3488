"""One person's 360 view: golden record with sources, records, identifiers, figures, consent.

`profile_view` reads everything in one connection and writes a `profile.view` audit entry
in the same transaction, so every look at a full profile is on record. Personal values
are masked for roles without `view_pii`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from engine.access import PII_FIELDS, User, audit, can, mask_frame, mask_value, require
from engine.profiles._db import columns_of, table_exists
from engine.revenue import NET_AMOUNT, PROFILE_REVENUE_ORDERS

GOLDEN_FIELDS = ["first_name", "last_name", "email", "phone", "address_line1", "address_line2",
                 "city", "postcode", "state", "country", "date_of_birth", "customer_id", "user_id"]
PII_ID_TYPES = frozenset({"email", "phone"})


class ProfileNotFound(ValueError):
    """No profile with that id (a ValueError, so the CLI prints it as one line)."""

    def __init__(self, profile_id: str):
        super().__init__(f"There is no profile {profile_id!r}; it may have been merged or re-resolved.")
        self.profile_id = profile_id


@dataclass
class ProfileView:
    profile_id: str
    golden: pd.DataFrame                 # field, value, source, source_record_id, rule
    headline: dict                       # first/last seen, orders, revenue, aov, status, stage, scores
    records: pd.DataFrame                # kind, source, source_record_id, load_id, loaded_at, file_name, ...
    identifiers: pd.DataFrame            # id_type, id_value, first_seen
    consent: pd.DataFrame                # purpose, granted, recorded_at
    tags: pd.DataFrame
    notes: pd.DataFrame
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)
    syncs: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def display_name(self) -> str:
        values = dict(zip(self.golden["field"], self.golden["value"]))
        name = " ".join(str(values[f]) for f in ("first_name", "last_name") if values.get(f))
        return name or str(values.get("email") or self.profile_id)


_GOLDEN_SQL = """
SELECT f.field, COALESCE(s.value, f.value) AS value, s.source, s.source_record_id, s.rule
FROM (UNPIVOT (SELECT {cols} FROM profiles WHERE profile_id = $pid)
      ON COLUMNS(*) INTO NAME field VALUE value) f
LEFT JOIN profile_field_sources s ON s.profile_id = $pid AND s.field = f.field
UNION ALL
SELECT s.field, s.value, s.source, s.source_record_id, s.rule FROM profile_field_sources s
WHERE s.profile_id = $pid AND s.field NOT IN ({fields})
"""

# profile_members.kind is what identity writes (engine/identity/records.py PERSON_TABLES):
# contact | order | subscription | consent | event_user | event_anonymous.
_RECORDS_SQL = """
WITH m AS (SELECT kind, source, source_record_id FROM profile_members WHERE profile_id = $pid),
r AS (
    SELECT m.*, COALESCE(c.load_id, o.load_id, s.load_id, k.load_id) AS load_id,
           COALESCE(c.loaded_at, o.loaded_at, s.loaded_at, k.loaded_at) AS loaded_at,
           COALESCE(c.email, o.email, s.email, k.email) AS email,
           COALESCE(c.phone, o.phone, s.phone, k.phone) AS phone,
           COALESCE(c.first_name, o.first_name, s.first_name, k.first_name) AS first_name,
           COALESCE(c.last_name, o.last_name, s.last_name, k.last_name) AS last_name,
           COALESCE(c.customer_id, o.customer_id, s.customer_id, k.customer_id) AS customer_id,
           CASE m.kind WHEN 'contact' THEN c.lead_stage
                       WHEN 'order' THEN o.order_id || ' · ' || CAST(o.amount AS VARCHAR) || ' ' || COALESCE(o.currency, '')
                                          || COALESCE(' · ' || NULLIF(o.status, 'paid'), '')
                       WHEN 'subscription' THEN s.plan || ' · ' || s.status
                       WHEN 'consent' THEN k.purpose || ' · ' || CASE WHEN k.granted THEN 'granted' ELSE 'withdrawn' END
           END AS summary
    FROM m
    LEFT JOIN contacts c ON m.kind = 'contact' AND c.source = m.source AND c.source_record_id = m.source_record_id
    LEFT JOIN orders o ON m.kind = 'order' AND o.source = m.source AND o.source_record_id = m.source_record_id
    LEFT JOIN subscriptions s ON m.kind = 'subscription' AND s.source = m.source AND s.source_record_id = m.source_record_id
    LEFT JOIN consents k ON m.kind = 'consent' AND k.source = m.source AND k.source_record_id = m.source_record_id
)
SELECT r.kind, r.source, r.source_record_id, r.summary, r.email, r.phone, r.first_name, r.last_name,
       r.customer_id, r.load_id, l.file_name, r.loaded_at
FROM r LEFT JOIN loads l USING (load_id)
ORDER BY r.kind, r.loaded_at, r.source, r.source_record_id
"""

# Orders and revenue are money kept (engine/revenue.py): failed, cancelled and pending orders
# are left out, refunds taken off.
_HEADLINE_SQL = f"""
WITH o AS (SELECT count(DISTINCT COALESCE(order_id, source || ':' || source_record_id)) AS orders,
                  sum({NET_AMOUNT}) AS revenue, min(ordered_at) AS first_order, max(ordered_at) AS last_order
           FROM {PROFILE_REVENUE_ORDERS} WHERE profile_id = $pid),
s AS (SELECT arg_max(status, COALESCE(cancelled_at, started_at)) AS subscription_status,
             arg_max(plan, COALESCE(cancelled_at, started_at)) AS subscription_plan,
             count(*) FILTER (WHERE status IN ('active', 'trialing', 'past_due')) AS active_subscriptions
      FROM profile_subscriptions WHERE profile_id = $pid),
c AS (SELECT arg_max(lead_stage, COALESCE(updated_at, created_at, loaded_at)) AS contact_stage
      FROM profile_contacts WHERE profile_id = $pid AND lead_stage IS NOT NULL),
l AS (SELECT arg_max(ch.stage, ch.changed_at) AS changed_stage, max(ch.changed_at) AS stage_changed_at
      FROM lead_stage_changes ch JOIN profile_members m USING (source, source_record_id)
      WHERE m.profile_id = $pid),
p AS (SELECT first_seen, last_seen FROM profiles WHERE profile_id = $pid)
SELECT least(p.first_seen, o.first_order) AS first_seen, greatest(p.last_seen, o.last_order) AS last_seen,
       o.orders, COALESCE(o.revenue, 0) AS revenue,
       CASE WHEN o.orders > 0 THEN o.revenue / o.orders END AS average_order_value,
       o.last_order, s.subscription_status, s.subscription_plan, s.active_subscriptions,
       COALESCE(l.changed_stage, c.contact_stage) AS lead_stage, l.stage_changed_at
FROM p, o, s, c, l
"""


def _mask_column(df: pd.DataFrame, column: str, personal: pd.Series) -> pd.DataFrame:
    df = df.copy()
    df[column] = df[column].astype("object")
    df.loc[personal, column] = df.loc[personal, column].map(mask_value)
    return df


MAX_SEGMENTS_CHECKED = 40


def _segments(con, profile_id: str) -> pd.DataFrame:
    """Saved segments this person is in now: each segment's compiled SQL, filtered to them.

    One query per segment (not per person); the segments module is optional in a build.
    """
    empty = pd.DataFrame(columns=["segment_id", "name", "kind"])
    if not table_exists(con, "segments"):
        return empty
    try:
        from engine.segments import store
    except ImportError:
        return empty
    compiled_of = getattr(store, "_segment_compiled", None)
    if compiled_of is None:
        return empty
    rows = con.execute("SELECT segment_id, name, kind FROM segments WHERE deleted_at IS NULL "
                       "ORDER BY updated_at DESC LIMIT ?", [MAX_SEGMENTS_CHECKED]).fetchall()
    member_of = []
    for segment_id, name, kind in rows:
        try:
            comp = compiled_of(con, segment_id)
            params = dict(comp.params, profile_of_view=profile_id)
            hit = con.execute(f"SELECT count(*) FROM ({comp.sql}) m WHERE m.profile_id = $profile_of_view",
                              params).fetchone()[0]
        except Exception:  # one broken definition must not hide the rest of the profile
            continue
        if hit:
            member_of.append((segment_id, name, kind))
    return pd.DataFrame(member_of, columns=["segment_id", "name", "kind"])


def _syncs(con, profile_id: str) -> pd.DataFrame:
    """Audience pushes this person was part of (activation module's run rows)."""
    if not (table_exists(con, "activation_run_rows") and table_exists(con, "activation_runs")):
        return pd.DataFrame(columns=["synced_at", "audience", "destination", "op", "status"])
    run_cols = columns_of(con, "activation_runs")
    at = "COALESCE(r.finished_at, r.started_at)" if "finished_at" in run_cols else "r.started_at"
    return con.execute(f"""
        SELECT {at} AS synced_at, r.audience_key AS audience, r.destination, x.op, r.status
        FROM activation_run_rows x JOIN activation_runs r USING (run_id)
        WHERE x.profile_id = ? ORDER BY synced_at DESC LIMIT 200""", [profile_id]).df()


def profile_view(workspace, user: User, profile_id: str) -> ProfileView:
    """Everything about one profile; audited as `profile.view`."""
    require(user, "view")
    with workspace.transaction() as con:
        if not con.execute("SELECT count(*) FROM profiles WHERE profile_id = ?", [profile_id]).fetchone()[0]:
            raise ProfileNotFound(profile_id)
        params = {"pid": profile_id}
        cols = ", ".join(f"CAST({c} AS VARCHAR) AS {c}" for c in GOLDEN_FIELDS)
        fields = ", ".join(f"'{c}'" for c in GOLDEN_FIELDS)
        golden = con.execute(_GOLDEN_SQL.format(cols=cols, fields=fields), params).df()
        golden = golden[golden["value"].notna()].reset_index(drop=True)
        golden = golden.astype(object).where(golden.notna(), None)
        headline = con.execute(_HEADLINE_SQL, params).df().iloc[0].to_dict()
        if table_exists(con, "profile_scores"):
            scores = con.execute("SELECT rfm_segment, r_score, f_score, m_score, predicted_clv, "
                                 "predicted_purchases, p_alive, clv_decile, as_of FROM profile_scores "
                                 "WHERE profile_id = ?", [profile_id]).df()
            if not scores.empty:
                row = scores.iloc[0].to_dict()
                row["churn_risk"] = None if pd.isna(row["p_alive"]) else 1 - float(row["p_alive"])
                headline.update(row)
        headline = {k: (None if not isinstance(v, (list, dict)) and pd.isna(v) else v)
                    for k, v in headline.items()}
        records = con.execute(_RECORDS_SQL, params).df()
        identifiers = con.execute("SELECT id_type, id_value, first_seen FROM profile_identifiers "
                                  "WHERE profile_id = ? ORDER BY id_type, first_seen, id_value",
                                  [profile_id]).df()
        consent = con.execute("SELECT purpose, granted, recorded_at FROM profile_consent_state "
                              "WHERE profile_id = ? ORDER BY purpose", [profile_id]).df()
        tags = con.execute("SELECT tag, created_at, created_by FROM profile_tags WHERE profile_id = ? "
                           "ORDER BY created_at, tag", [profile_id]).df()
        notes = con.execute("SELECT note_id, body, created_at, created_by FROM profile_notes "
                            "WHERE profile_id = ? ORDER BY created_at DESC, note_id DESC", [profile_id]).df()
        syncs = _syncs(con, profile_id)
        segments = _segments(con, profile_id)
        audit(con, user, "profile.view", profile_id, {"masked": not can(user, "view_pii")})
    if not can(user, "view_pii"):
        golden = _mask_column(golden, "value", golden["field"].isin(PII_FIELDS))
        records = mask_frame(records, user)
        identifiers = _mask_column(identifiers, "id_value", identifiers["id_type"].isin(PII_ID_TYPES))
    return ProfileView(profile_id, golden, headline, records, identifiers, consent, tags, notes,
                       segments, syncs)


def headline_text(value) -> str:
    """A headline figure as text for a metric tile."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
