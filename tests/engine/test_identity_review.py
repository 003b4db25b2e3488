"""Review flow through the engine: queue, accept, reject, undo, bulk, retrain, explain, unmerge survives re-run."""
import json

import numpy as np
import pandas as pd
import pytest

from engine.access import PermissionDenied
from engine.identity import resolve, review
from engine.identity.health import health
from engine.identity.settings import save_settings
from tests.engine.identity_helpers import add_contacts, profile_of
from tests.engine.test_identity_resolve import _noise

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

AMBIGUOUS = [
    # Same name and town, birth date missing on one side, different street: a reviewer's call.
    dict(source="crm", source_record_id="a1", first_name="Nora", last_name="Quill", address_line1="3 Bay Road",
         city="Ogdenville", postcode="70001", date_of_birth="1971-02-03"),
    dict(source="pos", source_record_id="a2", first_name="Nora", last_name="Quill", address_line1="88 Pine Avenue",
         city="Ogdenville", postcode="70002"),
    dict(source="crm", source_record_id="b1", first_name="Omar", last_name="Rusk", address_line1="5 Bay Road",
         city="Ogdenville", postcode="70001", date_of_birth="1966-07-08"),
    dict(source="pos", source_record_id="b2", first_name="Omar", last_name="Rusk", address_line1="19 Hill Lane",
         city="Ogdenville", postcode="70003"),
]

# A third ambiguous pair, loaded after a retrain.
AMBIGUOUS_MORE = [
    dict(source="crm", source_record_id="c1", first_name="Pia", last_name="Stone", address_line1="9 Bay Road",
         city="Ogdenville", postcode="70001", date_of_birth="1980-04-05"),
    dict(source="pos", source_record_id="c2", first_name="Pia", last_name="Stone", address_line1="40 Oak Street",
         city="Ogdenville", postcode="70004"),
]


@pytest.fixture
def queued(built_workspace, admin):
    def build(workspace):
        add_contacts(workspace, AMBIGUOUS + _noise())
        save_settings(workspace, admin, {"low_threshold": 0.01, "high_threshold": 0.995})
        resolve(workspace, admin)
    return built_workspace("identity-review-queued", build)


def _key(ws, left, right):
    return ws.scalar("""SELECT pair_key FROM identity_pairs WHERE (l_record_id = ? AND r_record_id = ?)
                        OR (l_record_id = ? AND r_record_id = ?)""", [left, right, right, left])


def test_queue_is_ordered_by_uncertainty_and_shows_both_sides(queued, admin):
    queue = review.review_queue(queued, admin, limit=10_000)
    assert len(queue) >= 2
    assert list(queue["uncertainty"]) == sorted(queue["uncertainty"], reverse=True)
    row = queue[queue["pair_key"] == _key(queued, "a1", "a2")].iloc[0]
    assert {row["l_first_name"], row["r_first_name"]} == {"Nora"}
    assert review.queue_size(queued) == len(review.review_queue(queued, admin, limit=10_000))
    # Fields are compared as the matcher compares them: same town, other street and postcode.
    assert row["same_city"] and not row["same_address_line1"] and not row["same_postcode"]
    assert pd.isna(row["same_date_of_birth"])                          # one side has none


def test_queue_compares_fields_after_normalisation(workspace, admin):
    """'3 Bay Road, 70 001' and '3 Bay Rd, 70001' are one address to the matcher: the reviewer sees 'same'."""
    add_contacts(workspace, [
        dict(source="crm", source_record_id="norm1", first_name="Nora", last_name="Quill", address_line1="3 Bay Road",
             city="Ogdenville", postcode="70 001", date_of_birth="1971-02-03"),
        dict(source="pos", source_record_id="norm2", first_name="NORA", last_name="Quail", address_line1="3 Bay Rd",
             city="OGDENVILLE", postcode="70001"),
    ] + _noise())
    save_settings(workspace, admin, {"low_threshold": 0.001, "high_threshold": 0.99999})
    resolve(workspace, admin)
    queue = review.review_queue(workspace, admin, limit=10_000)
    row = queue[queue["pair_key"] == _key(workspace, "norm1", "norm2")].iloc[0]
    assert row["same_address_line1"] and row["same_postcode"] and row["same_city"] and row["same_first_name"]
    assert not row["same_last_name"] and pd.isna(row["same_date_of_birth"])


def test_accept_merges_reject_keeps_apart_undo_restores(queued, admin):
    ka, kb = _key(queued, "a1", "a2"), _key(queued, "b1", "b2")
    review.decide(queued, admin, ka, "accept")
    review.decide(queued, admin, kb, "reject")
    assert ka not in set(review.review_queue(queued, admin, limit=1000)["pair_key"])
    resolve(queued, admin)
    assert profile_of(queued, "crm", "a1") == profile_of(queued, "pos", "a2")
    assert profile_of(queued, "crm", "b1") != profile_of(queued, "pos", "b2")
    # A reject holds even when a shared identifier appears later.
    queued.query_rows("SELECT 1")
    add_contacts(queued, [dict(source="web", source_record_id="b3", email="omar@rusk.io")])
    with queued.transaction() as con:
        con.execute("UPDATE contacts SET email = 'omar@rusk.io' WHERE source_record_id IN ('b1', 'b2')")
    resolve(queued, admin)
    assert profile_of(queued, "crm", "b1") != profile_of(queued, "pos", "b2")
    undone = review.undo(queued, admin)
    assert undone["decision"] == "reject"
    resolve(queued, admin)
    assert profile_of(queued, "crm", "b1") == profile_of(queued, "pos", "b2")
    actions = [r[0] for r in queued.query_rows("SELECT action FROM audit_log")]
    assert {"identity.review.accept", "identity.review.reject", "identity.review.undo"} <= set(actions)


def test_bulk_by_score_range_and_bad_input(queued, admin):
    queue = review.review_queue(queued, admin, limit=1000)
    low = float(queue["probability"].min())
    n = review.bulk_decide(queued, admin, "reject", low, 1.0)
    assert n == len(queue) and review.queue_size(queued) == 0
    with pytest.raises(ValueError):
        review.bulk_decide(queued, admin, "maybe", 0, 1)
    with pytest.raises(ValueError):
        review.decide(queued, admin, "no-such-pair", "accept")


def test_roles(queued, analyst):
    assert len(review.review_queue(queued, analyst, limit=5))          # analysts may look...
    row = review.review_queue(queued, analyst, limit=5).iloc[0]
    assert "•" in str(row["l_first_name"])                              # ...at masked data
    with pytest.raises(PermissionDenied):
        review.decide(queued, analyst, row["pair_key"], "accept")


def test_explanation_sums_to_the_probability(queued, admin):
    info = review.explain(queued, admin, _key(queued, "a1", "a2"))
    assert set(info["contributions"]) >= {"first_name", "last_name", "date_of_birth", "location", "prior"}
    assert info["levels"]["date_of_birth"] == "missing" and info["contributions"]["date_of_birth"] == 0
    total = sum(info["contributions"].values())
    assert abs(1 / (1 + 2 ** -total) - info["probability"]) < 1e-6
    assert len(info["records"]) == 2


def _label_queue_and_retrain(ws, admin, accept_every: int, labels: int = 40) -> tuple[pd.DataFrame, dict]:
    """The `labels` most uncertain pairs of the queue labelled (a reviewer's first session; each
    decision is its own transaction, so the whole queue of ~240 would take ~20 s), then a retrain."""
    save_settings(ws, admin, {"min_labels": 4})
    queue = review.review_queue(ws, admin, limit=labels)
    for i, key in enumerate(queue["pair_key"]):
        review.decide(ws, admin, key, "accept" if i % accept_every == 0 else "reject", retrain=False)
    return queue, review.retrain(ws, admin)


def test_retrain_on_labels_switches_model(queued, admin):
    queue, result = _label_queue_and_retrain(queued, admin, accept_every=2)
    assert result["trained"] and result["labels"] == len(queue)
    stats = resolve(queued, admin, full=True)
    assert stats["model"] == "supervised"


def test_unmerge_survives_rerun_and_can_be_undone(workspace, admin):
    add_contacts(workspace, [dict(source="crm", source_record_id=str(i), email="fam@shop.io", first_name=n)
                             for i, n in enumerate(["Al", "Bea", "Cy"])])
    resolve(workspace, admin)
    pid = profile_of(workspace, "crm", "0")
    assert {profile_of(workspace, "crm", r) for r in "012"} == {pid}
    result = review.unmerge(workspace, admin, pid, [[("crm", "2")]])
    assert result["groups"] == 2
    assert profile_of(workspace, "crm", "0") == profile_of(workspace, "crm", "1") == pid   # larger part keeps id
    assert profile_of(workspace, "crm", "2") != pid
    resolve(workspace, admin, full=True)
    assert profile_of(workspace, "crm", "2") != pid
    review.undo_unmerge(workspace, admin, result["split_id"])
    assert profile_of(workspace, "crm", "2") == pid
    with pytest.raises(ValueError):
        review.unmerge(workspace, admin, pid, [[("crm", "nope")]])


def test_health(queued, admin):
    h = health(queued, admin)
    assert h["profiles"] == queued.scalar("SELECT count(*) FROM profiles")
    assert h["records"] == len(AMBIGUOUS) + 80
    assert h["largest_clusters"]["record_count"].iloc[0] >= 2
    with queued.connect() as con:      # the ten largest, each with how many sources its records come from
        expected = con.execute("""SELECT p.profile_id, p.record_count, count(DISTINCT m.source) AS sources
                                  FROM profiles p JOIN profile_members m USING (profile_id) GROUP BY ALL
                                  ORDER BY p.record_count DESC, p.profile_id LIMIT 10""").fetchall()
    got = h["largest_clusters"][["profile_id", "record_count", "sources"]]
    assert [tuple(r) for r in got.itertuples(index=False)] == expected
    assert h["pending_reviews"] >= 2 and h["last_run"]["records"] == h["records"]


def test_calibration_maps_scores_to_observed_match_rates():
    from engine.identity import model as M

    rng = np.random.default_rng(3)
    p = rng.uniform(0.6, 0.95, 4000)
    y = (rng.uniform(size=len(p)) < ((p - 0.6) / 0.35) ** 2).astype(int)   # far below the scores
    cal = M.fit_calibration(p, y, (0.6, 0.95))
    raw_gap = max(abs(b["predicted"] - b["observed"]) for b in cal["reliability"])
    held_out = [b for b in cal["reliability_calibrated"] if b["pairs"] >= 100]
    assert raw_gap > 0.3 and held_out
    assert all(abs(b["predicted"] - b["observed"]) < 0.08 for b in held_out)
    outside = np.array([0.3, 0.97])
    assert M.calibrate(cal, outside).tolist() == outside.tolist()          # only the band is recalibrated
    assert np.all(np.diff(M.calibrate(cal, np.linspace(0.6, 0.949, 50))) >= 0)
    assert M.fit_calibration(p, np.ones(len(p), dtype=int), (0.6, 0.95)) is None
    assert json.loads(json.dumps(cal)) == cal                                 # stored as JSON


def test_retrain_calibrates_the_queue_and_explanations_add_up(queued, admin):
    _, result = _label_queue_and_retrain(queued, admin, accept_every=3)
    assert result["calibration_labels"] > 0
    cal = health(queued, admin)["calibration"]
    assert cal["labels"] == result["calibration_labels"] and len(cal["raw"]) and len(cal["calibrated"])
    add_contacts(queued, AMBIGUOUS_MORE)
    resolve(queued, admin)
    key = _key(queued, "c1", "c2")
    info = review.explain(queued, admin, key)
    assert "calibration" in info["contributions"]
    total = sum(info["contributions"].values())
    assert abs(1 / (1 + 2 ** -total) - info["probability"]) < 1e-6


def test_bulk_accept_band_reaches_the_target_precision(queued, admin):
    keys = review.review_queue(queued, admin, limit=1000)["pair_key"].tolist()
    assert len(keys) >= 10
    scores = [0.99] * 6 + [0.96] * 4 + [0.5] * (len(keys) - 10)
    with queued.transaction() as con:
        con.executemany("UPDATE identity_pairs SET probability = ? WHERE pair_key = ?", list(zip(scores, keys)))
    band = review.bulk_accept_band(queued, admin)
    # Reference: the lowest grid value whose band's mean probability reaches 98%.
    grid = [round(i / 100, 2) for i in range(101)]
    ok = [lo for lo in grid if [s for s in scores if s >= lo] and
          sum(s for s in scores if s >= lo) / len([s for s in scores if s >= lo]) >= 0.98]
    assert band["low"] == ok[0] == 0.97 and band["pairs"] == 6 and band["estimated_precision"] == pytest.approx(0.99)
    assert not band["calibrated"]
    assert review.bulk_accept_band(queued, admin, target=0.999)["low"] is None
