"""RFM scores and segments on hand-built data."""
from datetime import date

import pytest

from engine.access import PermissionDenied
from engine.value import (DEFAULT_RULES, RuleError, rfm_scores, save_segment_rules, score_rfm,
                          segment_rules)
from tests.engine.value_data import add_orders

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

ORDERS = [
    ("a", "2024-06-28 10:00", 100), ("a", "2024-06-01", 50), ("a", "2024-05-01", 50),
    ("a", "2024-07-05", 999),  # after the as-of date: ignored
    ("b", "2024-06-20", 20),
    ("c", "2024-03-01", 500), ("c", "2024-02-01", 500),
    ("d", "2024-01-01", 10),
    ("e", "2024-06-30 23:00", 30), ("e", "2024-06-29", 30), ("e", "2024-06-15", 30), ("e", "2024-06-10", 30),
]
AS_OF = date(2024, 6, 30)


@pytest.fixture
def shop(workspace):
    add_orders(workspace, ORDERS)
    return workspace


def test_scores_and_segments_as_of_a_date(shop, analyst):
    df = rfm_scores(shop, analyst, AS_OF).set_index("profile_id")
    assert df.loc["a", ["recency_days", "frequency", "monetary"]].tolist() == [2, 3, 200]
    assert df.loc["e", "recency_days"] == 0 and df.loc["d", "recency_days"] == 181
    assert df["r_score"].to_dict() == {"a": 4, "b": 3, "c": 2, "d": 1, "e": 5}
    # b and d both bought once: ties share the lower score
    assert df["f_score"].to_dict() == {"a": 4, "b": 1, "c": 3, "d": 1, "e": 5}
    assert df["m_score"].to_dict() == {"a": 4, "b": 2, "c": 5, "d": 1, "e": 3}
    assert df["rfm_segment"].to_dict() == {
        "a": "Loyal", "b": "About to Sleep", "c": "At Risk", "d": "Lost", "e": "Champions"}


def test_earlier_as_of_sees_only_earlier_orders(shop, analyst):
    df = rfm_scores(shop, analyst, date(2024, 3, 15)).set_index("profile_id")
    assert sorted(df.index) == ["c", "d"]
    assert df.loc["c", "recency_days"] == 14 and df.loc["c", "monetary"] == 1000


def test_default_rules_cover_every_cell():
    from engine.value.rfm import validate_rules
    rules = validate_rules(DEFAULT_RULES)
    assert len(rules) == 11
    for r in range(1, 6):
        for f in range(1, 6):
            assert any(rule["r"][0] <= r <= rule["r"][1] and rule["f"][0] <= f <= rule["f"][1]
                       for rule in rules), (r, f)


def test_edited_rules_are_stored_and_used(shop, marketer, analyst):
    save_segment_rules(shop, marketer, [{"name": "Whales", "m": [5, 5]}, {"name": "Rest"}])
    assert [r["name"] for r in segment_rules(shop)] == ["Whales", "Rest"]
    df = rfm_scores(shop, analyst, AS_OF).set_index("profile_id")
    assert df["rfm_segment"].to_dict() == {"a": "Rest", "b": "Rest", "c": "Whales", "d": "Rest", "e": "Rest"}
    with pytest.raises(RuleError, match="low <= high"):
        save_segment_rules(shop, marketer, [{"name": "Bad", "r": [4, 2]}])
    with pytest.raises(PermissionDenied):
        save_segment_rules(shop, analyst, [{"name": "X"}])
    assert [r["name"] for r in segment_rules(shop)] == ["Whales", "Rest"]  # nothing lost
    save_segment_rules(shop, marketer, None)  # back to the defaults
    assert len(segment_rules(shop)) == 11


def test_score_rfm_writes_profile_scores(shop, marketer, analyst):
    summary = score_rfm(shop, marketer, AS_OF)
    assert summary["customers"] == 5 and summary["segments"]["Champions"] == 1
    rows = dict(shop.query_rows("SELECT profile_id, rfm_segment FROM profile_scores"))
    assert rows == {"a": "Loyal", "b": "About to Sleep", "c": "At Risk", "d": "Lost", "e": "Champions"}
    assert shop.scalar("SELECT DISTINCT as_of FROM profile_scores") == AS_OF
    assert shop.scalar("SELECT count(*) FROM audit_log WHERE action = 'value.rfm'") == 1
    with pytest.raises(PermissionDenied):
        score_rfm(shop, analyst, AS_OF)


def test_pareto_curve_and_cohorts_on_hand_built_orders(shop):
    from engine.value import insights

    curve = insights.pareto_curve(shop, date(2024, 7, 31))
    # revenue per customer: a 1199, c 1000, e 120, b 20, d 10 (total 2349)
    assert curve["customer_share"].tolist() == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert curve["revenue_share"].tolist() == pytest.approx(
        [0, 1199 / 2349, 2199 / 2349, 2319 / 2349, 2339 / 2349, 1.0])
    cohorts = insights.cohort_retention(shop, date(2024, 7, 31))
    may = cohorts[cohorts["cohort"] == "2024-05"]
    assert may["months_since"].tolist() == [0, 1, 2] and may["retention"].tolist() == [1.0, 1.0, 1.0]
    june = cohorts[cohorts["cohort"] == "2024-06"]
    assert june["cohort_size"].tolist() == [2] and june["retention"].tolist() == [1.0]
    jan = cohorts[cohorts["cohort"] == "2024-01"]
    assert jan["months_since"].tolist() == [0]  # d never came back
