"""Saving, versions and restore, duplicates, import/export, static segments, references and
cycles, members, reach, overlap, snapshots, roles, and injection attempts."""
from __future__ import annotations

import json

import pytest

from engine.access import PermissionDenied
from engine.segments import (
    DefinitionError,
    SegmentNotFound,
    count_definition,
    count_segment,
    create_segment,
    create_static_segment,
    definition_sql,
    delete_segment,
    duplicate_segment,
    export_segment,
    get_segment,
    import_segment,
    list_segments,
    overlap,
    reachability,
    refresh_segments,
    restore_version,
    sample_members,
    save_segment,
    segment_members,
    segment_versions,
    snapshot_history,
)
from tests.engine.test_segments_conditions import EVIL, build_people, cond, grp, one

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

GB = one("trait", field="country", op="equals", value="GB")
VIP = one("tag", tag="vip")


@pytest.fixture
def ws(workspace):
    build_people(workspace)
    return workspace


def test_create_count_and_members(ws, marketer):
    sid = create_segment(ws, marketer, "UK people", GB, "everyone in Great Britain")
    assert count_segment(ws, marketer, sid) == 2
    df = segment_members(ws, marketer, sid)
    assert sorted(df["profile_id"]) == ["p1", "p3"]
    assert {"email", "phone", "fbp", "gclid", "all_emails"} <= set(df.columns)
    assert df.set_index("profile_id").loc["p1", "email"] == "alice@example.com"
    row = list_segments(ws).set_index("segment_id").loc[sid]
    assert row["name"] == "UK people" and row["last_count"] == 2 and row["version"] == 1
    assert count_definition(ws, VIP) == 2


def test_members_masked_for_analysts(ws, marketer, analyst):
    sid = create_segment(ws, marketer, "UK", GB)
    df = segment_members(ws, analyst, sid)
    assert "alice@example.com" not in set(df["email"].dropna())
    assert df.set_index("profile_id").loc["p1", "email"].startswith("a")
    sample = sample_members(ws, analyst, GB, n=5)
    assert len(sample) == 2 and "alice@example.com" not in set(sample["email"].dropna())


def test_roles(ws, marketer, analyst):
    with pytest.raises(PermissionDenied):
        create_segment(ws, analyst, "x", GB)
    with pytest.raises(PermissionDenied):
        definition_sql(ws, marketer, GB)
    assert count_definition(ws, GB, user=analyst) == 2
    sid = create_segment(ws, marketer, "x", GB)
    with pytest.raises(PermissionDenied):
        save_segment(ws, analyst, sid, VIP)
    with pytest.raises(PermissionDenied):
        delete_segment(ws, analyst, sid)


def test_versions_and_restore(ws, marketer, admin):
    sid = create_segment(ws, marketer, "Audience", GB, "v1")
    assert save_segment(ws, admin, sid, VIP, description="now VIPs") == 2
    assert count_segment(ws, marketer, sid) == 2
    assert sorted(segment_members(ws, marketer, sid)["profile_id"]) == ["p1", "p5"]
    history = segment_versions(ws, sid)
    assert list(history["version"]) == [2, 1]
    assert list(history["saved_by"]) == ["admin", "marketer"]
    old = get_segment(ws, sid, version=1)
    assert old["definition"] == GB and old["description"] == "v1"
    assert restore_version(ws, marketer, sid, 1) == 3
    current = get_segment(ws, sid)
    assert current["version"] == 3 and current["definition"] == GB and current["description"] == "v1"
    assert sorted(segment_members(ws, marketer, sid)["profile_id"]) == ["p1", "p3"]
    assert segment_versions(ws, sid).iloc[0]["note"] == "restored from version 1"
    with pytest.raises(SegmentNotFound):
        restore_version(ws, marketer, sid, 42)
    actions = [r[0] for r in ws.query_rows("SELECT action FROM audit_log WHERE target = ?", [sid])]
    assert actions.count("segment.save") == 2 and "segment.create" in actions


def test_bad_save_loses_nothing(ws, marketer):
    sid = create_segment(ws, marketer, "Keep me", GB)
    with pytest.raises(DefinitionError):
        save_segment(ws, marketer, sid, one("trait", field="country", op="gt_banana", value=1))
    seg = get_segment(ws, sid)
    assert seg["version"] == 1 and seg["definition"] == GB


def test_duplicate_and_unique_names(ws, marketer):
    sid = create_segment(ws, marketer, "Buyers", GB)
    with pytest.raises(ValueError, match="already exists"):
        create_segment(ws, marketer, "buyers", VIP)
    copy_id = duplicate_segment(ws, marketer, sid)
    copy = get_segment(ws, copy_id)
    assert copy["name"] == "Buyers (copy)" and copy["definition"] == GB and copy_id != sid
    assert get_segment(ws, duplicate_segment(ws, marketer, sid))["name"] == "Buyers (copy) 2"


def test_export_import_round_trip(ws, marketer, tmp_path):
    definition = grp("all", cond("trait", field="country", op="equals", value="GB"),
                     grp("none", cond("tag", tag="vip")))
    sid = create_segment(ws, marketer, "UK non-VIP", definition, "desc")
    doc = export_segment(ws, sid)
    text = json.dumps(doc)
    new_id = import_segment(ws, marketer, text, name="Imported UK")
    assert get_segment(ws, new_id)["definition"] == definition
    assert count_segment(ws, marketer, new_id) == 1
    with pytest.raises(DefinitionError, match="not valid JSON"):
        import_segment(ws, marketer, "{not json")
    with pytest.raises(DefinitionError, match="not an exported segment"):
        import_segment(ws, marketer, {"hello": 1})
    bad = dict(doc, definition=one("trait", field="nope", op="equals", value=1))
    with pytest.raises(DefinitionError, match="unknown field"):
        import_segment(ws, marketer, bad, name="Bad")
    assert len(list_segments(ws)) == 2


def test_static_segment_and_references(ws, marketer):
    static = create_static_segment(ws, marketer, "Churn list", ["p2", "p4", "nobody", "p2"])
    assert sorted(segment_members(ws, marketer, static)["profile_id"]) == ["p2", "p4"]
    uk = create_segment(ws, marketer, "UK", GB)
    combined = create_segment(ws, marketer, "UK or churn list",
                              grp("any", cond("segment", segment_id=uk), cond("segment", segment_id=static)))
    assert sorted(segment_members(ws, marketer, combined)["profile_id"]) == ["p1", "p2", "p3", "p4"]
    # a change to the referenced segment flows through
    save_segment(ws, marketer, uk, VIP)
    assert sorted(segment_members(ws, marketer, combined)["profile_id"]) == ["p1", "p2", "p4", "p5"]
    with pytest.raises(ValueError, match="used by"):
        delete_segment(ws, marketer, uk)
    with pytest.raises(DefinitionError, match="does not exist"):
        create_segment(ws, marketer, "ghost", one("segment", segment_id="seg_missing"))


def test_cycles_are_refused(ws, marketer):
    a = create_segment(ws, marketer, "A", GB)
    b = create_segment(ws, marketer, "B", grp("all", cond("segment", segment_id=a), cond("tag", tag="vip")))
    assert count_segment(ws, marketer, b) == 1
    with pytest.raises(DefinitionError, match="cycle"):
        save_segment(ws, marketer, a, one("segment", segment_id=b))
    with pytest.raises(DefinitionError, match="cycle"):
        save_segment(ws, marketer, a, one("segment", segment_id=a))
    assert get_segment(ws, a)["definition"] == GB


def test_delete(ws, marketer):
    sid = create_segment(ws, marketer, "Temp", GB)
    delete_segment(ws, marketer, sid)
    assert sid not in set(list_segments(ws)["segment_id"])
    with pytest.raises(SegmentNotFound):
        segment_members(ws, marketer, sid)
    create_segment(ws, marketer, "Temp", VIP)  # the name is free again


def test_reachability_respects_suppressions(ws, marketer):
    everyone = grp("all")
    reach = reachability(ws, marketer, everyone)
    assert reach == {"members": 6, "email": 4, "phone": 2, "ad_ids": 2, "any_channel": 5}
    with ws.transaction() as con:
        con.execute("INSERT INTO suppressions (id_type, id_hash) VALUES ('email', sha256('bob@example.com'))")
    reach = reachability(ws, marketer, everyone)
    assert reach["email"] == 3 and reach["any_channel"] == 5  # bob is still reachable by fbp


def test_overlap_and_snapshots(ws, marketer):
    uk = create_segment(ws, marketer, "UK", GB)
    vip = create_segment(ws, marketer, "VIP", VIP)
    result = overlap(ws, marketer, [uk, vip])
    m = result["matrix"]
    assert m.loc["UK", "UK"] == 2 and m.loc["VIP", "VIP"] == 2 and m.loc["UK", "VIP"] == 1
    combos = {row.segments: row.people for row in result["combinations"].itertuples()}
    assert combos == {"UK & VIP": 1, "UK": 1, "VIP": 1}
    report = refresh_segments(ws, marketer)
    assert report["counts"] == {uk: 2, vip: 2} and report["index"]["rows"] == 13
    with ws.transaction() as con:
        con.execute("INSERT INTO profile_tags (profile_id, tag) VALUES ('p4', 'vip')")
    refresh_segments(ws, marketer)
    history = snapshot_history(ws, [vip])
    assert list(history["member_count"]) == [2, 2, 3]


def test_injection_attempts_are_harmless(ws, marketer, admin):
    evil_event = "x'); DROP TABLE profiles; --"
    definition = grp("all",
                     cond("event", event=evil_event),
                     cond("trait", field="first_name", op="equals", value=EVIL),
                     cond("trait", field="traits.plan_interest", op="one_of", value=["a'--", 'b"; DELETE']),
                     cond("consent", purpose="email' OR 1=1 --", granted=True),
                     cond("source", source="'; DROP TABLE events; --"),
                     cond("tag", tag="vip'); DELETE FROM profiles; --"))
    sid = create_segment(ws, marketer, "Robert'); DROP TABLE segments;--", definition)
    assert count_segment(ws, marketer, sid) == 0
    compiled = definition_sql(ws, admin, definition)
    for value in (evil_event, EVIL, "a'--", "email' OR 1=1 --", "DROP"):
        assert value not in compiled.sql
    assert evil_event in compiled.params.values()
    # names of fields, traits and properties are checked against allow-lists
    bad_nodes = [
        cond("trait", field="country; DROP TABLE profiles", op="equals", value="x"),
        cond("trait", field='traits.a") OR 1=1 --', op="equals", value="x"),
        cond("event", event="E", filters=[{"property": "x'] OR 1=1 --", "op": "equals", "value": "1"}]),
        cond("aggregate", source="orders", property="amount) FROM orders; --", func="sum", op="gt", value=1),
        cond("value", field="predicted_clv DESC; --", op="gt", value=1),
        cond("trait", field="country", op="equals); DROP", value="x"),
    ]
    for node in bad_nodes:
        with pytest.raises(DefinitionError):
            count_definition(ws, grp("all", node))
    assert ws.scalar("SELECT count(*) FROM profiles") == 6
    assert ws.scalar("SELECT count(*) FROM events") == 14
    assert len(list_segments(ws)) == 1
    # a quote in a value still matches literally
    assert count_definition(ws, one("trait", field="first_name", op="equals", value=EVIL)) == 1
