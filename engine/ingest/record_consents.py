"""Consent columns of a people file (Shopify's 'Accepts Email Marketing', Salesforce's 'Email Opt
Out', Klaviyo's 'Email Marketing Consent') as rows of the consent ledger.

The column's text stays in the record's traits (so a re-upload compares equal); after the load,
every record the load inserted or changed gets one consents row per mapped consent column, with
source_record_id '<record id>#consent:<purpose>' in the same source, the record's identifiers
(so identity joins it to the person) and method 'import'. A value that says neither yes nor no
('unknown', 'cleaned', empty) records nothing.
"""
from __future__ import annotations

from engine.ingest.fields import CONSENT_FIELDS
from engine.ingest.validate import boolean_sql

# Subscription words the tools use besides yes/no (Klaviyo NEVER_SUBSCRIBED, Square Unknown).
_NOT_GIVEN = ("never_subscribed", "never subscribed", "not subscribed", "not_subscribed", "non_subscribed")
# When the record says the consent was given or changed: its own time, else when it was loaded.
_WHEN = {"contacts": "COALESCE(updated_at, loaded_at)", "orders": "COALESCE(ordered_at, loaded_at)",
         "subscriptions": "loaded_at"}
_IDENTIFIERS = ("email", "phone", "first_name", "last_name", "customer_id", "user_id", "anonymous_id")


def consent_sql(text: str, opt_out: bool) -> str:
    """granted (true/false/NULL) from a consent column's text; an opt-out column says the opposite."""
    words = ", ".join(f"'{w}'" for w in _NOT_GIVEN)
    value = f"CASE WHEN lower({text}) IN ({words}) THEN false ELSE {boolean_sql(f'lower({text})')} END"
    return f"(NOT {value})" if opt_out else value


def _path(column: str) -> str:
    return '$."' + column.replace("\\", "\\\\").replace('"', '\\"') + '"'


def record_consents(con, kind: str, extras: dict[str, str], *, source: str, load_id: int) -> int:
    """Write the consents rows of the records this load wrote; returns how many."""
    if kind not in _WHEN:
        return 0
    written = 0
    for field, column in extras.items():
        if field not in CONSENT_FIELDS:
            continue
        purpose, opt_out = CONSENT_FIELDS[field]
        records = f"SELECT * FROM {kind} WHERE source = ? AND load_id = ?"
        con.execute(f"""DELETE FROM consents WHERE source = ? AND source_record_id IN (
                            SELECT source_record_id || '#consent:' || ? FROM ({records}))""",
                    [source, purpose, source, load_id])
        granted = consent_sql("json_extract_string(traits, ?)", opt_out)
        ids = ", ".join(_IDENTIFIERS)
        written += con.execute(f"""
            INSERT INTO consents (source, source_record_id, purpose, granted, recorded_at, method,
                                  {ids}, load_id, loaded_at)
            SELECT ?, source_record_id || '#consent:' || ?, ?, granted, recorded_at, 'import', {ids}, ?, now()
            FROM (SELECT *, {granted} AS granted, {_WHEN[kind]} AS recorded_at FROM ({records}))
            WHERE granted IS NOT NULL""",
                               [source, purpose, purpose, load_id, _path(column), _path(column), _path(column),
                                source, load_id]).fetchone()[0]
    return int(written)
