"""The login gate: every page needs a login; wrong passwords are refused and audited."""
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT


def test_app_shows_only_login_form_before_login(app_env):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    assert len(at.text_input) == 2  # username and password, nothing else
    assert not at.session_state["authentication_status"]


def test_wrong_password_is_refused_and_audited(app_env):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.text_input[0].input("admin")
    at.text_input[1].input("not-the-password")
    at.button[0].click().run()
    assert at.session_state["authentication_status"] is False
    assert any("incorrect" in e.value for e in at.error)
    actions = [r[0] for r in app_env.query_rows("SELECT action FROM audit_log")]
    assert "login.failed" in actions


def test_login_then_logout(logged_in_app, app_env):
    at = logged_in_app("marketer")
    assert at.session_state["cdp_user"].role == "marketer"
    at.button(key="cdp_logout").click().run()
    assert not at.session_state["authentication_status"]
    actions = [r[0] for r in app_env.query_rows("SELECT action FROM audit_log ORDER BY id")]
    assert actions[-2:] == ["login", "logout"]
