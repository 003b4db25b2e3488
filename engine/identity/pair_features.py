"""The pair features (features.FEATURES) computed in pandas, for any backend's map_batches.

features.FEATURE_SQL computes them inside DuckDB with its string built-ins. Spark has no
Jaro-Winkler nor Damerau-Levenshtein, so on a backend the SQL only pairs the two records'
per-record inputs (FEATURE_INPUTS_SQL: _pairs joined twice to _frec) and `features_frame`
computes each feature from a batch of them, with the same CASE logic as FEATURE_SQL and
rapidfuzz (similarity.py) for the string measures. tests/spark/test_identity_on_spark.py
holds the two to 1e-9 of each other.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from engine.identity.features import EVIDENCE_MAX_EDITS, FEATURES, _dob_features
from engine.identity.similarity import damerau_levenshtein, jaro_winkler

INPUTS = ["n_first", "n_first_key", "n_last", "n_address", "house", "n_postcode", "n_city", "n_email",
          "email_key", "n_phone", "evid", "evid_ns", "dob_int", "dob_day", "tf_first", "tf_last"]
FEATURE_INPUTS_SQL = f"""
    SELECT p.l, p.r, p.rules, {', '.join(f'a.{c} AS a_{c}, b.{c} AS b_{c}' for c in INPUTS)}
    FROM _pairs p JOIN _frec a ON a.rec_id = p.l JOIN _frec b ON b.rec_id = p.r"""
FEATURES_SCHEMA = {"l": "BIGINT", "r": "BIGINT", "rules": "INTEGER", **{name: "DOUBLE" for name in FEATURES}}


def _equal(a: pd.Series, b: pd.Series) -> np.ndarray:
    """SQL `a = b` as 1.0 / 0.0, NaN when a side is NULL."""
    return np.where((a.isna() | b.isna()).to_numpy(), np.nan, (a == b).to_numpy(dtype=float))


def _name_sim(a: pd.Series, b: pd.Series) -> np.ndarray:
    """features._name_sim: Jaro-Winkler, raised to 0.93 for one edit or transposition."""
    jw = jaro_winkler(a, b)
    one_edit = (np.abs(a.str.len() - b.str.len()).to_numpy(dtype=float) <= 1) & (damerau_levenshtein(a, b) <= 1)
    return np.where((a == b).to_numpy(), 1.0, np.where(jw >= 0.92, jw, np.where(one_edit, 0.93, jw)))


def _when_both(a: pd.Series, b: pd.Series, values: np.ndarray) -> np.ndarray:
    return np.where((a.isna() | b.isna()).to_numpy(), np.nan, values)


def features_frame(batch: pd.DataFrame) -> pd.DataFrame:
    """FEATURES of a batch of FEATURE_INPUTS_SQL rows (with l, r, rules)."""
    c = {k: batch[k] for k in batch.columns}
    first_key_eq = (c["a_n_first_key"] == c["b_n_first_key"]).to_numpy()
    first = np.where(first_key_eq, 1.0, np.fmax(_name_sim(c["a_n_first"], c["b_n_first"]),
                                                jaro_winkler(c["a_n_first_key"], c["b_n_first_key"])))
    fl, lf = jaro_winkler(c["a_n_first"], c["b_n_last"]), jaro_winkler(c["a_n_last"], c["b_n_first"])
    names = ~(c["a_n_first"].isna() | c["b_n_first"].isna() | c["a_n_last"].isna() | c["b_n_last"].isna()).to_numpy()
    city_eq = (c["a_n_city"] == c["b_n_city"]).to_numpy()
    same_ns = (c["a_evid_ns"] == c["b_evid_ns"]).to_numpy()
    edits = np.minimum(damerau_levenshtein(c["a_evid"], c["b_evid"]), EVIDENCE_MAX_EDITS)
    out = {
        "l": batch["l"], "r": batch["r"], "rules": batch["rules"],
        "first_sim": _when_both(c["a_n_first"], c["b_n_first"], first),
        "last_sim": _when_both(c["a_n_last"], c["b_n_last"], _name_sim(c["a_n_last"], c["b_n_last"])),
        "swap_sim": np.where(names, np.minimum(fl, lf), np.nan),
        "cross_sim": np.where(names, np.maximum(fl, lf), np.nan),
        "addr_sim": jaro_winkler(c["a_n_address"], c["b_n_address"]),
        "house_eq": _equal(c["a_house"], c["b_house"]),
        "postcode_eq": _equal(c["a_n_postcode"], c["b_n_postcode"]),
        "city_sim": _when_both(c["a_n_city"], c["b_n_city"],
                               np.where(city_eq, 1.0, jaro_winkler(c["a_n_city"], c["b_n_city"]))),
        "email_eq": _when_both(c["a_n_email"], c["b_n_email"], _equal(c["a_email_key"], c["b_email_key"])),
        "phone_eq": _equal(c["a_n_phone"], c["b_n_phone"]),
        "evid_dist": np.where(same_ns, edits, np.nan),
        "tf_first": np.where(first_key_eq, c["a_tf_first"].to_numpy(dtype=float), np.nan),
        "tf_last": np.where((c["a_n_last"] == c["b_n_last"]).to_numpy(), c["a_tf_last"].to_numpy(dtype=float), np.nan),
    }
    a_dob, b_dob = (c[k].to_numpy(dtype=float, na_value=np.nan) for k in ("a_dob_int", "b_dob_int"))
    delta = c["b_dob_day"].to_numpy(dtype=float, na_value=np.nan) - c["a_dob_day"].to_numpy(dtype=float, na_value=np.nan)
    out.update(_dob_features(a_dob, b_dob, delta))
    return pd.DataFrame(out)[list(FEATURES_SCHEMA)]
