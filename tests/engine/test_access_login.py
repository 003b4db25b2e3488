"""Logins that resist forging and guessing: the cookie key, revocable sessions, the guessing
throttle (clock injected), demo passwords, and disabling/removing users."""
from __future__ import annotations

import multiprocessing
import secrets
import subprocess
import sys

import pytest
import yaml

from engine.access import User
from engine.access import login as engine_login
from engine.access import throttle
from engine.access import users as user_store
from engine.access.cookie_key import WeakCookieKey, _scan_files, check_cookie_key, example_key
from engine.access.sessions import SessionRefused, issue_token, verify_token
from engine.cli.main import main
from tests.conftest import DEMO_PASSWORDS, ROOT

KEY = secrets.token_urlsafe(48)
T0 = 1_000_000.0          # the injected clock's start; nothing here reads today's date


@pytest.fixture
def auth(demo_users, monkeypatch):
    monkeypatch.setenv("CDP_AUTH_FILE", str(demo_users))
    return demo_users


def _login(ws, name, password, *, now, address="203.0.113.7", beyond=False):
    return engine_login.password_login(ws, name, password, KEY, address=address,
                                       beyond_localhost=beyond, now=now)


def _failed_rows(ws):
    return ws.query_rows("SELECT target, details->>'reason' FROM audit_log WHERE action = 'login.failed' ORDER BY id")


# -- the cookie key ------------------------------------------------------------------------------

@pytest.mark.parametrize("key, words", [
    (None, "No cookie key"), ("", "No cookie key"), ("some_key", "published example"),
    ("short-but-random-7f3a", "at least 32"),
])
def test_weak_cookie_keys_are_refused_with_a_way_out(key, words):
    with pytest.raises(WeakCookieKey, match=words) as info:
        check_cookie_key(key)
    assert "make run" in str(info.value) and "secrets.token_urlsafe" in str(info.value)


def test_the_example_files_key_is_refused():
    example = example_key()
    assert example and len(example) >= 32   # long enough that only the example check refuses it
    with pytest.raises(WeakCookieKey, match="published example"):
        check_cookie_key(example)


def test_a_key_committed_anywhere_in_the_repository_is_refused():
    # any 32+ character string from a tracked file stands for a key someone committed
    line = next(l.strip() for l in (ROOT / "CONTRIBUTING.md").read_text().splitlines() if len(l.strip()) > 40)
    with pytest.raises(WeakCookieKey, match="CONTRIBUTING.md"):
        check_cookie_key(line)
    assert check_cookie_key(KEY) == KEY


def test_without_git_the_shipped_text_files_are_scanned(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "hosting.md").write_text("cookie_key = 'committed-by-mistake-0123456789abcdef'\n")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "x.py").write_text("other-key-in-a-virtualenv-0123456789abcdef")
    assert _scan_files("committed-by-mistake-0123456789abcdef", tmp_path) == "docs/hosting.md"
    assert _scan_files("other-key-in-a-virtualenv-0123456789abcdef", tmp_path) is None


# -- sessions: forged, old and revoked cookies ---------------------------------------------------

def test_a_cookie_forged_with_the_example_key_is_refused(auth):
    forged = issue_token("admin", user_store.session_epoch("admin", auth), example_key(), now=T0)
    with pytest.raises(SessionRefused, match="bad signature"):
        verify_token(forged, KEY, now=T0 + 1, path=auth)


def test_a_cookie_signed_with_the_real_key_but_a_guessed_epoch_is_refused(auth):
    """Even with a leaked key a forger must know the server-side epoch, a random value."""
    for guess in ("", "0", "1", str(T0)):
        with pytest.raises(SessionRefused, match="ended"):
            verify_token(issue_token("admin", guess, KEY, now=T0), KEY, now=T0 + 1, path=auth)


def test_an_old_cookie_is_refused_after_logout_and_a_password_change(workspace, auth):
    first = _login(workspace, "marketer", DEMO_PASSWORDS["marketer"], now=T0)
    assert verify_token(first.token, KEY, now=T0 + 5, path=auth).user.username == "marketer"
    engine_login.logout(workspace, first.user, path=auth)
    with pytest.raises(SessionRefused, match="ended"):
        verify_token(first.token, KEY, now=T0 + 10, path=auth)
    second = _login(workspace, "marketer", DEMO_PASSWORDS["marketer"], now=T0 + 20)
    user_store.reset_password(workspace, User("admin", "admin"), "marketer", "a-new-long-password", path=auth)
    with pytest.raises(SessionRefused, match="ended"):
        verify_token(second.token, KEY, now=T0 + 30, path=auth)
    refused = engine_login.cookie_login(workspace, second.token, KEY, now=T0 + 30, path=auth)
    assert not refused.ok and "ended" in refused.message
    assert ("marketer", "cookie ended") in _failed_rows(workspace)


def test_cookies_expire_and_tampering_breaks_them(workspace, auth):
    token = _login(workspace, "analyst", DEMO_PASSWORDS["analyst"], now=T0).token
    with pytest.raises(SessionRefused, match="expired"):
        verify_token(token, KEY, now=T0 + 13 * 3600, path=auth)
    head, payload, sig = token.split(".")
    with pytest.raises(SessionRefused, match="bad signature"):
        verify_token(f"{head}.{payload[:-2]}xx.{sig}", KEY, now=T0, path=auth)
    with pytest.raises(SessionRefused, match="malformed"):
        verify_token("not a token", KEY, now=T0, path=auth)


def test_disabling_or_removing_a_user_ends_their_sessions(workspace, auth):
    admin = User("admin", "admin")
    m = _login(workspace, "marketer", DEMO_PASSWORDS["marketer"], now=T0)
    a = _login(workspace, "analyst", DEMO_PASSWORDS["analyst"], now=T0)
    assert engine_login.live_session("marketer", m.epoch, path=auth)[0].role == "marketer"
    user_store.set_role(workspace, admin, "marketer", "analyst", path=auth)   # a role change applies at once
    assert engine_login.live_session("marketer", m.epoch, path=auth)[0].role == "analyst"
    user_store.disable_user(workspace, admin, "marketer", path=auth)
    assert "disabled" in engine_login.live_session("marketer", m.epoch, path=auth)[1]
    with pytest.raises(SessionRefused, match="disabled"):
        verify_token(m.token, KEY, now=T0 + 1, path=auth)
    refused = _login(workspace, "marketer", DEMO_PASSWORDS["marketer"], now=T0 + 2)
    assert not refused.ok and "disabled" in refused.message
    user_store.enable_user(workspace, admin, "marketer", path=auth)
    assert _login(workspace, "marketer", DEMO_PASSWORDS["marketer"], now=T0 + 3).ok
    user_store.remove_user(workspace, admin, "analyst", path=auth)
    assert engine_login.live_session("analyst", a.epoch, path=auth) == (
        None, "Your account has been removed. Ask an admin if you need access.")
    assert "no longer exists" in engine_login.cookie_login(workspace, a.token, KEY, now=T0 + 4, path=auth).message
    actions = [r[0] for r in workspace.query_rows("SELECT action FROM audit_log WHERE action LIKE 'user.%'")]
    assert actions == ["user.role", "user.disable", "user.enable", "user.remove"]


def test_admins_cannot_lock_themselves_or_everyone_out(workspace, auth):
    admin = User("admin", "admin")
    with pytest.raises(user_store.UserError, match="yourself"):
        user_store.disable_user(workspace, admin, "admin", path=auth)
    with pytest.raises(user_store.UserError, match="only admin"):
        user_store.remove_user(workspace, User("cli", "admin"), "admin", path=auth)
    with pytest.raises(user_store.UserError, match="only admin"):
        user_store.set_role(workspace, admin, "admin", "analyst", path=auth)
    with pytest.raises(user_store.UserError, match="No user"):
        user_store.disable_user(workspace, admin, "nobody", path=auth)


# -- guessing: backoff, lockout, audit -----------------------------------------------------------

def test_failures_back_off_exponentially_then_lock_out(workspace, auth):
    now, waits = T0, []
    for _ in range(10):
        now += (waits[-1] if waits else 0) + 0.5
        outcome = _login(workspace, "admin", "guess", now=now)
        assert outcome.reason == "password"
        with workspace.connect() as con:
            block = throttle.check(con, "admin", None, now)   # the user name's own wait
        waits.append(0 if block is None else round(block.retry_after))
    assert waits == [0, 0, 0, 2, 4, 8, 16, 32, 64, 900]
    # locked: even the right password is not checked, and the screen says for how long
    locked = _login(workspace, "admin", DEMO_PASSWORDS["admin"], now=now)
    assert not locked.ok and locked.reason == "throttled:user" and "15 minutes" in locked.message
    assert _login(workspace, "admin", DEMO_PASSWORDS["admin"], now=now + 900).ok
    with workspace.connect() as con:       # a success clears the name's count ...
        assert throttle.check(con, "admin", None, now + 901) is None
        assert con.execute("SELECT failures FROM login_failures WHERE scope = 'address'").fetchone() == (10,)


def test_a_wait_refuses_the_right_password_and_a_day_later_the_count_is_forgotten(workspace, auth):
    for i in range(4):
        _login(workspace, "analyst", "nope", now=T0 + i * 0.1)
    early = _login(workspace, "analyst", DEMO_PASSWORDS["analyst"], now=T0 + 1)
    assert not early.ok and early.reason == "throttled:user" and "Try again in" in early.message
    assert _login(workspace, "analyst", DEMO_PASSWORDS["analyst"], now=T0 + 3).ok
    for i in range(4):
        _login(workspace, "analyst", "nope", now=T0 + 10 + i)
    assert _login(workspace, "analyst", "nope", now=T0 + 10 + 86400 * 2).reason == "password"
    with workspace.connect() as con:
        assert con.execute("SELECT failures FROM login_failures WHERE scope = 'user'").fetchone() == (1,)


def test_one_address_spraying_many_names_is_slowed_down(workspace, auth):
    for i in range(10):
        assert _login(workspace, f"user{i}", "Winter2026!", now=T0 + i).reason == "unknown user"
    blocked = _login(workspace, "marketer", "Winter2026!", now=T0 + 11)
    assert blocked.reason == "password"
    blocked = _login(workspace, "marketer", DEMO_PASSWORDS["marketer"], now=T0 + 11.5)
    assert blocked.reason == "throttled:address" and "your address" in blocked.message
    other_address = _login(workspace, "marketer", DEMO_PASSWORDS["marketer"], now=T0 + 11.5,
                           address="198.51.100.1")
    assert other_address.ok


def test_every_failure_is_audited_with_the_attempted_name(workspace, auth):
    for i in range(20):
        _login(workspace, "Admin ", f"guess-{i}", now=T0 + i * 0.01)
    _login(workspace, "mallory", "x", now=T0 + 1, address="198.51.100.9")
    rows = _failed_rows(workspace)
    assert len(rows) == 21
    assert {r[0] for r in rows[:20]} == {"admin"} and rows[-1] == ("mallory", "unknown user")
    assert {r[1] for r in rows[:20]} == {"password", "throttled:user"}
    details = workspace.scalar("SELECT details->>'address' FROM audit_log WHERE target = 'mallory'")
    assert details == "198.51.100.9"


def test_counts_hold_across_processes(workspace, auth):
    """Another process (a second app server) sees the failures this one counted."""
    for i in range(5):
        _login(workspace, "admin", "guess", now=T0 + i * 0.01)
    code = ("import sys; from engine.workspace import Workspace; from engine.access import login;"
            f"o = login.password_login(Workspace({str(workspace.path)!r}), 'admin', {DEMO_PASSWORDS['admin']!r},"
            f" 'k', now={T0 + 1}); print(o.reason)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"CDP_AUTH_FILE": str(auth), "PATH": "/usr/bin:/bin"})
    assert done.stdout.strip() == "throttled:user", done.stderr


def test_admins_see_and_lift_waits(workspace, auth, admin, analyst):
    for i in range(4):
        _login(workspace, "analyst", "guess", now=T0 + i * 0.01)
    for i in range(7):
        _login(workspace, f"name{i}", "guess", now=T0 + 0.1 + i * 0.01)
    from engine.access import PermissionDenied
    with pytest.raises(PermissionDenied):
        engine_login.blocked_logins(workspace, analyst, now=T0 + 0.5)
    waiting = engine_login.blocked_logins(workspace, admin, now=T0 + 0.5)
    assert {(w["scope"], w["subject"]) for w in waiting} == {("user", "analyst"), ("address", "203.0.113.7")}
    engine_login.unblock_login(workspace, admin, "user", "analyst")
    engine_login.unblock_login(workspace, admin, "address", "203.0.113.7")
    assert _login(workspace, "analyst", DEMO_PASSWORDS["analyst"], now=T0 + 0.6).ok


# -- demo passwords ------------------------------------------------------------------------------

def test_demo_passwords_work_on_localhost_only_until_changed(workspace, auth):
    assert engine_login.listens_beyond_localhost(None) and engine_login.listens_beyond_localhost("0.0.0.0")
    assert engine_login.listens_beyond_localhost("") and engine_login.listens_beyond_localhost("cdp.example.com")
    assert engine_login.listens_beyond_localhost("10.0.0.5")
    assert not any(map(engine_login.listens_beyond_localhost, ("127.0.0.1", "localhost", "::1", "127.0.0.2")))
    assert user_store.demo_password_users(auth) == ["admin", "analyst", "marketer"]
    assert _login(workspace, "admin", DEMO_PASSWORDS["admin"], now=T0).ok
    hosted = _login(workspace, "admin", DEMO_PASSWORDS["admin"], now=T0, beyond=True)
    assert not hosted.ok and "cdp users password admin" in hosted.message
    with pytest.raises(user_store.UserError, match="demo password"):
        user_store.reset_password(workspace, User("admin", "admin"), "admin", DEMO_PASSWORDS["marketer"], path=auth)
    user_store.reset_password(workspace, User("cli", "admin"), "admin", "a-fresh-long-password", path=auth)
    assert _login(workspace, "admin", "a-fresh-long-password", now=T0 + 1, beyond=True).ok
    assert user_store.demo_password_users(auth) == ["analyst", "marketer"]


def test_a_user_changes_their_own_password_with_the_current_one(workspace, auth, analyst):
    with pytest.raises(user_store.UserError, match="current password"):
        user_store.change_own_password(workspace, analyst, "wrong", "a-fresh-long-password", path=auth)
    epoch = user_store.change_own_password(workspace, analyst, DEMO_PASSWORDS["analyst"],
                                           "a-fresh-long-password", path=auth)
    assert epoch == user_store.session_epoch("analyst", auth)
    assert "analyst" not in user_store.demo_password_users(auth)


# -- the users file under several writers -------------------------------------------------------

def _add_many(args):
    path, prefix = args
    from engine.access import users
    for i in range(8):
        with users.locked_config(path) as config:
            config["credentials"]["usernames"][f"{prefix}{i}"] = {"name": prefix, "roles": ["analyst"]}


def test_writers_in_several_processes_lose_no_change(auth):
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.map(_add_many, [(auth, p) for p in ("a", "b", "c", "d")])
    names = yaml.safe_load(auth.read_text())["credentials"]["usernames"]
    assert len(names) == 3 + 32
    assert not list(auth.parent.glob(".auth.yaml.*.tmp"))


def test_cli_disables_enables_removes(workspace, auth, monkeypatch, capsys):
    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    assert main(["users", "disable", "marketer"]) == 0
    assert user_store.get_entry("marketer")["disabled"] is True
    assert main(["users", "list"]) == 0
    assert "disabled" in capsys.readouterr().out
    assert main(["users", "enable", "marketer"]) == 0
    assert not user_store.get_entry("marketer").get("disabled")
    assert main(["users", "remove", "analyst"]) == 0
    assert user_store.get_entry("analyst") is None
    assert main(["users", "remove", "analyst"]) == 1
    assert "No user called 'analyst'" in capsys.readouterr().err
    assert main(["users", "unblock", "admin"]) == 0
    actions = [r[0] for r in workspace.query_rows("SELECT action FROM audit_log ORDER BY id")]
    assert actions == ["user.disable", "user.enable", "user.remove", "login.unblock"]


def test_parallel_guesses_are_counted_one_by_one(workspace, auth):
    """Sessions guessing at once cannot all slip past the same check."""
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(8) as pool:
        reasons = list(pool.map(lambda i: _login(workspace, "admin", f"guess-{i}", now=T0).reason, range(16)))
    assert reasons.count("password") == 4 and reasons.count("throttled:user") == 12
