import pytest
from engine.access import audit_entries
from tests.app_pages.jobs_helpers import settle
from tests.engine.journey_data import FUNNEL, build

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def test_build_a_funnel_and_save_dropoffs(logged_in_app, app_env, admin):
    build(app_env)
    at = logged_in_app("marketer", "app_pages/journeys.py")
    # Never built yet: the screen says so (no empty screen) while the build runs in the background.
    assert any("Building journeys for the first time" in i.value for i in at.info)
    assert not [m for m in at.multiselect if m.key == "funnel_steps"]
    settle(at, app_env)
    at.multiselect(key="funnel_steps").set_value(FUNNEL).run()
    assert not at.exception, at.exception
    steps = next(df.value for df in at.dataframe if "pct_of_start" in df.value.columns)
    assert steps["people"].tolist() == [4, 4, 3, 2, 1]
    assert steps["pct_of_previous"].tolist() == ["—", "100.0%", "75.0%", "66.7%", "50.0%"]  # no "None" first
    at.selectbox(key="dropoff_step").select(3).run()
    assert not at.exception, at.exception
    assert any("1 people did step 2 but not step 3" in c.value for c in at.caption)
    at.text_input(key="dropoff_segment_name").input("Viewed, never added")
    next(b for b in at.button if b.label == "Save drop-offs as a segment").click().run()
    assert not at.exception, at.exception
    assert at.success and "Saved 1 people" in at.success[0].value
    from engine.segments import find_segment, segment_members
    members = segment_members(app_env, admin, find_segment(app_env, "Viewed, never added"))
    assert members["profile_id"].tolist() == ["P3"]
    assert "segment.create_static" in set(audit_entries(app_env, admin)["action"])


def test_paths_attribution_and_cohorts_render(logged_in_app, app_env):
    build(app_env)
    at = settle(logged_in_app("analyst", "app_pages/journeys.py"), app_env)
    assert not [s for s in at.selectbox if s.key == "path_anchor"]   # lazy tabs: Paths has not run
    at.session_state["journey_tab"] = "Paths"
    at.run()
    assert at.selectbox(key="path_anchor").value == "Product Viewed"      # a shopping step, not Identify
    at.selectbox(key="path_anchor").select("Checkout Started").run()
    assert not at.exception, at.exception
    # Dan stopped after checking out: said in words, and left out of the Sankey until asked for.
    assert any(c.value.startswith("2 people did Checkout Started; 1 (50%) did nothing else after it")
               for c in at.caption)
    sankey = lambda: next(c for c in at.get("plotly_chart") if c.proto.id.endswith("path_sankey"))
    assert "(end)" not in sankey().proto.spec
    at.toggle(key="path_show_stops").set_value(True).run()
    assert "(end)" in sankey().proto.spec
    at.session_state["journey_tab"] = "Attribution"
    at.run()
    attr = next(df.value for df in at.dataframe if "last_touch_revenue" in df.value.columns)
    assert attr["last_touch_revenue"].sum() == 230 == attr["position_revenue"].sum()
    at.radio(key="attr_level").set_value("campaign").run()
    at.number_input(key="attr_lookback").set_value(1).run()
    at.selectbox(key="attr_model").set_value("linear").run()
    assert not at.exception, at.exception
    attr = next(df.value for df in at.dataframe if "linear_revenue" in df.value.columns)
    assert "campaign" in attr.columns and attr["linear_revenue"].sum() == 230
    # within one day of their store orders, Dan and Carol were not on the website at all
    assert attr.loc[attr["channel"] == "no web touch", "linear_revenue"].sum() == 80 + 50
    at.session_state["journey_tab"] = "Cohorts"
    at.run()
    at.radio(key="cohort_basis").set_value("first_order").run()
    assert not at.exception, at.exception
    # Analysts may look but not save segments.
    at.session_state["journey_tab"] = "Funnels"
    at.run()
    at.multiselect(key="funnel_steps").set_value(FUNNEL[:3]).run()
    assert all(b.label != "Save drop-offs as a segment" for b in at.button)


def test_a_stale_journey_table_is_read_as_last_built_while_it_updates_in_the_background(
        logged_in_app, app_env, monkeypatch):
    import threading

    from engine import derived

    build(app_env)
    derived.refresh(app_env)
    with app_env.transaction() as con:      # identity changed: the stranger's visit becomes Eve's
        con.execute("INSERT INTO profiles (profile_id, first_name, record_count) VALUES ('P5', 'Eve', 1)")
        con.execute("INSERT INTO profile_identifiers VALUES ('P5', 'anonymous_id', 'stranger', now())")
    assert "journeys" in derived.stale(app_env)
    release = threading.Event()             # hold the background refresh until the screen was read
    real = derived.refresh
    monkeypatch.setattr(derived, "refresh", lambda ws, progress=None: (release.wait(60), real(ws, progress))[1])
    try:
        at = logged_in_app("marketer", "app_pages/journeys.py")
        assert any(c.value.startswith(":material/sync: Updating journeys (") for c in at.caption)
        at.multiselect(key="funnel_steps").set_value(FUNNEL).run()
        assert not at.exception, at.exception
        steps = next(df.value for df in at.dataframe if "pct_of_start" in df.value.columns)
        assert steps["people"].tolist() == [4, 4, 3, 2, 1]            # the last build, as it was
        assert "journeys" in derived.stale(app_env)                   # nothing rebuilt in the request
    finally:
        release.set()
    settle(at, app_env)
    assert not any("Updating" in c.value for c in at.caption)
    steps = next(df.value for df in at.dataframe if "pct_of_start" in df.value.columns)
    assert steps["people"].tolist()[0] == 5 and derived.stale(app_env) == []


def test_a_failed_refresh_is_shown_and_not_retried_at_every_click(logged_in_app, app_env, monkeypatch):
    from engine import derived
    from engine.jobs import list_jobs

    build(app_env)
    derived.refresh(app_env)
    with app_env.transaction() as con:
        con.execute("INSERT INTO profile_identifiers VALUES ('P1', 'anonymous_id', 'stranger', now())")

    def broken(ws, progress=None):
        raise RuntimeError("disk full")
    monkeypatch.setattr(derived, "refresh", broken)
    at = settle(logged_in_app("marketer", "app_pages/journeys.py"), app_env)
    assert any("Updating journeys failed" in w.value and "disk full" in w.value for w in at.warning)
    at.run()
    assert len(list_jobs(app_env, derived.REFRESH_KIND)) == 1      # no new attempt at every click
    assert at.multiselect(key="funnel_steps").value                # the last build is still shown
