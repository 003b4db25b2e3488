"""The audit log: append-only record of who did what."""
from __future__ import annotations

import json
from typing import Any

import duckdb

from engine.access.roles import User, require


def audit(con: duckdb.DuckDBPyConnection, user: User, action: str, target: str | None = None,
          details: dict[str, Any] | None = None) -> None:
    """Append one entry, inside the caller's transaction."""
    con.execute(
        "INSERT INTO audit_log (username, role, action, target, details) VALUES (?, ?, ?, ?, ?)",
        [user.username, user.role, action, target, json.dumps(details or {}, default=str)],
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
