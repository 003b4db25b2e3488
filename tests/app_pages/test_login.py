"""The login gate: every page needs a login; wrong passwords are refused and audited."""
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from engine.access import users as user_store
from tests.conftest import DEMO_PASSWORDS, ROOT, signed_in_state
from tests.app_timeout import APP_TIMEOUT

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def test_app_shows_only_login_form_before_login(app_env):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=APP_TIMEOUT).run()
    assert not at.exception
    assert len(at.text_input) == 2  # username and password, nothing else
    assert not at.session_state["authentication_status"]


def test_wrong_password_is_refused_and_audited(app_env):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=APP_TIMEOUT).run()
    at.text_input[0].input("admin")
    at.text_input[1].input("not-the-password")
    at.button[0].click().run()
    assert at.session_state["authentication_status"] is False
    assert any("incorrect" in e.value for e in at.error)
    actions = [r[0] for r in app_env.query_rows("SELECT action FROM audit_log")]
    assert "login.failed" in actions


def test_login_then_logout(app_env):
    at = _try(_new_session(), "marketer", DEMO_PASSWORDS["marketer"])
    assert not at.exception and at.session_state["authentication_status"] is True
    assert at.session_state["cdp_user"].role == "marketer"
    at.button(key="cdp_logout").click().run()
    assert not at.session_state["authentication_status"]
    actions = [r[0] for r in app_env.query_rows("SELECT action FROM audit_log ORDER BY id")]
    assert actions[-2:] == ["login", "logout"]


def _try(at, username, password):
    at.text_input[0].input(username)
    at.text_input[1].input(password)
    at.button[0].click().run()
    return at


def _new_session():
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=APP_TIMEOUT).run()


def test_the_form_leaves_the_session_state_logged_in_app_seeds(app_env):
    """logged_in_app seeds signed_in_state instead of driving the form: the two must agree."""
    at = _try(_new_session(), "analyst", DEMO_PASSWORDS["analyst"])
    seeded = signed_in_state(app_env, "analyst")
    assert {key: at.session_state[key] for key in seeded} == seeded
    actions = [r[0] for r in app_env.query_rows("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["login", "login"]          # the seeded login is audited like the form's


def test_guessing_is_slowed_across_sessions_and_every_failure_audited(app_env, monkeypatch):
    from engine.access import throttle
    # a long first wait, so that the test does not depend on how fast the machine is
    monkeypatch.setitem(throttle.POLICIES, "user", throttle.Policy(3, 600.0, 600.0, 10, 900.0, 86400.0))
    at = _new_session()
    for i in range(4):
        _try(at, "admin", f"guess-{i}")
    at = _try(_new_session(), "admin", DEMO_PASSWORDS["admin"])     # a fresh session, right password
    assert not at.exception and at.session_state["authentication_status"] is False
    assert any("Too many failed logins" in e.value for e in at.error)
    rows = app_env.query_rows("SELECT target, details->>'reason' FROM audit_log WHERE action = 'login.failed'")
    assert rows == [("admin", "password")] * 4 + [("admin", "throttled:user")]


def test_demo_passwords_are_refused_when_the_app_listens_beyond_localhost(app_env, monkeypatch):
    from ui import streamlit_adapter
    monkeypatch.setattr(streamlit_adapter, "server_address", lambda: "0.0.0.0")
    at = _try(_new_session(), "admin", DEMO_PASSWORDS["admin"])
    assert at.session_state["authentication_status"] is False
    assert any("cdp users password admin" in e.value for e in at.error)
    assert [t.label for t in at.text_input] == ["Username", "Password"]


def test_a_demo_password_is_warned_about_and_can_be_changed(logged_in_app):
    at = logged_in_app("analyst")
    assert any("published demo password of analyst" in w.value for w in at.warning)
    at.text_input(key="cdp_pw_current").input(DEMO_PASSWORDS["analyst"])
    at.text_input(key="cdp_pw_new").input("a-fresh-long-password")
    next(b for b in at.button if b.label == "Change password").click().run()
    assert not at.exception
    assert any("Password changed" in s.value for s in at.success)
    at.run()
    assert at.session_state["cdp_user"].username == "analyst"      # this session goes on
    assert not any("analyst" in w.value and "demo password" in w.value for w in at.warning)


def test_a_disabled_users_live_session_ends(logged_in_app, app_env, admin):
    at = logged_in_app("marketer")
    user_store.disable_user(app_env, admin, "marketer")
    at.run()
    assert not at.exception and "cdp_user" not in at.session_state
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert any("disabled" in w.value for w in at.warning)


def test_a_user_removed_by_hand_gets_the_login_form_and_a_clear_message(logged_in_app, app_env):
    at = logged_in_app("analyst")
    path = user_store.auth_file_path()
    config = yaml.safe_load(path.read_text())
    del config["credentials"]["usernames"]["analyst"]
    path.write_text(yaml.safe_dump(config))
    at.run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert any("removed" in w.value for w in at.warning)
    at = _try(at, "analyst", DEMO_PASSWORDS["analyst"])
    assert any("incorrect" in e.value for e in at.error)


def test_the_app_refuses_to_start_with_the_example_cookie_key(app_env, monkeypatch):
    from engine.access.cookie_key import example_key
    monkeypatch.setenv("CDP_COOKIE_KEY", example_key())
    at = _new_session()
    assert not at.text_input
    assert any("published example" in e.value and "make run" in e.value for e in at.error)
