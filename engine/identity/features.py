"""Similarity features for candidate pairs, computed in one vectorised DuckDB pass.

Each feature is NULL when either side lacks the field. String similarity is
Jaro-Winkler (DuckDB's jaro_winkler_similarity, the same measure as
rapidfuzz.distance.JaroWinkler); dates are compared exactly, as day/month swaps or
one-character slips, and by distance in days.
"""
from __future__ import annotations

import numpy as np

FEATURES = ["first_sim", "last_sim", "swap_sim", "dob_exact", "dob_near", "dob_slip", "dob_days", "addr_sim",
            "house_eq", "postcode_eq", "city_sim", "email_eq", "phone_eq", "tf_first", "tf_last", "evid_dist", "cross_sim"]
# Edits between two records' evidence ids (a hand-keyed id declared `identifier_trust: evidence`,
# same type and namespace), capped here: 0, 1 (one edit or two characters transposed), 2, 3+.
EVIDENCE_MAX_EDITS = 3

def _name_sim(a: str, b: str) -> str:
    """Jaro-Winkler, raised to 0.93 for one edit or transposition (computed only when needed)."""
    return (f"CASE WHEN {a} = {b} THEN 1.0 "
            f"WHEN jaro_winkler_similarity({a}, {b}) >= 0.92 THEN jaro_winkler_similarity({a}, {b}) "
            f"WHEN abs(length({a}) - length({b})) <= 1 AND damerau_levenshtein({a}, {b}) <= 1 THEN 0.93 "
            f"ELSE jaro_winkler_similarity({a}, {b}) END")


FEATURE_SQL = f"""
    SELECT p.l, p.r, p.rules,
      CASE WHEN a.n_first IS NULL OR b.n_first IS NULL THEN NULL
           WHEN a.n_first_key = b.n_first_key THEN 1.0
           ELSE greatest({_name_sim('a.n_first', 'b.n_first')},
                         jaro_winkler_similarity(a.n_first_key, b.n_first_key)) END AS first_sim,
      CASE WHEN a.n_last IS NULL OR b.n_last IS NULL THEN NULL
           ELSE {_name_sim('a.n_last', 'b.n_last')} END AS last_sim,
      CASE WHEN a.n_first IS NULL OR b.n_first IS NULL OR a.n_last IS NULL OR b.n_last IS NULL THEN NULL
           ELSE least(jaro_winkler_similarity(a.n_first, b.n_last), jaro_winkler_similarity(a.n_last, b.n_first))
           END AS swap_sim,
      CASE WHEN a.n_first IS NULL OR b.n_first IS NULL OR a.n_last IS NULL OR b.n_last IS NULL THEN NULL
           ELSE greatest(jaro_winkler_similarity(a.n_first, b.n_last), jaro_winkler_similarity(a.n_last, b.n_first))
           END AS cross_sim,
      a.dob_int AS a_dob, b.dob_int AS b_dob, b.dob_day - a.dob_day AS dob_delta,
      CASE WHEN a.n_address IS NULL OR b.n_address IS NULL THEN NULL
           ELSE jaro_winkler_similarity(a.n_address, b.n_address) END AS addr_sim,
      CASE WHEN a.house IS NULL OR b.house IS NULL THEN NULL ELSE CAST(a.house = b.house AS DOUBLE) END AS house_eq,
      CASE WHEN a.n_postcode IS NULL OR b.n_postcode IS NULL THEN NULL
           ELSE CAST(a.n_postcode = b.n_postcode AS DOUBLE) END AS postcode_eq,
      CASE WHEN a.n_city IS NULL OR b.n_city IS NULL THEN NULL
           WHEN a.n_city = b.n_city THEN 1.0
           ELSE jaro_winkler_similarity(a.n_city, b.n_city) END AS city_sim,
      CASE WHEN a.n_email IS NULL OR b.n_email IS NULL THEN NULL
           ELSE CAST(a.email_key = b.email_key AS DOUBLE) END AS email_eq,
      CASE WHEN a.n_phone IS NULL OR b.n_phone IS NULL THEN NULL
           ELSE CAST(a.n_phone = b.n_phone AS DOUBLE) END AS phone_eq,
      CASE WHEN a.evid IS NULL OR b.evid IS NULL OR a.evid_ns <> b.evid_ns THEN NULL
           ELSE least(damerau_levenshtein(a.evid, b.evid), {EVIDENCE_MAX_EDITS}) END AS evid_dist,
      CASE WHEN a.n_first_key = b.n_first_key THEN a.tf_first END AS tf_first,
      CASE WHEN a.n_last = b.n_last THEN a.tf_last END AS tf_last
    FROM _pairs p
    JOIN _frec a ON a.rec_id = p.l
    JOIN _frec b ON b.rec_id = p.r
"""


def evidence_types(con) -> list[str]:
    """Identifier types the workspace's saved settings declare `evidence` (compared fuzzily)."""
    import json

    from engine.identity.settings import SETTINGS_KEY
    row = con.execute("SELECT value FROM settings WHERE key = ?", [SETTINGS_KEY]).fetchall()
    saved = json.loads(row[0][0]) if row and isinstance(row[0][0], str) else (row[0][0] if row else None) or {}
    return sorted(t for t, trust in saved.get("identifier_trust", {}).items() if trust == "evidence")


def evidence_sql(types: list[str]) -> str:
    """Per record its evidence id (the first type by name when several) and that id's type@namespace."""
    if not types:
        return "SELECT NULL::BIGINT AS rec_id, NULL::VARCHAR AS evid, NULL::VARCHAR AS evid_ns LIMIT 0"
    listed = ", ".join("'" + t.replace("'", "''") + "'" for t in types)
    return f"""SELECT rec_id, arg_min(id_value, id_type) AS evid,
                      arg_min(id_type || '@' || COALESCE(namespace, ''), id_type) AS evid_ns
               FROM identity_ids WHERE id_type IN ({listed}) AND via = 'record' GROUP BY rec_id"""


def frec_sql(evidence: list[str], where: str = "TRUE", tf_table: str = "identity_term_frequencies") -> str:
    """The per-record inputs of the features (_frec), computed once per record, not per pair;
    `evidence` is evidence_types, `tf_table` where the term frequencies are."""
    return f"""
        SELECT rec_id, n_first, n_first_key, n_last, n_dob, n_address, n_postcode, n_city, n_email, n_phone,
               COALESCE(n_email_key, n_email) AS email_key,
               CAST(strftime(n_dob, '%Y%m%d') AS INTEGER) AS dob_int,
               CAST(date_diff('day', DATE '1900-01-01', n_dob) AS INTEGER) AS dob_day,
               CASE WHEN left(n_address, 1) BETWEEN '0' AND '9' THEN split_part(n_address, ' ', 1) END AS house,
               tf1.frequency AS tf_first, tf2.frequency AS tf_last, ev.evid, ev.evid_ns
        FROM identity_records r
        LEFT JOIN ({evidence_sql(evidence)}) ev USING (rec_id)
        LEFT JOIN {tf_table} tf1 ON tf1.field = 'first_name' AND tf1.value = r.n_first_key
        LEFT JOIN {tf_table} tf2 ON tf2.field = 'last_name' AND tf2.value = r.n_last
        WHERE {where}"""


def feature_records(con, where: str = "TRUE", params=None) -> None:
    """_frec: frec_sql as a temporary table."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _frec AS {frec_sql(evidence_types(con), where)}", params or [])


TERM_FREQUENCIES_SQL = """
    SELECT field, value, count(*) / any_value(total) AS frequency FROM (
        SELECT 'first_name' AS field, n_first_key AS value FROM identity_records WHERE n_first_key IS NOT NULL
        UNION ALL SELECT 'last_name', n_last FROM identity_records WHERE n_last IS NOT NULL)
    CROSS JOIN (SELECT CAST(count(*) AS DOUBLE) AS total FROM identity_records)
    GROUP BY field, value"""


def term_frequencies(con) -> None:
    """Rebuild identity_term_frequencies from the current records."""
    from engine.identity.tables import rebuild_table
    rebuild_table(con, "identity_term_frequencies", TERM_FREQUENCIES_SQL)


def _dob_features(a: np.ndarray, b: np.ndarray, delta: np.ndarray) -> dict[str, np.ndarray]:
    """Exact, 'near' (day/month swapped, one digit slipped, a day or a year off) and distance in days."""
    missing = np.isnan(a) | np.isnan(b)
    ai = np.nan_to_num(a).astype(np.int64)
    bi = np.nan_to_num(b).astype(np.int64)
    differing = np.zeros(len(ai), dtype=np.int64)
    for k in range(8):
        differing += ((ai // 10 ** k) % 10) != ((bi // 10 ** k) % 10)
    ay, am, ad = ai // 10000, (ai // 100) % 100, ai % 100
    by, bm, bd = bi // 10000, (bi // 100) % 100, bi % 100
    swapped = (ay == by) & (am == bd) & (ad == bm)
    days = np.abs(np.nan_to_num(delta))
    year_off = (am == bm) & (ad == bd) & (np.abs(ay - by) <= 1)
    exact = ai == bi
    # The classic entry errors are specific: a random pair is a day/month swap, a day apart or
    # the same birthday a year apart about 1 time in 6,000. "Any one digit different" is ~6x
    # commoner by chance (a decade off, ten days off), so it is weaker evidence, kept apart.
    near = ~exact & (swapped | (days <= 1) | year_off)
    slip = ~exact & ~near & (differing <= 1)
    nan = np.full(len(ai), np.nan)
    return {"dob_exact": np.where(missing, nan, exact.astype(float)),
            "dob_near": np.where(missing, nan, near.astype(float)),
            "dob_slip": np.where(missing, nan, slip.astype(float)),
            "dob_days": np.where(missing, nan, days.astype(float))}


def compute_features(con) -> dict[str, np.ndarray]:
    """Features of every pair in _pairs, as NumPy arrays (NaN where a side is missing)."""
    data = con.execute(FEATURE_SQL).fetchnumpy()
    out = {"l": np.asarray(data["l"], dtype=np.int64), "r": np.asarray(data["r"], dtype=np.int64),
           "rules": np.asarray(data["rules"], dtype=np.int64)}
    def floats(col):
        if hasattr(col, "filled"):
            col = col.astype(float).filled(np.nan)
        return np.asarray(col, dtype=float)

    for name in FEATURES:
        if name in data:
            out[name] = floats(data[name])
    out.update(_dob_features(floats(data["a_dob"]), floats(data["b_dob"]), floats(data["dob_delta"])))
    return out
