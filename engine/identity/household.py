"""Household evidence: a phone shared by people with different first names is not a merge key.

A landline (or a family's shared mobile) carried by records named Al, Bea and Cy says they
live together, not that they are one person. Such a phone stops joining records on its own:
its rows in identity_ids become evidence (via 'evidence': kept on the profile and for
look-ups, never an edge of the graph), and records sharing it join only with records of
the same first name (a scoped key, via 'household'). Fuzzy matching still sees the equal
phone, beside the different first names. Names are compared by their nickname key, and two
keys count as different people only when they are not near-spellings of each other.

`household_evidence` puts a pair's shared phone and address into words for explanations.
"""
from __future__ import annotations

HOUSEHOLD_TYPES = ("phone",)
# Two first-name keys at least this far apart (Jaro-Winkler) are two people, not a typo.
DIFFERENT_NAMES = 0.85


def mark_households(con) -> dict:
    """Turn household phones in identity_ids into evidence plus same-first-name keys."""
    types = ", ".join(f"'{t}'" for t in HOUSEHOLD_TYPES)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _household AS
        WITH names AS (SELECT DISTINCT i.id_type, i.id_value, r.n_first_key AS k
                       FROM identity_ids i JOIN identity_records r USING (rec_id)
                       WHERE i.via = 'record' AND i.id_type IN ({types}) AND r.n_first_key IS NOT NULL),
        multi AS (SELECT id_type, id_value FROM names GROUP BY ALL HAVING count(*) > 1)
        SELECT DISTINCT a.id_type, a.id_value
        FROM names a JOIN multi USING (id_type, id_value)
        JOIN names b ON b.id_type = a.id_type AND b.id_value = a.id_value AND a.k < b.k
        WHERE jaro_winkler_similarity(a.k, b.k) < {DIFFERENT_NAMES}
    """)
    # The scoped key names the household by a record of it, not by the phone (no copy of the value).
    con.execute("""
        INSERT INTO identity_ids (rec_id, id_type, id_value, via)
        SELECT i.rec_id, i.id_type,
               'household:' || min(i.rec_id) OVER (PARTITION BY i.id_type, i.id_value) || ':' || r.n_first_key,
               'household'
        FROM identity_ids i JOIN _household h USING (id_type, id_value) JOIN identity_records r USING (rec_id)
        WHERE i.via = 'record' AND r.n_first_key IS NOT NULL
    """)
    con.execute("""
        UPDATE identity_ids i SET via = 'evidence' FROM _household h
        WHERE i.id_type = h.id_type AND i.id_value = h.id_value AND i.via = 'record'
    """)
    values, records = con.execute("""SELECT count(DISTINCT id_value), count(*) FROM identity_ids
                                     WHERE via = 'evidence'""").fetchall()[0]
    return {"household_values": int(values), "household_records": int(records)}


def _names(names: list[str]) -> str:
    names = sorted(names, key=str.lower)
    shown = names[:5] + ([f"{len(names) - 5} more"] if len(names) > 5 else [])
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


_SHARED_SQL = """
    WITH pair AS (SELECT * FROM identity_records
                  WHERE (source = ? AND source_record_id = ?) OR (source = ? AND source_record_id = ?)),
    shared AS (
        SELECT 'phone' AS what, a.n_phone AS v FROM pair a JOIN pair b ON a.rec_id < b.rec_id AND a.n_phone = b.n_phone
        UNION
        SELECT 'address', a.n_address || '|' || COALESCE(a.n_postcode, a.n_city, '')
        FROM pair a JOIN pair b ON a.rec_id < b.rec_id AND a.n_address = b.n_address
             AND COALESCE(a.n_postcode, a.n_city, '') = COALESCE(b.n_postcode, b.n_city, ''))
    SELECT what, list_sort(list(name)) FROM (
        SELECT s.what, r.n_first_key, mode(r.first_name) AS name
        FROM shared s JOIN identity_records r
          ON (s.what = 'phone' AND r.n_phone = s.v)
          OR (s.what = 'address' AND r.n_address || '|' || COALESCE(r.n_postcode, r.n_city, '') = s.v)
        WHERE r.n_first_key IS NOT NULL GROUP BY ALL)
    GROUP BY what ORDER BY what DESC
"""


def household_evidence(con, left: tuple[str, str], right: tuple[str, str], names: bool = True) -> list[str]:
    """Sentences about a phone or address the two records share with people of other first names.

    names=False leaves the first names out (for roles that may not see personal data).
    """
    rows = con.execute(_SHARED_SQL, [*left, *right]).fetchall()
    said = []
    for what, first_names in rows:
        if len(first_names) < 2:
            continue
        noun = "a phone" if what == "phone" else "an address"
        who = f" named {_names(first_names)}" if names else ""
        said.append(f"Shares {noun} with {len(first_names)} people{who}: household evidence, not a merge key.")
    return said
