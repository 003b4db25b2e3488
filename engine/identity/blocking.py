"""Candidate pairs from several blocking rules, unioned in SQL.

Each rule is a list of key expressions over the normalised record; two records are a
candidate pair when they agree on every key of at least one rule. Keys that are shared
by more than `max_block` records (a junk value, a huge family) are skipped for that
rule, so the work grows close to linearly with the number of records.
"""
from __future__ import annotations

from engine.identity.normalise import soundex_sql

SF = soundex_sql("n_first_key")
SL = soundex_sql("n_last")

# name -> key expressions (all must be non-null and equal)
RULES: dict[str, list[str]] = {
    "dob+surname_sound": ["n_dob", "s_last"],
    "dob+firstname_sound": ["n_dob", "s_first"],
    "dob+names_any_order": ["n_dob", "least(s_first, s_last)", "greatest(s_first, s_last)"],
    "postcode+surname_sound": ["n_postcode", "s_last"],
    "postcode+firstname_sound": ["n_postcode", "s_first"],
    "address+firstname_initial": ["n_address", "left(n_first_key, 1)"],
    "names+birth_year": ["s_first", "s_last", "year(n_dob)"],
    "dob+surname_initial": ["n_dob", "left(n_last, 1)"],
    "dob+postcode": ["n_dob", "n_postcode"],
    "names_exact": ["n_first_key", "n_last"],
    "email_local": ["split_part(n_email, '@', 1)"],
    "phone": ["n_phone"],
}
MAX_BLOCK = 400


def candidate_pairs(con, full: bool, max_block: int = MAX_BLOCK) -> int:
    """Fill temp table _pairs(l BIGINT, r BIGINT, rules INTEGER bitmask); returns its size.

    Incremental runs (full=False) only pair records that are new since the last run
    with everything else.
    """
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _bkeys AS
        SELECT rec_id, is_new, n_first_key, n_last, n_dob, n_postcode, n_address, n_email, n_phone,
               {SF} AS s_first, {SL} AS s_last
        FROM identity_records
        WHERE n_first IS NOT NULL OR n_last IS NOT NULL OR n_email IS NOT NULL OR n_phone IS NOT NULL
    """)
    parts = []
    for bit, (name, keys) in enumerate(RULES.items()):
        key_cols = ", ".join(f"{k} AS k{i}" for i, k in enumerate(keys))
        not_null = " AND ".join(f"({k}) IS NOT NULL" for k in keys)
        join = " AND ".join(f"a.k{i} = b.k{i}" for i in range(len(keys)))
        group = ", ".join(f"k{i}" for i in range(len(keys)))
        new_only = "" if full else "AND (a.is_new OR b.is_new)"
        parts.append(f"""
            SELECT a.rec_id AS l, b.rec_id AS r, {1 << bit} AS bit FROM
            (SELECT rec_id, is_new, {key_cols} FROM _bkeys WHERE {not_null}
             QUALIFY count(*) OVER (PARTITION BY {group}) BETWEEN 2 AND {int(max_block)}) a
            JOIN (SELECT rec_id, is_new, {key_cols} FROM _bkeys WHERE {not_null}) b
              ON {join} AND a.rec_id < b.rec_id {new_only}""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _pairs AS
        SELECT l, r, CAST(bit_or(bit) AS INTEGER) AS rules FROM ({' UNION ALL '.join(parts)}) GROUP BY l, r
    """)
    return con.execute("SELECT count(*) FROM _pairs").fetchall()[0][0]


def rule_names(mask: int) -> str:
    return ",".join(name for bit, name in enumerate(RULES) if mask & (1 << bit))
