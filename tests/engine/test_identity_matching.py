"""Matching internals that decide accuracy at scale: blocking keys, birth-date levels, EM sessions,
the counted prior and chain cuts."""
import pytest
import numpy as np
import pandas as pd

from engine.identity import model as M
from engine.identity.blocking import candidate_pairs, rule_names
from engine.identity.consistency import find_cuts
from engine.identity.features import _dob_features
from engine.identity.records import build_and_guard
from engine.identity.settings import load_settings
from tests.engine.identity_helpers import add_contacts

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def test_swapped_birth_date_still_meets_its_twin(workspace):
    # Different first-name sound, moved house, day and month swapped: only the
    # swap-insensitive birth-date key with the surname sound brings these two together.
    add_contacts(workspace, [
        dict(source="crm", source_record_id="k1", first_name="Kathryn", last_name="Marsh",
             address_line1="1 Elm Road", postcode="60001", date_of_birth="1970-03-07"),
        dict(source="pos", source_record_id="k2", first_name="Catherine", last_name="Marsh",
             address_line1="99 Oak Lane", postcode="61999", date_of_birth="1970-07-03"),
        dict(source="pos", source_record_id="k3", first_name="Kevin", last_name="Marsh",
             address_line1="5 Pine Way", postcode="62000", date_of_birth="1971-07-03"),
    ])
    with workspace.transaction() as con:
        build_and_guard(con, load_settings(workspace))
        candidate_pairs(con, full=True)
        pairs = con.execute("""SELECT a.source_record_id, b.source_record_id, p.rules FROM _pairs p
                               JOIN identity_records a ON a.rec_id = p.l JOIN identity_records b ON b.rec_id = p.r""").fetchall()
    found = {frozenset((a, b)): rule_names(rules) for a, b, rules in pairs}
    assert "dob+surname_sound" in found[frozenset(("k1", "k2"))]
    assert frozenset(("k1", "k3")) not in found  # a year apart and another first name: not a candidate


def test_birth_date_levels_tell_entry_errors_from_one_digit_off():
    a = np.array([19700307, 19700307, 19700307, 19700307, 19700307, 19700307], dtype=float)
    b = np.array([19700307, 19700703, 19700308, 19690307, 19800307, 19551120], dtype=float)
    days = (pd.to_datetime(b.astype(int).astype(str)) - pd.to_datetime(a.astype(int).astype(str))).days
    f = _dob_features(a, b, np.asarray(days, dtype=float))
    assert list(f["dob_exact"]) == [1, 0, 0, 0, 0, 0]
    assert list(f["dob_near"]) == [0, 1, 1, 1, 0, 0]      # swap, a day off, a year off
    assert list(f["dob_slip"]) == [0, 0, 0, 0, 1, 0]      # a decade off is one digit but weak evidence
    n = len(a)
    nan = np.full(n, np.nan)
    g = M.levels({"l": np.arange(n), "first_sim": nan, "last_sim": nan, "swap_sim": nan, "addr_sim": nan,
                  "postcode_eq": nan, "city_sim": nan, "house_eq": nan, "email_eq": nan, "phone_eq": nan, **f})
    assert list(g[:, 2]) == [0, 1, 1, 1, 2, 3]


def _levels(rows, n):
    """Level matrix from (first, last, dob, location, count) rows; email and phone missing."""
    g = np.concatenate([np.tile(np.array([a, b, c, d] + [-1] * (len(M.NAMES) - 4), dtype=np.int8), (k, 1)) for a, b, c, d, k in rows])
    assert len(g) == n
    return g


def test_em_learns_names_from_its_own_pairs_not_from_blocked_coincidences():
    u = {"first_name": np.array([0.005, 0.003, 0.006, 0.986]), "last_name": np.array([0.003, 0.001, 0.004, 0.992]),
         "date_of_birth": np.array([3e-5, 2e-4, 0.03, 0.96977]),
         "location": np.array([1e-5, 1e-5, 1e-4, 1e-3, 0.99888]), "email": np.array([0.01, 0.99]),
         "phone": np.array([0.01, 0.99])}
    # Candidates blocked on birth date + surname: strangers sharing both look like matches
    # with a "different" first name.
    candidates = _levels([(0, 0, 0, 0, 900), (1, 0, 0, 0, 100), (3, 0, 0, 4, 600), (0, 0, -1, 4, 50)], 1650)
    # All pairs sharing a birth date: names agree by chance only.
    same_dob = _levels([(0, 0, 0, 0, 900), (1, 0, 0, 0, 100), (3, 3, 0, 4, 20000), (3, 0, 0, 4, 60),
                        (0, 3, 0, 4, 90)], 21150)
    biased = M.fit_fellegi_sunter(candidates, u, n_records=100_000)
    fair = M.fit_fellegi_sunter(candidates, u, n_records=100_000, sessions={"same birth date": same_dob})
    assert biased["m"]["first_name"][3] > 0.2
    assert fair["m"]["first_name"][3] < 0.02
    assert fair["m"]["first_name"][3] >= M.M_FLOOR * 0.99   # never impossible: a typo can do it


def test_prior_is_counted_and_stays_put_as_data_grows():
    m = {"first_name": np.array([0.77, 0.22, 0.005, 0.005]), "last_name": np.array([0.77, 0.22, 0.005, 0.005]),
         "date_of_birth": np.array([0.9, 0.08, 0.01, 0.01])}
    u = {"first_name": np.array([0.0, 0.0, 0.0, 1.0]), "last_name": np.array([0.0, 0.0, 0.0, 1.0]),
         "date_of_birth": np.array([0.0, 0.0, 0.0, 1.0])}
    for n_records, true_matches in ((10_000, 4_000), (1_000_000, 400_000)):
        recall = 0.99 * 0.99 * 0.9 * 0.8
        found = int(true_matches * recall)
        g = _levels([(0, 0, 0, 0, found), (3, 3, 3, 4, 50)], found + 50)
        prior = M._prior_from_clear_matches(g, m, u, n_records, present=0.8)
        truth = true_matches / (n_records * (n_records - 1) / 2)
        assert abs(prior / truth - 1) < 0.01


def test_chain_cut_separates_records_that_clearly_differ():
    # 0 - 1 - 2 - 3: each step looks like a match, but 0 and 3 were born years apart.
    l, r = np.array([0, 1, 2, 5]), np.array([1, 2, 3, 6])
    strength = np.array([30.0, 12.0, 28.0, 20.0])
    merged = np.ones(4, dtype=bool)
    seen = []

    def conflicts_of(frame):
        seen.append(set(zip(frame["l"], frame["r"])))
        return ((frame["l"] == 0) & (frame["r"] == 3)).to_numpy()

    cuts = find_cuts(7, l, r, strength, merged, np.zeros(4, dtype=bool), conflicts_of)
    assert list(cuts) == [1]                        # the weakest link of the chain, nothing else
    assert seen == [{(0, 2), (0, 3), (1, 3)}]       # only pairs inside the cluster that were not scored
    none = find_cuts(7, l, r, strength, merged, np.zeros(4, dtype=bool), lambda f: np.zeros(len(f), dtype=bool))
    assert len(none) == 0
    # A conflict among scored candidates counts too (no fresh pairs needed).
    l2, r2 = np.array([0, 1, 0]), np.array([1, 2, 2])
    cuts = find_cuts(3, l2, r2, np.array([30.0, 25.0, -9.0]), np.array([True, True, False]),
                     np.array([False, False, True]), lambda f: np.zeros(len(f), dtype=bool))
    assert list(cuts) == [1]


def test_resolve_does_not_chain_father_and_son_through_a_record_without_birth_date(workspace, admin):
    import json

    from engine.identity import resolve
    from engine.identity.settings import save_settings
    from tests.engine.identity_helpers import add_father_son_chain, profile_of

    add_father_son_chain(workspace)
    save_settings(workspace, admin, {"cluster_consistency": False})
    resolve(workspace, admin, full=True)
    assert profile_of(workspace, "crm", "sr") == profile_of(workspace, "crm", "jr")   # the chain
    save_settings(workspace, admin, {"cluster_consistency": True})
    stats = resolve(workspace, admin, full=True)
    assert stats["chain_cuts"] >= 1
    assert profile_of(workspace, "crm", "sr") != profile_of(workspace, "crm", "jr")
    assert profile_of(workspace, "shop", "hub") in (profile_of(workspace, "crm", "sr"), profile_of(workspace, "crm", "jr"))
    held = workspace.query_rows("""SELECT probability, contributions FROM identity_pairs
                                   WHERE 'hub' IN (l_record_id, r_record_id) AND status = 'open'""")
    assert held and all(p < 0.95 for p, _ in held)
    assert any(json.loads(c)["cluster_conflict"] < 0 for _, c in held)
    # The explanation shows the cut too, and an incremental run does not re-form the chain.
    from engine.identity import review
    key = workspace.scalar("""SELECT pair_key FROM identity_pairs WHERE 'hub' IN (l_record_id, r_record_id)
                              AND status = 'open' ORDER BY probability DESC LIMIT 1""")
    info = review.explain(workspace, admin, key)
    assert info["probability"] < 0.95 and info["contributions"]["cluster_conflict"] < 0
    with workspace.transaction() as con:    # what a retrain does to stored pairs
        review._rescore_explained(con, load_settings(workspace))
    assert workspace.scalar("SELECT probability FROM identity_pairs WHERE pair_key = ?", [key]) < 0.95
    resolve(workspace, admin)
    assert profile_of(workspace, "crm", "sr") != profile_of(workspace, "crm", "jr")


def test_without_birth_dates_contact_evidence_is_learned_on_same_name_pairs():
    """Shop and till data often has no birth dates: a different phone must still count against.

    Among pairs sharing both names, matches keep their phone and email (95% and 90% here) while
    namesakes differ on both; EM on every candidate mixed in households and namesakes and took
    a different phone for weak evidence, queueing name-only strangers for review.
    """
    rng = np.random.default_rng(3)

    def pairs(n, first, last, location, email_same, phone_same):
        g = np.full((n, len(M.NAMES)), -1, dtype=np.int8)
        g[:, 0], g[:, 1], g[:, 3] = first, last, location
        g[:, 4] = np.where(rng.random(n) < email_same, 0, 1)
        g[:, 5] = np.where(rng.random(n) < phone_same, 0, 1)
        return g

    matches = pairs(600, 0, 0, 2, 0.90, 0.95)
    namesakes = pairs(900, 0, 0, 4, 0.0, 0.0)
    households = pairs(900, 3, 0, 0, 0.3, 0.6)          # same home and surname, another first name
    g = np.vstack([matches, namesakes, households])
    randoms = pairs(5000, 3, 3, 4, 0.0, 0.0)
    randoms[:50, 0] = 0                                  # a few shared first names by chance
    u = M.estimate_u(randoms)
    params = M.fit_fellegi_sunter(g, u_fixed=u, n_records=20_000,
                                  sessions={"same names": np.vstack([matches, namesakes])})
    assert params["m"]["phone"][1] < 0.12                # matches rarely change phone
    assert params["m"]["email"][1] < 0.2
    different_phone = np.log2(params["m"]["phone"][1] / params["u"]["phone"][1])
    assert different_phone < -3                          # bits against the match


def _one_person_entered_many_times(workspace, n):
    """n records of one person (the heavily duplicated CRM case): same birth date, surname,
    postcode and email, the first name sometimes mistyped."""
    firsts = ["Jonathan", "Jonathon", "Johnathan", "Jonathan", "Jonatan"]
    add_contacts(workspace, [dict(source="crm", source_record_id=f"d{i}", first_name=firsts[i % 5], last_name="Okafor",
                                  postcode="60614", date_of_birth="1984-05-17", email="j.okafor@example.com")
                             for i in range(n)])


def test_candidate_pairs_stay_linear_when_one_person_is_entered_hundreds_of_times(workspace):
    from engine.identity.blocking import WINDOW

    n = 300
    _one_person_entered_many_times(workspace, n)
    with workspace.transaction() as con:
        build_and_guard(con, load_settings(workspace))
        windowed = candidate_pairs(con, full=True)
        pairs = con.execute("SELECT l, r FROM _pairs").fetchall()
        every_pair = candidate_pairs(con, full=True, window=n)    # control: the old all-pairs blocks
    assert every_pair == n * (n - 1) // 2                          # 44,850: quadratic in the duplicates
    assert windowed <= n * WINDOW                                  # 6,000 at most: linear
    parent = list(range(n))                                        # and still one connected person

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i
    ids = {}
    for l, r in pairs:
        a, b = ids.setdefault(l, len(ids)), ids.setdefault(r, len(ids))
        parent[root(a)] = root(b)
    assert len(ids) == n and len({root(i) for i in range(n)}) == 1


def test_supervised_model_is_stored_as_coefficients_and_predicts_as_scikit_learn():
    import json
    import pickle

    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 5))
    y = (x[:, 0] - 0.5 * x[:, 3] + rng.normal(scale=0.5, size=300) > 0).astype(int)
    weight = rng.uniform(1, 5, size=300)
    blob = M.train_supervised(x, y, weight)
    stored = json.loads(blob)                      # plain data: no code runs when it is read
    assert stored["format"] == M.SUPERVISED_FORMAT and len(stored["coef"]) == 5
    reference = LogisticRegression(C=1.0, max_iter=3000).fit(x, y, sample_weight=weight)
    p, parts, intercept = M.supervised_predict(blob, x)
    np.testing.assert_allclose(p, reference.predict_proba(x)[:, 1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(parts, x * reference.coef_[0], rtol=1e-9, atol=1e-12)
    assert intercept == float(reference.intercept_[0])
    assert M.readable_model(blob)
    # a pickled model (as stored before) is never loaded: scoring falls back until it is retrained
    assert not M.readable_model(pickle.dumps(reference)) and not M.readable_model(None)
    assert not M.readable_model(b'{"format": "something else"}')
