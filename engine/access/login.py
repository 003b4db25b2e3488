"""Logging in: password checks behind the guessing throttle, cookie sessions, logout.

The login screen only draws the form and calls these; every decision and every audit row is
made here, so the CLI and tests see the same rules. Refusals carry a `message` for the screen
(the same words for a wrong name and a wrong password) and a `reason` for the audit log.
"""
from __future__ import annotations

import ipaddress
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from engine.access import throttle
from engine.access import users as user_store
from engine.access.audit import audit
from engine.access.roles import User, require
from engine.access.sessions import SessionRefused, check_session, issue_token, read_token
from engine.workspace.versions import ACCESS

ANONYMOUS = User("anonymous", "analyst")
LOCAL_ADDRESSES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
# Checked for unknown names so that they take as long as a wrong password (same bcrypt cost).
_DUMMY_HASH = "$2b$10$RnnZy7VzxceI1msPy.k2euFqlYKscHlB0GXOqPM3r4FEp7ARGaZYO"
WRONG = "Username or password is incorrect."


@dataclass(frozen=True)
class LoginOutcome:
    user: User | None = None
    token: str | None = None          # the login cookie's value, on success
    epoch: str | None = None
    message: str = ""                 # what the screen says when refused
    reason: str = ""                  # what the audit log says
    retry_after: float = 0.0

    @property
    def ok(self) -> bool:
        return self.user is not None


def listens_beyond_localhost(server_address: str | None) -> bool:
    """True unless the server is bound to a loopback address only (unset means every interface)."""
    address = (server_address or "").strip().lower()
    if address in LOCAL_ADDRESSES:
        return False
    try:
        return not ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return True     # a host name or an empty value: assume other machines can reach it


def _wait_words(seconds: float) -> str:
    seconds = max(1, round(seconds))
    return f"{seconds} seconds" if seconds < 120 else f"{round(seconds / 60)} minutes"


def _refuse(con, username: str, address: str | None, reason: str, now: float,
            message: str, count: bool, retry_after: float = 0.0) -> LoginOutcome:
    details = {"reason": reason, "address": address or "local"}
    if count:
        details["failures"] = throttle.record_failure(con, username, address, now)
    audit(con, ANONYMOUS, "login.failed", throttle.subject_key(username), details)
    return LoginOutcome(message=message, reason=reason, retry_after=retry_after)


@contextmanager
def recording_access(workspace) -> Iterator:
    """The write that records who came in, went out or was refused (audit rows, login throttles):
    it moves the access data version only, so logging in leaves everyone's cached screens valid."""
    with workspace.changing(ACCESS), workspace.transaction() as con:
        yield con


def password_login(workspace, username: str, password: str, cookie_key: str, *,
                   address: str | None = None, beyond_localhost: bool = False,
                   now: float | None = None, path: Path | None = None) -> LoginOutcome:
    """Check a name and password; on success return the user and a signed session token.

    One transaction runs from the throttle check to the recorded outcome, so concurrent
    attempts (other sessions, other app processes) wait for each other: a burst of parallel
    guesses is counted one by one instead of all slipping past the same check.
    """
    now = time.time() if now is None else now
    username = (username or "").strip().lower()
    with recording_access(workspace) as con:
        return _password_login(con, username, password, cookie_key, address, beyond_localhost, now, path)


def _password_login(con, username, password, cookie_key, address, beyond_localhost, now, path):
    block = throttle.check(con, username, address, now)
    if block is not None:
        who = "this user name" if block.scope == "user" else "your address"
        message = (f"Too many failed logins for {who}. Try again in {_wait_words(block.retry_after)}"
                   + (" (locked out; an admin can lift it under Users and audit)." if block.locked_out
                      else "."))
        return _refuse(con, username, address, f"throttled:{block.scope}", now, message,
                       count=False, retry_after=block.retry_after)
    entry = user_store.get_entry(username, path) if username else None
    hashed = (entry or {}).get("password") or _DUMMY_HASH
    if not (user_store.check_password(password or "", hashed) and entry is not None):
        return _refuse(con, username, address, "password" if entry else "unknown user", now,
                       WRONG, count=True)
    if entry.get("disabled"):
        return _refuse(con, username, address, "disabled", now,
                       "This account is disabled. Ask an admin to enable it "
                       f"(Users and audit, or `cdp users enable {username}`).", count=False)
    if entry.get("demo_password") and beyond_localhost:
        return _refuse(con, username, address, "demo password while hosted", now,
                       f"{username} still has the published demo password, and this app is reachable "
                       "from other machines, so that password no longer logs in. On the server, run "
                       f"`cdp users password {username}` to choose a new one (or ask an admin who has "
                       "changed theirs to reset it under Users and audit), then log in with it.",
                       count=False)
    epoch = user_store.ensure_epoch(username, path)
    user = User(username, user_store.role_of(entry), entry.get("name", ""))
    throttle.clear_user(con, username)
    audit(con, user, "login", username, {"via": "password", "address": address or "local"})
    return LoginOutcome(user=user, token=issue_token(username, epoch, cookie_key, now=now), epoch=epoch)


def cookie_login(workspace, token: str, cookie_key: str, *, address: str | None = None,
                 beyond_localhost: bool = False, now: float | None = None,
                 path: Path | None = None) -> LoginOutcome:
    """Resume a session from a login cookie; forged, old and revoked cookies are refused
    (and audited, with the name they claim when the signature holds)."""
    now = time.time() if now is None else now
    try:
        claims = read_token(token, cookie_key, now=now)
        user = check_session(claims["u"], claims["e"], path)
    except SessionRefused as exc:
        if exc.reason != "expired":   # an expired cookie is ordinary, not an attempt
            with recording_access(workspace) as con:
                audit(con, ANONYMOUS, "login.failed", exc.username,
                      {"reason": f"cookie {exc.reason}", "address": address or "local"})
        messages = {"no such user": "Your account no longer exists. Ask an admin if you need access.",
                    "disabled": "Your account has been disabled. Ask an admin if you need access.",
                    "ended": "Your session has ended (logged out elsewhere or password changed). "
                             "Please log in again.",
                    "expired": "Your session has expired. Please log in again."}
        return LoginOutcome(message=messages.get(exc.reason, ""), reason=f"cookie {exc.reason}")
    entry = user_store.get_entry(user.username, path) or {}
    if entry.get("demo_password") and beyond_localhost:
        return LoginOutcome(message="This account still has its demo password; log in again.",
                            reason="cookie demo password while hosted")
    with recording_access(workspace) as con:
        audit(con, user, "login", user.username, {"via": "cookie", "address": address or "local"})
    return LoginOutcome(user=user, epoch=claims["e"])


def live_session(username: str, epoch: str | None, path: Path | None = None) -> tuple[User | None, str | None]:
    """(the user as the users file has them now, None) while a live session still counts;
    otherwise (None, the message to show)."""
    try:
        return check_session(username, epoch or "", path), None
    except SessionRefused as exc:
        return None, {"no such user": "Your account has been removed. Ask an admin if you need access.",
                      "disabled": "Your account has been disabled. Ask an admin if you need access.",
                      }.get(exc.reason, "Your session has ended (logged out elsewhere or password "
                                        "changed). Please log in again.")


def blocked_logins(workspace, actor: User, now: float | None = None) -> list[dict]:
    """User names and addresses waiting after failed logins (admins)."""
    require(actor, "manage_users")
    with workspace.connect() as con:
        return throttle.blocked_subjects(con, time.time() if now is None else now)


def unblock_login(workspace, actor: User, scope: str, subject: str) -> None:
    """Forget the failed logins of a user name or address (scope 'user' or 'address')."""
    require(actor, "manage_users")
    if scope not in throttle.POLICIES:
        raise ValueError(f"Unknown scope {scope!r}; use 'user' or 'address'.")
    with recording_access(workspace) as con:
        throttle.unblock(con, scope, subject)
        audit(con, actor, "login.unblock", throttle.subject_key(subject), {"scope": scope})


def logout(workspace, user: User, path: Path | None = None) -> None:
    """End this user's sessions and cookies everywhere, and audit it."""
    user_store.end_sessions(user.username, path)
    with recording_access(workspace) as con:
        audit(con, user, "logout", user.username)
