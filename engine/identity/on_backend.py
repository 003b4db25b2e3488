"""Identity's data plane on a backend (engine/backend): DuckDB, or Spark over lakehouse tables.

The same steps as resolve (engine/identity/README.md, steps 4-11) with the heavy, per-pair
work on the backend and the small decisions on the driver:

* blocking: blocking.blocking_steps, the term frequencies and _frec, each SELECT materialised
  on the backend (DuckDB temporary tables, Spark cached views);
* features and scores: map_batches over FEATURE_INPUTS_SQL; each batch's features
  (pair_features.py, rapidfuzz) go through the unchanged model (model.levels, fuzzy.scorer);
* clustering: connected components on the driver with SciPy (graph.components) over the
  linking identifiers and the pairs scored at or above the high threshold.

The backend reads `identity_records` and `identity_ids` (the records and identifier steps'
tables; on Spark, registered lakehouse tables with those columns). The model's parameters and
settings come from the DuckDB workspace (the control plane). Guards and chain cuts (steps 3, 8,
10's limits) stay on the DuckDB path.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

import engine.identity.model as M
from engine.identity.blocking import blocking_steps
from engine.identity.features import FEATURES, TERM_FREQUENCIES_SQL, frec_sql
from engine.identity.pair_features import FEATURE_INPUTS_SQL, FEATURES_SCHEMA, features_frame

TF_TABLE = "_tf"
SCORES_SCHEMA = {"l": "BIGINT", "r": "BIGINT", "rules": "INTEGER", "p": "DOUBLE"}


def candidate_pairs(backend, evidence: list[str], full: bool = True) -> int:
    """Blocking on the backend: _pairs(l, r, rules), and _frec for the features; returns the
    number of pairs. `evidence`: features.evidence_types of the workspace's settings."""
    steps = blocking_steps(evidence, full)
    for name, sql in steps:
        backend.materialize(name, sql)
    backend.materialize(TF_TABLE, TERM_FREQUENCIES_SQL)
    backend.materialize("_frec", frec_sql(evidence, "rec_id IN (SELECT rec_id FROM _bkeys)", TF_TABLE))
    # Only _bkeys (the model's fit samples it), _pairs and _frec are read from here on: the
    # per-rule blocks and the sounds are a copy of the records each, kept until now.
    for name, _ in steps:
        if name not in ("_bkeys", "_pairs"):
            backend.release(name)
    backend.release(TF_TABLE)
    return int(backend.query("SELECT count(*) AS n FROM _pairs")["n"].iloc[0])


def map_pairs(backend, fn, schema: dict[str, str], batch_pairs: int | None = None) -> pd.DataFrame:
    """fn (features arrays of a batch of candidate pairs -> frame) over every candidate pair, a
    batch at a time (batch_pairs rows a batch on DuckDB; Spark sizes its own batches)."""
    return backend.map_batches(FEATURE_INPUTS_SQL, over_arrays(fn, _feature_arrays), schema,
                               batch_rows=batch_pairs)


def _feature_arrays(batch: pd.DataFrame) -> dict[str, np.ndarray]:
    return as_arrays(features_frame(batch))


def over_arrays(fn, arrays_of):
    """A map_batches function: fn over the arrays that arrays_of makes of a batch."""
    def run(batch: pd.DataFrame) -> pd.DataFrame:
        return fn(arrays_of(batch))

    return run


def features(backend) -> pd.DataFrame:
    """l, r, rules and FEATURES of every candidate pair (as features.compute_features)."""
    return backend.map_batches(FEATURE_INPUTS_SQL, features_frame, FEATURES_SCHEMA)


def as_arrays(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """A features frame as compute_features' arrays (NaN where a side is missing)."""
    out = {k: frame[k].to_numpy(dtype=np.int64) for k in ("l", "r", "rules")}
    out.update({name: frame[name].to_numpy(dtype=float) for name in FEATURES})
    return out


LEVELS_SCHEMA = {"rules": "INTEGER", **{f"g_{name}": "SMALLINT" for name in M.NAMES}}


def levels_frame(f: dict[str, np.ndarray]) -> pd.DataFrame:
    """rules and comparison levels of a batch's pairs (the batch function of `levels`)."""
    g = M.levels(f)
    return pd.DataFrame({"rules": f["rules"], **{f"g_{name}": g[:, k] for k, name in enumerate(M.NAMES)}})


def levels_of(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """levels_frame's rows as (levels int8 matrix in model.NAMES order, rules)."""
    g = frame[[f"g_{name}" for name in M.NAMES]].to_numpy(dtype=np.int8)
    return g, frame["rules"].to_numpy(dtype=np.int32)


def levels(backend, batch_pairs: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Comparison levels (model.levels, int8) and rules of every candidate pair, a batch at a
    time: the model's fit (fuzzy.fit_model) needs these, 11 bytes a pair instead of the
    features' ~150."""
    return levels_of(map_pairs(backend, levels_frame, LEVELS_SCHEMA, batch_pairs))


def scoring(score_fn, keep_from: float = 0.0):
    """The batch function of `scores`: levels and the unchanged model over a batch's features,
    keeping the pairs scored at or above keep_from (so a batch's output is as small as the decision)."""
    def run(f: dict[str, np.ndarray]) -> pd.DataFrame:
        p = score_fn(f, M.levels(f))["p"]
        keep = p >= keep_from
        return pd.DataFrame({"l": f["l"][keep], "r": f["r"][keep], "rules": f["rules"][keep], "p": p[keep]})

    return run


def scores(backend, score_fn, keep_from: float = 0.0) -> pd.DataFrame:
    """l, r, rules, p of the candidate pairs scored at or above keep_from; score_fn is
    fuzzy.scorer(con, settings, fs_params)."""
    return map_pairs(backend, scoring(score_fn, keep_from), SCORES_SCHEMA)


def linking_edges_sql(link_types: list[str]) -> str:
    """Each record carrying a linking identifier, against the first record with that value."""
    listed = ", ".join("'" + t.replace("'", "''") + "'" for t in link_types) or "NULL"
    return f"""SELECT rec_id AS a, min(rec_id) OVER (PARTITION BY id_type, namespace, id_value) AS b
               FROM identity_ids WHERE via <> 'evidence' AND id_type IN ({listed})"""


def partition(backend, link_types: list[str], merged: pd.DataFrame) -> np.ndarray:
    """Cluster label per record (the smallest rec_id in its cluster): connected components on
    the driver over the linking identifiers and the merged pairs (l, r)."""
    from engine.identity.graph import components

    n = int(backend.query("SELECT COALESCE(max(rec_id) + 1, 0) AS n FROM identity_records")["n"].iloc[0])
    edges = backend.query(linking_edges_sql(link_types))
    a = np.concatenate([edges["a"].to_numpy(dtype=np.int64), merged["l"].to_numpy(dtype=np.int64)])
    b = np.concatenate([edges["b"].to_numpy(dtype=np.int64), merged["r"].to_numpy(dtype=np.int64)])
    return components(n, a, b)

