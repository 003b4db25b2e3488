"""String similarities over aligned pairs with rapidfuzz, answering as DuckDB's built-ins do.

Spark has no Jaro-Winkler nor Damerau-Levenshtein, so the backend's map_batches computes
them with these: `jaro_winkler` equals DuckDB's `jaro_winkler_similarity` (the same
algorithm; 0 when a side is empty) and `damerau_levenshtein` its `damerau_levenshtein`
(unrestricted transpositions). NaN where a side is missing, as SQL's NULL.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def _pairwise(scorer, a: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    from rapidfuzz import process

    out = np.full(len(a), np.nan)
    both = (a.notna() & b.notna()).to_numpy()
    if both.any():
        out[both] = process.cpdist(a[both].tolist(), b[both].tolist(), scorer=scorer,
                                   dtype=np.float64, workers=1)
    return out, both


def jaro_winkler(a: pd.Series, b: pd.Series) -> np.ndarray:
    from rapidfuzz.distance import JaroWinkler

    out, both = _pairwise(JaroWinkler.normalized_similarity, a, b)
    empty = both & ((a.str.len() == 0) | (b.str.len() == 0)).to_numpy()
    out[empty] = 0.0
    return out


def damerau_levenshtein(a: pd.Series, b: pd.Series) -> np.ndarray:
    from rapidfuzz.distance import DamerauLevenshtein

    return _pairwise(DamerauLevenshtein.distance, a, b)[0]
