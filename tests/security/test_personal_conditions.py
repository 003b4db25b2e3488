"""Masked values cannot be recovered by counting: a role without view_pii may not compare a
personal field with a value in a segment (engine, CLI, the Segments screen's live count), nor
find people by typing their name, email or phone into the profile search."""
from __future__ import annotations

import json

import pytest

from engine.access import PII_FIELDS, PermissionDenied, is_personal_field
from engine.cli.main import main
from engine.profiles import search_profiles
from engine.segments import count_definition, model, reachability, sample_members
from tests.engine.test_segments_conditions import build_people, one

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

PREFIX = one("trait", field="email", op="starts_with", value="dan")   # p4: dan@shop.com

PROBES = {
    "email starts with": PREFIX,
    "phone contains": one("trait", field="phone", op="contains", value="7700"),
    "first name equals": one("trait", field="first_name", op="equals", value="Alice"),
    "date of birth before": one("trait", field="date_of_birth", op="before", value="1988-01-01"),
    "custom trait in camelCase": one("trait", field="traits.firstName", op="starts_with", value="a"),
    "event property filter": one("event", event="Order Completed",
                                 filters=[{"property": "email", "op": "starts_with", "value": "a"}]),
    "sequence step filter": one("sequence", first={"event": "Product Viewed",
                                                   "filters": [{"property": "phone", "op": "equals", "value": "1"}]},
                                then={"event": "Order Completed"}, within_days=7),
    "nested and negated": {"type": "group", "op": "any", "children": [
        {"type": "group", "op": "none", "children": [
            {"type": "condition", "kind": "trait", "field": "email", "op": "ends_with", "value": ".com"}]}]},
}


@pytest.fixture
def people(workspace):
    build_people(workspace)
    return workspace


def test_one_list_of_personal_fields():
    assert all(is_personal_field(f) for f in PII_FIELDS)
    assert is_personal_field("traits.firstName") and is_personal_field("properties.Email")
    assert not is_personal_field("country") and not is_personal_field("traits.plan_interest")


@pytest.mark.parametrize("name", list(PROBES))
def test_analyst_may_not_count_by_a_personal_value(people, analyst, name):
    definition = PROBES[name]
    for call in (lambda: count_definition(people, definition, user=analyst),
                 lambda: reachability(people, analyst, definition),
                 lambda: sample_members(people, analyst, definition),
                 lambda: model.validate(definition, user=analyst)):
        with pytest.raises(model.PersonalConditionRefused, match="personal fields"):
            call()


def test_marketer_counts_by_a_personal_value(people, marketer, analyst):
    """Control: the same prefix count works for a role that sees personal data."""
    assert count_definition(people, PREFIX, user=marketer) == 1
    assert reachability(people, marketer, PREFIX)["members"] == 1
    # and the refusal is a permission error as well as a definition error (CLI, screens)
    with pytest.raises(PermissionDenied):
        count_definition(people, PREFIX, user=analyst)


def test_analyst_may_still_ask_whether_a_personal_field_is_set(people, analyst):
    assert count_definition(people, one("trait", field="email", op="is_set"), user=analyst) == 4
    assert count_definition(people, one("trait", field="country", op="equals", value="GB"), user=analyst) == 2


@pytest.mark.parametrize("role, code, expected", [("analyst", 1, None), ("marketer", 0, "1")])
def test_cli_count_refuses_the_prefix_for_analysts(people, tmp_path, monkeypatch, capsys, role, code, expected):
    path = tmp_path / "probe.json"
    path.write_text(json.dumps(PREFIX))
    monkeypatch.setenv("CDP_WORKSPACE", str(people.path))
    monkeypatch.setenv("CDP_ROLE", role)
    assert main(["segment", "count", "--from-json", str(path)]) == code
    out, err = capsys.readouterr()
    if expected is None:
        assert "personal fields (email)" in err and len(err.strip().splitlines()) == 1 and not out
    else:
        assert out.strip() == expected


@pytest.mark.parametrize("username, refused", [("analyst", True), ("marketer", False)])
def test_segments_screen_live_count_refuses_the_prefix(logged_in_app, app_env, username, refused):
    build_people(app_env)
    at = logged_in_app(username, "app_pages/segments.py")
    at.button(key="root_addc").click().run()
    uid = at.session_state["seg_tree"]["children"][0]["_uid"]
    at.selectbox(key=f"{uid}_field").select("email").run()
    at.selectbox(key=f"{uid}_string_op").select("starts_with").run()
    at.text_input(key=f"{uid}_string_text").input("dan").run()
    assert not at.exception, at.exception
    members = [m.value for m in at.metric if m.label == "Members"]
    errors = [e.value for e in at.error]
    if refused:
        assert not members and any("personal fields (email)" in e for e in errors)
    else:
        assert members == ["1"] and not errors


def test_profile_search_does_not_match_personal_values_for_analysts(people, analyst, marketer):
    for query in ("alice", "alice@example.com", "dan@", "+447700900001", "07700 900001", "Ali"):
        assert len(search_profiles(people, marketer, query)), query   # control: real matches
        assert search_profiles(people, analyst, query).empty, query
    # non-personal identifiers still find people
    assert list(search_profiles(people, analyst, "p4")["profile_id"])[:1] == ["p4"]
    assert list(search_profiles(people, analyst, "u2")["profile_id"]) == ["p2"]


def test_funnel_property_filters_on_personal_fields_need_view_pii(workspace, analyst, marketer):
    from datetime import timedelta

    from engine.journeys import JourneyError, funnel, funnel_dropoffs
    from tests.engine.journey_data import FUNNEL, build
    build(workspace)
    probe = [{"event": FUNNEL[0], "filters": [{"property": "traits.email", "op": "contains", "value": "a"}]},
             FUNNEL[1]]
    funnel(workspace, marketer, probe, window=timedelta(days=7))          # control: allowed with view_pii
    with pytest.raises(JourneyError, match="personal properties"):
        funnel(workspace, analyst, probe, window=timedelta(days=7))
    with pytest.raises(JourneyError, match="personal properties"):
        funnel_dropoffs(workspace, analyst, probe, 2, window=timedelta(days=7))
    presence = [{"event": FUNNEL[0], "filters": [{"property": "email", "op": "is set"}]}, FUNNEL[1]]
    assert len(funnel(workspace, analyst, presence, window=timedelta(days=7)).steps) == 2
