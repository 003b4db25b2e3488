"""Login session tokens: signed, short-lived, and revocable on the server.

A token names the user, the user's current session epoch (a random value kept in the user
file), when it was issued and when it expires, and is signed with HMAC-SHA256 under the
cookie key. It is accepted only while the signature holds, it has not expired, the user
exists and is enabled, and the epoch still matches: logout, a password change, disabling or
removing the user replace the epoch, so every earlier token (and any forged one, which cannot
know the epoch) is refused. Times come from an injected clock.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from engine.access import users as user_store
from engine.access.roles import User

DEFAULT_LIFETIME_HOURS = 12.0


def lifetime_seconds() -> float:
    """How long a login cookie lasts ($CDP_SESSION_HOURS, default 12 hours)."""
    try:
        hours = float(os.environ.get("CDP_SESSION_HOURS", DEFAULT_LIFETIME_HOURS))
    except ValueError:
        hours = DEFAULT_LIFETIME_HOURS
    return max(60.0, hours * 3600)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str, key: str) -> str:
    return _b64(hmac.new(key.encode("utf-8"), payload.encode("ascii"), hashlib.sha256).digest())


def issue_token(username: str, epoch: str, key: str, *, now: float | None = None,
                lifetime: float | None = None) -> str:
    now = time.time() if now is None else now
    lifetime = lifetime_seconds() if lifetime is None else lifetime
    body = {"u": username, "e": epoch, "iat": int(now), "exp": int(now + lifetime)}
    payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
    return f"v1.{payload}.{_sign(payload, key)}"


@dataclass(frozen=True)
class Session:
    user: User
    epoch: str
    issued_at: float
    expires_at: float


class SessionRefused(ValueError):
    """The token does not (or no longer) log anyone in; `reason` says why, for the audit log."""

    def __init__(self, reason: str, username: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.username = username


def read_token(token: str, key: str, *, now: float | None = None) -> dict:
    """The token's claims if the signature holds and it has not expired."""
    now = time.time() if now is None else now
    try:
        version, payload, signature = token.split(".")
    except (AttributeError, ValueError):
        raise SessionRefused("malformed") from None
    if version != "v1" or not hmac.compare_digest(signature, _sign(payload, key)):
        raise SessionRefused("bad signature")
    try:
        claims = json.loads(_unb64(payload))
        username, epoch, exp = str(claims["u"]), str(claims["e"]), float(claims["exp"])
        float(claims["iat"])
    except (ValueError, KeyError, TypeError):
        raise SessionRefused("malformed") from None
    if exp <= now:
        raise SessionRefused("expired", username)
    return {"u": username, "e": epoch, "iat": float(claims["iat"]), "exp": exp}


def check_session(username: str, epoch: str, path: Path | None = None) -> User:
    """The user this session belongs to, if it still counts; SessionRefused otherwise."""
    entry = user_store.get_entry(username, path)
    if entry is None:
        raise SessionRefused("no such user", username)
    if entry.get("disabled"):
        raise SessionRefused("disabled", username)
    if not epoch or not hmac.compare_digest(str(entry.get("session_epoch") or ""), epoch):
        raise SessionRefused("ended", username)
    return User(username, user_store.role_of(entry), entry.get("name", ""))


def verify_token(token: str, key: str, *, now: float | None = None, path: Path | None = None) -> Session:
    """The session a login cookie carries; SessionRefused if it is forged, old or revoked."""
    claims = read_token(token, key, now=now)
    user = check_session(claims["u"], claims["e"], path)
    return Session(user, claims["e"], claims["iat"], claims["exp"])
