import pytest
from engine.access import audit_entries
from tests.app_pages.jobs_helpers import settle
from tests.app_pages.lazy_tabs import has_widget, open_tab
from tests.engine.journey_data import build

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

TABS = ("Golden record", "Timeline", "Source records", "Identifiers", "Segments and syncs")


def _open(at, query, pid):
    at.text_input(key="profile_query").input(query).run()
    assert not at.exception, at.exception
    at.selectbox(key="profile_pick").select(pid).run()
    assert not at.exception, at.exception
    return at


def test_search_and_open_a_profile(logged_in_app, app_env, admin):
    build(app_env)
    at = logged_in_app("marketer", "app_pages/profiles.py")
    # Never built yet: the screen says so while the build runs in the background, then searches.
    assert any("Building profile search for the first time" in i.value for i in at.info)
    settle(at, app_env)
    assert not any("Building" in i.value for i in at.info)
    _open(at, "alcie smth", "P1")
    assert any(s.value == "Alice Smith" for s in at.subheader)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Orders"] == "1" and metrics["Revenue to date"] == "100.00"
    assert metrics["Lead stage"] == "customer" and metrics["RFM segment"] == "Champions"
    assert "Timeline" in [t.label for t in at.tabs]
    log = audit_entries(app_env, admin, action="profile.view")
    assert log["target"].tolist() == ["P1"] and log["username"].tolist() == ["marketer"]
    # Add a tag and a note from the page.
    at.text_input(key="profile_new_tag").input("vip")
    at.text_area(key="profile_new_note").input("Wants the yearly plan")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception, at.exception
    assert "Wants the yearly plan" in [t.value for t in at.text]
    tags = [df.value for df in at.dataframe if "tag" in df.value.columns]
    assert tags and tags[0]["tag"].tolist() == ["vip"]
    assert not has_widget(at, "multiselect", "profile_timeline_types")   # lazy tabs: Timeline has not run
    open_tab(at, "profiles_tab", "Timeline")
    assert not at.exception, at.exception
    assert at.get("plotly_chart")                                        # activity over time


def test_analyst_sees_masked_profile(logged_in_app, app_env):
    build(app_env)
    at = settle(logged_in_app("analyst", "app_pages/profiles.py"), app_env)
    _open(at, "P2", "P2")   # analysts find people by id, not by personal values
    frames = []
    for label in TABS:                      # every tab, each opened in turn
        frames += [df.value for df in open_tab(at, "profiles_tab", label).dataframe]
        assert not at.exception, f"{label}: {at.exception}"
    text = " ".join(frame.astype(str).to_csv() for frame in frames)
    assert "bob.jones@example.org" not in text
    assert "masked" in " ".join(c.value for c in at.caption)
    assert not at.text_input(key="profile_query").value == ""
    assert all(t.key != "profile_new_tag" for t in at.text_input)   # analysts cannot tag
