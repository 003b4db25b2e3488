"""The login gate: streamlit-authenticator plus session invalidation and audit."""
from __future__ import annotations

import os
import time

import jwt
import streamlit as st
import streamlit_authenticator as stauth

from engine.access import User, audit
from engine.access import users as user_store
from ui.context import workspace
from ui.text import md

COOKIE_NAME = "cdp_auth"
COOKIE_EXPIRY_DAYS = 7.0
_LIBRARY_DEFAULT_KEYS = {"some_key", "", None}


class ConfigError(RuntimeError):
    pass


def cookie_key() -> str:
    """The cookie signing key from secrets or $CDP_COOKIE_KEY; never the library default."""
    key = os.environ.get("CDP_COOKIE_KEY")
    if not key:
        try:
            key = st.secrets.get("auth", {}).get("cookie_key")
        except (FileNotFoundError, KeyError, AttributeError):
            key = None
        except Exception:  # no secrets file at all
            key = None
    if key in _LIBRARY_DEFAULT_KEYS or len(str(key)) < 16:
        raise ConfigError(
            "No cookie key is configured. Set [auth] cookie_key in .streamlit/secrets.toml "
            "(see secrets.toml.example) or CDP_COOKIE_KEY to a random string of 32+ characters. "
            "The app will not start with the login library's default key."
        )
    return str(key)


def _token_issued_at(token: str, key: str) -> float | None:
    try:
        data = jwt.decode(token, key, algorithms=["HS256"])
    except jwt.PyJWTError:
        return None
    return float(data["exp_date"]) - COOKIE_EXPIRY_DAYS * 86400


def _authenticator(key: str) -> stauth.Authenticate:
    # Credentials go in as a dict, not the file path: with a path the library would read the
    # cookie key from the user file, and the key belongs in secrets.
    credentials = user_store.load_config()["credentials"]
    return stauth.Authenticate(
        credentials, COOKIE_NAME, key, COOKIE_EXPIRY_DAYS, auto_hash=False,
        login_sleep_time=float(os.environ.get("CDP_LOGIN_SLEEP", "0.3")),
    )


def login_gate() -> User | None:
    """Render the login form until someone logs in; return the logged-in User."""
    try:
        key = cookie_key()
    except ConfigError as exc:
        st.error(md(exc))
        st.stop()
    if not user_store.auth_file_path().exists():
        st.error(f"No user file at {user_store.auth_file_path()}. Run `make run` (it creates the demo "
                 "users) or copy .streamlit/auth.yaml.example and set passwords with `cdp users`.")
        st.stop()
    authenticator = _authenticator(key)
    st.session_state["cdp_authenticator"] = authenticator

    issued_by_cookie = None
    if not st.session_state.get("authentication_status"):
        token = st.context.cookies.get(COOKIE_NAME)
        issued = _token_issued_at(token, key) if token else None
        if issued is not None:
            name = jwt.decode(token, key, algorithms=["HS256"]).get("username", "")
            if issued < user_store.sessions_valid_after(name):
                st.session_state["logout"] = True  # the library then ignores the stale cookie
            else:
                issued_by_cookie = issued

    was_in = bool(st.session_state.get("authentication_status"))
    try:
        authenticator.login(location="main", fields={"Form name": "Log in to your CDP"})
    except Exception as exc:  # the library raises on odd input; show it, never crash
        st.error(f"Login failed: {md(exc)}")
    status = st.session_state.get("authentication_status")
    username = st.session_state.get("username")

    if status is False and not st.session_state.get("cdp_failed_audited"):
        with workspace().transaction() as con:
            audit(con, User("anonymous", "analyst"), "login.failed", username or "")
        st.session_state["cdp_failed_audited"] = True
        st.error("Username or password is incorrect.")
    if not status:
        if status is None:
            st.caption("Demo workspace? See the README for the demo logins.")
        return None

    user = user_store.get_user(username)
    if user is None:
        _end_local_session(authenticator)
        return None
    if not was_in:
        st.session_state["cdp_login_at"] = issued_by_cookie or time.time()
        st.session_state.pop("cdp_failed_audited", None)
        with workspace().transaction() as con:
            audit(con, user, "login", username, {"via": "cookie" if issued_by_cookie else "password"})
    if st.session_state.get("cdp_login_at", 0) < user_store.sessions_valid_after(username):
        _end_local_session(authenticator)
        st.warning("Your session has ended (logged out elsewhere or password changed). Please log in again.")
        st.stop()
    st.session_state["cdp_user"] = user
    return user


def _end_local_session(authenticator: stauth.Authenticate) -> None:
    try:
        authenticator.logout(location="unrendered")
    except Exception:
        st.session_state["authentication_status"] = None
    for k in ("cdp_user", "cdp_login_at"):
        st.session_state.pop(k, None)


def logout(user: User) -> None:
    """End this user's sessions everywhere (cookies included) and audit it."""
    user_store.end_sessions(user.username)
    with workspace().transaction() as con:
        audit(con, user, "logout", user.username)
    _end_local_session(st.session_state["cdp_authenticator"])
