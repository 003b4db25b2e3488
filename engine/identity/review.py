"""The review queue: decisions (accept/reject/undo, bulk), retraining, explanations, unmerge.

Decisions and splits are stored with user and time and audited; they take effect on the
next `resolve()` (the screen and the CLI offer to run it), and every later run respects
them: an accepted pair is merged before anything else, a rejected pair and the groups of
an unmerged profile are never joined again (graph.py tokens).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from engine.access import PII_FIELDS, audit, can, mask_frame, mask_value, require
from engine.identity import fuzzy
from engine.identity import model as M
from engine.identity.household import household_evidence
from engine.identity.records import NORMALISED
from engine.identity.settings import load_settings

RECORD_FIELDS = ["first_name", "last_name", "email", "phone", "address_line1", "city", "postcode",
                 "date_of_birth", "customer_id", "user_id"]
DECISIONS = ("accept", "reject")


def _thresholds(workspace) -> tuple[float, float]:
    s = load_settings(workspace)
    return float(s["low_threshold"]), float(s["high_threshold"])


def review_queue(workspace, user, limit: int = 50, offset: int = 0, source: str | None = None,
                 rule: str | None = None, min_probability: float | None = None,
                 max_probability: float | None = None, reason: str | None = None) -> pd.DataFrame:
    """Pairs waiting for a decision, most informative first (active learning), side by side.

    Columns: pair_key, probability, uncertainty, reason, rules, l_source, l_record_id,
    r_source, r_record_id, and l_<field> / r_<field> for the record fields.
    """
    require(user, "view")
    low, high = _thresholds(workspace)
    where, params = [], [low, high]
    if source:
        where.append("(q.l_source = ? OR q.r_source = ?)")
        params += [source, source]
    if rule:
        where.append("q.rules LIKE ?")
        params.append(f"%{rule}%")
    if reason:
        where.append("q.reason LIKE ?")
        params.append(f"{reason}%")
    if min_probability is not None:
        where.append("COALESCE(q.probability, 0) >= ?")
        params.append(float(min_probability))
    if max_probability is not None:
        where.append("COALESCE(q.probability, 0) <= ?")
        params.append(float(max_probability))
    # same_<field>: equal as the matcher compares them (normalised), as the explanation chart does.
    fields = ", ".join(f"a.{f} AS l_{f}, b.{f} AS r_{f}, (a.{NORMALISED.get(f, f)} = b.{NORMALISED.get(f, f)}) AS same_{f}"
                       for f in RECORD_FIELDS)
    sql = f"""
        SELECT q.pair_key, q.probability, q.uncertainty, q.reason, q.rules,
               q.l_source, q.l_record_id, q.r_source, q.r_record_id, {fields}
        FROM identity_review_queue(?, ?) q
        LEFT JOIN identity_records a ON a.source = q.l_source AND a.source_record_id = q.l_record_id
        LEFT JOIN identity_records b ON b.source = q.r_source AND b.source_record_id = q.r_record_id
        {'WHERE ' + ' AND '.join(where) if where else ''}
        ORDER BY q.uncertainty DESC NULLS LAST, q.probability DESC, q.pair_key
        LIMIT ? OFFSET ?"""
    params += [int(limit), int(offset)]
    df = workspace.query_df(sql, params)
    if not can(user, "view_pii"):
        for f in RECORD_FIELDS:
            if f in PII_FIELDS:
                for side in ("l_", "r_"):
                    df[side + f] = df[side + f].map(mask_value).astype("object")
    return df


BULK_PRECISION = 0.98


def bulk_accept_band(workspace, user, target: float = BULK_PRECISION, step: float = 0.01, **filters) -> dict:
    """The widest band [low, 1] of queued fuzzy pairs whose estimated precision is at least `target`.

    The estimate is the mean probability of the pairs in the band: the share expected to be one
    person when the probabilities are calibrated (model.calibrate; `calibrated` says whether they
    are). `low` is on a grid of `step` (the screen's slider); None when no band reaches the target.
    """
    queue = review_queue(workspace, user, limit=1_000_000, **{**filters, "reason": "fuzzy"})
    p = np.sort(queue["probability"].dropna().to_numpy(dtype=float))[::-1]
    with workspace.connect() as con:
        calibrated = bool(con.execute("SELECT count(*) FROM identity_models WHERE name = 'calibration' "
                                      "AND params IS NOT NULL").fetchall()[0][0])
    result = {"low": None, "high": 1.0, "pairs": 0, "estimated_precision": None, "calibrated": calibrated,
              "target": target}
    if not len(p):
        return result
    grid = np.round(np.arange(0, 1 + step / 2, step), 6)
    counts = np.searchsorted(-p, -grid, side="right")          # pairs with probability >= each grid value
    sums = np.concatenate([[0.0], np.cumsum(p)])[counts]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    ok = np.flatnonzero((counts > 0) & (precision >= target))
    if len(ok):
        i = ok[0]
        result.update(low=float(grid[i]), pairs=int(counts[i]), estimated_precision=float(precision[i]))
    return result


def queue_size(workspace) -> int:
    low, high = _thresholds(workspace)
    return int(workspace.scalar("SELECT count(*) FROM identity_review_queue(?, ?)", [low, high]) or 0)


def _pair(con, pair_key: str) -> dict:
    rows = con.execute(f"""SELECT pair_key, l_source, l_record_id, r_source, r_record_id, features, probability,
                                  {fuzzy.HELD_BACK_SQL}
                           FROM identity_pairs WHERE pair_key = ?""", [pair_key]).fetchall()
    if not rows:
        raise ValueError(f"No candidate pair {pair_key!r}; list the queue with `cdp review list`.")
    keys = ["pair_key", "l_source", "l_record_id", "r_source", "r_record_id", "features", "probability",
            "held_back"]
    return dict(zip(keys, rows[0]))


def explain(workspace, user, pair_key: str) -> dict:
    """Both records, the features, each field's contribution and the probability of one pair.

    Computed now from the current records and models (so it matches what the next run would do).
    """
    require(user, "view")
    settings = load_settings(workspace)
    with workspace.connect() as con:
        pair = _pair(con, pair_key)
        f, g = _features_for(con, [(pair["l_source"], pair["l_record_id"], pair["r_source"], pair["r_record_id"])])
        if not len(g):
            raise ValueError("The records of this pair are no longer loaded; run resolve again.")
        fs = fuzzy.load_model(con, "fellegi_sunter")
        if fs is None or not fs["params"]:
            raise ValueError("No match model yet; run resolve first.")
        s = fuzzy.score(con, settings, f, g, fs["params"])
        fuzzy.hold_back(s, np.array([bool(pair["held_back"])]))
        household = household_evidence(con, (pair["l_source"], pair["l_record_id"]),
                                       (pair["r_source"], pair["r_record_id"]), names=can(user, "view_pii"))
        records = con.execute(f"""
            SELECT source, source_record_id, kind, {', '.join(RECORD_FIELDS)} FROM identity_records
            WHERE (source = ? AND source_record_id = ?) OR (source = ? AND source_record_id = ?)""",
                              [pair["l_source"], pair["l_record_id"], pair["r_source"], pair["r_record_id"]]).df()
    records = mask_frame(records, user)
    contributions = {name: float(s["contrib"][0, k]) for k, name in enumerate(s["contrib_names"])}
    levels = {name: (M.COMPARISONS[name][int(g[0, k])] if g[0, k] >= 0 else "missing")
              for k, name in enumerate(M.NAMES)}
    return {"pair_key": pair_key, "probability": float(s["p"][0]), "model": s["model"],
            "contributions": contributions, "levels": levels, "household": household,
            "features": {k: (None if np.isnan(v[0]) else float(v[0])) for k, v in f.items()
                         if k not in ("l", "r", "rules")},
            "records": records}


def _features_for(con, pairs: list[tuple[str, str, str, str]]):
    """Features and levels for pairs given by record keys (records from the last run)."""
    frame = pd.DataFrame(pairs, columns=["ls", "lr", "rs", "rr"])
    con.register("_want", frame)
    con.execute("""CREATE OR REPLACE TEMP TABLE _pairs_one AS
        SELECT a.rec_id AS l, b.rec_id AS r, 0 AS rules FROM _want w
        JOIN identity_records a ON a.source = w.ls AND a.source_record_id = w.lr
        JOIN identity_records b ON b.source = w.rs AND b.source_record_id = w.rr""")
    con.unregister("_want")
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = '_pairs' AND temporary").fetchall()[0][0]
    if exists:
        con.execute("ALTER TABLE _pairs RENAME TO _pairs_saved")
    try:
        con.execute("ALTER TABLE _pairs_one RENAME TO _pairs")
        from engine.identity.features import compute_features, feature_records
        feature_records(con, "rec_id IN (SELECT l FROM _pairs UNION SELECT r FROM _pairs)")
        f = compute_features(con)
    finally:
        con.execute("DROP TABLE IF EXISTS _pairs")
        if exists:
            con.execute("ALTER TABLE _pairs_saved RENAME TO _pairs")
    return f, M.levels(f)


def decide(workspace, user, pair_key: str, decision: str, retrain: bool = True) -> int:
    """Record accept/reject for a pair; returns the decision id. Audited."""
    require(user, "review_matches")
    if decision not in DECISIONS:
        raise ValueError(f"Decision must be one of {', '.join(DECISIONS)}, not {decision!r}.")
    with workspace.transaction() as con:
        pair = _pair(con, pair_key)
        features = pair["features"]
        if features is None:
            f, g = _features_for(con, [(pair["l_source"], pair["l_record_id"], pair["r_source"], pair["r_record_id"])])
            if len(g):
                features = json.dumps({**{n: int(g[0, k]) for k, n in enumerate(M.NAMES)},
                                       **{k: (None if np.isnan(v[0]) else float(v[0])) for k, v in f.items()
                                          if k not in ("l", "r", "rules")}})
        decision_id = con.execute("""
            INSERT INTO identity_decisions (pair_key, l_source, l_record_id, r_source, r_record_id, decision,
                                            features, decided_by)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING decision_id""",
                                  [pair_key, pair["l_source"], pair["l_record_id"], pair["r_source"],
                                   pair["r_record_id"], decision, features, user.username]).fetchall()[0][0]
        audit(con, user, f"identity.review.{decision}", pair_key,
              {"left": [pair["l_source"], pair["l_record_id"]], "right": [pair["r_source"], pair["r_record_id"]],
               "probability": pair["probability"]})
    if retrain:
        maybe_retrain(workspace, user)
    return int(decision_id)


def bulk_decide(workspace, user, decision: str, min_probability: float, max_probability: float,
                source: str | None = None, rule: str | None = None, reason: str | None = None) -> int:
    """Accept or reject every queued pair with probability in [min, max] (and filters; reason
    'fuzzy' or 'guard' keeps to pairs of that kind). Audited."""
    require(user, "review_matches")
    if decision not in DECISIONS:
        raise ValueError(f"Decision must be one of {', '.join(DECISIONS)}.")
    if min_probability > max_probability:
        raise ValueError("The lower bound is above the upper bound.")
    queue = review_queue(workspace, user, limit=1_000_000, source=source, rule=rule, reason=reason,
                         min_probability=min_probability, max_probability=max_probability)
    if not len(queue):
        return 0
    with workspace.transaction() as con:
        con.register("_bulk", queue[["pair_key"]])
        con.execute("""
            INSERT INTO identity_decisions (pair_key, l_source, l_record_id, r_source, r_record_id, decision,
                                            features, decided_by)
            SELECT p.pair_key, p.l_source, p.l_record_id, p.r_source, p.r_record_id, ?, p.features, ?
            FROM identity_pairs p JOIN _bulk USING (pair_key)""", [decision, user.username])
        con.unregister("_bulk")
        audit(con, user, f"identity.review.bulk_{decision}", None,
              {"pairs": len(queue), "min_probability": min_probability, "max_probability": max_probability,
               "source": source, "rule": rule, "reason": reason})
    maybe_retrain(workspace, user)
    return len(queue)


def undo(workspace, user, decision_id: int | None = None) -> dict:
    """Undo a decision (default: this user's latest one still in force). Audited."""
    require(user, "review_matches")
    with workspace.transaction() as con:
        if decision_id is None:
            rows = con.execute("""SELECT decision_id FROM identity_decisions
                                  WHERE undone_at IS NULL AND decided_by = ?
                                  ORDER BY decision_id DESC LIMIT 1""", [user.username]).fetchall()
            if not rows:
                raise ValueError("Nothing to undo.")
            decision_id = rows[0][0]
        row = con.execute("""UPDATE identity_decisions SET undone_at = now(), undone_by = ?
                             WHERE decision_id = ? AND undone_at IS NULL
                             RETURNING decision_id, pair_key, decision""", [user.username, int(decision_id)]).fetchall()
        if not row:
            raise ValueError(f"Decision {decision_id} does not exist or is already undone.")
        audit(con, user, "identity.review.undo", row[0][1], {"decision_id": row[0][0], "decision": row[0][2]})
    return {"decision_id": row[0][0], "pair_key": row[0][1], "decision": row[0][2]}


def decisions(workspace, user, limit: int = 100) -> pd.DataFrame:
    require(user, "view")
    return workspace.query_df("""SELECT decision_id, pair_key, decision, l_source, l_record_id, r_source, r_record_id,
                                        decided_by, decided_at, undone_at, undone_by
                                 FROM identity_decisions ORDER BY decision_id DESC LIMIT ?""", [int(limit)])


def pending_decisions(workspace) -> int:
    """Decisions and splits made since the last run (they apply on the next one)."""
    return int(workspace.scalar("""
        SELECT (SELECT count(*) FROM identity_decisions
                WHERE greatest(decided_at, COALESCE(undone_at, decided_at)) >
                      COALESCE((SELECT max(finished_at) FROM identity_runs), TIMESTAMPTZ '1970-01-01'))
             + (SELECT count(DISTINCT split_id) FROM identity_splits
                WHERE greatest(created_at, COALESCE(undone_at, created_at)) >
                      COALESCE((SELECT max(finished_at) FROM identity_runs), TIMESTAMPTZ '1970-01-01'))""") or 0)


# -- learning from reviewers --------------------------------------------------------
def _labelled(con, fuzzy_only: bool = False):
    """Features, levels and labels (1 = accepted) of the decisions in force; fuzzy_only leaves out
    pairs a merge guard held (their score ignores the conflicting identifier)."""
    rows = con.execute(f"""SELECT d.features, d.decision FROM identity_current_decisions() d
                           LEFT JOIN identity_pairs p USING (pair_key)
                           WHERE d.features IS NOT NULL
                           {"AND COALESCE(p.reason, 'fuzzy') NOT LIKE 'guard:%'" if fuzzy_only else ""}""").fetchall()
    if not rows:
        return None, None, None
    f, g = fuzzy.features_from_json([r[0] for r in rows])
    y = np.array([r[1] == "accept" for r in rows], dtype=int)
    return f, g, y


def maybe_retrain(workspace, user) -> dict:
    """Retrain when there are enough labels of both kinds; silent otherwise."""
    settings = load_settings(workspace)
    with workspace.connect() as con:
        _, _, y = _labelled(con)
    if y is None or len(y) < int(settings["min_labels"]) or len(set(y)) < 2:
        return {"trained": False, "labels": 0 if y is None else int(len(y))}
    return retrain(workspace, user)


def retrain(workspace, user) -> dict:
    """Train the supervised model on reviewer labels and rescore the queue with it."""
    require(user, "review_matches")
    settings = load_settings(workspace)
    with workspace.transaction() as con:
        f, g, y = _labelled(con)
        if y is None or len(set(y)) < 2:
            return {"trained": False, "labels": 0 if y is None else int(len(y)),
                    "message": "Need both accepted and rejected pairs to learn from."}
        fs = fuzzy.load_model(con, "fellegi_sunter")
        if fs is None or not fs["params"]:
            return {"trained": False, "labels": int(len(y)), "message": "Run resolve first."}
        anchor = fuzzy.confident_sample(con)
        weight = np.full(len(y), 5.0)           # a reviewer's label counts five times a confident guess
        if anchor is not None and len(anchor["y"]):
            # (a sample saved before a feature existed lacks it: missing, as for any absent field)
            af = {name: anchor[name] if name in anchor else np.full(len(anchor["y"]), np.nan)
                  for name in fuzzy.FEATURES}
            g = np.vstack([g, anchor["g"]])
            f = {name: np.concatenate([f[name], af[name]]) for name in fuzzy.FEATURES}
            y = np.concatenate([y, anchor["y"].astype(int)])
            weight = np.concatenate([weight, np.ones(len(anchor["y"]))])
        w, prior = M.fs_weights(g, fs["params"], f)
        x, cols = M.design(g, f)
        blob = M.train_supervised(M.with_fs(x, w.sum(axis=1) + prior), y, weight)
        n_labels = int((weight == 5.0).sum())
        fuzzy.save_model(con, "supervised", {"features": [c for _, c in cols] + ["fellegi_sunter_weight"]},
                         blob, labels=n_labels)
        calibration = _fit_calibration(con, settings, fs["params"])
        rescored = _rescore_explained(con, settings)
        accepted = int(y[weight == 5.0].sum())
        audit(con, user, "identity.model.retrain", "supervised", {"labels": n_labels, "accepted": accepted})
    return {"trained": True, "labels": n_labels, "accepted": accepted, "rescored": rescored,
            "calibration_labels": calibration["labels"] if calibration else 0}


def _fit_calibration(con, settings, fs_params) -> dict | None:
    """Fit (or drop) the calibration on the reviewer-labelled fuzzy pairs, as the new model scores them."""
    f, g, y = _labelled(con, fuzzy_only=True)
    calibration = None
    if y is not None:
        s = fuzzy.score(con, settings, f, g, fs_params)
        calibration = M.fit_calibration(s["p_raw"], y, (float(settings["low_threshold"]),
                                                        float(settings["high_threshold"])))
    if calibration is None:
        con.execute("DELETE FROM identity_models WHERE name = 'calibration'")
    else:
        fuzzy.save_model(con, "calibration", calibration, labels=calibration["labels"])
    return calibration


def _rescore_explained(con, settings) -> int:
    """Update probability, uncertainty and explanation of stored pairs that carry features."""
    rows = con.execute(f"""SELECT pair_key, features, {fuzzy.HELD_BACK_SQL} FROM identity_pairs
                           WHERE features IS NOT NULL AND reason = 'fuzzy'""").fetchall()
    fs = fuzzy.load_model(con, "fellegi_sunter")
    if not rows or fs is None:
        return 0
    f, g = fuzzy.features_from_json([r[1] for r in rows])
    s = fuzzy.score(con, settings, f, g, fs["params"])
    fuzzy.hold_back(s, np.array([bool(r[2]) for r in rows], dtype=bool))
    frame = pd.DataFrame({"pair_key": [r[0] for r in rows], "p": s["p"], "u": s["uncertainty"],
                          "contrib": [json.dumps({n: round(float(c[k]), 3) for k, n in enumerate(s["contrib_names"])})
                                      for c in s["contrib"]]})
    con.register("_rescored", frame)
    con.execute("""UPDATE identity_pairs p SET probability = r.p, uncertainty = r.u, contributions = r.contrib
                   FROM _rescored r WHERE p.pair_key = r.pair_key""")
    con.unregister("_rescored")
    return len(rows)


# -- unmerge --------------------------------------------------------------------------
def profile_records(workspace, user, profile_id: str) -> pd.DataFrame:
    """The source records of a profile (masked for roles without view_pii)."""
    require(user, "view")
    df = workspace.query_df(f"""
        SELECT m.kind, m.source, m.source_record_id, {', '.join('r.' + f for f in RECORD_FIELDS)}
        FROM profile_members m LEFT JOIN identity_records r USING (source, source_record_id)
        WHERE m.profile_id = ? ORDER BY m.source, m.source_record_id""", [profile_id])
    return mask_frame(df, user)


def unmerge(workspace, user, profile_id: str, groups: list[list[tuple[str, str]]] | None = None,
            apply: bool = True, progress=None) -> dict:
    """Split a profile into the given groups of (source, record id), or every record alone.

    Records of the profile not named in any group form one more group. The split is stored
    and respected by every later run. Audited. With apply=True resolve() runs now.
    """
    require(user, "review_matches")
    members = workspace.query_df("SELECT source, source_record_id FROM profile_members WHERE profile_id = ?",
                                 [profile_id])
    if not len(members):
        raise ValueError(f"No profile {profile_id!r}.")
    keys = list(zip(members["source"], members["source_record_id"]))
    if groups is None:
        groups = [[k] for k in keys]
    groups = [[tuple(k) for k in grp] for grp in groups if grp]
    named = {k for grp in groups for k in grp}
    unknown = named - set(keys)
    if unknown:
        raise ValueError(f"These records are not in profile {profile_id}: {sorted(unknown)[:5]}")
    rest = [k for k in keys if k not in named]
    if rest:
        groups.append(rest)
    if len(groups) < 2:
        raise ValueError("An unmerge needs at least two groups.")
    rows = [(g_no, s, r) for g_no, grp in enumerate(groups) for s, r in grp]
    with workspace.transaction() as con:
        split_id = con.execute("SELECT nextval('identity_split_seq')").fetchall()[0][0]
        con.executemany("""INSERT INTO identity_splits (split_id, group_no, source, source_record_id, profile_id,
                                                        created_by) VALUES (?, ?, ?, ?, ?, ?)""",
                        [[split_id, g_no, s, r, profile_id, user.username] for g_no, s, r in rows])
        audit(con, user, "identity.unmerge", profile_id, {"split_id": split_id, "groups": len(groups),
                                                          "records": len(rows)})
    result = {"split_id": int(split_id), "groups": len(groups)}
    if apply:
        from engine.identity.resolve import resolve
        result["run"] = resolve(workspace, user, progress=progress)
    return result


def undo_unmerge(workspace, user, split_id: int, apply: bool = True) -> dict:
    require(user, "review_matches")
    with workspace.transaction() as con:
        n = con.execute("UPDATE identity_splits SET undone_at = now() WHERE split_id = ? AND undone_at IS NULL "
                        "RETURNING split_id", [int(split_id)]).fetchall()
        if not n:
            raise ValueError(f"No active unmerge {split_id}.")
        audit(con, user, "identity.unmerge.undo", str(split_id), {})
    result = {"split_id": int(split_id)}
    if apply:
        from engine.identity.resolve import resolve
        result["run"] = resolve(workspace, user)
    return result


def splits(workspace, user) -> pd.DataFrame:
    require(user, "view")
    return workspace.query_df("""SELECT split_id, any_value(profile_id) AS profile_id, count(DISTINCT group_no) AS groups,
                                        count(*) AS records, any_value(created_by) AS created_by,
                                        min(created_at) AS created_at
                                 FROM identity_splits WHERE undone_at IS NULL GROUP BY split_id ORDER BY split_id DESC""")
