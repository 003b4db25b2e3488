"""Identity's data plane gives the same answers on Spark as on DuckDB (engine/identity/on_backend.py).

Three hand-built workspaces (small generated households with typos and per-source customer ids;
the same with customer ids declared `evidence`, compared by edits; FEBRL-like people from
bench/identity_people.py) are resolved on DuckDB first, which fits and stores the model. Then
the DuckDB pipeline as resolve runs it (blocking.candidate_pairs, features.compute_features,
fuzzy.score) is compared with the backend plane on Spark over the same identity_records and
identity_ids exported to Parquet: candidate pairs and their rules, every feature (to 1e-9),
every score, and the partition of records into clusters (also against the plane on DuckDB).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.access import User
from engine.backend.duckdb_backend import DuckDBBackend
from engine.identity import fuzzy, on_backend
from engine.identity import model as M
from engine.identity.blocking import candidate_pairs
from engine.identity.features import FEATURES, compute_features, evidence_types
from engine.identity.resolve import _merge_id_types, resolve
from engine.identity.settings import load_settings, save_settings
from engine.workspace import open_workspace
from tests.engine.identity_generated import people, records
from tests.engine.identity_helpers import add_contacts

# Spark on a shared 2-core machine: one dataset through both planes takes minutes, not seconds.
pytestmark = [pytest.mark.spark, pytest.mark.timeout(1800)]
ADMIN = User("spark-test", "admin")
KEY = ["l", "r"]


def _generated(ws):
    add_contacts(ws, records(people(150, 1), 2))


def _evidence(ws):
    add_contacts(ws, records(people(120, 5), 6))
    save_settings(ws, ADMIN, {"identifier_trust": {"customer_id": "evidence"}})


def _febrl_like(ws):
    from bench.bench_identity import load_people
    from bench.identity_people import generate

    load_people(ws, generate(1_000, seed=11))


DATASETS = {"generated": _generated, "evidence_ids": _evidence, "febrl_like": _febrl_like}


def _duckdb_as_resolve_runs_it(ws, settings, fs_params) -> dict:
    """Pairs, features and scores from the DuckDB pipeline itself (rolled back: no writes)."""
    with ws.connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            candidate_pairs(con, full=True)
            f = compute_features(con)
            p = fuzzy.score(con, settings, f, M.levels(f), fs_params)["p"]
        finally:
            con.execute("ROLLBACK")
    frame = pd.DataFrame({name: f[name] for name in ["l", "r", "rules", *FEATURES]}).assign(p=p)
    return {"features": frame}


def _plane(backend, ws, settings, fs_params, evidence) -> dict:
    with ws.connect() as con:
        score_fn = fuzzy.scorer(con, settings, fs_params)
    on_backend.candidate_pairs(backend, evidence)
    f = on_backend.features(backend)
    s = on_backend.scores(backend, score_fn)
    merged = s[s["p"] >= float(settings["high_threshold"])]
    return {"features": f.merge(s[["l", "r", "p"]], on=KEY),
            "labels": on_backend.partition(backend, _merge_id_types(settings), merged)}


@pytest.fixture(scope="module", params=list(DATASETS))
def answers(request, tmp_path_factory, spark_backend, mirrored):
    ws = open_workspace(tmp_path_factory.mktemp(request.param) / "cdp.duckdb")
    DATASETS[request.param](ws)
    resolve(ws, ADMIN, full=True)
    settings = load_settings(ws)
    with ws.connect() as con:
        fs_params = fuzzy.load_model(con, "fellegi_sunter")["params"]
        evidence = evidence_types(con)
    mirrored(ws, "SELECT * FROM identity_records JOIN identity_ids USING (rec_id)")
    duckdb = DuckDBBackend(ws)
    with ws.connect():   # the plane's temporary tables live as long as this connection
        on_duckdb = _plane(duckdb, ws, settings, fs_params, evidence)
    return {"reference": _duckdb_as_resolve_runs_it(ws, settings, fs_params), "duckdb": on_duckdb,
            "spark": _plane(spark_backend, ws, settings, fs_params, evidence), "evidence": evidence}


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(KEY).reset_index(drop=True)


def test_candidate_pairs_and_rules_are_the_same(answers):
    ref = _sorted(answers["reference"]["features"])[["l", "r", "rules"]].astype("int64")
    spark = _sorted(answers["spark"]["features"])[["l", "r", "rules"]].astype("int64")
    assert len(ref) > 100
    pd.testing.assert_frame_equal(spark, ref)


@pytest.mark.parametrize("name", FEATURES)
def test_feature_is_the_same(answers, name):
    ref = _sorted(answers["reference"]["features"])
    for plane in ("spark", "duckdb"):
        other = _sorted(answers[plane]["features"])
        assert len(other) == len(ref)
        x, y = ref[name].to_numpy(dtype=float), other[name].to_numpy(dtype=float)
        assert np.array_equal(np.isnan(x), np.isnan(y)), f"{plane}: missing on one side only"
        both = ~np.isnan(x)
        assert np.allclose(x[both], y[both], rtol=0, atol=1e-9), plane


def test_the_comparisons_are_exercised(answers):
    """The equality above compares real values: most features are present and vary."""
    ref = answers["reference"]["features"]
    varied = [n for n in FEATURES if ref[n].nunique() > 1]
    assert len(varied) >= 10
    if answers["evidence"]:
        assert ref["evid_dist"].notna().any()


def test_scores_are_the_same(answers):
    ref = _sorted(answers["reference"]["features"])["p"].to_numpy()
    spark = _sorted(answers["spark"]["features"])["p"].to_numpy()
    assert np.abs(spark - ref).max() <= 1e-12
    assert (ref >= 0.99).any() and (ref <= 0.01).any()


def test_end_to_end_the_same_partition_of_records(answers):
    spark, duckdb = answers["spark"]["labels"], answers["duckdb"]["labels"]
    assert len(spark) == len(duckdb) > 0
    assert np.array_equal(spark, duckdb)   # labels are each cluster's smallest record number
    assert 0 < len(np.unique(spark)) < len(spark)   # records were merged, not all
