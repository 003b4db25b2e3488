"""Where resolve's per-pair work runs (its data plane, steps 4-5 of engine/identity/README.md).

`resolve` and `fuzzy.match` ask a plane for candidate pairs and their features and do
everything else (the model, chain cuts, the review queue, the guarded graph, the profiles) in
the workspace, the same code on every engine:

* `InWorkspace(con)`: DuckDB SQL inside resolve's own transaction (blocking.candidate_pairs,
  features.FEATURE_SQL); the default;
* `OnBackend(backend, con)`: the same blocking SELECTs on a backend (engine/backend: Spark, or
  DuckDB in the tests) and the features a batch at a time through map_batches
  (on_backend.py, pair_features.py).

Both answer the same few questions: candidate_pairs(full), map_pairs(fn, schema, batch_pairs)
(fn over the candidate pairs' features a batch at a time: memory holds a batch and what fn
keeps), features() (all at once, for small data), features_for(frame of l, r) and query(sql)
over the blocking tables (`_bkeys`, `_pairs`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

import engine.identity.lake_records as lake_records
import engine.identity.on_backend as on_backend
from engine.backend.batches import conform, stream_batches
from engine.identity.blocking import candidate_pairs
from engine.identity.features import (FEATURE_SQL, FEATURES, _dob_features, compute_features, evidence_types,
                                      term_frequencies)
from engine.identity.pair_features import FEATURE_INPUTS_SQL, FEATURES_SCHEMA, features_frame
from engine.identity.records import build_records

# Tables the plane reads that resolve itself builds (never lakehouse tables of the same name).
PLANE_INPUTS = ("identity_ids", "identity_records")
EXTRA_PAIRS = "_pairs_for"


def in_pair_order(f: dict) -> dict:
    """f with its pairs ordered by (l, r): every plane gives them in its own order, and the chain
    cuts' and the confident sample's choices among equals must not depend on it."""
    order = np.lexsort((f["r"], f["l"]))
    return {k: v[order] for k, v in f.items()}


def in_frame_order(frame: pd.DataFrame, f: dict) -> dict:
    """Features f of frame's pairs, row for row as in frame: a join gives its rows in any order
    (DuckDB's threads, Spark's partitions), and callers index the answer by frame's rows. A pair
    the join could not see (a record blocking left out) gets missing features."""
    got = pd.DataFrame({k: np.asarray(v) for k, v in f.items()}).drop_duplicates(["l", "r"])
    rows = frame[["l", "r"]].astype("int64").merge(got.drop(columns="rules"), on=["l", "r"], how="left")
    out = {k: rows[k].to_numpy(dtype=float) for k in got.columns if k not in ("l", "r", "rules")}
    out.update(l=rows["l"].to_numpy(dtype=np.int64), r=rows["r"].to_numpy(dtype=np.int64),
               rules=np.zeros(len(rows), dtype=np.int64))
    return out


def sql_feature_arrays(batch: pd.DataFrame) -> dict[str, np.ndarray]:
    """compute_features' arrays from a batch of features.FEATURE_SQL rows (NaN where NULL)."""
    def floats(name):
        return batch[name].to_numpy(dtype=float, na_value=np.nan)

    out = {k: batch[k].to_numpy(dtype=np.int64) for k in ("l", "r", "rules")}
    out.update({name: floats(name) for name in FEATURES if name in batch.columns})
    out.update(_dob_features(floats("a_dob"), floats("b_dob"), floats("dob_delta")))
    return out


def fits_one_batch(plane, batch_pairs: int) -> bool:
    """Whether the plane's candidate pairs fit in one batch: then map_pairs computes their
    features at once (plane.features(), the same values) and calls fn once."""
    return getattr(plane, "pairs", None) is not None and plane.pairs <= batch_pairs


class InWorkspace:
    """The data plane in the workspace's DuckDB, on resolve's connection."""
    name = "duckdb"
    pairs = None   # candidate pairs, once candidate_pairs has run

    def __init__(self, con):
        self.con = con

    def build_records(self, con, settings: dict) -> dict:
        return build_records(con, settings)

    def candidate_pairs(self, full: bool) -> int:
        self.pairs = candidate_pairs(self.con, full=full)
        return self.pairs

    def features(self) -> dict[str, np.ndarray]:
        return compute_features(self.con)

    def map_pairs(self, fn, schema: dict[str, str], batch_pairs: int) -> pd.DataFrame:
        """fn (features of a batch of candidate pairs -> frame) over every candidate pair, the
        features computed by features.FEATURE_SQL as streamed batches of resolve's connection."""
        if fits_one_batch(self, batch_pairs):
            return conform(fn(self.features()), schema)
        return stream_batches(self.con, FEATURE_SQL, on_backend.over_arrays(fn, sql_feature_arrays), schema,
                              batch_rows=batch_pairs)

    def query(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def register(self, name: str, frame: pd.DataFrame) -> None:
        self.con.register(name, frame)

    def features_for(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """compute_features for the pairs in frame (l, r), in frame's order, leaving the candidate
        pairs in place."""
        con = self.con
        con.execute("ALTER TABLE _pairs RENAME TO _pairs_blocked")
        try:
            con.register("_pairs_frame", frame.assign(rules=0))
            con.execute("CREATE TEMP TABLE _pairs AS SELECT * FROM _pairs_frame")
            con.unregister("_pairs_frame")
            return in_frame_order(frame, compute_features(con))
        finally:
            con.execute("DROP TABLE IF EXISTS _pairs")
            con.execute("ALTER TABLE _pairs_blocked RENAME TO _pairs")


class OnBackend:
    """The data plane on a backend; `con` is resolve's workspace connection (control plane)."""

    def __init__(self, backend, con):
        self.backend = backend
        self.con = con
        self.name = backend.name
        self.pairs = None
        self.evidence = evidence_types(con)

    def build_records(self, con, settings: dict) -> dict:
        """On the backend when it reads person tables from the lakehouse (lake_records.py), else
        in the workspace."""
        if lake_records.mapped_inputs(self.backend):
            return lake_records.build_on_backend(self.backend, con, settings)
        return build_records(con, settings)

    def candidate_pairs(self, full: bool) -> int:
        self.pairs = on_backend.candidate_pairs(self.backend, self.evidence, full)
        term_frequencies(self.con)   # the review screen's explanations read the workspace's copy
        return self.pairs

    def features(self) -> dict[str, np.ndarray]:
        return on_backend.as_arrays(on_backend.features(self.backend))

    def map_pairs(self, fn, schema: dict[str, str], batch_pairs: int) -> pd.DataFrame:
        """fn over every candidate pair's features (pair_features.py) on the backend's batches
        (batch_pairs rows where the backend takes a batch size: DuckDB; Spark's own elsewhere)."""
        if fits_one_batch(self, batch_pairs):
            return conform(fn(self.features()), schema)
        return on_backend.map_pairs(self.backend, fn, schema, batch_pairs)

    def query(self, sql: str) -> pd.DataFrame:
        return self.backend.query(sql)

    def register(self, name: str, frame: pd.DataFrame) -> None:
        self.backend.register(name, frame)

    def features_for(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Features of the pairs in frame (l, r) on the backend, in frame's order, beside the
        candidate pairs."""
        if not len(frame):
            return on_backend.as_arrays(pd.DataFrame({c: pd.Series(dtype="float64") for c in FEATURES_SCHEMA}))
        self.backend.register(EXTRA_PAIRS, frame[["l", "r"]].assign(rules=0).astype("int64"))
        sql = FEATURE_INPUTS_SQL.replace("FROM _pairs p", f"FROM {EXTRA_PAIRS} p")
        return in_frame_order(frame, on_backend.as_arrays(self.backend.map_batches(sql, features_frame,
                                                                                 FEATURES_SCHEMA)))


def refuse_lakehouse_records(backend) -> None:
    """UnsupportedOnSpark when identity_records or identity_ids is mapped to the lakehouse: resolve
    builds them (on the backend from the mapped person tables, lake_records.py) and the control
    plane keeps them in the workspace, so a mapped copy would be another set of people."""
    mapped = sorted(n for n in getattr(backend, "tables", {}) if n in PLANE_INPUTS)
    if mapped:
        from engine.backend import UnsupportedOnSpark

        raise UnsupportedOnSpark(
            f"resolve builds {', '.join(mapped)} itself (from contacts, orders, subscriptions, consents and "
            f"events), so {'it' if len(mapped) == 1 else 'they'} cannot be mapped to the lakehouse: "
            f"cdp engine set {' '.join('--unmap ' + n for n in mapped)}.")


def plane_for(workspace, con, backend=None):
    """The plane resolve runs on: `backend` when given, else the workspace's engine
    (engine/backend/choose.py; DuckDB runs in the workspace itself)."""
    if backend is None:
        from engine.backend.choose import backend_for, chosen_engine

        if chosen_engine(workspace) == "duckdb":
            return InWorkspace(con)
        backend = backend_for(workspace)
    refuse_lakehouse_records(backend)
    return OnBackend(backend, con)
