"""Cluster consistency: automatic merges must not chain two clearly different people together.

Connected components are transitive: if A~B and B~C are both above the merge threshold,
A and C end up in one profile even when A and C clearly differ (a father linked to his son
through a record with no birth date; two strangers sharing a birthday linked through a
record with no first name). At a million records such chains are the main source of wrong
merges. So after scoring:

  1. the automatic edges are clustered;
  2. every pair of records inside a cluster of three or more is compared (pairs that were
     not candidates are scored now, by the same model and household rules);
  3. a cluster holding a pair scored below CONFLICT_P (clear evidence of two people) is
     rebuilt edge by edge, strongest first, and an edge that would put a conflicting pair
     together is not merged: it goes to the review queue instead, with the conflict as part
     of its explanation.

Step 3 is Kruskal's algorithm with cannot-link constraints. It is sequential by nature, so it
runs in Python, but only over the edges of conflicting clusters (a few thousand at 1M records);
everything else is vectorised.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

CONFLICT_P = 1e-6           # a pair scored below this inside one cluster: two different people
MAX_CHECKED_CLUSTER = 200  # larger clusters are left to the health page (largest clusters)
DEMOTED_P = 0.8            # where a cut edge lands: in the review band


def _within_cluster_pairs(labels: np.ndarray, n_min: int = 3) -> pd.DataFrame:
    """All record pairs (l < r) inside clusters of n_min .. MAX_CHECKED_CLUSTER records."""
    sizes = np.bincount(labels, minlength=len(labels))
    recs = np.flatnonzero((sizes[labels] >= n_min) & (sizes[labels] <= MAX_CHECKED_CLUSTER))
    frame = pd.DataFrame({"c": labels[recs], "rec": recs})
    pairs = frame.merge(frame, on="c")
    pairs = pairs[pairs["rec_x"] < pairs["rec_y"]]
    return pd.DataFrame({"l": pairs["rec_x"].to_numpy(np.int64), "r": pairs["rec_y"].to_numpy(np.int64)})


def find_cuts(n: int, l: np.ndarray, r: np.ndarray, strength: np.ndarray, merged: np.ndarray,
              conflict: np.ndarray, conflicts_of) -> np.ndarray:
    """Indexes (into l, r) of merged edges to hold back so no cluster holds a conflict.

    strength orders the edges (the match weight in bits: probabilities of strong pairs all
    round to 1.0, which would leave the choice to chance).
    conflict: per candidate pair, whether it is clear evidence of two people;
    conflicts_of(frame with l, r) -> the same for within-cluster pairs that were not
    candidates. Returns an int array of edge indexes.
    """
    from engine.identity.graph import components

    idx = np.flatnonzero(merged)
    if not len(idx):
        return np.zeros(0, dtype=np.int64)
    labels = components(n, l[idx], r[idx])
    # Conflicts among candidates: scored low, yet in one cluster.
    low = np.flatnonzero(conflict & (labels[l] == labels[r]))
    conf_l, conf_r = [l[low]], [r[low]]
    # Conflicts among the other pairs inside clusters.
    inside = _within_cluster_pairs(labels)
    if len(inside):
        keys = np.sort(l.astype(np.int64) * n + r)
        k = inside["l"].to_numpy() * n + inside["r"].to_numpy()
        pos = np.clip(np.searchsorted(keys, k), 0, len(keys) - 1)
        fresh = inside[keys[pos] != k]
        if len(fresh):
            bad = conflicts_of(fresh)
            conf_l.append(fresh["l"].to_numpy()[bad])
            conf_r.append(fresh["r"].to_numpy()[bad])
    cl, cr = np.concatenate(conf_l), np.concatenate(conf_r)
    if not len(cl):
        return np.zeros(0, dtype=np.int64)
    bad_clusters = np.unique(labels[cl])
    edges = idx[np.isin(labels[l[idx]], bad_clusters)]
    edges = edges[np.argsort(-strength[edges], kind="stable")]
    return _kruskal_cannot_link(l, r, edges, cl, cr)


def _kruskal_cannot_link(l, r, edges, cl, cr) -> np.ndarray:
    """Add edges strongest first; skip one that would join a cannot-link pair. Returns skipped."""
    parent: dict[int, int] = {}
    members: dict[int, set] = {}
    cannot: dict[int, set] = {}
    for a, b in zip(cl.tolist(), cr.tolist()):
        cannot.setdefault(a, set()).add(b)
        cannot.setdefault(b, set()).add(a)

    def find(x: int) -> int:
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    cut = []
    for e in edges.tolist():
        ra, rb = find(int(l[e])), find(int(r[e]))
        if ra == rb:
            continue
        ma, mb = members.get(ra, {ra}), members.get(rb, {rb})
        if any(cannot.get(x, set()) & mb for x in ma):
            cut.append(e)
            continue
        if len(ma) < len(mb):
            ra, rb, ma, mb = rb, ra, mb, ma
        parent[rb] = ra
        members[ra] = ma | mb
        members.pop(rb, None)
    return np.asarray(cut, dtype=np.int64)
