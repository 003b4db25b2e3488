"""Hand-keyed ids declared evidence (compared by edits), household rules that apply only where the
data has households, half name swaps, and models stored before these comparisons existed."""
import pytest
import json

import numpy as np

from engine.identity import fuzzy
from engine.identity import model as M
from engine.identity.blocking import candidate_pairs, rule_names
from engine.identity.features import compute_features
from engine.identity.records import build_and_guard
from engine.identity.settings import load_settings, save_settings
from tests.engine.identity_helpers import add_contacts

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def _person(source, rid, first, customer_id, dob="1970-03-07"):
    return dict(source=source, source_record_id=rid, first_name=first, last_name="Marsh", customer_id=customer_id,
                address_line1="1 Elm Road", postcode="60001", date_of_birth=dob)


def _pairs_by_record(workspace):
    with workspace.transaction() as con:
        build_and_guard(con, load_settings(workspace))
        candidate_pairs(con, full=True)
        f = compute_features(con)
        ids = dict(con.execute("SELECT rec_id, source_record_id FROM identity_records").fetchall())
    g = M.levels(f)
    k = M.NAMES.index("evidence_id")
    return {frozenset((ids[a], ids[b])): (d, lv, rule_names(rules))
            for a, b, d, lv, rules in zip(f["l"], f["r"], f["evid_dist"], g[:, k], f["rules"])}


def test_an_id_declared_evidence_is_compared_by_edits_within_its_namespace(workspace, admin):
    add_contacts(workspace, [_person("crm", "a", "Kathryn", "SSN4711023"),
                             _person("pos", "b", "Kathryn", "SSN4711032"),     # two digits transposed
                             _person("pos", "c", "Kathryn", "SSN4711023"),
                             _person("web", "d", "Kathryn", "SSN4711023")])    # another namespace
    save_settings(workspace, admin, {"identifier_trust": {"customer_id": "evidence"},
                                     "id_namespaces": {"crm": "ssn", "pos": "ssn"}})
    pairs = _pairs_by_record(workspace)
    assert pairs[frozenset("ab")][:2] == (1, 1)            # one edit (a transposition): level 1
    assert pairs[frozenset("ac")][:2] == (0, 0)
    assert "evidence_id" in pairs[frozenset("ac")][2]      # an exact evidence id is a blocking key
    assert np.isnan(pairs[frozenset("ad")][0]) and pairs[frozenset("ad")][1] == -1   # ids of another system


def test_an_id_left_a_link_is_no_fuzzy_evidence(workspace):
    add_contacts(workspace, [_person("crm", "a", "Kathryn", "C1"), _person("crm", "b", "Kathryn", "C2")])
    pairs = _pairs_by_record(workspace)
    assert pairs[frozenset("ab")][1] == -1


def _g(rows):
    """Level rows (first, last, dob, location, evidence_id, count)."""
    out = []
    for first, last, dob, loc, ev, k in rows:
        row = np.full(len(M.NAMES), -1, dtype=np.int8)
        row[:4] = (first, last, dob, loc)
        row[M.NAMES.index("evidence_id")] = ev
        out.append(np.tile(row, (k, 1)))
    return np.concatenate(out)


def test_household_rules_apply_where_the_data_has_households():
    # Generated people (20k): few twin-like pairs beside many pairs of different people in one home.
    assert fuzzy.households_evident(_g([(3, 0, 3, 0, -1, 12000), (3, 0, 0, 0, -1, 300)]))
    # FEBRL: a changed first name at the same home and birth date is far commoner than families.
    assert not fuzzy.households_evident(_g([(3, 0, 3, 0, -1, 45), (3, 0, 0, 0, -1, 500)]))
    # Too few to tell: the rules stay on (a small workspace with one pair of twins).
    assert fuzzy.households_evident(_g([(3, 0, 0, 0, -1, 3)]))


def test_twin_rule_holds_with_households_and_an_agreeing_evidence_id_overrides_it():
    twins, sr_jr, agreeing_id, other_id = _g([(3, 0, 0, 0, -1, 1), (0, 0, 3, 0, -1, 1), (3, 0, 0, 0, 1, 1),
                                              (3, 0, 0, 0, 3, 1)])
    g = np.stack([twins, sr_jr, agreeing_id, other_id])
    assert list(fuzzy.household_caps(g)) == [fuzzy.HOUSEHOLD_CAP, fuzzy.REVIEW_CAP, 1.0, fuzzy.HOUSEHOLD_CAP]
    assert list(fuzzy.household_caps(g, households=False)) == [1.0, 1.0, 1.0, 1.0]
    high = np.full(4, 0.99)
    assert list(fuzzy.conflicting(g, high)) == [False, True, False, False]       # Sr/Jr: birth dates apart
    assert not fuzzy.conflicting(g, high, households=False).any()


def test_half_a_name_swap_counts_as_surname_agreement():
    n = 3
    nan = np.full(n, np.nan)
    f = {"l": np.arange(n), "first_sim": np.array([0.45, 0.45, 0.45]), "last_sim": np.array([0.40, 0.40, 0.40]),
         "swap_sim": np.array([0.45, 0.45, 0.45]), "cross_sim": np.array([1.0, 0.95, 0.5]),
         "addr_sim": nan, "postcode_eq": nan, "city_sim": nan, "house_eq": nan, "email_eq": nan, "phone_eq": nan,
         "dob_exact": nan, "dob_near": nan, "dob_days": nan}
    g = M.levels(f)
    assert list(g[:, 1]) == [0, 1, 3] and list(g[:, 0]) == [3, 3, 3]


def test_a_model_stored_before_the_evidence_comparison_still_scores_and_retrains():
    g = _g([(0, 0, 0, 0, 1, 2)])
    old = {"m": {n: [0.5] * len(M.COMPARISONS[n]) for n in M.NAMES if n != "evidence_id"},
           "u": {n: [0.5] * len(M.COMPARISONS[n]) for n in M.NAMES if n != "evidence_id"}, "lambda": 0.01}
    weights, _ = M.fs_weights(g, old)
    assert (weights[:, M.NAMES.index("evidence_id")] == 0).all()
    stored = json.dumps({"format": M.SUPERVISED_FORMAT, "coef": [0.1] * 5, "intercept": 0.0}).encode()
    assert M.readable_model(stored) and not M.readable_model(stored, columns=6)
    f, levels = fuzzy.features_from_json([json.dumps({n: 0 for n in M.NAMES if n != "evidence_id"})])
    assert levels[0, M.NAMES.index("evidence_id")] == -1 and np.isnan(f["evid_dist"][0])
