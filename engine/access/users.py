"""The user file: logins, bcrypt password hashes and roles.

Kept in YAML outside git (default `.streamlit/auth.yaml`, or $CDP_AUTH_FILE),
in the shape streamlit-authenticator reads:

    credentials:
      usernames:
        alice: {name: Alice, email: alice@example.com, password: <bcrypt>, roles: [admin]}
"""
from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import bcrypt
import yaml

from engine.access.audit import audit
from engine.access.roles import ROLES, User, require

DEFAULT_AUTH_FILE = Path(".streamlit") / "auth.yaml"
_FILE_LOCK = threading.Lock()
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,31}$")

# Documented demo users for the sample workspace (README: "Logging in to the sample").
DEMO_USERS = (
    ("admin", "Ada Admin", "admin@example.com", "demo-admin", "admin"),
    ("marketer", "Max Marketer", "marketer@example.com", "demo-marketer", "marketer"),
    ("analyst", "Ana Analyst", "analyst@example.com", "demo-analyst", "analyst"),
)


class UserError(ValueError):
    """A user-management request that cannot be carried out."""


def auth_file_path() -> Path:
    return Path(os.environ.get("CDP_AUTH_FILE") or DEFAULT_AUTH_FILE)


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=10)).decode("ascii")


def check_password(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode("utf-8"), hashed.encode("ascii"))
    except ValueError:
        return False


def load_config(path: Path | None = None) -> dict:
    path = path or auth_file_path()
    if not path.exists():
        return {"credentials": {"usernames": {}}}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    data.setdefault("credentials", {}).setdefault("usernames", {})
    return data


def save_config(config: dict, path: Path | None = None) -> None:
    path = path or auth_file_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def role_of(entry: dict) -> str:
    roles = entry.get("roles") or ["analyst"]
    return roles[0] if roles[0] in ROLES else "analyst"


def get_user(username: str, path: Path | None = None) -> User | None:
    entry = load_config(path)["credentials"]["usernames"].get(username)
    if entry is None:
        return None
    return User(username=username, role=role_of(entry), name=entry.get("name", ""))


def list_users(actor: User, path: Path | None = None) -> list[dict]:
    require(actor, "manage_users")
    users = load_config(path)["credentials"]["usernames"]
    return [{"username": u, "name": e.get("name", ""), "email": e.get("email", ""), "role": role_of(e)}
            for u, e in sorted(users.items())]


def _validate(username: str, password: str | None, role: str | None) -> None:
    if not _USERNAME.match(username or ""):
        raise UserError("A username is 2-32 characters: lowercase letters, digits, '.', '_' or '-'.")
    if password is not None and len(password) < 8:
        raise UserError("A password needs at least 8 characters.")
    if role is not None and role not in ROLES:
        raise UserError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")


def add_user(workspace, actor: User, username: str, name: str, email: str, password: str,
             role: str, path: Path | None = None) -> None:
    require(actor, "manage_users")
    _validate(username, password, role)
    with _FILE_LOCK:
        config = load_config(path)
        users = config["credentials"]["usernames"]
        if username in users:
            raise UserError(f"There is already a user called {username!r}.")
        users[username] = {"name": name, "email": email, "password": hash_password(password),
                           "roles": [role]}
        save_config(config, path)
    with workspace.transaction() as con:
        audit(con, actor, "user.add", username, {"role": role})


def _update_user(workspace, actor: User, username: str, action: str, changes: dict,
                 path: Path | None, details: dict) -> None:
    with _FILE_LOCK:
        config = load_config(path)
        entry = config["credentials"]["usernames"].get(username)
        if entry is None:
            raise UserError(f"No user called {username!r}.")
        entry.update(changes)
        save_config(config, path)
    with workspace.transaction() as con:
        audit(con, actor, action, username, details)


def set_role(workspace, actor: User, username: str, role: str, path: Path | None = None) -> None:
    require(actor, "manage_users")
    _validate(username, None, role)
    _update_user(workspace, actor, username, "user.role", {"roles": [role]}, path, {"role": role})


def reset_password(workspace, actor: User, username: str, password: str,
                   path: Path | None = None) -> None:
    """Set a new password and end the user's other sessions."""
    if actor.username != username:
        require(actor, "manage_users")
    _validate(username, password, None)
    _update_user(workspace, actor, username, "user.password_reset",
                 {"password": hash_password(password), "sessions_valid_after": time.time()}, path, {})


def sessions_valid_after(username: str, path: Path | None = None) -> float:
    """Unix time before which this user's sessions and login cookies no longer count."""
    entry = load_config(path)["credentials"]["usernames"].get(username) or {}
    return float(entry.get("sessions_valid_after", 0))


def end_sessions(username: str, path: Path | None = None) -> None:
    """End every session and login cookie of this user (logout, password change)."""
    with _FILE_LOCK:
        config = load_config(path)
        entry = config["credentials"]["usernames"].get(username)
        if entry is not None:
            entry["sessions_valid_after"] = time.time()
            save_config(config, path)


def ensure_demo_users(path: Path | None = None) -> bool:
    """Write the documented demo users if the user file does not exist yet."""
    path = path or auth_file_path()
    if path.exists():
        return False
    config = {"credentials": {"usernames": {
        username: {"name": name, "email": email, "password": hash_password(password),
                   "roles": [role]}
        for username, name, email, password, role in DEMO_USERS
    }}}
    save_config(config, path)
    return True
