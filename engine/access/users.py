"""The user file: logins, bcrypt password hashes, roles, and each user's session epoch.

Kept in YAML outside git (default `.streamlit/auth.yaml`, or $CDP_AUTH_FILE):

    credentials:
      usernames:
        alice: {name: Alice, email: alice@example.com, password: <bcrypt>, roles: [admin],
                session_epoch: <random>, disabled: false, demo_password: false}

`session_epoch` is a random value every login cookie carries; logout, a password change,
disabling and removal replace it, which ends every session and cookie of that user (a forged
or old cookie cannot know the new value). The app, `cdp users` and several app processes may
write this file at once: every change holds an exclusive lock on `<file>.lock` from read to
an atomic replace, so no change is lost and no reader sees half a file.
"""
from __future__ import annotations

import contextlib
import copy
import fcntl
import os
import re
import secrets
import tempfile
import threading
import time
from pathlib import Path

import bcrypt
import yaml

from engine.access.audit import audit
from engine.access.roles import ROLES, User, require

DEFAULT_AUTH_FILE = Path(".streamlit") / "auth.yaml"
_THREAD_LOCK = threading.Lock()
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,31}$")

# Documented demo users for the sample workspace (README: "Logging in to the sample").
DEMO_USERS = (
    ("admin", "Ada Admin", "admin@example.com", "demo-admin", "admin"),
    ("marketer", "Max Marketer", "marketer@example.com", "demo-marketer", "marketer"),
    ("analyst", "Ana Analyst", "analyst@example.com", "demo-analyst", "analyst"),
)
DEMO_PASSWORDS = frozenset(password for *_, password, _ in DEMO_USERS)


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


def new_epoch() -> str:
    return secrets.token_urlsafe(16)


def load_config(path: Path | None = None) -> dict:
    path = path or auth_file_path()
    if not path.exists():
        return {"credentials": {"usernames": {}}}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    data.setdefault("credentials", {}).setdefault("usernames", {})
    if data["credentials"]["usernames"] is None:
        data["credentials"]["usernames"] = {}
    return data


def save_config(config: dict, path: Path | None = None) -> None:
    """Write the whole file atomically (a unique temporary file, fsync, rename)."""
    path = path or auth_file_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(yaml.safe_dump(config, sort_keys=False))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def locked_config(path: Path | None = None):
    """Read-modify-write under a lock that holds across threads and processes.

    Yields the config; it is saved, if changed, when the block ends without an exception.
    """
    path = path or auth_file_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with _THREAD_LOCK, open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            config = load_config(path)
            before = copy.deepcopy(config)
            yield config
            if config != before:
                save_config(config, path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def role_of(entry: dict) -> str:
    roles = entry.get("roles") or ["analyst"]
    return roles[0] if roles[0] in ROLES else "analyst"


def get_entry(username: str, path: Path | None = None) -> dict | None:
    """The raw entry of one user (None when there is no such user)."""
    return load_config(path)["credentials"]["usernames"].get(username)


def get_user(username: str, path: Path | None = None) -> User | None:
    entry = get_entry(username, path)
    if entry is None:
        return None
    return User(username=username, role=role_of(entry), name=entry.get("name", ""))


def list_users(actor: User, path: Path | None = None) -> list[dict]:
    require(actor, "manage_users")
    users = load_config(path)["credentials"]["usernames"]
    return [{"username": u, "name": e.get("name", ""), "email": e.get("email", ""), "role": role_of(e),
             "disabled": bool(e.get("disabled")), "demo_password": bool(e.get("demo_password"))}
            for u, e in sorted(users.items())]


def demo_password_users(path: Path | None = None) -> list[str]:
    """Users who still have the documented demo password."""
    return sorted(u for u, e in load_config(path)["credentials"]["usernames"].items()
                  if e.get("demo_password") and not e.get("disabled"))


def _validate(username: str, password: str | None, role: str | None) -> None:
    if not _USERNAME.match(username or ""):
        raise UserError("A username is 2-32 characters: lowercase letters, digits, '.', '_' or '-'.")
    if password is not None and len(password) < 8:
        raise UserError("A password needs at least 8 characters.")
    if password is not None and password in DEMO_PASSWORDS:
        raise UserError("That is one of the published demo passwords; choose another.")
    if role is not None and role not in ROLES:
        raise UserError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")


def add_user(workspace, actor: User, username: str, name: str, email: str, password: str,
             role: str, path: Path | None = None) -> None:
    require(actor, "manage_users")
    _validate(username, password, role)
    with locked_config(path) as config:
        users = config["credentials"]["usernames"]
        if username in users:
            raise UserError(f"There is already a user called {username!r}.")
        users[username] = {"name": name, "email": email, "password": hash_password(password),
                           "roles": [role], "session_epoch": new_epoch()}
    with workspace.transaction() as con:
        audit(con, actor, "user.add", username, {"role": role})


def _update_user(workspace, actor: User, username: str, action: str, changes: dict,
                 path: Path | None, details: dict, drop: tuple[str, ...] = (), keep_an_admin: bool = False) -> None:
    """Change one entry under the file lock; `keep_an_admin` refuses a change that leaves no enabled
    admin, decided on the file as it is under the lock (another process may have just changed it)."""
    with locked_config(path) as config:
        entry = config["credentials"]["usernames"].get(username)
        if entry is None:
            raise UserError(f"No user called {username!r}.")
        if keep_an_admin:
            _refuse_last_admin(config, username)
        entry.update(changes)
        for key in drop:
            entry.pop(key, None)
    with workspace.transaction() as con:
        audit(con, actor, action, username, details)


def _enabled_admins(config: dict) -> list[str]:
    return [u for u, e in config["credentials"]["usernames"].items()
            if role_of(e) == "admin" and not e.get("disabled")]


def _refuse_last_admin(config: dict, username: str) -> None:
    if _enabled_admins(config) == [username]:
        raise UserError(f"{username} is the only admin left; make someone else admin first.")


def set_role(workspace, actor: User, username: str, role: str, path: Path | None = None) -> None:
    require(actor, "manage_users")
    _validate(username, None, role)
    _update_user(workspace, actor, username, "user.role", {"roles": [role]}, path, {"role": role},
                 keep_an_admin=role != "admin")


def reset_password(workspace, actor: User, username: str, password: str,
                   path: Path | None = None) -> str:
    """Set a new password and end every session of the user; returns the new session epoch."""
    if actor.username != username:
        require(actor, "manage_users")
    _validate(username, password, None)
    epoch = new_epoch()
    _update_user(workspace, actor, username, "user.password_reset",
                 {"password": hash_password(password), "session_epoch": epoch}, path, {},
                 drop=("demo_password", "sessions_valid_after"))
    return epoch


def change_own_password(workspace, actor: User, current: str, password: str,
                        path: Path | None = None) -> str:
    """A user changes their own password, proving the current one; returns the new epoch."""
    entry = get_entry(actor.username, path)
    if entry is None or not check_password(current or "", entry.get("password") or ""):
        raise UserError("The current password is not right.")
    return reset_password(workspace, actor, actor.username, password, path)


def _not_yourself(actor: User, username: str, verb: str) -> None:
    if actor.username == username:
        raise UserError(f"You cannot {verb} yourself; ask another admin.")


def disable_user(workspace, actor: User, username: str, path: Path | None = None) -> None:
    """Refuse this user's logins and end their live sessions (the entry and history stay)."""
    require(actor, "manage_users")
    _not_yourself(actor, username, "disable")
    _update_user(workspace, actor, username, "user.disable",
                 {"disabled": True, "session_epoch": new_epoch()}, path, {}, keep_an_admin=True)


def enable_user(workspace, actor: User, username: str, path: Path | None = None) -> None:
    require(actor, "manage_users")
    _update_user(workspace, actor, username, "user.enable", {}, path, {}, drop=("disabled",))


def remove_user(workspace, actor: User, username: str, path: Path | None = None) -> None:
    """Delete the login; their sessions end because the user no longer exists."""
    require(actor, "manage_users")
    _not_yourself(actor, username, "remove")
    with locked_config(path) as config:
        if username not in config["credentials"]["usernames"]:
            raise UserError(f"No user called {username!r}.")
        _refuse_last_admin(config, username)
        del config["credentials"]["usernames"][username]
    with workspace.transaction() as con:
        audit(con, actor, "user.remove", username, {})


def session_epoch(username: str, path: Path | None = None) -> str | None:
    """The value this user's login cookies must carry (None: no such user)."""
    entry = get_entry(username, path)
    return None if entry is None else str(entry.get("session_epoch") or "")


def ensure_epoch(username: str, path: Path | None = None) -> str:
    """The user's session epoch, written first if the entry has none yet (older files)."""
    epoch = session_epoch(username, path)
    if epoch:
        return epoch
    with locked_config(path) as config:
        entry = config["credentials"]["usernames"].get(username)
        if entry is None:
            raise UserError(f"No user called {username!r}.")
        entry["session_epoch"] = entry.get("session_epoch") or new_epoch()
        entry.pop("sessions_valid_after", None)
        return entry["session_epoch"]


def end_sessions(username: str, path: Path | None = None) -> None:
    """End every session and login cookie of this user (logout); single sign-on tokens issued
    before now no longer log them in (engine/access/sso.py)."""
    with locked_config(path) as config:
        entry = config["credentials"]["usernames"].get(username)
        if entry is not None:
            entry["session_epoch"] = new_epoch()
            entry["sessions_ended_at"] = int(time.time())


def ensure_demo_users(path: Path | None = None) -> bool:
    """Write the documented demo users if the user file does not exist yet."""
    path = path or auth_file_path()
    if path.exists():
        return False
    with locked_config(path) as config:
        if config["credentials"]["usernames"]:
            return False
        config["credentials"]["usernames"] = {
            username: {"name": name, "email": email, "password": hash_password(password),
                       "roles": [role], "session_epoch": new_epoch(), "demo_password": True}
            for username, name, email, password, role in DEMO_USERS
        }
    return True
