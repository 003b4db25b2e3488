"""Similarity features for candidate pairs, computed in one vectorised DuckDB pass.

Each feature is NULL when either side lacks the field. String similarity is
Jaro-Winkler (DuckDB's jaro_winkler_similarity, the same measure as
rapidfuzz.distance.JaroWinkler); dates are compared exactly, as day/month swaps or
one-character slips, and by distance in days.
"""
from __future__ import annotations

import numpy as np

FEATURES = ["first_sim", "last_sim", "swap_sim", "dob_exact", "dob_near", "dob_days", "addr_sim",
            "house_eq", "postcode_eq", "city_sim", "email_eq", "phone_eq"]

FEATURE_SQL = """
    SELECT p.l, p.r, p.rules,
      CASE WHEN a.n_first IS NULL OR b.n_first IS NULL THEN NULL
           WHEN a.n_first_key = b.n_first_key THEN 1.0
           ELSE greatest(jaro_winkler_similarity(a.n_first, b.n_first),
                         jaro_winkler_similarity(a.n_first_key, b.n_first_key),
                         jaro_winkler_similarity(a.n_first, b.n_first_key),
                         jaro_winkler_similarity(a.n_first_key, b.n_first),
                         CASE WHEN damerau_levenshtein(a.n_first, b.n_first) <= 1 THEN 0.93 ELSE 0 END)
           END AS first_sim,
      CASE WHEN a.n_last IS NULL OR b.n_last IS NULL THEN NULL
           WHEN a.n_last = b.n_last THEN 1.0
           ELSE greatest(jaro_winkler_similarity(a.n_last, b.n_last),
                         CASE WHEN damerau_levenshtein(a.n_last, b.n_last) <= 1 THEN 0.93 ELSE 0 END)
           END AS last_sim,
      CASE WHEN a.n_first IS NULL OR b.n_first IS NULL OR a.n_last IS NULL OR b.n_last IS NULL THEN NULL
           ELSE least(jaro_winkler_similarity(a.n_first, b.n_last), jaro_winkler_similarity(a.n_last, b.n_first))
           END AS swap_sim,
      CASE WHEN a.n_dob IS NULL OR b.n_dob IS NULL THEN NULL
           ELSE CAST(a.n_dob = b.n_dob AS DOUBLE) END AS dob_exact,
      CASE WHEN a.n_dob IS NULL OR b.n_dob IS NULL THEN NULL
           ELSE CAST(a.n_dob <> b.n_dob AND (
                (year(a.n_dob) = year(b.n_dob) AND month(a.n_dob) = day(b.n_dob) AND day(a.n_dob) = month(b.n_dob))
                OR levenshtein(strftime(a.n_dob, '%Y%m%d'), strftime(b.n_dob, '%Y%m%d')) <= 1
                OR abs(datediff('day', a.n_dob, b.n_dob)) <= 1
                OR (month(a.n_dob) = month(b.n_dob) AND day(a.n_dob) = day(b.n_dob)
                    AND abs(year(a.n_dob) - year(b.n_dob)) <= 1)) AS DOUBLE) END AS dob_near,
      CASE WHEN a.n_dob IS NULL OR b.n_dob IS NULL THEN NULL
           ELSE CAST(abs(datediff('day', a.n_dob, b.n_dob)) AS DOUBLE) END AS dob_days,
      CASE WHEN a.n_address IS NULL OR b.n_address IS NULL THEN NULL
           ELSE jaro_winkler_similarity(a.n_address, b.n_address) END AS addr_sim,
      CASE WHEN a.n_address IS NULL OR b.n_address IS NULL THEN NULL
           WHEN regexp_extract(a.n_address, '^[0-9]+') = '' OR regexp_extract(b.n_address, '^[0-9]+') = '' THEN NULL
           ELSE CAST(regexp_extract(a.n_address, '^[0-9]+') = regexp_extract(b.n_address, '^[0-9]+') AS DOUBLE)
           END AS house_eq,
      CASE WHEN a.n_postcode IS NULL OR b.n_postcode IS NULL THEN NULL
           ELSE CAST(a.n_postcode = b.n_postcode AS DOUBLE) END AS postcode_eq,
      CASE WHEN a.n_city IS NULL OR b.n_city IS NULL THEN NULL
           ELSE jaro_winkler_similarity(a.n_city, b.n_city) END AS city_sim,
      CASE WHEN a.n_email IS NULL OR b.n_email IS NULL THEN NULL
           ELSE CAST(COALESCE(a.n_email_key, a.n_email) = COALESCE(b.n_email_key, b.n_email) AS DOUBLE) END AS email_eq,
      CASE WHEN a.n_phone IS NULL OR b.n_phone IS NULL THEN NULL
           ELSE CAST(a.n_phone = b.n_phone AS DOUBLE) END AS phone_eq
    FROM _pairs p
    JOIN identity_records a ON a.rec_id = p.l
    JOIN identity_records b ON b.rec_id = p.r
"""


def compute_features(con) -> dict[str, np.ndarray]:
    """Features of every pair in _pairs, as NumPy arrays (NaN where a side is missing)."""
    data = con.execute(FEATURE_SQL).fetchnumpy()
    out = {"l": np.asarray(data["l"], dtype=np.int64), "r": np.asarray(data["r"], dtype=np.int64),
           "rules": np.asarray(data["rules"], dtype=np.int64)}
    for name in FEATURES:
        col = data[name]
        if hasattr(col, "filled"):
            col = col.astype(float).filled(np.nan)
        out[name] = np.asarray(col, dtype=float)
    return out
