"""A liveness answer for a reverse proxy or an uptime check, without opening the database.

Opening DuckDB would wait behind a long write (a resolve holds the file for minutes); a proxy's
health check must answer at once, so this reads only the file system and the version record.
"""
from __future__ import annotations

import os

from engine.workspace.connection import Workspace, recorded_data_version


def health(workspace: Workspace) -> tuple[bool, dict]:
    """(healthy, details): healthy when the database file exists and its folder is writable."""
    exists = workspace.path.is_file()
    writable = os.access(workspace.folder, os.W_OK)
    problems = []
    if not exists:
        problems.append("the workspace database does not exist yet (run `cdp sample` or load data)")
    if not writable:
        problems.append(f"the workspace folder {workspace.folder} is not writable")
    return not problems, {
        "status": "ok" if not problems else "unhealthy",
        "workspace": str(workspace.path),
        "data_version": recorded_data_version(workspace.path) if exists else None,
        "problems": problems,
    }
