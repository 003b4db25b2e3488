"""The audit log: append-only record of who did what."""
from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import duckdb

from engine.access.roles import User, require
from engine.identifiers import EMAIL_IN_TEXT


_EMAIL = re.compile(EMAIL_IN_TEXT)
_SQL_VALUE = re.compile(r"'(?:[^']|'')*'|\+?\d[\d\-. ()]{5,}\d")   # a quoted literal or a long number
SQL_KEYS = ("sql", "query")   # details holding query text


def _hashed(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.strip().lower().encode("utf-8")).hexdigest()


def _hashed_sql_value(m: re.Match) -> str:
    text = m.group(0)
    if text.startswith("'"):
        return "'" + _hashed(text[1:-1].replace("''", "'")) + "'"
    return _hashed(re.sub(r"[^\d+]", "", text))


def redact(value: Any, key: str | None = None) -> Any:
    """Details as the audit log keeps them: email addresses hashed everywhere, and in query text
    (keys `sql`, `query`) every quoted literal and long number hashed too, so the log records what
    was done without the personal values it was done with."""
    if isinstance(value, str):
        if key in SQL_KEYS:
            value = _SQL_VALUE.sub(_hashed_sql_value, value)
        return _EMAIL.sub(lambda m: _hashed(m.group(0)), value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, key) for v in value]
    return value


def audit(con: duckdb.DuckDBPyConnection, user: User, action: str, target: str | None = None,
          details: dict[str, Any] | None = None) -> None:
    """Append one entry, inside the caller's transaction (details pass through `redact`)."""
    con.execute(
        "INSERT INTO audit_log (username, role, action, target, details) VALUES (?, ?, ?, ?, ?)",
        [user.username, user.role, action, target, json.dumps(redact(details or {}), default=str)],
    )


def audit_entries(workspace, user: User, action: str | None = None, username: str | None = None,
                  limit: int = 500):
    """Recent entries, newest first, optionally filtered; admins only."""
    require(user, "view_audit")
    where, params = [], []
    if action:
        where.append("action = ?")
        params.append(action)
    if username:
        where.append("username = ?")
        params.append(username)
    sql = "SELECT id, logged_at, username, role, action, target, details FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(int(limit))
    return workspace.query_df(sql, params)
