import pytest
from engine.access import users as user_store
from tests.app_pages.lazy_tabs import open_tab

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def test_admin_adds_a_user_and_sees_it_in_the_audit_log(logged_in_app, app_env):
    at = logged_in_app("admin", "app_pages/admin.py")
    form_inputs = [t for t in at.text_input if t.label in ("Username", "Full name", "Email", "Password")]
    values = {"Username": "newbie", "Full name": "New Bie", "Email": "n@example.com", "Password": "long-enough-1"}
    for t in form_inputs:
        t.input(values[t.label])
    next(b for b in at.button if b.label == "Add user").click().run()
    assert not at.exception
    assert user_store.get_user("newbie").role == "analyst"
    actions = [r[0] for r in app_env.query_rows("SELECT action FROM audit_log")]
    assert "user.add" in actions
    assert not [t for t in at.text_input if t.label == "User name"]   # lazy tabs: the audit log has not run
    open_tab(at, "admin_tab", "Audit log")
    assert not at.exception, at.exception
    assert "user.add" in at.dataframe[0].value["action"].tolist()


def test_marketer_has_no_users_screen_and_engine_refuses(logged_in_app, app_env, marketer):
    import pytest

    from engine.access import PermissionDenied, audit_entries

    at = logged_in_app("marketer")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/admin.py")
    with pytest.raises(PermissionDenied):
        audit_entries(app_env, marketer)
    with pytest.raises(PermissionDenied):
        user_store.set_role(app_env, marketer, "marketer", "admin")


def _apply(at, who, action):
    at.selectbox(key="access_user").select(who)
    at.selectbox(key="access_action").select(action)
    at.button(key="access_apply").click().run()
    assert not at.exception, at.exception
    return at


def test_admin_disables_enables_and_removes_users(logged_in_app, app_env):
    at = logged_in_app("admin", "app_pages/admin.py")
    assert "admin" not in at.selectbox(key="access_user").options      # not yourself
    _apply(at, "marketer", "Disable")
    assert user_store.get_entry("marketer")["disabled"] is True
    assert any("Disabled marketer" in s.value for s in at.success)
    _apply(at, "marketer", "Enable")
    assert not user_store.get_entry("marketer").get("disabled")
    _apply(at, "analyst", "Remove")
    assert user_store.get_user("analyst") is None
    actions = [r[0] for r in app_env.query_rows("SELECT action FROM audit_log WHERE action LIKE 'user.%' ORDER BY id")]
    assert actions == ["user.disable", "user.enable", "user.remove"]


def test_admin_sees_and_lifts_a_lockout(logged_in_app, app_env):
    import time

    from engine.access import login
    later = time.time() + 1000      # failures stamped ahead, so the wait outlasts a slow test run
    for i in range(4):
        login.password_login(app_env, "marketer", f"guess-{i}", "k" * 40, address="203.0.113.5", now=later)
    at = logged_in_app("admin", "app_pages/admin.py")
    assert at.button(key="unblock_apply")
    at.selectbox(key="unblock_pick").select("user: marketer")
    at.button(key="unblock_apply").click().run()
    assert not at.exception
    assert login.password_login(app_env, "marketer", "demo-marketer", "k" * 40).ok


def test_an_admin_resetting_their_own_password_stays_logged_in(logged_in_app):
    at = logged_in_app("admin", "app_pages/admin.py")
    at.selectbox(key="pw_user").select("admin")
    next(t for t in at.text_input if t.label == "New password" and t.key != "cdp_pw_new").input(
        "a-fresh-long-password")
    next(b for b in at.button if b.label == "Reset password").click().run()
    assert not at.exception
    at.run()
    assert at.session_state["cdp_user"].username == "admin"
    assert user_store.get_entry("admin").get("demo_password") is None
