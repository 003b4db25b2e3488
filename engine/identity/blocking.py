"""Candidate pairs from several blocking rules, unioned in SQL.

Each rule is a list of key expressions over the normalised record; two records are a
candidate pair when they agree on every key of at least one rule. Keys that are shared
by more than `max_block` records (a junk value, a huge family) are skipped for that
rule. Within a block, records are put in order of their other fields and each is paired
with the next WINDOW only (sorted neighbourhood): a block of up to WINDOW + 1 records
gives all its pairs, a larger one (one person entered hundreds of times) about
size x WINDOW instead of size^2 / 2, and its records still join up through their
neighbours. So candidate pairs, and the memory scoring them takes, grow linearly with
the number of records however heavily they are duplicated.
"""
from __future__ import annotations

from engine.identity.features import evidence_sql, evidence_types
from engine.identity.normalise import soundex_sql


# name -> key expressions (all must be non-null and equal). dob_u is the birth date with day
# and month in ascending order, so a record with the two swapped (03/07 for 07/03) still meets
# its twin; names_sorted is the two name sounds in sorted order, for first/last name swaps.
# Measured on the benchmark (bench/identity_diagnose.py), each rule finds true pairs no other
# rule finds: swapped dates and names, a year typed wrong, a missing first name at home.
RULES: dict[str, list[str]] = {
    "dob+surname_sound": ["dob_u", "s_last"],
    "dob+firstname_sound": ["dob_u", "s_first"],
    "dob+names_any_order": ["n_dob", "least(s_first, s_last)", "greatest(s_first, s_last)"],
    "postcode+surname_sound": ["n_postcode", "s_last"],
    "postcode+firstname_sound": ["n_postcode", "s_first"],
    "postcode+names_any_order": ["n_postcode", "least(s_first, s_last)", "greatest(s_first, s_last)"],
    "address+firstname_initial": ["n_address", "left(n_first_key, 1)"],
    "names+birth_year": ["s_first", "s_last", "year(n_dob)"],
    "names+birthday": ["s_first", "s_last", "month(n_dob)", "day(n_dob)"],
    "dob+initials": ["n_dob", "left(n_first_key, 1)", "left(n_last, 1)"],
    "dob+postcode": ["n_dob", "n_postcode"],
    "dob+city": ["n_dob", "n_city"],   # a postcode typed wrong (FEBRL: 5109 for 5190) with names mangled
    "names_exact": ["n_first_key", "n_last"],
    "email_local": ["split_part(n_email, '@', 1)"],
    "phone": ["n_phone"],
    # A hand-keyed id declared evidence (features.evidence_types); empty, so free, when none is.
    "evidence_id": ["evid_key"],
}
MAX_BLOCK = 400
# Names alone are weak evidence unless the name is rare: a block of 50 people with one full
# name will not merge on it anyway (term frequencies see to that), and at 1M records such
# blocks made up two thirds of all candidate pairs.
RULE_MAX_BLOCK = {"names_exact": 50}
# Neighbours each record is paired with inside one block (all pairs in blocks up to WINDOW + 1).
WINDOW = 20
# Order inside a block: records that share more identifiers sit next to each other.
NEIGHBOUR_ORDER = "n_email, n_phone, n_last, n_first_key, n_dob, n_postcode, n_address, rec_id"


def blocking_steps(evidence: list[str], full: bool, max_block: int = MAX_BLOCK,
                   window: int = WINDOW) -> list[tuple[str, str]]:
    """(table, SELECT) in order: the work tables of blocking, ending with _pairs(l, r, rules).

    Plain SELECTs over identity_records and identity_ids, so that any backend can materialise
    them (DuckDB as temporary tables, Spark as cached views); `evidence` is
    features.evidence_types. Incremental runs (full=False) only pair records that are new
    since the last run with everything else. At most `window` pairs per record per rule.
    """
    steps = [("_sx", f"""SELECT v, {soundex_sql('v')} AS sx FROM (
                        SELECT n_first_key AS v FROM identity_records UNION SELECT n_last FROM identity_records)
                    WHERE v IS NOT NULL"""),
             ("_bkeys", f"""
        SELECT r.rec_id, r.is_new, r.n_first_key, r.n_last, r.n_dob, r.n_postcode, r.n_city, r.n_address, r.n_email, r.n_phone,
               sf.sx AS s_first, sl.sx AS s_last,
               year(r.n_dob) * 10000 + least(month(r.n_dob), day(r.n_dob)) * 100
                 + greatest(month(r.n_dob), day(r.n_dob)) AS dob_u,
               ev.evid_ns || ':' || ev.evid AS evid_key
        FROM identity_records r
        LEFT JOIN ({evidence_sql(evidence)}) ev USING (rec_id)
        LEFT JOIN _sx sf ON sf.v = r.n_first_key
        LEFT JOIN _sx sl ON sl.v = r.n_last
        WHERE r.n_first IS NOT NULL OR r.n_last IS NOT NULL OR r.n_email IS NOT NULL OR r.n_phone IS NOT NULL
    """)]
    parts = []
    for bit, (name, keys) in enumerate(RULES.items()):
        key_cols = ", ".join(f"{k} AS k{i}" for i, k in enumerate(keys))
        not_null = " AND ".join(f"({k}) IS NOT NULL" for k in keys)
        join = " AND ".join(f"a.k{i} = b.k{i}" for i in range(len(keys)))
        group = ", ".join(f"k{i}" for i in range(len(keys)))
        new_only = "" if full else "AND (a.is_new OR b.is_new)"
        limit = int(min(max_block, RULE_MAX_BLOCK.get(name, max_block)))
        parts.append(f"""
            SELECT least(a.rec_id, b.rec_id) AS l, greatest(a.rec_id, b.rec_id) AS r, {1 << bit} AS bit
            FROM _blk{bit} a JOIN _blk{bit} b
              ON {join} AND b.pos > a.pos AND b.pos <= a.pos + {int(window)} {new_only}""")
        steps.append((f"_blk{bit}", f"""
            SELECT rec_id, is_new, {group}, row_number() OVER (PARTITION BY {group} ORDER BY {NEIGHBOUR_ORDER}) AS pos
            FROM (SELECT *, {key_cols} FROM _bkeys WHERE {not_null}
                  QUALIFY count(*) OVER (PARTITION BY {group}) BETWEEN 2 AND {limit})"""))
    steps.append(("_pairs", f"""
        SELECT l, r, CAST(bit_or(bit) AS INTEGER) AS rules FROM ({' UNION ALL '.join(parts)}) GROUP BY l, r
    """))
    return steps


def candidate_pairs(con, full: bool, max_block: int = MAX_BLOCK, window: int = WINDOW) -> int:
    """Fill temp table _pairs(l BIGINT, r BIGINT, rules INTEGER bitmask) (blocking_steps);
    returns its size. Also rebuilds the term frequencies and _frec for the features."""
    for table, sql in blocking_steps(evidence_types(con), full, max_block, window):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {sql}")
    for bit in range(len(RULES)):
        con.execute(f"DROP TABLE IF EXISTS _blk{bit}")
    from engine.identity.features import feature_records, term_frequencies
    term_frequencies(con)
    feature_records(con, "rec_id IN (SELECT rec_id FROM _bkeys)")
    return con.execute("SELECT count(*) FROM _pairs").fetchall()[0][0]


def rule_names(mask: int) -> str:
    return ",".join(name for bit, name in enumerate(RULES) if mask & (1 << bit))
