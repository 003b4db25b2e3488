"""The login gate: draws the form and the session's end; every decision is engine/access/login.py's."""
from __future__ import annotations

import os

import streamlit as st

from engine.access import User
from engine.access import login as engine_login
from engine.access import users as user_store
from engine.access.cookie_key import WeakCookieKey, check_cookie_key
from engine.access.sessions import issue_token, lifetime_seconds
from engine.access.sso import SIGNED_OUT, sso_login
from ui import sso
from ui import streamlit_adapter as adapter
from ui.context import workspace
from ui.text import md

_STATE_KEYS = ("cdp_user", "cdp_epoch", "username", "name")


def configured_cookie_key() -> str | None:
    key = os.environ.get("CDP_COOKIE_KEY")
    if key:
        return key
    try:
        return (st.secrets.get("auth") or {}).get("cookie_key")
    except Exception:  # no secrets file at all
        return None


def _start_session(user: User, epoch: str) -> None:
    st.session_state.update({"cdp_user": user, "cdp_epoch": epoch, "authentication_status": True,
                             "username": user.username, "name": user.display_name})


def _end_local_session(notice: str | None = None, clear_cookie: bool = True) -> None:
    for k in _STATE_KEYS:
        st.session_state.pop(k, None)
    st.session_state["authentication_status"] = None
    if notice:
        st.session_state["cdp_login_notice"] = notice
    if clear_cookie:
        st.session_state["cdp_cookie_ticket"] = adapter.stage_clear()
        st.session_state["cdp_cookie_ignored"] = adapter.read_cookie()


def _deliver_cookie_ticket() -> None:
    """Hand a staged cookie change to the browser until the route has taken it."""
    ticket = st.session_state.get("cdp_cookie_ticket")
    if ticket and adapter.ticket_pending(ticket):
        adapter.deliver(ticket)
    elif ticket:
        st.session_state.pop("cdp_cookie_ticket", None)


def login_gate() -> User | None:
    """Render the login form until someone logs in; return the logged-in User."""
    try:
        key = check_cookie_key(configured_cookie_key())
    except WeakCookieKey as exc:
        st.error(f"The app will not start: {md(exc)}")
        st.stop()
    if not user_store.auth_file_path().exists():
        st.error(f"No user file at {user_store.auth_file_path()}. Run `make run` (it creates the demo "
                 "users) or add users with `cdp users add NAME --role admin`.")
        st.stop()
    st.session_state.setdefault("authentication_status", None)
    beyond = engine_login.listens_beyond_localhost(adapter.server_address())
    _deliver_cookie_ticket()

    user = st.session_state.get("cdp_user")
    if user is not None:
        current, ended = engine_login.live_session(user.username, st.session_state.get("cdp_epoch"))
        if current is not None:
            st.session_state["cdp_user"] = current          # a role change applies at once
            return current
        _end_local_session(ended)
        st.rerun()

    token = adapter.read_cookie()
    if token and token != st.session_state.get("cdp_cookie_ignored"):
        outcome = engine_login.cookie_login(workspace(), token, key, address=adapter.client_address(),
                                            beyond_localhost=beyond)
        if outcome.ok:
            _start_session(outcome.user, outcome.epoch)
            return outcome.user
        st.session_state["cdp_cookie_ignored"] = token
        if outcome.message:
            st.session_state["cdp_login_notice"] = outcome.message
        st.session_state["cdp_cookie_ticket"] = adapter.stage_clear()
        _deliver_cookie_ticket()
    claims = sso.signed_in_claims()
    if claims is not None and not st.session_state.get("cdp_sso_refused"):
        outcome = sso_login(workspace(), claims, role_claim=sso.role_claim(), address=adapter.client_address())
        if outcome.ok:
            _start_session(outcome.user, outcome.epoch)
            return outcome.user
        if outcome.reason == SIGNED_OUT:   # an identity cookie a logout's redirect did not delete
            sso.sign_out()
        else:
            st.session_state["cdp_sso_refused"] = outcome.message
    return _login_form(key, beyond)


def _sso_refusal() -> None:
    refused = st.session_state.get("cdp_sso_refused")
    if refused:
        st.error(md(refused))
        if st.button("Use another single sign-on account", key="cdp_sso_other"):
            st.session_state.pop("cdp_sso_refused", None)
            sso.sign_out()


def _login_form(key: str, beyond: bool) -> None:
    notice = st.session_state.pop("cdp_login_notice", None)
    if notice:
        st.warning(notice)
    with st.form("Login", clear_on_submit=False):
        st.subheader("Log in to your CDP")
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Login")
    if submitted:
        outcome = engine_login.password_login(
            workspace(), username, password, key, address=adapter.client_address(), beyond_localhost=beyond)
        if outcome.ok:
            _start_session(outcome.user, outcome.epoch)
            st.session_state["cdp_cookie_ticket"] = adapter.stage_cookie(outcome.token, lifetime_seconds())
            st.rerun()
        st.session_state["authentication_status"] = False
        st.error(outcome.message)
    elif st.session_state.get("authentication_status") is None:
        st.caption("Demo workspace? See the README for the demo logins.")
    _sso_refusal()
    sso.login_button()
    if not adapter.cookies_supported():
        st.caption("Served without server.py: a login lasts until this browser tab is closed.")
    return None


def logout(user: User) -> None:
    """End this user's sessions everywhere (cookies included) and audit it."""
    engine_login.logout(workspace(), user)
    _end_local_session()
    sso.sign_out()


def demo_password_warning(user: User) -> None:
    """A banner on every screen while any account still has its published demo password."""
    demo = [md(name) for name in user_store.demo_password_users()]
    if not demo:
        return
    if md(user.username) in demo:
        st.warning(f"You are logged in with the published demo password of {md(user.username)}: anyone "
                   "who has read the README can log in as you. Change it under **Change my password** "
                   "in the sidebar. The app refuses demo passwords when it listens beyond localhost.",
                   icon=":material/key:")
    else:
        st.warning(f"Demo passwords are still in use for: {', '.join(demo)}. "
                   + ("Reset them under Users and audit" if user.role == "admin" else "Ask an admin to reset them")
                   + " (or run `cdp users password NAME`) before this app is reachable from other machines.",
                   icon=":material/key:")


def password_change_form(user: User) -> None:
    """Change your own password (the current one is asked again); other sessions end, this one stays."""
    with st.popover("Change my password", icon=":material/password:"):
        with st.form("cdp_change_password", clear_on_submit=True):
            current = st.text_input("Current password", type="password", key="cdp_pw_current")
            new = st.text_input("New password", type="password", key="cdp_pw_new")
            if st.form_submit_button("Change password"):
                try:
                    epoch = user_store.change_own_password(workspace(), user, current, new)
                except user_store.UserError as exc:
                    st.error(md(exc))
                else:
                    keep_session(user, epoch)
                    st.success("Password changed; your other sessions have ended.")


def keep_session(user: User, epoch: str) -> None:
    """After this user's own password change (new epoch): this session and its cookie go on."""
    if st.session_state.get("cdp_user") and st.session_state["cdp_user"].username == user.username:
        st.session_state["cdp_epoch"] = epoch
        st.session_state["cdp_cookie_ticket"] = adapter.stage_cookie(
            issue_token(user.username, epoch, check_cookie_key(configured_cookie_key())), lifetime_seconds())
