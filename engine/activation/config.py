"""Destinations configured in the workspace, without secrets.

Credentials are read at send time from `.streamlit/secrets.toml` ([destinations.<name>]
access_token = "...") or from environment variables CDP_DEST_<NAME>_<KEY>; they are never
written to the workspace, never put into audit details and never logged.
"""
from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path

from engine.access import User, audit, require
from engine.activation.destinations import KINDS, Destination
from engine.activation.destinations.base import env_name

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,62}$")
SECRET_WORDS = ("token", "secret", "password", "api_key", "apikey", "private")


def secrets_path() -> Path:
    return Path(os.environ.get("CDP_SECRETS_FILE") or Path(".streamlit") / "secrets.toml")


def read_secrets(name: str, kind: str) -> dict[str, str]:
    """Credentials for destination `name`: secrets.toml first, then environment variables."""
    found: dict[str, str] = {}
    path = secrets_path()
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError) as exc:
            raise ValueError(f"Could not read {path}: {exc.__class__.__name__}") from None
        section = (data.get("destinations") or {}).get(name) or {}
        found.update({k: str(v) for k, v in section.items() if isinstance(v, (str, int))})
    for key in KINDS[kind].secret_names:
        env = os.environ.get(f"CDP_DEST_{env_name(name)}_{key.upper()}")
        if env:
            found[key] = env
    return found


def _check_settings(kind: str, settings: dict) -> dict:
    cls = KINDS[kind]
    clean = {}
    for key, value in settings.items():
        if not re.fullmatch(r"[a-z_]{1,40}", key):
            raise ValueError(f"Setting names are lowercase words with underscores; got {key!r}.")
        if key in cls.secret_names or any(w in key for w in SECRET_WORDS):
            raise ValueError(
                f"{key!r} looks like a credential: put it in .streamlit/secrets.toml under "
                f"[destinations.<name>] or an environment variable, not in the workspace.")
        allowed = set(cls.required_settings) | set(cls.optional_settings) | {"base_url", "batch_size"}
        if key not in allowed:
            raise ValueError(f"{cls.label} has no setting {key!r}; it knows: {', '.join(sorted(allowed))}.")
        if key == "base_url" and value and not re.match(r"^https?://", str(value)):
            raise ValueError("base_url must start with http:// or https://")
        if key == "batch_size" and value not in (None, ""):
            if not str(value).isdigit() or int(value) < 1:
                raise ValueError("batch_size must be a positive whole number")
        clean[key] = str(value).strip() if value is not None else ""
    return clean


def add_destination(workspace, user: User, name: str, kind: str, settings: dict | None = None,
                    replace: bool = False) -> None:
    require(user, "manage_destinations")
    name = (name or "").strip().lower()
    if not NAME_RE.match(name):
        raise ValueError("A destination name is 1-63 lowercase letters, digits, '-' or '_'.")
    if kind not in KINDS:
        raise ValueError(f"Unknown destination kind {kind!r}; kinds are {', '.join(KINDS)}.")
    clean = _check_settings(kind, settings or {})
    KINDS[kind](name, clean, {})  # validates required settings
    with workspace.transaction() as con:
        exists = con.execute("SELECT count(*) FROM activation_destinations WHERE name = ?", [name]).fetchone()[0]
        if exists and not replace:
            raise ValueError(f"A destination called {name!r} exists already.")
        con.execute("DELETE FROM activation_destinations WHERE name = ?", [name])
        con.execute("INSERT INTO activation_destinations (name, kind, settings, created_by) VALUES (?, ?, ?, ?)",
                    [name, kind, json.dumps(clean), user.username])
        audit(con, user, "destination.update" if exists else "destination.add", name,
              {"kind": kind, "settings": clean})


def remove_destination(workspace, user: User, name: str) -> None:
    require(user, "manage_destinations")
    with workspace.transaction() as con:
        if not con.execute("SELECT count(*) FROM activation_destinations WHERE name = ?", [name]).fetchone()[0]:
            raise ValueError(f"No destination called {name!r}.")
        con.execute("DELETE FROM activation_destinations WHERE name = ?", [name])
        con.execute("DELETE FROM activation_audiences WHERE destination = ?", [name])
        audit(con, user, "destination.remove", name, {})


def list_destinations(workspace):
    """Destinations with kind, settings and whether their credentials are present (never their values)."""
    df = workspace.query_df(
        "SELECT name, kind, CAST(settings AS VARCHAR) AS settings, created_by, created_at "
        "FROM activation_destinations ORDER BY name")
    if len(df):
        df["label"] = df["kind"].map(lambda k: KINDS[k].label if k in KINDS else k)
        df["credentials"] = [
            "not needed" if k in KINDS and not KINDS[k].secret_names
            else "present" if _has_secrets(n, k) else "missing" for n, k in zip(df["name"], df["kind"])]
    return df


def _has_secrets(name: str, kind: str) -> bool:
    if kind not in KINDS:
        return False
    try:
        found = read_secrets(name, kind)
    except ValueError:
        return False
    return all(found.get(k) for k in KINDS[kind].secret_names)


def get_destination(workspace, name: str, with_secrets: bool = True) -> Destination:
    row = workspace.query_rows("SELECT kind, CAST(settings AS VARCHAR) FROM activation_destinations WHERE name = ?",
                               [name])
    if not row:
        raise ValueError(f"No destination called {name!r}; add one with `cdp destinations add`.")
    kind, settings = row[0]
    secrets = read_secrets(name, kind) if with_secrets else {}
    return KINDS[kind](name, json.loads(settings or "{}"), secrets, folder=workspace.folder)
