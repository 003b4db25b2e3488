"""Builders for the identity data-plane tests (engine/identity/on_backend.py): small workspaces,
the DuckDB pipeline's own answers as resolve computes them, and the plane's answers on a backend."""
from __future__ import annotations

import numpy as np
import pandas as pd

from engine.access import User
from engine.identity import fuzzy, on_backend
from engine.identity import model as M
from engine.identity.blocking import candidate_pairs
from engine.identity.features import FEATURES, compute_features, evidence_types
from engine.identity.resolve import _merge_id_types, resolve
from engine.identity.settings import load_settings, save_settings
from engine.workspace import open_workspace
from tests.engine.identity_generated import people, records
from tests.engine.identity_helpers import add_contacts

ADMIN = User("plane-test", "admin")
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


def resolved(folder, dataset: str) -> dict:
    """A workspace with `dataset` resolved on DuckDB (which fits and stores the model)."""
    ws = open_workspace(folder / "cdp.duckdb")
    DATASETS[dataset](ws)
    resolve(ws, ADMIN, full=True)
    with ws.connect() as con:
        return {"ws": ws, "settings": load_settings(ws), "evidence": evidence_types(con),
                "fs_params": fuzzy.load_model(con, "fellegi_sunter")["params"]}


def as_resolve_runs_it(case: dict) -> pd.DataFrame:
    """l, r, rules, FEATURES and p from the DuckDB pipeline itself (rolled back: no writes)."""
    with case["ws"].connect() as con:
        con.execute("BEGIN TRANSACTION")
        try:
            candidate_pairs(con, full=True)
            f = compute_features(con)
            p = fuzzy.score(con, case["settings"], f, M.levels(f), case["fs_params"])["p"]
        finally:
            con.execute("ROLLBACK")
    return sorted_pairs(pd.DataFrame({name: f[name] for name in ["l", "r", "rules", *FEATURES]}).assign(p=p))


def on_plane(backend, case: dict) -> dict:
    """The plane's features with scores, levels and partition on `backend`."""
    settings = case["settings"]
    with case["ws"].connect() as con:
        score_fn = fuzzy.scorer(con, settings, case["fs_params"])
    on_backend.candidate_pairs(backend, case["evidence"])
    f = on_backend.features(backend)
    s = on_backend.scores(backend, score_fn)
    g, rules = on_backend.levels(backend)
    merged = s[s["p"] >= float(settings["high_threshold"])]
    return {"features": sorted_pairs(f.merge(s[["l", "r", "p"]], on=KEY)), "levels": (g, rules),
            "labels": on_backend.partition(backend, _merge_id_types(settings), merged)}


def sorted_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(KEY).reset_index(drop=True)


def assert_same_column(ref: pd.DataFrame, other: pd.DataFrame, name: str, atol: float = 1e-9) -> None:
    assert len(other) == len(ref) > 0
    x, y = ref[name].to_numpy(dtype=float), other[name].to_numpy(dtype=float)
    assert np.array_equal(np.isnan(x), np.isnan(y)), f"{name}: missing on one side only"
    both = ~np.isnan(x)
    assert np.allclose(x[both], y[both], rtol=0, atol=atol), name
