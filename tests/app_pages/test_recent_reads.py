"""Reads that answer at once after a data change (ui/recent.py): the last result while the new one
is counted in the background, then the new one; a failed recount is shown by the next call."""
from __future__ import annotations

import threading

import pytest

from tests.app_pages.jobs_helpers import wait_for_recounts
from tests.engine.journey_data import FUNNEL, build

GATE = {"release": threading.Event(), "fail": False}


def count_profiles(workspace) -> int:
    """Held at GATE while a test looks at what is shown meanwhile (module level: keyed by name)."""
    assert GATE["release"].wait(30)
    if GATE["fail"]:
        raise RuntimeError("the count broke")
    return workspace.scalar("SELECT count(*) FROM profiles")


def add_profile(workspace, profile_id: str) -> None:
    with workspace.transaction() as con:
        con.execute("INSERT INTO profiles (profile_id) VALUES (?)", [profile_id])


@pytest.fixture
def recent(app_env, monkeypatch):
    from ui import recent as module
    monkeypatch.setattr(module, "_RESULTS", type(module._RESULTS)())
    monkeypatch.setattr(module, "RECOUNT_EVERY", 0.0)      # every change recounts (see the last test)
    GATE["release"].set()
    GATE["fail"] = False
    return module


def test_after_a_change_the_last_result_is_shown_until_the_new_one_is_counted(recent, app_env):
    add_profile(app_env, "p1")
    first = recent.recent_query(count_profiles)
    assert (first.value, first.current) == (1, True)
    assert recent.recent_query(count_profiles).current, "no change: the same result, current"
    GATE["release"].clear()
    add_profile(app_env, "p2")
    meanwhile = recent.recent_query(count_profiles)
    assert (meanwhile.value, meanwhile.current) == (1, False) and recent.pending(meanwhile)
    assert recent.recent_query(count_profiles).value == 1, "one recount at a time, the old value meanwhile"
    assert recent.recounts_running() == 1
    GATE["release"].set()
    assert wait_for_recounts(30)
    after = recent.recent_query(count_profiles)
    assert (after.value, after.current) == (2, True) and after.computed_at >= meanwhile.computed_at


def test_a_failed_recount_is_dropped_and_the_next_call_shows_the_error(recent, app_env):
    assert recent.recent_query(count_profiles).value == 0
    GATE["fail"] = True
    add_profile(app_env, "p1")
    assert recent.recent_query(count_profiles).value == 0
    assert wait_for_recounts(30)
    with pytest.raises(RuntimeError, match="the count broke"):
        recent.recent_query(count_profiles)
    GATE["fail"] = False
    assert recent.recent_query(count_profiles).value == 1


@pytest.mark.slow
def test_journeys_shows_the_last_funnel_while_new_events_are_counted(logged_in_app, app_env, recent):
    from engine import derived
    from tests.engine.test_data_versions import land

    build(app_env)
    derived.refresh(app_env)
    at = logged_in_app("marketer", "app_pages/journeys.py")
    at.multiselect(key="funnel_steps").set_value(FUNNEL).run()
    before = next(df.value for df in at.dataframe if "pct_of_start" in df.value.columns)
    assert land(app_env, 1, n=5) == 5          # events land
    derived.refresh(app_env)                   # and the derived tables take them, as writers do
    assert derived.stale(app_env) == []
    at.run()
    assert not at.exception, at.exception
    assert any(c.value.startswith(":material/sync: Counting the newest events") for c in at.caption)
    shown = next(df.value for df in at.dataframe if "pct_of_start" in df.value.columns)
    assert shown.equals(before), "the last funnel, whole, while the new one is counted"
    assert wait_for_recounts(60)
    at.run()
    assert not any(c.value.startswith(":material/sync: Counting") for c in at.caption)
    assert not at.exception, at.exception


def test_the_segment_builder_shows_the_last_count_while_it_recounts(logged_in_app, app_env, recent):
    from engine import derived
    from tests.engine.test_segments_conditions import build_people

    build_people(app_env)
    derived.refresh(app_env)        # as writers do: no refresh job of the screen's lands mid-test
    at = logged_in_app("marketer", "app_pages/segments.py")
    counted = [m.value for m in at.metric if m.label == "Members"]
    assert counted, "the default rule is counted"
    GATE["release"].clear()                    # nothing here waits on it; the recount runs free
    add_profile(app_env, "p-new")              # a change to profiles: the rule on profiles recounts
    at.run()
    assert not at.exception, at.exception
    assert [m.value for m in at.metric if m.label == "Members"] == counted
    assert any(c.value.startswith(":material/sync: Counting the newest data") for c in at.caption)
    assert wait_for_recounts(60)
    at.run()
    assert not at.exception, at.exception
    assert not any(c.value.startswith(":material/sync: Counting") for c in at.caption)


def count_events(workspace) -> int:
    return workspace.scalar("SELECT count(*) FROM events")


def test_while_only_events_arrive_a_young_result_stands_and_other_changes_recount(recent, app_env, monkeypatch):
    """An open page is not recounted back to back while the collector lands every second."""
    from tests.engine.test_data_versions import land

    monkeypatch.setattr(recent, "RECOUNT_EVERY", 3600.0)
    assert recent.recent_query(count_events).value == 0
    land(app_env, 1, n=3)
    stands = recent.recent_query(count_events)
    assert (stands.value, stands.current) == (0, True) and recent.recounts_running() == 0
    add_profile(app_env, "p1")                 # anything but events: recounted at once
    meanwhile = recent.recent_query(count_events)
    assert (meanwhile.value, meanwhile.current) == (0, False)
    assert wait_for_recounts(30)
    assert recent.recent_query(count_events).value == 3
    monkeypatch.setattr(recent, "RECOUNT_EVERY", 0.0)      # an old result: events alone recount it too
    land(app_env, 2, n=2)
    assert recent.recent_query(count_events).current is False
    assert wait_for_recounts(30)
    assert recent.recent_query(count_events).value == 5


def test_the_overview_shows_the_last_figures_while_new_events_are_counted(logged_in_app, app_env, recent):
    from tests.engine.test_data_versions import land
    from tests.engine.test_overview import _seed

    _seed(app_env)                             # (its events come from a source called Web)
    at = logged_in_app("analyst", "app_pages/overview.py")
    events = int({m.label: m.value for m in at.metric}["Events"].replace(",", ""))
    GATE["release"].clear()                    # nothing here waits on it; the recounts run free
    assert land(app_env, 1, n=5) == 5          # the collector lands events
    at.run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Events"] == f"{events:,}", "the last figures meanwhile"
    assert any(c.value.startswith(":material/sync: Counting the newest events") for c in at.caption)
    assert wait_for_recounts(60)
    at.run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Events"] == f"{events + 5:,}"
    assert not any(c.value.startswith(":material/sync: Counting") for c in at.caption)
