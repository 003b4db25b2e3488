"""The collector panel (shown on the Sources screen): write keys, rotation, live tail, snippets."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.sources import create_source
from tests.app_timeout import APP_TIMEOUT

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

SCRIPT = '''
import sys
sys.path.insert(0, {root!r})
import streamlit as st
from engine.access import User
from ui.collector_panel import render_collector_panel
render_collector_panel(User({username!r}, {role!r}))
'''


@pytest.fixture
def panel(app_env, tmp_path):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    def make(username: str, role: str) -> AppTest:
        script = tmp_path / f"panel_{username}.py"
        script.write_text(SCRIPT.format(root=str(ROOT), username=username, role=role))
        at = AppTest.from_file(str(script), default_timeout=APP_TIMEOUT)
        at.run()
        assert not at.exception, at.exception
        return at

    return make


def _codes(at):
    return [c.value for c in at.code]


def test_admin_sees_the_key_rotates_it_and_sees_the_live_tail(panel, app_env, admin):
    ws = app_env
    key = create_source(ws, admin, "Website", "events").write_key
    with ws.transaction() as con:
        con.execute("INSERT INTO events (message_id, source, type, event, user_id, received_at, timestamp)"
                    " VALUES ('m1', 'Website', 'track', 'Order Completed', 'u1', now(), now())")
    at = panel("admin", "admin")
    assert key in _codes(at)
    assert any(key in code and "analytics-next" in code for code in _codes(at)), "snippet uses the key"
    assert at.metric[0].value == "stopped"
    tail = at.dataframe[0].value
    assert list(tail["event"]) == ["Order Completed"]
    at.button(key="collector_rotate_Website").click().run()
    at.button(key="collector_rotate_confirm").click().run()
    assert not at.exception, at.exception
    new_key = ws.scalar("SELECT write_key FROM sources WHERE name = 'Website'")
    assert new_key != key
    assert new_key in _codes(at) and key not in _codes(at)
    assert any("new write key" in s.value for s in at.success)


def test_admin_creates_an_events_source_from_the_panel(panel, app_env):
    at = panel("admin", "admin")
    form_input = [t for t in at.text_input if t.label == "New events source"][0]
    form_input.input("Mobile app")
    [b for b in at.button if b.label == "Create events source"][0].click().run()
    assert not at.exception, at.exception
    assert app_env.scalar("SELECT kind FROM sources WHERE name = 'Mobile app'") == "events"


def test_analyst_sees_no_write_key_and_cannot_rotate(panel, app_env, admin):
    key = create_source(app_env, admin, "Website", "events").write_key
    at = panel("analyst", "analyst")
    assert all(key not in code for code in _codes(at))
    assert not [b for b in at.button if b.label == "Rotate key"]
    assert not [t for t in at.text_input if t.label == "New events source"]


@pytest.mark.skipif(not (Path(__file__).resolve().parents[2] / "app_pages" / "sources.py").exists(),
                    reason="the Sources screen (ingest) is not in this build")
def test_marketer_rotates_a_key_on_the_sources_screen(logged_in_app, app_env, admin):
    key = create_source(app_env, admin, "Website", "events").write_key
    at = logged_in_app("marketer", "app_pages/sources.py")
    at.session_state["sources_tab"] = "Events collector"   # the panel's tab runs only when open
    at.run()
    assert key in _codes(at)
    at.button(key="collector_rotate_Website").click().run()
    at.button(key="collector_rotate_confirm").click().run()
    assert not at.exception, at.exception
    assert app_env.scalar("SELECT write_key FROM sources WHERE name = 'Website'") != key
