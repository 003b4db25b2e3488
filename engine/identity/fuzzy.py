"""Probabilistic matching: block -> features -> model -> scored pairs in identity_pairs.

Pairs at or above the high threshold are merged automatically (by graph.py, under the
guards); pairs between the thresholds wait in the review queue, ordered by how much a
decision would teach the model; pairs below the low threshold are not stored.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

import engine.identity.model as M
from engine.identity.features import FEATURES
from engine.identity.planes import InWorkspace
from engine.identity.tables import rebuild_table

HOUSEHOLD_CAP = 0.05


def load_model(con, name: str):
    rows = con.execute("SELECT params, blob, labels FROM identity_models WHERE name = ?", [name]).fetchall()
    if not rows:
        return None
    params, blob, labels = rows[0]
    return {"params": json.loads(params) if params else None, "blob": blob, "labels": labels}


def save_model(con, name: str, params=None, blob=None, labels=None) -> None:
    con.execute("INSERT OR REPLACE INTO identity_models (name, params, blob, labels, trained_at) "
                "VALUES (?, ?, ?, ?, now())", [name, json.dumps(params) if params is not None else None,
                                               blob, labels])


REVIEW_CAP = 0.8


def household_caps(g: np.ndarray, households: bool = True) -> np.ndarray:
    """Upper bounds on the match probability where household evidence is all there is.

    Family members share a surname, an address (or a landline) and often a birth month; counted as
    independent evidence these look like one person. So, at the same place:
      * a different first name (not a nickname, typo or swap) means two people (cap 0.05);
        so does a different birth date when there is no first name to compare;
      * agreement on surname and place alone, or a birth date years apart (Sr/Jr), or two
        entirely different names, is not enough to merge automatically (cap 0.8: review).
    `households` False (households_evident: the data has too few households for these
    patterns to be families) keeps only "surname and place alone". An evidence id (a hand-keyed
    id) agreeing within one edit overrides them all: twins and parents have their own.
    Returns 1.0 where no rule applies.
    """
    first, last, dob, loc = g[:, 0], g[:, 1], g[:, 2], g[:, 3]
    same_place = ((loc >= 0) & (loc <= 2)) | (g[:, 5] == 0)   # a shared phone is a shared home too
    same_home = same_place & (last >= 0) & (last <= 1)
    personal = ((first >= 0) & (first <= 1)) | ((dob >= 0) & (dob <= 1))
    trap = same_place & ((first == 3) | (same_home & (dob == 3) & (first < 0))) & households
    weak = (same_home & ~personal) | (((same_place & (dob == 3)) | ((first == 3) & (last == 3))) & households)
    return np.where(_own_id(g), 1.0, np.where(trap, HOUSEHOLD_CAP, np.where(weak, REVIEW_CAP, 1.0)))


def _own_id(g: np.ndarray) -> np.ndarray:
    """Pairs whose evidence ids (hand-keyed ids) agree within one edit."""
    edits = g[:, M.NAMES.index("evidence_id")]
    return (edits >= 0) & (edits <= 1)


# Twins are a few in a hundred sibling pairs. Where pairs with a household's "twin" pattern (same
# home and birth date, another first name) are not far rarer than pairs of different people in one
# home (another first name and birth date), they are duplicates with a changed first name (as in
# the FEBRL benchmark sets), not twins. Measured on candidate pairs: generated people 20k, twin-like
# 302 vs 12,237 household pairs; FEBRL3 523 vs 45; FEBRL4 299 vs 229.
TWINS_PER_HOUSEHOLD_PAIR = 0.2
MIN_TWIN_LIKE = 20     # fewer such pairs prove nothing: the household rules stay on


def households_evident(g: np.ndarray) -> bool:
    """Whether the household rules apply to these candidate pairs (see TWINS_PER_HOUSEHOLD_PAIR)."""
    first, last, dob, loc = g[:, 0], g[:, 1], g[:, 2], g[:, 3]
    same_home = (loc >= 0) & (loc <= 2) & (last >= 0) & (last <= 1) & (first == 3)
    twin_like = int((same_home & (dob >= 0) & (dob <= 1)).sum())
    families = int((same_home & (dob == 3)).sum())
    return twin_like < MIN_TWIN_LIKE or twin_like <= TWINS_PER_HOUSEHOLD_PAIR * families


def score(con, settings: dict, f: dict, g: np.ndarray, fs_params: dict) -> dict:
    """Probabilities, weights and explanations for pairs with features f and levels g."""
    return scorer(con, settings, fs_params)(f, g)


def scorer(con, settings: dict, fs_params: dict):
    """score as a function of (f, g) alone: the stored reviewer-trained and calibration models
    are read once, so it runs without a connection (a batch at a time, on Spark's workers too)."""
    from functools import partial

    sup = load_model(con, "supervised") if settings.get("use_supervised", True) else None
    return partial(_score, settings, fs_params, sup, load_model(con, "calibration"))


def _score(settings: dict, fs_params: dict, sup, cal, f: dict, g: np.ndarray) -> dict:
    weights, prior = M.fs_weights(g, fs_params, f)
    fs_total = weights.sum(axis=1) + prior
    p = M.probability_from_weight(fs_total)
    contrib = np.column_stack([weights, np.full(len(g), prior)])
    contrib_names = M.NAMES + ["prior"]
    model_name = "fellegi_sunter"
    if (sup and M.readable_model(sup["blob"], M.design(g[:0], {k: v[:0] for k, v in f.items()})[0].shape[1] + 1)
            and (sup["labels"] or 0) >= int(settings.get("min_labels", 30))):
        # Reviewers label uncertain pairs, so the learned model decides the uncertain band; pairs the
        # unsupervised model is sure about keep its verdict (a few hundred labels cannot overturn it).
        band = (p >= float(settings["low_threshold"])) & (p < float(settings["high_threshold"]))
        x, cols = M.design(g, f)
        p_sup, parts, intercept = M.supervised_predict(sup["blob"], M.with_fs(x, fs_total))
        fs_contrib = contrib
        ln2 = np.log(2)
        contrib = np.zeros((len(g), len(M.NAMES) + 1))
        for j, (comp, _) in enumerate(cols):
            contrib[:, M.NAMES.index(comp)] += parts[:, j] / ln2
        # The Fellegi-Sunter input's share is spread over the fields it came from.
        fs_coef = parts[:, -1] / np.where(np.clip(fs_total, -40, 40) == 0, 1, np.clip(fs_total, -40, 40))
        contrib[:, :len(M.NAMES)] += weights * fs_coef[:, None] / ln2
        contrib[:, -1] = (intercept + fs_coef * prior) / ln2 + (parts[:, -1] - fs_coef * fs_total) / ln2
        contrib = np.where(band[:, None], contrib, fs_contrib)
        p = np.where(band, p_sup, p)
        model_name = "supervised"
    household = np.zeros(len(g), dtype=bool)
    if settings.get("household_guard", True):
        cap = household_caps(g, fs_params.get("households", True))
        household = cap < 1.0
        capped = np.minimum(p, cap)
        lo, hi = np.clip(capped, 1e-12, 1 - 1e-12), np.clip(p, 1e-12, 1 - 1e-12)
        shift = np.log2(lo / (1 - lo)) - np.log2(hi / (1 - hi))
        contrib = np.column_stack([contrib, np.where(household & (capped < p), shift, 0.0)])
        contrib_names = contrib_names + ["household_rule"]
        p = capped
    p_raw = p
    if cal and cal["params"]:
        # Reviewer-calibrated inside the review band (model.calibrate): 0.9 means 9 in 10 are one person.
        p = M.calibrate(cal["params"], p_raw)
        lo, hi = np.clip(p, 1e-12, 1 - 1e-12), np.clip(p_raw, 1e-12, 1 - 1e-12)
        contrib = np.column_stack([contrib, np.log2(lo / (1 - lo)) - np.log2(hi / (1 - hi))])
        contrib_names = contrib_names + ["calibration"]
    uncertainty = 1 - np.abs(2 * p - 1)
    return {"p": p, "p_raw": p_raw, "fs_weight": fs_total, "contrib": contrib, "contrib_names": contrib_names,
            "uncertainty": uncertainty, "household": household, "model": model_name}


# Candidate pairs a batch when resolve scores them: memory holds one batch's features and scores
# plus what is kept (about 60 bytes a pair at or above the low threshold, and 11 bytes a candidate
# pair for the fit's comparison levels).
SCORE_BATCH_PAIRS = 200_000
CONFIDENT = 0.999    # the confident sample's classes: both models beyond 0.999 (or below 0.001)
SAMPLE_SEED = 5
KEPT_SCHEMA = {"l": "BIGINT", "r": "BIGINT", "rules": "INTEGER", "p": "DOUBLE", "fs_weight": "DOUBLE",
               "uncertainty": "DOUBLE", "strength": "DOUBLE", "conflict": "BOOLEAN", "sample": "BOOLEAN"}


def match(con, settings: dict, full: bool = False, progress=None, plane=None) -> dict:
    """Steps 4-9: candidate pairs from `plane` (planes.py: the workspace's DuckDB by default, or
    a backend such as Spark), then the model, chain cuts and the scored pairs in the workspace
    (con), the same on every plane. The per-pair work runs a batch of candidate pairs at a time
    (plane.map_pairs): the fit keeps every pair's comparison levels, the scoring only the pairs
    that are stored (p >= low_threshold) and a bounded sample of confident non-matches."""
    import engine.identity.on_backend as on_backend

    plane = plane or InWorkspace(con)
    n_pairs = plane.candidate_pairs(full)
    if progress:
        progress(0.25, f"Scoring {n_pairs:,} candidate pairs")
    if full:
        con.execute("CREATE OR REPLACE TEMP TABLE _keep_pairs AS SELECT * FROM identity_pairs WHERE reason <> 'fuzzy'")
        rebuild_table(con, "identity_pairs", "SELECT * FROM _keep_pairs")
    if not n_pairs:
        return {"pairs_scored": 0, "auto_merged": 0}
    batch = SCORE_BATCH_PAIRS
    g, rules = on_backend.levels_of(plane.map_pairs(on_backend.levels_frame, on_backend.LEVELS_SCHEMA, batch))
    stored = load_model(con, "fellegi_sunter")
    refit = (full or stored is None or stored["params"] is None or n_pairs > (stored["params"].get("pairs", 0))
             or any(name not in stored["params"]["m"] for name in M.NAMES))   # stored before a comparison was added
    if refit:
        fs_params = fit_model(con, {"rules": rules}, g, plane)
        if not full and stored and "households" in (stored["params"] or {}):
            # An incremental run sees only the new records' pairs: too few to change this verdict.
            fs_params["households"] = stored["params"]["households"]
        save_model(con, "fellegi_sunter", fs_params, labels=0)
    else:
        fs_params = stored["params"]
    households = fs_params.get("households", True)
    capped = int((household_caps(g, households) < 1.0).sum()) if settings.get("household_guard", True) else 0
    del g, rules
    if progress:
        progress(0.45, "Applying the match model")
    score_fn = scorer(con, settings, fs_params)
    low, high = float(settings["low_threshold"]), float(settings["high_threshold"])
    f, s, negatives = _score_in_batches(plane, score_fn, min(low, CONFIDENT), households, batch)
    held = None   # without chain cuts the explanations have no cluster_conflict term
    if settings.get("cluster_consistency", True):
        held = np.zeros(len(s["p"]), dtype=bool)
        held[chain_cuts(con, settings, f["l"], f["r"], s["strength"], s["p"] >= high, s["conflict"], fs_params,
                        plane)] = True
        hold_back(s, held)
    if refit:
        _save_confident_sample(con, plane, f, s, negatives)
    # Explanations are stored for pairs a person will review; merged pairs are explained on demand.
    _store_explained(con, plane, score_fn, f, held, np.flatnonzero((s["p"] >= low) & (s["p"] < high)), batch)
    _store_pairs(con, f, None, s, s["p"] >= high, explained=False)
    return {"pairs_scored": int(n_pairs), "auto_merged": int((s["p"] >= high).sum()), "household_capped": capped,
            "chain_cuts": int(held.sum()) if held is not None else 0, "model": model_name(score_fn),
            "fs_lambda": round(fs_params["lambda"], 4)}


def _score_in_batches(plane, score_fn, keep_from: float, households: bool, batch: int):
    """Every candidate pair scored a batch at a time (`keeping`): the pairs at or above keep_from
    as (f: l, r, rules; s: p, fs_weight, uncertainty, strength, conflict) in pair order (every
    plane's alike), and the batches' confident non-match candidates (l, r)."""
    out = plane.map_pairs(keeping(score_fn, keep_from, households), KEPT_SCHEMA, batch)
    out = out.sort_values(["l", "r"], kind="stable").reset_index(drop=True)
    negatives = out.loc[out["sample"], ["l", "r"]].reset_index(drop=True)
    kept = out[out["p"] >= keep_from]
    f = {k: kept[k].to_numpy(dtype=np.int64) for k in ("l", "r", "rules")}
    s = {k: kept[k].to_numpy() for k in ("p", "fs_weight", "uncertainty", "strength", "conflict")}
    s.update(contrib=np.zeros((len(kept), 0)), contrib_names=[])   # for hold_back: explained later
    return f, s, negatives


def keeping(score_fn, keep_from: float, households: bool, per_class: int = 3000, seed: int = SAMPLE_SEED):
    """match's batch function: a batch's pairs scored (levels and score_fn), returning those at or
    above keep_from with what the chain cuts need (strength, conflict), and the batch's share of
    the confident non-match sample (`sample`: its per_class lowest pair_hash, so the sample is
    the same however the pairs are cut into batches)."""
    def run(f: dict[str, np.ndarray]) -> pd.DataFrame:
        g = M.levels(f)
        s = score_fn(f, g)
        fs_p = M.probability_from_weight(s["fs_weight"])
        sample = np.zeros(len(g), dtype=bool)
        sure = np.flatnonzero((fs_p <= 1 - CONFIDENT) & (s["p"] <= 1 - CONFIDENT))
        sample[lowest_hash(f, sure, per_class, seed)] = True
        rows = (s["p"] >= keep_from) | sample
        # Strength to 1e-9: planes' features agree to that, so ties are broken alike (by pair order).
        columns = {"l": f["l"], "r": f["r"], "rules": f["rules"], "p": s["p"], "fs_weight": s["fs_weight"],
                   "uncertainty": s["uncertainty"], "strength": np.round(s["contrib"].sum(axis=1), 9),
                   "conflict": conflicting(g, s["p"], households), "sample": sample}
        return pd.DataFrame({k: np.asarray(v)[rows] for k, v in columns.items()})

    return run


def pair_hash(l: np.ndarray, r: np.ndarray, seed: int) -> np.ndarray:
    """A seeded pseudo-random uint64 per pair (splitmix64 of l and r), the same on every batch."""
    x = (np.asarray(l).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ (np.asarray(r).astype(np.uint64)
                                                                           + np.uint64(seed))
    for shift, mult in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
        x = (x ^ (x >> np.uint64(shift))) * np.uint64(mult)
    return x ^ (x >> np.uint64(31))


def lowest_hash(f: dict, idx: np.ndarray, k: int, seed: int = SAMPLE_SEED) -> np.ndarray:
    """The k of f's pairs at idx with the lowest pair_hash (ties by l, r): a seeded random sample."""
    l, r = f["l"][idx], f["r"][idx]
    return idx[np.lexsort((r, l, pair_hash(l, r, seed)))[:k]]


def model_name(score_fn) -> str:
    """Which model score_fn decides the review band with (it depends on the stored models only)."""
    empty = {name: np.zeros(0) for name in FEATURES} | {k: np.zeros(0, dtype=np.int64) for k in ("l", "r", "rules")}
    return score_fn(empty, M.levels(empty))["model"]


def _store_explained(con, plane, score_fn, f: dict, held: np.ndarray | None, idx: np.ndarray, batch: int) -> None:
    """Store the pairs at idx with their explanations (features, levels, contributions), a batch
    at a time: their features are computed again (plane.features_for, the same values) and
    scored as in the scoring pass, chain cuts (held, when they ran) held back."""
    for start in range(0, len(idx), batch):
        part = idx[start:start + batch]
        pf = plane.features_for(pd.DataFrame({"l": f["l"][part], "r": f["r"][part]}))
        pf["rules"] = f["rules"][part]
        g = M.levels(pf)
        s = score_fn(pf, g)
        if held is not None:
            hold_back(s, held[part])
        _store_pairs(con, pf, g, s, np.ones(len(part), dtype=bool), explained=True)


def conflicting(g: np.ndarray, p: np.ndarray, households: bool = True) -> np.ndarray:
    """Pairs that are clear evidence of two different people: birth dates years apart, or a
    score so low nothing could outweigh it. (A different first name is not enough: typed
    nicknames and typos make one record of a person look 'different' from another.)
    Birth dates count only where the data has households (households_evident: a father and a
    son) and no evidence id agrees; elsewhere a mistyped birth date is the commoner cause."""
    from engine.identity.consistency import CONFLICT_P

    return ((g[:, 2] == 3) & households & ~_own_id(g)) | (p < CONFLICT_P)


def _cluster_consistency(con, settings: dict, f: dict, g: np.ndarray, s: dict, fs_params: dict,
                         plane=None) -> np.ndarray:
    """chain_cuts over pairs with features f, levels g and scores s, held back in s (hold_back);
    returns the indexes of the pairs held back."""
    cuts = chain_cuts(con, settings, f["l"], f["r"], np.round(s["contrib"].sum(axis=1), 9),
                      s["p"] >= float(settings["high_threshold"]),
                      conflicting(g, s["p"], fs_params.get("households", True)), fs_params, plane)
    held = np.zeros(len(s["p"]), dtype=bool)
    held[cuts] = True
    hold_back(s, held)
    return cuts


def chain_cuts(con, settings: dict, l: np.ndarray, r: np.ndarray, strength: np.ndarray, merged: np.ndarray,
               conflict: np.ndarray, fs_params: dict, plane=None) -> np.ndarray:
    """Automatic merges to hold back so they do not chain clearly different records (consistency.py).

    l, r: the scored pairs (at least every merged one, in pair order), with their strength (match
    weight in bits), whether each is merged and whether it is a conflict (`conflicting`). The
    other candidate pairs inside one merged cluster are found on the plane and scored again.
    Returns indexes into l, r of the merged pairs to hold back (into the review band).
    """
    from engine.identity.consistency import find_cuts
    from engine.identity.graph import components

    plane = plane or InWorkspace(con)
    n = con.execute("SELECT COALESCE(max(rec_id) + 1, 0) FROM identity_records").fetchall()[0][0]
    households = fs_params.get("households", True)

    def conflicts_of(frame):
        ff = plane.features_for(frame)
        gg = M.levels(ff)
        return conflicting(gg, score(con, settings, ff, gg, fs_params)["p"], households)

    if not merged.any():
        return np.zeros(0, dtype=np.int64)
    labels = components(n, l[merged], r[merged])
    inside = np.flatnonzero(np.bincount(labels, minlength=n)[labels] >= 2)
    plane.register("_merged_records", pd.DataFrame({"rec_id": inside, "c": labels[inside]}))
    within = plane.query("""SELECT p.l, p.r FROM _pairs p JOIN _merged_records a ON a.rec_id = p.l
                            JOIN _merged_records b ON b.rec_id = p.r WHERE a.c = b.c""")
    extra = within[~np.isin(within["l"].to_numpy(np.int64) * n + within["r"].to_numpy(np.int64),
                            l.astype(np.int64) * n + r)].reset_index(drop=True)
    if len(extra):   # candidates inside a cluster that were not scored with the pairs given
        l, r = np.concatenate([l, extra["l"].to_numpy(np.int64)]), np.concatenate([r, extra["r"].to_numpy(np.int64)])
        strength = np.concatenate([strength, np.zeros(len(extra))])
        merged = np.concatenate([merged, np.zeros(len(extra), dtype=bool)])
        conflict = np.concatenate([conflict, conflicts_of(extra)])
    return find_cuts(n, l, r, strength, merged, conflict, conflicts_of)


def hold_back(s: dict, held: np.ndarray) -> None:
    """Lower held-back pairs (chain cuts) into the review band, in place, with a
    'cluster_conflict' term in their explanation (0 for the others). Also used when stored
    pairs are re-scored or explained, so a retrain or an explanation does not undo a cut."""
    from engine.identity.consistency import DEMOTED_P

    shift = np.zeros(len(s["p"]))
    idx = np.flatnonzero(held)
    if len(idx):
        before = np.clip(s["p"][idx], 1e-12, 1 - 1e-12)
        after = np.minimum(before, DEMOTED_P)
        shift[idx] = np.log2(after / (1 - after)) - np.log2(before / (1 - before))
        s["p"] = s["p"].copy()
        s["p"][idx] = after
        s["uncertainty"] = 1 - np.abs(2 * s["p"] - 1)
    s["contrib"] = np.column_stack([s["contrib"], shift])
    s["contrib_names"] = s["contrib_names"] + ["cluster_conflict"]


# SQL: whether a stored pair's explanation records a chain cut.
HELD_BACK_SQL = "COALESCE(TRY_CAST(json_extract(contributions, '$.cluster_conflict') AS DOUBLE), 0) < 0"


def _save_confident_sample(con, plane, kept: dict, s: dict, negatives: pd.DataFrame,
                           per_class: int = 3000) -> None:
    """Pairs the unsupervised model is sure about: anchors for the reviewer-trained model, so that
    a few hundred labels on hard pairs refine the model instead of replacing it. A seeded sample
    (lowest_hash) of per_class matches among the kept pairs (kept, scores s after the chain cuts)
    and of per_class non-matches among `negatives` (each batch's candidates, `keeping`)."""
    fs_p = M.probability_from_weight(s["fs_weight"])
    pos = lowest_hash(kept, np.flatnonzero((fs_p >= CONFIDENT) & (s["p"] >= CONFIDENT)), per_class)
    neg = {k: negatives[k].to_numpy(dtype=np.int64) for k in ("l", "r")}
    neg_idx = lowest_hash(neg, np.arange(len(negatives)), per_class)
    frame = pd.DataFrame({"l": np.concatenate([kept["l"][pos], neg["l"][neg_idx]]),
                          "r": np.concatenate([kept["r"][pos], neg["r"][neg_idx]])})
    f = plane.features_for(frame)
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg_idx))]).astype(np.int8)
    arrays = {"g": M.levels(f), "y": y, **{name: f[name] for name in FEATURES}}
    save_model(con, "confident_sample", {"pairs": int(len(frame))}, M.pack(arrays), labels=0)


def confident_sample(con):
    stored = load_model(con, "confident_sample")
    if not stored or not stored["blob"]:
        return None
    return M.unpack(stored["blob"])


def random_pair_features(plane, n_records: int, max_pairs: int = 150_000, seed: int = 42) -> dict:
    """Features of random record pairs (for u probabilities); plane: planes.py."""
    rng = np.random.default_rng(seed)
    k = int(min(max_pairs, max(n_records * (n_records - 1) // 2, 1)))
    ids = plane.query("SELECT rec_id FROM _bkeys ORDER BY rec_id")["rec_id"].to_numpy(dtype=np.int64)  # same sample every run
    a = ids[rng.integers(len(ids), size=k)]
    b = ids[rng.integers(len(ids), size=k)]
    keep = a != b
    return plane.features_for(pd.DataFrame({"l": np.minimum(a, b)[keep], "r": np.maximum(a, b)[keep]}))


SAME_DOB_MAX_GROUP = 2_000   # a birth date shared by more records is a default value, not evidence


DOB_DAY_SQL = "CAST(date_diff('day', DATE '1900-01-01', {}) AS INTEGER)"


def same_dob_pair_features(plane, max_pairs: int = 300_000, seed: int = 43) -> dict | None:
    """Features of all pairs sharing a birth date, for a seeded sample of birth dates.

    These pairs are selected on the birth date alone, so among the different people in them
    names and places agree only by chance: EM can tell matches from coincidences there.
    Birth dates are numbered as days (the same order), so any plane (planes.py) reads them alike.
    """
    counts = plane.query(f"""SELECT d, count(*) AS c FROM (
                                 SELECT {DOB_DAY_SQL.format('n_dob')} AS d FROM _bkeys WHERE n_dob IS NOT NULL)
                             GROUP BY d HAVING count(*) BETWEEN 2 AND {SAME_DOB_MAX_GROUP} ORDER BY d""")
    if not len(counts):
        return None
    c = counts["c"].to_numpy(dtype=np.int64)
    order = np.random.default_rng(seed).permutation(len(c))
    take = order[: max(1, int(np.searchsorted(np.cumsum(c[order] * (c[order] - 1) // 2), max_pairs)))]
    plane.register("_dob_sample", pd.DataFrame({"d": counts["d"].to_numpy(dtype=np.int64)[take]}))
    frame = plane.query(f"""SELECT a.rec_id AS l, b.rec_id AS r FROM _bkeys a
                            JOIN _bkeys b ON a.n_dob = b.n_dob AND a.rec_id < b.rec_id
                            WHERE {DOB_DAY_SQL.format('a.n_dob')} IN (SELECT d FROM _dob_sample)""")
    return plane.features_for(frame) if len(frame) else None


def fit_model(con, f: dict, g: np.ndarray, plane=None) -> dict:
    """Fellegi-Sunter parameters for the current records, with unbiased EM sessions; plane
    (planes.py) holds the blocking tables (the workspace's own connection when not given)."""
    from engine.identity.blocking import RULES

    plane = plane or InWorkspace(con)
    n_records = int(plane.query("SELECT count(*) AS n FROM _bkeys")["n"].iloc[0])
    g_random = M.levels(random_pair_features(plane, n_records))
    u = M.estimate_u(g_random)
    present = float(np.mean(np.all(g_random[:, :3] >= 0, axis=1))) if len(g_random) else 1.0
    sessions = {}
    dob_pairs = same_dob_pair_features(plane)
    if dob_pairs is not None:
        sessions["same birth date"] = M.levels(dob_pairs)
    names_bit = 1 << list(RULES).index("names_exact")
    sessions["same names"] = g[(f["rules"] & names_bit) != 0]
    params = M.fit_fellegi_sunter(g, u_fixed=u, n_records=n_records, sessions=sessions, present=present)
    return {**params, "households": households_evident(g)}


def _store_pairs(con, f, g, s, keep, explained: bool) -> None:
    idx = np.flatnonzero(keep)
    if not len(idx):
        return
    frame = pd.DataFrame({"l": f["l"][idx], "r": f["r"][idx], "rules": f["rules"][idx],
                          "p": s["p"][idx], "fs_weight": s["fs_weight"][idx],
                          "uncertainty": s["uncertainty"][idx]})
    if not explained:
        con.register("_scored", frame)
        _insert_scored(con, "NULL", "NULL")
        con.unregister("_scored")
        return
    for k, name in enumerate(M.NAMES):
        frame[f"g_{name}"] = g[idx, k].astype(np.int16)
    for name in FEATURES:
        frame[f"f_{name}"] = f[name][idx]
    for k, name in enumerate(s["contrib_names"]):
        frame[f"c_{name}"] = np.round(s["contrib"][idx, k], 3)
    con.register("_scored", frame)
    feat = ", ".join([f"'{n}', g_{n}" for n in M.NAMES] + [f"'{n}', f_{n}" for n in FEATURES])
    contrib = ", ".join(f"'{n}', c_{n}" for n in s["contrib_names"])
    _insert_scored(con, f"json_object({feat})", f"json_object({contrib})")
    con.unregister("_scored")


def _insert_scored(con, features_sql: str, contributions_sql: str) -> None:
    from engine.identity.blocking import RULES
    rule_names = ", ".join(f"CASE WHEN rules & {1 << b} <> 0 THEN '{n}' END" for b, n in enumerate(RULES))
    con.execute(f"""
        INSERT OR REPLACE INTO identity_pairs (pair_key, l_source, l_record_id, r_source, r_record_id, rules,
            probability, fs_weight, features, contributions, uncertainty, reason, status, scored_at)
        SELECT identity_pair_key(a.source, a.source_record_id, b.source, b.source_record_id),
               a.source, a.source_record_id, b.source, b.source_record_id,
               concat_ws(',', {rule_names}), s.p, s.fs_weight, {features_sql}, {contributions_sql},
               s.uncertainty, 'fuzzy', 'open', now()
        FROM _scored s JOIN identity_records a ON a.rec_id = s.l JOIN identity_records b ON b.rec_id = s.r
    """)


def features_from_json(rows: list[str]) -> tuple[dict, np.ndarray]:
    """Rebuild (features, levels) from stored pair feature JSON (for training and previews)."""
    data = pd.DataFrame([json.loads(r) if isinstance(r, str) else r for r in rows])
    f = {name: pd.to_numeric(data.get(f"{name}", pd.Series([np.nan] * len(data))), errors="coerce")
         .to_numpy(dtype=float) for name in FEATURES}
    f["l"] = np.zeros(len(data), dtype=np.int64)
    g = np.column_stack([pd.to_numeric(data.get(n, pd.Series([-1] * len(data))), errors="coerce")
                         .fillna(-1).to_numpy(dtype=np.int8)
                         for n in M.NAMES]) if len(data) else np.zeros((0, len(M.NAMES)), dtype=np.int8)
    return f, g
