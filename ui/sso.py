"""Single sign-on beside the built-in logins, through Streamlit's OIDC (`st.login`).

Configured in `.streamlit/secrets.toml` the way Streamlit documents it, with the provider named
`sso`: `[auth] redirect_uri` (the app's URL + /oauth2callback) and `cookie_secret`, and
`[auth.sso] client_id`, `client_secret`, `server_metadata_url`. Who the person is in this CDP is
decided by engine/access/sso.py; `CDP_SSO_ROLE_CLAIM` names a claim that carries the role, and
`CDP_SSO_LABEL` the button's words.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

import streamlit as st

PROVIDER = "sso"


def _auth_section() -> dict:
    try:
        return dict(st.secrets.get("auth") or {})
    except Exception:  # no secrets file at all
        return {}


def configured() -> bool:
    auth = _auth_section()
    return bool(auth.get("redirect_uri") and isinstance(auth.get(PROVIDER), Mapping))


def role_claim() -> str | None:
    return os.environ.get("CDP_SSO_ROLE_CLAIM") or _auth_section().get("sso_role_claim") or None


def signed_in_claims() -> dict | None:
    """The provider's claims when the browser holds Streamlit's identity cookie, else None."""
    if not configured() or not st.user.is_logged_in:
        return None
    return {key: st.user.get(key) for key in st.user.keys()}


def login_button() -> None:
    if configured():
        label = os.environ.get("CDP_SSO_LABEL") or "Log in with single sign-on"
        if st.button(label, icon=":material/badge:", key="cdp_sso_login"):
            st.login(PROVIDER)


def sign_out() -> None:
    """Forget Streamlit's identity cookie too (the provider's own session is the provider's)."""
    if configured() and st.user.is_logged_in:
        st.logout()
