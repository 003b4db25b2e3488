"""The source registry: where data comes from, of which kind, and events write keys."""
from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass

from engine.access import User, audit, require

KINDS = ("events", "contacts", "orders", "subscriptions", "consents")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


class SourceError(ValueError):
    """A source request that cannot be carried out (bad name, kind clash, unknown source)."""


@dataclass(frozen=True)
class Source:
    name: str
    kind: str
    write_key: str | None = None
    mapping: dict | None = None
    id_column: str | None = None
    description: str | None = None


def new_write_key() -> str:
    return "wk_" + secrets.token_urlsafe(24)


def _check(name: str, kind: str) -> None:
    if not _NAME.match(name or ""):
        raise SourceError("A source name is 1-64 letters, digits, spaces, '.', '_' or '-'.")
    if kind not in KINDS:
        raise SourceError(f"Unknown kind {kind!r}; choose one of {', '.join(KINDS)}.")


def _row_to_source(row) -> Source:
    name, kind, write_key, mapping, id_column, description = row
    return Source(name, kind, write_key, json.loads(mapping) if mapping else None, id_column, description)


_COLUMNS = "name, kind, write_key, mapping, id_column, description"


def get_source(con, name: str) -> Source | None:
    row = con.execute(f"SELECT {_COLUMNS} FROM sources WHERE name = ?", [name]).fetchone()
    return _row_to_source(row) if row else None


def ensure_source(con, user: User, name: str, kind: str, description: str = "") -> Source:
    """The source called name, created inside the caller's transaction if new.

    Raises SourceError if it exists with another kind.
    """
    _check(name, kind)
    existing = get_source(con, name)
    if existing:
        if existing.kind != kind:
            raise SourceError(f"Source {name!r} holds {existing.kind}, not {kind}; pick another name.")
        return existing
    write_key = new_write_key() if kind == "events" else None
    con.execute(
        "INSERT INTO sources (name, kind, description, write_key, created_by) VALUES (?, ?, ?, ?, ?)",
        [name, kind, description, write_key, user.username],
    )
    audit(con, user, "source.create", name, {"kind": kind})
    return Source(name, kind, write_key, None, None, description)


def create_source(workspace, user: User, name: str, kind: str, description: str = "") -> Source:
    require(user, "ingest")
    with workspace.transaction() as con:
        if get_source(con, name):
            raise SourceError(f"There is already a source called {name!r}.")
        return ensure_source(con, user, name, kind, description)


def list_sources(workspace):
    return workspace.query_df(
        "SELECT name, kind, description, write_key, created_at, created_by FROM sources ORDER BY name"
    )


def rotate_write_key(workspace, user: User, name: str) -> str:
    """Issue a new write key for an events source; the old one stops working at once."""
    require(user, "ingest")
    with workspace.transaction() as con:
        source = get_source(con, name)
        if source is None or source.kind != "events":
            raise SourceError(f"{name!r} is not an events source.")
        key = new_write_key()
        con.execute("UPDATE sources SET write_key = ? WHERE name = ?", [key, name])
        audit(con, user, "source.rotate_key", name)
        return key


def source_for_write_key(workspace, write_key: str) -> str | None:
    """The events source a write key belongs to, or None."""
    if not write_key:
        return None
    return workspace.scalar("SELECT name FROM sources WHERE write_key = ? AND kind = 'events'", [write_key])


def save_mapping(con, name: str, mapping: dict, id_column: str | None) -> None:
    """Remember the confirmed mapping so the next upload of the same shape reuses it."""
    con.execute("UPDATE sources SET mapping = ?, id_column = ? WHERE name = ?",
                [json.dumps(mapping), id_column, name])
