"""Identity's data plane gives the same answers on Spark as on DuckDB (engine/identity/on_backend.py).

Three hand-built workspaces (tests/engine/identity_planes.py: generated households with typos and
per-source customer ids; the same with customer ids declared `evidence`, compared by edits;
FEBRL-like people from bench/identity_people.py) are resolved on DuckDB, which fits and stores
the model. The DuckDB pipeline as resolve runs it (blocking.candidate_pairs,
features.compute_features, fuzzy.score) is then compared with the plane on Spark over the same
identity_records and identity_ids exported to Parquet: candidate pairs and their rules, every
feature (to 1e-9), every score, and the partition of records (against the plane on DuckDB).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.backend.duckdb_backend import DuckDBBackend
from engine.identity.features import FEATURES
from tests.engine.identity_planes import DATASETS, as_resolve_runs_it, assert_same_column, on_plane, resolved

# Spark on a shared 2-core machine: one dataset through both planes takes minutes, not seconds.
pytestmark = [pytest.mark.spark, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module", params=list(DATASETS))
def answers(request, tmp_path_factory, spark_backend, mirrored):
    case = resolved(tmp_path_factory.mktemp(request.param), request.param)
    mirrored(case["ws"], "SELECT * FROM identity_records JOIN identity_ids USING (rec_id)")
    with case["ws"].connect():   # the plane's temporary tables live as long as this connection
        on_duckdb = on_plane(DuckDBBackend(case["ws"]), case)
    return {"reference": as_resolve_runs_it(case), "duckdb": on_duckdb,
            "spark": on_plane(spark_backend, case), "evidence": case["evidence"]}


def test_candidate_pairs_and_rules_are_the_same(answers):
    ref = answers["reference"][["l", "r", "rules"]].astype("int64")
    assert len(ref) > 100
    pd.testing.assert_frame_equal(answers["spark"]["features"][["l", "r", "rules"]].astype("int64"), ref)


@pytest.mark.parametrize("name", FEATURES)
def test_feature_is_the_same(answers, name):
    assert_same_column(answers["reference"], answers["spark"]["features"], name)


def test_the_comparisons_are_exercised(answers):
    """The equality above compares real values: most features are present and vary."""
    ref = answers["reference"]
    assert len([n for n in FEATURES if ref[n].nunique() > 1]) >= 10
    if answers["evidence"]:
        assert ref["evid_dist"].notna().any()


def test_scores_are_the_same(answers):
    assert_same_column(answers["reference"], answers["spark"]["features"], "p", atol=1e-12)
    assert (answers["reference"]["p"] >= 0.99).any() and (answers["reference"]["p"] <= 0.01).any()


def test_levels_are_the_same(answers):
    (g_spark, r_spark), (g_duck, r_duck) = answers["spark"]["levels"], answers["duckdb"]["levels"]
    assert sorted(zip(r_spark, map(tuple, g_spark))) == sorted(zip(r_duck, map(tuple, g_duck)))


def test_end_to_end_the_same_partition_of_records(answers):
    spark, duckdb = answers["spark"]["labels"], answers["duckdb"]["labels"]
    assert len(spark) == len(duckdb) > 0
    assert np.array_equal(spark, duckdb)   # labels are each cluster's smallest record number
    assert 0 < len(np.unique(spark)) < len(spark)   # records were merged, not all
