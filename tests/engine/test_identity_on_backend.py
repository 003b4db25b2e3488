"""The identity data plane on the DuckDB backend answers as resolve's own pipeline does
(tests/spark/test_identity_on_spark.py holds Spark to the same answers)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.backend.duckdb_backend import DuckDBBackend
from engine.identity import model as M
from engine.identity.features import FEATURES
from tests.engine.identity_planes import as_resolve_runs_it, assert_same_column, on_plane, resolved


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    case = resolved(tmp_path_factory.mktemp("plane"), "evidence_ids")
    with case["ws"].connect():   # the plane's temporary tables live as long as this connection
        case["plane"] = on_plane(DuckDBBackend(case["ws"]), case)
    case["reference"] = as_resolve_runs_it(case)
    return case


def test_pairs_features_and_scores_are_resolves(case):
    ref, plane = case["reference"], case["plane"]["features"]
    pd.testing.assert_frame_equal(plane[["l", "r", "rules"]].astype("int64"), ref[["l", "r", "rules"]].astype("int64"))
    for name in [*FEATURES, "p"]:
        assert_same_column(ref, plane, name)
    assert ref["evid_dist"].notna().any() and ref["p"].between(0.01, 0.99).sum() < len(ref)


def test_levels_in_batches_are_the_models_levels(case):
    g, rules = case["plane"]["levels"]
    ref = case["reference"]
    f = {name: ref[name].to_numpy(dtype=float) for name in FEATURES} | {"l": ref["l"].to_numpy()}
    assert g.dtype == np.int8 and len(g) == len(ref)
    assert sorted(map(tuple, g)) == sorted(map(tuple, M.levels(f)))
    assert sorted(rules) == sorted(ref["rules"])


def test_partition_merges_the_identifier_links_and_the_scored_pairs(case):
    labels = case["plane"]["labels"]
    ws = case["ws"]
    n = ws.scalar("SELECT count(*) FROM identity_records")
    assert len(labels) == n and 0 < len(np.unique(labels)) < n
    assert (labels <= np.arange(n)).all()   # each label is the smallest record in its cluster
    merged = case["plane"]["features"].query(f"p >= {float(case['settings']['high_threshold'])}")
    assert len(merged)
    assert (labels[merged["l"].to_numpy()] == labels[merged["r"].to_numpy()]).all()
