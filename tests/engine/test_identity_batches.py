"""resolve scores candidate pairs a batch at a time (fuzzy.SCORE_BATCH_PAIRS): the batch size
changes the memory, never the answer. A workspace resolved in batches of 7 pairs decides what
it decides in one batch: the same profiles, review queue, probabilities and explanations, the
same chain cuts and the same confident sample, in the workspace and on a backend's plane."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine.access import User
from engine.backend.duckdb_backend import DuckDBBackend
from engine.identity import fuzzy, resolve
from engine.identity.settings import save_settings
from tests.conftest import copy_workspace
from tests.engine.identity_helpers import add_father_son_chain
from tests.engine.resolve_outcome import build_messy, outcome

ADMIN = User("batches-test", "admin")
ONE_BATCH = 10 ** 9
KEEPING = fuzzy.keeping


@pytest.fixture
def copies(tmp_path, migrated_template):
    """Three copies of one messy workspace with a chain to cut."""
    first = copy_workspace(migrated_template, tmp_path / "a" / "cdp.duckdb")
    build_messy(first)
    add_father_son_chain(first)
    return [first] + [copy_workspace(first.path, tmp_path / name / "cdp.duckdb") for name in ("b", "c")]


def _resolved(workspace, monkeypatch, batch: int, backend=None) -> dict:
    """resolve --full with `batch` pairs a batch; what it decided and stored, and how many
    batches the scoring pass saw."""
    calls = []

    def counted(*args, **kwargs):
        run = KEEPING(*args, **kwargs)

        def each(f):
            calls.append(len(f["l"]))
            return run(f)
        return each

    monkeypatch.setattr(fuzzy, "SCORE_BATCH_PAIRS", batch)
    monkeypatch.setattr(fuzzy, "keeping", counted)
    stats = resolve(workspace, ADMIN, full=True, backend=backend)
    rows = workspace.query_rows("""SELECT pair_key, probability, features, contributions, reason, rules
                                   FROM identity_pairs ORDER BY pair_key""")
    with workspace.connect() as con:
        sample = fuzzy.confident_sample(con)
    return {"stats": {k: v for k, v in stats.items() if k != "seconds"}, "outcome": outcome(workspace),
            "pairs": {r[0]: r[1:] for r in rows}, "sample": sample, "batches": calls}


def _assert_same(a: dict, b: dict) -> None:
    assert a["stats"] == b["stats"]
    assert a["outcome"] == b["outcome"]
    assert a["pairs"].keys() == b["pairs"].keys()
    for key, (p, features, contributions, reason, rules) in a["pairs"].items():
        q, features_b, contributions_b, reason_b, rules_b = b["pairs"][key]
        assert (p is None) == (q is None) and (p is None or abs(p - q) <= 1e-12), key
        assert (reason, rules) == (reason_b, rules_b)
        assert _close(_parsed(features), _parsed(features_b))
        assert _close(_parsed(contributions), _parsed(contributions_b))
    assert a["sample"].keys() == b["sample"].keys()
    for name in a["sample"]:   # features to 1e-12: a backend's plane computes them in pandas (pair_features.py)
        np.testing.assert_allclose(a["sample"][name], b["sample"][name], rtol=0, atol=1e-12)


def _parsed(text) -> dict:
    return json.loads(text) if isinstance(text, str) else (text or {})


def _close(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        (a[k] is None) == (b[k] is None) and (a[k] is None or abs(a[k] - b[k]) <= 1e-12) for k in a)


@pytest.mark.slow
def test_batches_of_seven_pairs_decide_as_one_batch(copies, monkeypatch):
    one = _resolved(copies[0], monkeypatch, ONE_BATCH)
    small = _resolved(copies[1], monkeypatch, 7)
    assert one["batches"] == [one["stats"]["pairs_scored"]]            # control: really one batch
    assert len(small["batches"]) >= one["stats"]["pairs_scored"] // 7 and max(small["batches"]) <= 7
    assert one["stats"]["chain_cuts"] >= 1 and one["outcome"]["review"] and len(one["sample"]["y"]) > 0
    assert 0 < (one["sample"]["y"] == 1).sum() < len(one["sample"]["y"])   # both classes anchored
    _assert_same(one, small)


@pytest.mark.slow
def test_batches_on_a_backend_plane_decide_as_in_the_workspace(copies, monkeypatch):
    one = _resolved(copies[0], monkeypatch, ONE_BATCH)
    small = _resolved(copies[2], monkeypatch, 7, backend=DuckDBBackend(copies[2]))
    assert len(small["batches"]) > 1
    _assert_same(one, small)


@pytest.mark.slow
def test_control_the_comparison_sees_a_different_decision(copies, monkeypatch):
    """_assert_same can fail: without chain cuts the same workspace decides otherwise."""
    one = _resolved(copies[0], monkeypatch, ONE_BATCH)
    save_settings(copies[1], ADMIN, {"cluster_consistency": False})
    other = _resolved(copies[1], monkeypatch, 7)
    with pytest.raises(AssertionError):
        _assert_same(one, other)


def test_the_confident_sample_is_the_same_however_the_pairs_are_cut():
    """lowest_hash per batch, then over the batches' picks, is lowest_hash over all pairs."""
    rng = np.random.default_rng(3)
    f = {"l": rng.integers(0, 5_000, 20_000), "r": rng.integers(5_000, 10_000, 20_000)}
    chosen = rng.random(20_000) < 0.6
    whole = fuzzy.lowest_hash(f, np.flatnonzero(chosen), 50)
    picks = np.concatenate([fuzzy.lowest_hash(f, np.flatnonzero(chosen[i:i + 777]) + i, 50)
                            for i in range(0, 20_000, 777)])
    assert sorted(fuzzy.lowest_hash(f, picks, 50)) == sorted(whole)
    assert len(whole) == 50 and chosen[whole].all()
    assert len(set(whole) & set(fuzzy.lowest_hash(f, np.flatnonzero(chosen), 50, seed=6))) < 10   # seeded

