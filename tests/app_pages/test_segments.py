"""The Segments screen: build a two-group segment, see its count, save it."""
from __future__ import annotations

import pytest
from engine.access import User
from engine.segments import count_segment, create_segment, get_segment, list_segments
from tests.engine.test_segments_conditions import build_people

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def _metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_build_two_group_segment_count_and_save(logged_in_app, app_env):
    build_people(app_env)
    at = logged_in_app("marketer", "app_pages/segments.py")
    assert not at.exception
    # Empty root group matches everyone.
    assert _metric(at, "Members") == "6"
    # Group 1 (root, all of): country equals GB.
    at.button(key="root_addc").click().run()
    cond_uid = at.session_state["seg_tree"]["children"][0]["_uid"]
    at.selectbox(key=f"{cond_uid}_field").select("country").run()
    at.text_input(key=f"{cond_uid}_string_text").input("GB").run()
    assert _metric(at, "Members") == "2"
    # Group 2 (nested, none of): tagged vip.
    at.button(key="root_addg").click().run()
    group_uid = at.session_state["seg_tree"]["children"][1]["_uid"]
    at.selectbox(key=f"{group_uid}_gop").select("none").run()
    at.button(key=f"{group_uid}_addc").click().run()
    tag_uid = at.session_state["seg_tree"]["children"][1]["children"][0]["_uid"]
    at.selectbox(key=f"{tag_uid}_kind").select("tag").run()
    at.multiselect(key=f"{tag_uid}_tags").select("vip").run()
    assert not at.exception, at.exception
    assert _metric(at, "Members") == "1"  # p3: in GB, not a VIP
    assert _metric(at, "By phone") == "1"
    # Marketers see a sample of members unmasked, but not the SQL.
    assert not any("Generated SQL" in e.label for e in at.expander)
    at.text_input(key="seg_name").input("UK non-VIPs").run()
    at.button(key="seg_save_new").click().run()
    assert not at.exception, at.exception
    saved = list_segments(app_env)
    assert list(saved["name"]) == ["UK non-VIPs"] and saved.iloc[0]["last_count"] == 1
    definition = get_segment(app_env, saved.iloc[0]["segment_id"])["definition"]
    assert definition["children"][1]["op"] == "none"
    assert definition["children"][1]["children"][0] == {"type": "condition", "kind": "tag", "tag": ["vip"]}
    assert any("Saved" in s.value for s in at.success)


def test_analyst_counts_but_cannot_save_and_admin_sees_sql(logged_in_app, app_env):
    build_people(app_env)
    at = logged_in_app("analyst", "app_pages/segments.py")
    assert not at.exception
    assert _metric(at, "Members") == "6"
    assert not [b for b in at.button if b.key == "seg_save_new"]
    sample = at.dataframe[0].value
    assert "alice@example.com" not in set(sample["email"].dropna())
    admin = logged_in_app("admin", "app_pages/segments.py")
    assert any("Generated SQL" in e.label for e in admin.expander)


UK = {"type": "group", "op": "all", "children": [
    {"type": "condition", "kind": "trait", "field": "country", "op": "equals", "value": "GB"}]}


@pytest.mark.slow
def test_every_condition_kind_renders_and_counts(logged_in_app, app_env):
    build_people(app_env)
    uk = create_segment(app_env, User("admin", "admin"), "UK", UK)
    at = logged_in_app("admin", "app_pages/segments.py")
    at.button(key="root_addc").click().run()
    uid = at.session_state["seg_tree"]["children"][0]["_uid"]
    expected = ["trait", "segment", "event", "sequence", "aggregate", "orders", "subscription", "crm", "value",
                "consent", "source", "tag"]
    assert len(at.selectbox(key=f"{uid}_kind").options) == len(expected)   # no kind left out
    for kind in expected:
        at.selectbox(key=f"{uid}_kind").select(kind).run()
        assert not at.exception, (kind, at.exception)
        node = at.session_state["seg_tree"]["children"][0]
        assert node["kind"] == kind
    # the last one (tag with nothing picked) asks for more, without crashing
    assert any("Finish the rules" in w.value for w in at.warning)
    # event: Order Completed at least 2 times, at any time -> p1, p4
    at.selectbox(key=f"{uid}_kind").select("event").run()
    at.selectbox(key=f"{uid}_event").select("Order Completed").run()
    at.number_input(key=f"{uid}_cnt").set_value(2).run()
    assert not at.exception, at.exception
    assert next(m.value for m in at.metric if m.label == "Members") == "2"
    at.selectbox(key=f"{uid}_cop").select("none").run()  # did not perform -> p3, p5, p6
    assert next(m.value for m in at.metric if m.label == "Members") == "3"
    # trait: country equals GB -> p1, p3
    at.selectbox(key=f"{uid}_kind").select("trait").run()
    at.selectbox(key=f"{uid}_field").select("country").run()
    at.text_input(key=f"{uid}_string_text").input("GB").run()
    assert not at.exception, at.exception
    assert _metric(at, "Members") == "2"
    at.text_input(key=f"{uid}_string_text").input("DE").run()   # -> p4
    assert _metric(at, "Members") == "1"
    # segment: member of the saved segment UK -> p1, p3
    at.selectbox(key=f"{uid}_kind").select("segment").run()
    at.selectbox(key=f"{uid}_seg").select(uk).run()
    assert not at.exception, at.exception
    assert at.session_state["seg_tree"]["children"][0]["segment_id"] == uk
    assert _metric(at, "Members") == "2"
    assert any("Generated SQL" in e.label for e in at.expander)


def test_switching_kind_starts_from_the_new_kinds_defaults(logged_in_app, app_env):
    build_people(app_env)
    at = logged_in_app("marketer", "app_pages/segments.py")
    at.button(key="root_addc").click().run()
    uid = at.session_state["seg_tree"]["children"][0]["_uid"]
    at.selectbox(key=f"{uid}_kind").select("event").run()
    at.selectbox(key=f"{uid}_wt").select("last_days").run()
    at.number_input(key=f"{uid}_wd").set_value(7).run()
    assert at.session_state["seg_tree"]["children"][0]["window"] == {"type": "last_days", "days": 7}
    at.selectbox(key=f"{uid}_kind").select("aggregate").run()
    assert not at.exception, at.exception
    node = at.session_state["seg_tree"]["children"][0]
    assert node["kind"] == "aggregate" and "window" not in node
    assert at.selectbox(key=f"{uid}_wt").value == "ever"


def test_delete_of_a_segment_feeding_an_audience_asks_first(logged_in_app, app_env):
    from engine.activation.audiences import link_audience
    build_people(app_env)
    admin = User("admin", "admin")
    sid = create_segment(app_env, admin, "UK", UK)
    link_audience(app_env, admin, "segment", sid, "sandbox")
    at = logged_in_app("admin", "app_pages/segments.py")
    at.selectbox(key="seg_pick").select(sid)      # picked and opened in one run
    at.button(key="seg_open").click().run()
    at.button(key="seg_delete").click().run()
    assert not at.exception, at.exception
    assert any("audience link" in w.value for w in at.warning)
    assert at.button(key="seg_delete_yes").disabled
    at.checkbox(key="seg_delete_force").check().run()
    at.button(key="seg_delete_yes").click().run()
    assert not at.exception, at.exception
    assert sid not in set(list_segments(app_env)["segment_id"])


@pytest.mark.slow
def test_every_kind_has_an_editor_that_keeps_its_example(logged_in_app, app_env):
    """Each kind's example, opened in the builder, renders through its editor and still counts."""
    import copy

    from engine.segments import kinds
    from ui import segment_editors

    assert set(segment_editors.EDITORS) == set(kinds.NAMES)
    build_people(app_env)
    admin = User("admin", "admin")
    uk = create_segment(app_env, admin, "UK", UK)
    examples = {}
    for kind in kinds.NAMES:
        condition = copy.deepcopy(kinds.KINDS[kind].EXAMPLE)
        if kind == "segment":
            condition["segment_id"] = uk
        examples[kind] = create_segment(app_env, admin, f"Example {kind}", {"type": "group", "op": "all",
                                                                              "children": [condition]})
    at = logged_in_app("admin", "app_pages/segments.py")       # one session opens each example in turn
    for kind, sid in examples.items():
        at.selectbox(key="seg_pick").select(sid)      # picked and opened in one run
        at.button(key="seg_open").click().run()
        assert not at.exception, (kind, at.exception)
        node = at.session_state["seg_tree"]["children"][0]
        assert node["kind"] == kind
        assert not any("Finish the rules" in w.value for w in at.warning), kind
        assert _metric(at, "Members") == str(count_segment(app_env, admin, sid)), kind


def test_a_kind_without_an_editor_is_named():
    import pytest

    from ui import segment_editors

    with pytest.raises(KeyError, match="ui/segment_editors/loud.py"):
        segment_editors.editor("loud")


def test_overlap_and_size_tabs_run_only_when_opened(logged_in_app, app_env):
    build_people(app_env)
    admin = User("admin", "admin")
    for name, country in (("In GB", "GB"), ("In US", "US"), ("Outside GB", None)):
        op = {"op": "equals", "value": country} if country else {"op": "not_equals", "value": "GB"}
        create_segment(app_env, admin, name, {"type": "group", "op": "all", "children": [
            {"type": "condition", "kind": "trait", "field": "country", **op}]})
    at = logged_in_app("marketer", "app_pages/segments.py")
    assert not at.exception, at.exception
    assert not [m for m in at.multiselect if m.key == "seg_overlap_pick"]   # closed tab: not run
    at.session_state["seg_tab"] = "Overlap"
    at.run()
    assert not at.exception, at.exception
    assert [m for m in at.multiselect if m.key == "seg_overlap_pick"]
    assert len(at.get("plotly_chart")) == 2                                  # matrix and combinations
    at.session_state["seg_tab"] = "Size over time"
    at.run()
    at.button(key="seg_refresh").click().run()
    assert not at.exception, at.exception
    assert any("Counted 3 segments" in s.value for s in at.success)
    assert at.get("plotly_chart")                                            # sizes over time
