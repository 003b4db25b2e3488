"""Single sign-on decisions: who a provider's claims are in this CDP, and who is refused."""
from __future__ import annotations

import time

import pytest

from engine.access import users as user_store
from engine.access.login import password_login
from engine.access.sessions import check_session
from engine.access.sso import role_from_claim, sso_login
from tests.engine.test_access_login import auth  # noqa: F401 - the demo users file fixture

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def _audit(ws):
    return ws.query_rows("SELECT action, target, details->>'reason' FROM audit_log "
                         "WHERE action LIKE 'login%' ORDER BY id")


def test_a_known_email_logs_in_as_its_user_with_the_files_role(workspace, auth):
    outcome = sso_login(workspace, {"email": "Analyst@Example.com", "email_verified": True}, path=auth)
    assert outcome.ok and outcome.user.username == "analyst" and outcome.user.role == "analyst"
    assert check_session("analyst", outcome.epoch, auth).username == "analyst"   # epoch rules apply
    assert _audit(workspace) == [("login", "analyst", None)]


def test_strangers_unverified_emails_and_disabled_users_are_refused(workspace, auth):
    stranger = sso_login(workspace, {"email": "who@corp.example"}, path=auth)
    assert not stranger.ok and "cdp users add" in stranger.message and "who@corp.example" in stranger.message
    unverified = sso_login(workspace, {"email": "analyst@example.com", "email_verified": False}, path=auth)
    assert not unverified.ok and unverified.reason == "sso without a verified email"
    with user_store.locked_config(auth) as config:
        config["credentials"]["usernames"]["analyst"]["disabled"] = True
    assert sso_login(workspace, {"email": "analyst@example.com"}, path=auth).reason == "disabled"
    assert [r[2] for r in _audit(workspace)] == ["sso unknown user", "sso without a verified email", "disabled"]


def test_a_role_claim_adds_new_people_and_keeps_roles_current(workspace, auth):
    first = sso_login(workspace, {"email": "rita@corp.example", "name": "Rita", "groups": ["staff", "Marketer"]},
                      role_claim="groups", path=auth)
    assert first.ok and (first.user.username, first.user.role, first.user.name) == ("rita", "marketer", "Rita")
    entry = user_store.get_entry("rita", auth)
    assert entry["sso"] is True and "password" not in entry
    assert not password_login(workspace, "rita", "", "k" * 48).ok       # no password to guess
    again = sso_login(workspace, {"email": "rita@corp.example", "groups": ["analyst"]}, role_claim="groups", path=auth)
    assert again.user.role == "analyst" and user_store.get_entry("rita", auth)["roles"] == ["analyst"]
    other = sso_login(workspace, {"email": "rita@elsewhere.example", "groups": "admin"}, role_claim="groups", path=auth)
    assert other.user.username == "rita2" and other.user.role == "admin"
    no_role = sso_login(workspace, {"email": "sam@corp.example", "groups": ["staff"]}, role_claim="groups", path=auth)
    assert not no_role.ok


@pytest.mark.parametrize("value, role", [("admin", "admin"), (["analyst", "marketer"], "marketer"),
                                         ("owner", None), (None, None), (42, None)])
def test_role_from_claim_takes_the_strongest_named_role(value, role):
    assert role_from_claim(value) == role


def test_a_token_from_before_a_logout_does_not_sign_in_again(workspace, auth):
    from engine.access.login import logout
    from engine.access.sso import SIGNED_OUT

    now = time.time()
    before = sso_login(workspace, {"email": "analyst@example.com", "iat": int(now) - 60}, path=auth)
    assert before.ok                                    # no logout yet: any token will do
    logout(workspace, before.user, auth)
    # the browser kept Streamlit's identity cookie (the logout's redirect never ran): refused
    stale = sso_login(workspace, {"email": "analyst@example.com", "iat": int(now) - 60}, path=auth)
    assert not stale.ok and stale.reason == SIGNED_OUT and "logged out" in stale.message
    fresh = sso_login(workspace, {"email": "analyst@example.com", "iat": int(time.time()) + 1}, path=auth)
    assert fresh.ok and fresh.user.username == "analyst"
    assert sso_login(workspace, {"email": "analyst@example.com"}, path=auth).ok   # no iat: nothing to compare
    assert [r[2] for r in _audit(workspace)] == [None, SIGNED_OUT, None, None]
