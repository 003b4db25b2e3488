"""Merge guards: junk identifiers never join records; over-shared values are ignored.

Limits per identifier type (at most N per profile) are enforced while clustering
(graph.py): a merge that would break one goes to the review queue instead. A phone shared
by people with different first names is household evidence, not a merge key (household.py).
"""
from __future__ import annotations

import re

from engine.identity.household import mark_households

GUARDED_TYPES = ("email", "email_key", "phone", "customer_id", "user_id")


def is_junk(value: str | None, settings: dict) -> bool:
    """True when a normalised identifier value is on the blocklist or matches a junk pattern."""
    if value is None:
        return True
    text = str(value).strip().lower()
    if not text or text in {v.lower() for v in settings["blocklist"]}:
        return True
    return any(re.fullmatch(p, text) for p in settings["blocklist_regexes"])


def apply_guards(con, settings: dict) -> dict:
    """Drop junk and over-shared identifiers from identity_ids; returns what was dropped."""
    con.execute("CREATE OR REPLACE TEMP TABLE _blocklist (v VARCHAR)")
    con.executemany("INSERT INTO _blocklist VALUES (?)", [[v.lower()] for v in settings["blocklist"]])
    conditions = ["lower(id_value) IN (SELECT v FROM _blocklist)", "trim(id_value) = ''"]
    params: list = []
    for pattern in settings["blocklist_regexes"]:
        conditions.append("regexp_full_match(lower(id_value), ?)")
        params.append(pattern)
    types = ", ".join(f"'{t}'" for t in GUARDED_TYPES)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _guard_dropped AS
        SELECT id_type, id_value, 'blocklist' AS reason, count(*) AS records FROM identity_ids
        WHERE {' OR '.join(conditions)} GROUP BY ALL
        UNION ALL
        SELECT i.id_type, i.id_value, 'shared by too many people', count(*) FROM identity_ids i
        JOIN identity_records r USING (rec_id)
        WHERE i.id_type IN ('email', 'email_key', 'phone') AND r.n_first_key IS NOT NULL
        GROUP BY ALL HAVING count(DISTINCT r.n_first_key || '|' || COALESCE(r.n_last, '')) > ?
    """, params + [int(settings["max_people_per_value"])])
    con.execute("""DELETE FROM identity_ids i USING _guard_dropped d
                   WHERE i.id_type = d.id_type AND i.id_value = d.id_value""")
    rows = con.execute("SELECT reason, count(*), sum(records) FROM _guard_dropped GROUP BY reason").fetchall()
    return {"junk_values": {r[0]: {"values": r[1], "records": int(r[2])} for r in rows}, **mark_households(con)}
