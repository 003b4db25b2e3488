"""The rapidfuzz similarities answer as DuckDB's jaro_winkler_similarity / damerau_levenshtein."""
from __future__ import annotations

import random

import duckdb
import numpy as np
import pandas as pd

from engine.identity.similarity import damerau_levenshtein, jaro_winkler


def _words(rng, n):
    return [None if rng.random() < 0.05 else "".join(rng.choice("abcdeé ") for _ in range(rng.randrange(0, 9)))
            for _ in range(n)]


def test_same_answers_as_duckdb_on_random_strings():
    rng = random.Random(3)
    frame = pd.DataFrame({"a": _words(rng, 5_000) + ["jon", "123 main st", ""],
                          "b": _words(rng, 5_000) + ["john", "123 main street", ""]})
    sql = duckdb.sql("SELECT jaro_winkler_similarity(a, b) AS jw, damerau_levenshtein(a, b) AS dl FROM frame").df()
    jw, dl = jaro_winkler(frame["a"], frame["b"]), damerau_levenshtein(frame["a"], frame["b"])
    assert np.array_equal(np.isnan(jw), sql["jw"].isna().to_numpy())
    assert np.nanmax(np.abs(jw - sql["jw"].to_numpy(dtype=float))) < 1e-12
    assert np.array_equal(np.nan_to_num(dl, nan=-1), sql["dl"].fillna(-1).to_numpy(dtype=float))
    assert dl[-3] == 1 and 0.8 < jw[-3] < 1 and jw[-1] == 0   # the control rows are really compared
