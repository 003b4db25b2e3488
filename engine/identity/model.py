"""Match models: Fellegi-Sunter by EM (no labels needed) and a reviewer-trained classifier.

Comparisons turn features into levels (as Splink's comparison levels do): -1 means
"a side is missing" and contributes nothing. Location (address, postcode, city) is
one comparison, not three: they are strongly correlated, and counting them as
independent evidence is exactly what makes an unsupervised model merge whole
households. m and u are both estimated by EM on the candidate pairs (so that u
reflects what non-matches *among candidates* look like: family members share
surname and address), starting from a rule-of-thumb split.

Each pair's explanation is its per-comparison match weight, log2(m/u), plus the
prior; for the supervised model it is each comparison's share of the logit.
"""
from __future__ import annotations

import io
import json

import numpy as np

COMPARISONS = {
    "first_name": ["exact or nickname", "very similar", "similar", "different"],
    "last_name": ["exact", "very similar", "similar", "different"],
    "date_of_birth": ["exact", "day/month swapped, a day or a year off", "one digit off or within a year",
                      "different"],
    "location": ["same address", "similar address", "same postcode", "same city", "different"],
    "email": ["same", "different"],
    "phone": ["same", "different"],
    # A hand-keyed id declared `identifier_trust: evidence` (features.evidence_types): learned like a field.
    "evidence_id": ["same", "one edit or two characters transposed", "two edits", "different"],
}
NAMES = list(COMPARISONS)


def _nan(x):
    return np.isnan(x)


def levels(f: dict[str, np.ndarray]) -> np.ndarray:
    """Level matrix (pairs x comparisons), int8, -1 = missing."""
    n = len(f["l"])
    g = np.full((n, len(NAMES)), -1, dtype=np.int8)
    swapped = np.nan_to_num(f["swap_sim"], nan=0.0) >= 0.88
    for k, col in ((0, "first_sim"), (1, "last_sim")):
        s = np.where(swapped, np.maximum(np.nan_to_num(f[col], nan=0.0), 0.93), f[col])
        lv = np.select([s >= 0.999, s >= 0.92, s >= 0.80], [0, 1, 2], 3)
        g[:, k] = np.where(_nan(f[col]), -1, lv)
    # Half a swap: one record's surname typed in the other's first-name field (the other name
    # replaced): the surname still agrees, across the fields.
    cross = np.nan_to_num(f.get("cross_sim", np.full(n, np.nan)), nan=0.0)
    g[:, 1] = np.where((cross >= 0.92) & (g[:, 1] > 1), np.where(cross >= 0.999, 0, 1), g[:, 1])
    slip = f["dob_slip"] == 1 if "dob_slip" in f else np.zeros(n, dtype=bool)
    dob = np.select([f["dob_exact"] == 1, f["dob_near"] == 1, slip | (f["dob_days"] <= 366)], [0, 1, 2], 3)
    g[:, 2] = np.where(_nan(f["dob_exact"]), -1, dob)
    addr, post, city, house = f["addr_sim"], f["postcode_eq"], f["city_sim"], f["house_eq"]
    place_ok = (post == 1) | (np.nan_to_num(city, nan=0.0) >= 0.9) | (_nan(post) & _nan(city))
    house_ok = (house != 0)  # equal or unknown
    loc = np.select([(addr >= 0.95) & place_ok & house_ok, (addr >= 0.85) & place_ok & house_ok,
                     post == 1, np.nan_to_num(city, nan=0.0) >= 0.9], [0, 1, 2, 3], 4)
    g[:, 3] = np.where(_nan(addr) & _nan(post) & _nan(city), -1, loc)
    g[:, 4] = np.where(_nan(f["email_eq"]), -1, np.where(f["email_eq"] == 1, 0, 1))
    g[:, 5] = np.where(_nan(f["phone_eq"]), -1, np.where(f["phone_eq"] == 1, 0, 1))
    edits = f.get("evid_dist", np.full(n, np.nan))   # absent from pairs stored before this comparison
    g[:, 6] = np.where(_nan(edits), -1, np.clip(np.nan_to_num(edits), 0, 3)).astype(np.int8)
    return g


def _patterns(g: np.ndarray):
    base = np.int64(8)
    code = np.zeros(len(g), dtype=np.int64)
    for k in range(g.shape[1]):
        code = code * base + (g[:, k].astype(np.int64) + 1)
    uniq, inverse, counts = np.unique(code, return_inverse=True, return_counts=True)
    pats = np.zeros((len(uniq), g.shape[1]), dtype=np.int8)
    rest = uniq.copy()
    for k in range(g.shape[1] - 1, -1, -1):
        pats[:, k] = (rest % base) - 1
        rest //= base
    return pats, inverse, counts


def _log_likelihoods(pats, m, u):
    lm = np.zeros(len(pats))
    lu = np.zeros(len(pats))
    for k, name in enumerate(NAMES):
        if name not in u:   # u given without this comparison: it carries no evidence
            continue
        lv = pats[:, k]
        present = lv >= 0
        idx = np.where(present, lv, 0)
        lm += np.where(present, np.log(m[name][idx]), 0.0)
        lu += np.where(present, np.log(u[name][idx]), 0.0)
    return lm, lu


def estimate_u(g_random: np.ndarray) -> dict:
    """u probabilities from random record pairs (almost all non-matches), as Splink does."""
    u = {}
    for k, name in enumerate(NAMES):
        lv = g_random[:, k]
        counts = np.array([(lv == level).sum() for level in range(len(COMPARISONS[name]))], dtype=float)
        u[name] = (counts + 0.5) / (counts.sum() + 0.5 * len(counts))
    return u


def _em(g: np.ndarray, u: dict, m_fixed: dict | None = None, max_iter: int = 60, tol: float = 1e-6):
    """EM with u fixed: m for comparisons not in m_fixed, and the match share of these pairs."""
    pats, _, counts = _patterns(g)
    counts = counts.astype(float)
    # Start: pairs agreeing closely on every name, birth date and place they have are probably matches.
    present = pats[:, :4] >= 0
    strong = np.all(~present | (pats[:, :4] <= 1), axis=1) & present.any(axis=1)
    w = np.where(strong, 0.9, 0.1)
    lam = None
    m: dict = {}
    for _ in range(max_iter):
        for k, name in enumerate(NAMES):
            if m_fixed and name in m_fixed:
                m[name] = np.asarray(m_fixed[name])
                continue
            nl = len(COMPARISONS[name])
            mk = np.array([(counts * w)[pats[:, k] == level].sum() for level in range(nl)]) + 0.5
            m[name] = mk / mk.sum()
        lam_new = float(np.clip((counts * w).sum() / counts.sum(), 1e-9, 1 - 1e-9))
        lm, lu = _log_likelihoods(pats, m, u)
        logit = np.log(lam_new) - np.log1p(-lam_new) + lm - lu
        w = 1 / (1 + np.exp(-np.clip(logit, -50, 50)))
        if lam is not None and abs(lam_new - lam) < tol:
            lam = lam_new
            break
        lam = lam_new
    return m, lam, float(counts.sum())


# Which comparisons each training session estimates, and on which pairs (as Splink does with
# one EM session per blocking rule: a session never estimates the fields it selected on).
# A session's pairs must be selected on its left-out fields *only*: candidates found by
# "birth date + surname sound" agree on the surname more often than chance even when they are
# different people, and EM fed such pairs takes those coincidences for matches (it inflated the
# m of "different first name" sevenfold at 100k records and fifteenfold at 1M, which let
# same-surname, same-birthday strangers merge). So the sessions use their own pairs: a sample
# of all pairs sharing a birth date (see fuzzy.same_dob_pair_features) and the candidates of
# the names-only blocking rule. Households are the other contamination (twins share a birth
# date, surname and address; a father and son share names and address): EM takes them for
# matches with a different first name (and so make "different first name" look like weak
# evidence). So the first session leaves out pairs with that household pattern (same place,
# different first name); the birth date is learned on pairs sharing both names.
SESSIONS = [  # (name, pair source, filter, left out, estimates)
    ("names and place", "same birth date",
     lambda g: ~((g[:, 3] >= 0) & (g[:, 3] <= 2) & (g[:, 0] == 3)),
     ["date_of_birth"], ["first_name", "last_name", "location", "email", "phone", "evidence_id"]),
    ("birth date", "same names", None, ["first_name", "last_name"], ["date_of_birth"]),
]
# Without birth dates (typical of shop and point-of-sale data) the first session has no pairs of
# its own. Pairs sharing both names are then the unbiased sample for place, email and phone
# (among different people with the same name those agree only by chance; EM on all candidates
# took a different phone for weak evidence and queued same-name strangers for review), and
# names fall back to the candidates, household pattern left out.
SESSIONS_WITHOUT_BIRTH_DATES = [
    ("place and contact", "same names", None, ["first_name", "last_name"],
     ["location", "email", "phone", "evidence_id"]),
    ("names", "candidates", SESSIONS[0][2], [], ["first_name", "last_name"]),
]
M_FLOOR = 1e-3
DEFAULT_PAIRS = {
    "candidates": lambda g: np.ones(len(g), dtype=bool),  # candidates standing in for a source when it is not given
    "same birth date": lambda g: g[:, 2] == 0,
    "same names": lambda g: (g[:, 0] >= 0) & (g[:, 0] <= 1) & (g[:, 1] >= 0) & (g[:, 1] <= 1),
}


def fit_fellegi_sunter(g: np.ndarray, u_fixed: dict, n_records: int, min_pairs: int = 50,
                       sessions: dict[str, np.ndarray] | None = None, present: float = 1.0) -> dict:
    """Fellegi-Sunter parameters without labels.

    u comes from random record pairs. m is estimated by EM in the SESSIONS above, each on
    pairs selected only on the comparisons it leaves out. `sessions` maps a pair source
    ("same birth date", "same names") to the levels of its own pairs; without it the
    session uses candidates. `present`: the share of record pairs with both names and a
    birth date on both sides (for the prior, see _prior_from_clear_matches). The scoring prior is the match share among *all* record pairs,
    so agreement on blocking keys is not counted twice.
    """
    m: dict = {}
    sources = sessions or {}

    def pairs_of(source: str) -> np.ndarray:
        own = sources.get(source)
        return own if own is not None and len(own) >= min_pairs else g[DEFAULT_PAIRS[source](g)]

    plan = SESSIONS if len(pairs_of("same birth date")) >= min_pairs else SESSIONS_WITHOUT_BIRTH_DATES
    for _, source, extra, selected_on, estimates in plan:
        own = pairs_of(source)
        if extra is not None and (extra(own)).sum() >= min_pairs:
            own = own[extra(own)]
        sub = (own if len(own) >= min_pairs else g).copy()
        if len(sub) == 0:
            continue
        for name in selected_on:  # every pair agrees on these: they carry no evidence here
            sub[:, NAMES.index(name)] = -1
        m_s, _, _ = _em(sub, u_fixed)
        for name in estimates:
            # No level is impossible for a match (a typo can make any name "different"):
            # a floor keeps one disagreement from outweighing everything else.
            m[name] = np.maximum(m_s[name], M_FLOOR) / np.maximum(m_s[name], M_FLOOR).sum()
    for name in NAMES:
        if name not in m:
            m[name] = np.full(len(COMPARISONS[name]), 1 / len(COMPARISONS[name]))
    lam = 0.5
    total = 0.0
    if len(g):
        _, lam, total = _em(g, u_fixed, m_fixed=m)
    prior = lam
    if n_records and n_records > 1:
        prior = float(min(0.5, max(lam * total / (n_records * (n_records - 1) / 2), 1e-12)))
        counted = _prior_from_clear_matches(g, m, u_fixed, n_records, present)
        if counted is not None:
            prior = counted
    return {"m": {k: np.asarray(v).tolist() for k, v in m.items()},
            "u": {k: np.asarray(v).tolist() for k, v in u_fixed.items()},
            "lambda": prior, "lambda_candidates": lam, "pairs": int(total)}


def _prior_from_clear_matches(g: np.ndarray, m: dict, u: dict, n_records: int,
                              present: float = 1.0) -> float | None:
    """The share of matches among all record pairs, counted rather than fitted.

    EM's match share among candidates overstates it: candidates were chosen for agreeing on
    blocking keys, which random-pair u calls match evidence, so EM counted most of them as
    matches (8x too many at 1M records, 3x at 100k, growing with scale: more coincidences).
    Instead, as Splink's estimate_probability_two_random_records_match does, count the pairs
    a strict rule finds (both names at least very similar and the same birth date), remove the
    coincidences u expects among all pairs, and divide by the rule's recall: m's, times the
    share of pairs in which both records have both names and a birth date (`present`).
    """
    rule = (g[:, 0] >= 0) & (g[:, 0] <= 1) & (g[:, 1] >= 0) & (g[:, 1] <= 1) & (g[:, 2] == 0)
    found = float(rule.sum())
    recall = float(np.sum(m["first_name"][:2]) * np.sum(m["last_name"][:2]) * m["date_of_birth"][0]) * present
    all_pairs = n_records * (n_records - 1) / 2
    chance = all_pairs * present * float(np.sum(u["first_name"][:2]) * np.sum(u["last_name"][:2]) * u["date_of_birth"][0])
    if found < 20 or recall <= 0:
        return None
    return float(min(0.5, max((found - chance) / recall, found / 2) / all_pairs))


TF_FIELDS = {"first_name": "tf_first", "last_name": "tf_last"}


def fs_weights(g: np.ndarray, params: dict, f: dict | None = None) -> tuple[np.ndarray, float]:
    """Per-comparison match weights (log2 Bayes factors; 0 where missing) and the prior weight.

    With term frequencies (f["tf_first"], f["tf_last"]), exact name agreement is weighed by
    how common the name is, as Splink's term-frequency adjustments do: log2(u_exact / tf).
    """
    out = np.zeros(g.shape, dtype=float)
    for k, name in enumerate(NAMES):
        if name not in params["m"] or name not in params["u"]:   # stored before this comparison: no evidence
            continue
        bf = np.log2(np.asarray(params["m"][name]) / np.asarray(params["u"][name]))
        lv = g[:, k]
        out[:, k] = np.where(lv >= 0, bf[np.where(lv >= 0, lv, 0)], 0.0)
        column = TF_FIELDS.get(name)
        if f is not None and column in f and params.get("term_frequencies", True):
            tf = f[column]
            u_exact = float(params["u"][name][0])
            adjust = np.clip(np.log2(u_exact / np.where(tf > 0, tf, u_exact)), -6, 6)
            out[:, k] += np.where((lv == 0) & ~np.isnan(tf), adjust, 0.0)
    lam = params["lambda"]
    return out, float(np.log2(lam / (1 - lam)))


def probability_from_weight(weight: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp2(-np.clip(weight, -60, 60)))


# -- supervised ---------------------------------------------------------------------
def design(g: np.ndarray, f: dict[str, np.ndarray]) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """One-hot levels plus continuous similarities and household interactions.

    Returns the matrix and, per column, (comparison it explains, column name).
    """
    cols, names = [], []
    for k, name in enumerate(NAMES):
        for level in range(len(COMPARISONS[name])):
            cols.append((g[:, k] == level).astype(float))
            names.append((name, f"{name}={COMPARISONS[name][level]}"))
    for col, comp in (("first_sim", "first_name"), ("last_sim", "last_name"), ("addr_sim", "location"),
                      ("city_sim", "location")):
        cols.append(np.nan_to_num(f[col], nan=0.5))
        names.append((comp, col))
    same_place = (g[:, 3] >= 0) & (g[:, 3] <= 2)
    cols.append((same_place & (g[:, 0] == 3)).astype(float))
    names.append(("first_name", "same place, different first name"))
    cols.append((same_place & (g[:, 2] == 3)).astype(float))
    names.append(("date_of_birth", "same place, different birth date"))
    cols.append((same_place & (g[:, 0] == 3) & (g[:, 2] == 3)).astype(float))
    names.append(("first_name", "household: different first name and birth date"))
    return np.column_stack(cols), names


def with_fs(x: np.ndarray, fs_total: np.ndarray) -> np.ndarray:
    """Append the Fellegi-Sunter weight (bits) as a feature: the learned model starts from it."""
    return np.column_stack([x, np.clip(fs_total, -40, 40)])


SUPERVISED_FORMAT = "logistic-regression/1"


def train_supervised(x: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> bytes:
    """Logistic regression on reviewer labels (plus confident unlabelled pairs, see fuzzy.py).

    Stored as its coefficients in JSON, not as a pickle: it reads the same under any
    scikit-learn version, and loading it runs no code.
    """
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1.0, max_iter=3000)
    clf.fit(x, y, sample_weight=weight)
    if len(clf.classes_) != 2:
        raise ValueError("The match model needs both accepted and rejected pairs to learn from.")
    return json.dumps({"format": SUPERVISED_FORMAT, "coef": clf.coef_[0].tolist(),
                       "intercept": float(clf.intercept_[0])}).encode()


def readable_model(blob: bytes | None, columns: int | None = None) -> bool:
    """True for a model stored as coefficients (for `columns` inputs, when given); a pickle from
    before, or a model trained before a comparison was added, is never used (retrain it)."""
    if not blob:
        return False
    try:
        model = json.loads(bytes(blob))
        return model.get("format") == SUPERVISED_FORMAT and (columns is None or len(model["coef"]) == columns)
    except (ValueError, UnicodeDecodeError, AttributeError, KeyError, TypeError):
        return False


def supervised_predict(blob: bytes, x: np.ndarray):
    """Probability, per-column contributions (coef * x, natural log units) and the intercept."""
    from scipy.special import expit

    model = json.loads(bytes(blob))
    coef, intercept = np.asarray(model["coef"], dtype=float), float(model["intercept"])
    p = expit(x @ coef + intercept)          # what LogisticRegression.predict_proba gives for two classes
    return p, x * coef, intercept


def pack(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def unpack(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob)) as data:
        return {k: data[k] for k in data.files}


# -- calibration ------------------------------------------------------------------------
CALIBRATION_FORMAT = "isotonic/1"
# Calibrated probabilities stay inside this range: a few hundred labels cannot prove certainty.
CALIBRATION_CLIP = (0.005, 0.995)
RELIABILITY_BINS = 10


def _isotonic(p: np.ndarray, y: np.ndarray):
    from sklearn.isotonic import IsotonicRegression

    return IsotonicRegression(y_min=CALIBRATION_CLIP[0], y_max=CALIBRATION_CLIP[1], out_of_bounds="clip").fit(p, y)


def fit_calibration(p: np.ndarray, y: np.ndarray, band: tuple[float, float], folds: int = 5,
                    seed: int = 7) -> dict | None:
    """An increasing map from a score to the share of such pairs that are the same person.

    Isotonic regression of reviewer labels (1 = same person) on the scores the model gave
    the labelled pairs inside the review band; stored as JSON breakpoints (no pickle) and
    applied by `calibrate` with linear interpolation. Kept with it: the reliability of the
    raw scores and of calibrated ones, each pair calibrated by a map fitted without it
    (k-fold), so the chart shows how the calibration does on pairs it has not seen.
    None when the labels in the band do not have both answers.
    """
    inside = (p >= band[0]) & (p < band[1])
    p, y = p[inside].astype(float), y[inside].astype(float)
    if len(p) < 2 or len(set(y.tolist())) < 2:
        return None
    iso = _isotonic(p, y)
    held_out = np.full(len(p), np.nan)
    fold = np.random.default_rng(seed).integers(0, folds, len(p))
    for k in range(folds):
        train = fold != k
        if (~train).any() and len(set(y[train].tolist())) == 2:
            held_out[~train] = _isotonic(p[train], y[train]).predict(p[~train])
    seen = ~np.isnan(held_out)
    return {"format": CALIBRATION_FORMAT, "band": [float(band[0]), float(band[1])],
            "x": [float(v) for v in iso.X_thresholds_], "y": [float(v) for v in iso.y_thresholds_],
            "labels": int(len(y)), "reliability": reliability(p, y),
            "reliability_calibrated": reliability(held_out[seen], y[seen])}


def calibrate(params: dict | None, p: np.ndarray) -> np.ndarray:
    """Calibrated probabilities for scores inside the calibration's band; others unchanged."""
    if not params or params.get("format") != CALIBRATION_FORMAT or not params.get("x"):
        return p
    low, high = params["band"]
    inside = (p >= low) & (p < high)
    return np.where(inside, np.interp(p, params["x"], params["y"]), p)


def reliability(p: np.ndarray, y: np.ndarray, bins: int = RELIABILITY_BINS) -> list[dict]:
    """Predicted against observed: per score bin, the mean probability and the share that matched."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        take = which == b
        if take.any():
            out.append({"bin": f"{edges[b]:.1f}–{edges[b + 1]:.1f}", "predicted": float(p[take].mean()),
                        "observed": float(y[take].mean()), "pairs": int(take.sum())})
    return out
