"""Segment defects found feeding audiences: ties in top_percent, snapshots on every save, the
current CRM stage, and deleting a segment that feeds audience links."""
from __future__ import annotations

import pytest

from engine.activation.audiences import link_audience
from engine.segments import (
    SegmentFeedsAudiences,
    audience_links,
    create_segment,
    delete_segment,
    list_segments,
    save_segment,
    snapshot_history,
)
from tests.engine.test_segments_conditions import build_people, members, one

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

GB = one("trait", field="country", op="equals", value="GB")
VIP = one("tag", tag="vip")


def _scored(ws, rows) -> None:
    """Profiles p00.. with (p_alive, predicted_clv) scores."""
    with ws.transaction() as con:
        ids = [f"p{i:02d}" for i in range(len(rows))]
        con.executemany("INSERT INTO profiles (profile_id) VALUES (?)", [(p,) for p in ids])
        con.executemany("INSERT INTO profile_scores (profile_id, p_alive, predicted_clv, r_score) VALUES (?, ?, ?, ?)",
                        [(p, alive, clv, 5) for p, (alive, clv) in zip(ids, rows)])


def test_top_percent_cuts_through_ties(workspace):
    # Everyone has p_alive 1.0 and r_score 5: a cut by share of tied values used to select no one.
    _scored(workspace, [(1.0, float(v)) for v in range(20)])
    top10 = members(workspace, one("value", field="p_alive", op="top_percent", value=10))
    assert top10 == {"p19", "p18"}                           # 10 % of 20, ranked by predicted CLV
    assert len(members(workspace, one("value", field="r_score", op="top_percent", value=25))) == 5
    assert len(members(workspace, one("value", field="p_alive", op="top_percent", value=100))) == 20


def test_top_percent_ties_without_tiebreakers_fall_back_to_profile_id(workspace):
    _scored(workspace, [(1.0, None)] * 10)
    assert members(workspace, one("value", field="p_alive", op="top_percent", value=30)) == {"p00", "p01", "p02"}


def test_top_percent_description_names_the_tie_rule():
    from engine.segments import describe
    text = describe(one("value", field="p_alive", op="top_percent", value=10))
    assert "ties ranked by predicted_clv, then monetary" in text


def test_saving_a_version_takes_a_snapshot(workspace, marketer):
    build_people(workspace)
    sid = create_segment(workspace, marketer, "Audience", GB)
    save_segment(workspace, marketer, sid, VIP)
    save_segment(workspace, marketer, sid, name="Renamed")
    history = snapshot_history(workspace, [sid])
    assert list(history["version"]) == [1, 2, 3]
    assert list(history["member_count"]) == [2, 2, 2]
    with workspace.transaction() as con:
        con.execute("INSERT INTO profile_tags (profile_id, tag) VALUES ('p4', 'vip')")
    save_segment(workspace, marketer, sid, description="after p4 became a VIP")
    assert snapshot_history(workspace, [sid])["member_count"].iloc[-1] == 3
    assert list_segments(workspace).set_index("segment_id").loc[sid, "last_count"] == 3


def test_crm_stage_is_the_latest_record(workspace):
    build_people(workspace)
    with workspace.transaction() as con:
        # p2 has an older CRM record at MQL and a newer one at Customer (two CRMs, one person).
        con.execute("UPDATE contacts SET lead_stage = 'MQL', updated_at = TIMESTAMPTZ '2026-01-01 00:00:00+00' "
                    "WHERE source_record_id = 'c2'")
        con.execute("INSERT INTO contacts (source, source_record_id, lead_stage, updated_at) "
                    "VALUES ('crm2', 'x2', 'Customer', TIMESTAMPTZ '2026-04-01 00:00:00+00')")
        con.execute("INSERT INTO profile_members (profile_id, kind, source, source_record_id) "
                    "VALUES ('p2', 'contacts', 'crm2', 'x2')")
        # p3's newer record has no stage: its current stage stays Opportunity.
        con.execute("INSERT INTO contacts (source, source_record_id, owner, updated_at) "
                    "VALUES ('crm2', 'x3', 'Sam', TIMESTAMPTZ '2026-05-01 00:00:00+00')")
        con.execute("INSERT INTO profile_members (profile_id, kind, source, source_record_id) "
                    "VALUES ('p3', 'contacts', 'crm2', 'x3')")
    stage = lambda op, value=None: members(workspace, one("crm", measure="stage_is", op=op, value=value))  # noqa: E731
    assert stage("equals", "Customer") == {"p1", "p2"}
    assert stage("equals", "MQL") == set()
    assert stage("not_equals", "MQL") == {"p1", "p2", "p3", "p4", "p5", "p6"}
    assert stage("equals", "Opportunity") == {"p3"}
    assert stage("is_set") == {"p1", "p2", "p3"}


def test_delete_refuses_a_segment_that_feeds_audiences_unless_forced(workspace, admin):
    build_people(workspace)
    sid = create_segment(workspace, admin, "UK", GB)
    key = link_audience(workspace, admin, "segment", sid, "sandbox", schedule="daily")
    with workspace.transaction() as con:
        con.execute("INSERT INTO activation_membership (audience_key, profile_id, member_json) "
                    "VALUES (?, 'p1', '{}'), (?, 'p3', '{}')", [key, key])
    assert audience_links(workspace, sid) == [{"audience_key": key, "destination": "sandbox", "schedule": "daily",
                                               "members_at_destination": 2}]
    with pytest.raises(SegmentFeedsAudiences, match="2 people at the destination"):
        delete_segment(workspace, admin, sid)
    assert sid in set(list_segments(workspace)["segment_id"])
    result = delete_segment(workspace, admin, sid, force=True)
    assert sid not in set(list_segments(workspace)["segment_id"])
    assert [a["audience_key"] for a in result["audiences"]] == [key]
    assert "kept" in result["audience_links"]
    # the link and what the destination holds are kept; nothing runs on a schedule any more
    assert workspace.scalar("SELECT schedule FROM activation_audiences WHERE audience_key = ?", [key]) == "manual"
    assert workspace.scalar("SELECT count(*) FROM activation_membership WHERE audience_key = ?", [key]) == 2


def test_delete_without_links_says_so(workspace, admin):
    build_people(workspace)
    sid = create_segment(workspace, admin, "UK", GB)
    result = delete_segment(workspace, admin, sid)
    assert result["audiences"] == [] and result["audience_links"] == "none"
