"""Single sign-on: who an identity from the company's OpenID Connect provider is in this CDP.

Streamlit's `st.login` does the OIDC flow and hands the screen the ID token's claims; every
decision about them is made here. A verified email finds its user in the users file (by the
user's email, or a username equal to it), whose role, disabled flag and session epoch apply as
for a password login. With a role claim configured (`CDP_SSO_ROLE_CLAIM`, e.g. `cdp_role` or
`groups`), a person the file does not know yet is added with the role the claim names, and the
claim keeps their role current at each login. Anyone else is refused with what to ask for.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from engine.access import users as user_store
from engine.access.audit import audit
from engine.access.login import ANONYMOUS, LoginOutcome, recording_access
from engine.access.roles import ROLES, User

# Most powerful first: a groups claim holding several role names gives the strongest one.
_ROLE_ORDER = ("admin", "marketer", "analyst")


def role_from_claim(value) -> str | None:
    """The CDP role a claim value names: a role name, or a list holding role names."""
    names = [value] if isinstance(value, str) else list(value or []) if isinstance(value, (list, tuple)) else []
    names = {str(n).strip().lower() for n in names}
    return next((role for role in _ROLE_ORDER if role in names and role in ROLES), None)


def _entry_for_email(email: str, path: Path | None) -> tuple[str, dict] | None:
    users = user_store.load_config(path)["credentials"]["usernames"]
    for username, entry in users.items():
        if username == email or str(entry.get("email") or "").strip().lower() == email:
            return username, entry
    return None


def _new_username(email: str, path: Path | None) -> str:
    taken = set(user_store.load_config(path)["credentials"]["usernames"])
    base = re.sub(r"[^a-z0-9_.-]", "-", email.split("@")[0])[:28].strip("-._") or "user"
    base = base if len(base) >= 2 else f"{base}-user"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base[:28]}{n}"
    return name


def _provision(email: str, name: str, role: str, path: Path | None) -> str:
    """Add (or re-role) the SSO user; returns the username. No password: it cannot log in otherwise."""
    username = _new_username(email, path)
    with user_store.locked_config(path) as config:
        users = config["credentials"]["usernames"]
        found = next((u for u, e in users.items() if str(e.get("email") or "").lower() == email), None)
        if found:                         # added meanwhile by another session: only follow the claim
            users[found]["roles"] = [role]
            return found
        users[username] = {"name": name, "email": email, "roles": [role], "sso": True,
                           "session_epoch": user_store.new_epoch()}
    return username


SIGNED_OUT = "sso token from before a logout"


def issued_before_logout(claims: Mapping, entry: Mapping) -> bool:
    """True for an ID token issued (`iat`) in a second before the user's last logout: Streamlit's
    identity cookie outlives a logout whose redirect the browser never followed (a reload at once),
    and must not sign them in again."""
    issued, ended = claims.get("iat"), entry.get("sessions_ended_at")
    return isinstance(issued, (int, float)) and isinstance(ended, (int, float)) and issued < ended


def sso_login(workspace, claims: Mapping, *, role_claim: str | None = None, address: str | None = None,
              path: Path | None = None) -> LoginOutcome:
    """Log in the person an OIDC provider vouched for (claims of the ID token), or refuse."""
    email = str(claims.get("email") or "").strip().lower()
    where = {"via": "sso", "address": address or "local"}
    if not email or claims.get("email_verified") is False:
        return _refused(workspace, email, "sso without a verified email", where,
                        "Your single sign-on account has no verified email address, which this CDP "
                        "uses to find your account. Ask your identity provider's admin.")
    claimed_role = role_from_claim(claims.get(role_claim)) if role_claim else None
    found = _entry_for_email(email, path)
    if found is None and claimed_role is None:
        return _refused(workspace, email, "sso unknown user", where,
                        f"{email} has no account in this CDP yet. Ask an admin to add it "
                        f"(`cdp users add NAME --email {email} --role analyst`, or Users and audit).")
    if found is not None and found[1].get("disabled"):
        return _refused(workspace, email, "disabled", where,
                        "This account is disabled. Ask an admin to enable it.")
    if found is not None and issued_before_logout(claims, found[1]):
        return _refused(workspace, email, SIGNED_OUT, where,
                        "You logged out of this CDP since this single sign-on. Log in again.")
    display = str(claims.get("name") or "").strip() or email
    if found is None:
        username = _provision(email, display, claimed_role, path)
    else:
        username = found[0]
        if claimed_role and user_store.role_of(found[1]) != claimed_role:
            with user_store.locked_config(path) as config:
                config["credentials"]["usernames"][username]["roles"] = [claimed_role]
    entry = user_store.get_entry(username, path) or {}
    user = User(username, user_store.role_of(entry), entry.get("name", "") or display)
    epoch = user_store.ensure_epoch(username, path)
    with recording_access(workspace) as con:
        audit(con, user, "login", username, {**where, "email": email,
                                             **({"provisioned": True} if found is None else {})})
    return LoginOutcome(user=user, epoch=epoch)


def _refused(workspace, email: str, reason: str, where: dict, message: str) -> LoginOutcome:
    with recording_access(workspace) as con:
        audit(con, ANONYMOUS, "login.failed", email or "(no email)", {**where, "reason": reason})
    return LoginOutcome(message=message, reason=reason)
