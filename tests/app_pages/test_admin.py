from engine.access import users as user_store


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
