"""Data versions: counters that committed writes bump, for caches to key on.

Every commit bumps `data_version` (meta key 'data_version'). A commit that changes only events
(the collector's landing and what it appends to tables derived from events: declared with
`Workspace.changing(EVENTS)`) leaves the *core* version ('data_version.core') alone; every other
commit bumps it too. So a read that touches no event (profiles, scores, identity review, segment
definitions...) can key its cache on the core version and stay cached while events stream in;
a read that may touch events keys on `data_version`. The versions are also recorded in a small
file beside the database after each commit, so reading them opens no connection.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb

EVENTS = "events"        # events, the collector's loads rows and quarantine lines, tables derived from events
CORE = "core"            # everything else
KINDS = (CORE, EVENTS)
NO_EVENTS = (CORE,)      # what a read that touches no event passes as `reads`
_CORE_KEY = "data_version.core"


@dataclass(frozen=True)
class DataVersions:
    all: int             # bumped by every commit
    core: int            # bumped by every commit that changes more than events

    def reading(self, kinds=KINDS) -> int:
        """The version a read of these kinds of data keys on."""
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"Unknown kinds of data {sorted(unknown)}; use {', '.join(KINDS)}.")
        return self.all if EVENTS in kinds else self.core


def bump(con: duckdb.DuckDBPyConnection, changes=KINDS) -> DataVersions:
    """Add one to the versions these changes move, inside the open transaction; the new versions."""
    row = con.execute(
        "UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) WHERE key = 'data_version' "
        "RETURNING CAST(value AS BIGINT)"
    ).fetchone()
    total = int(row[0]) if row else 0
    if set(changes) != {EVENTS}:
        con.execute("INSERT OR IGNORE INTO meta VALUES (?, '0')", [_CORE_KEY])
        con.execute("UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) WHERE key = ?", [_CORE_KEY])
    core = con.execute("SELECT CAST(value AS BIGINT) FROM meta WHERE key = ?", [_CORE_KEY]).fetchone()
    return DataVersions(total, int(core[0]) if core else 0)


def read(con: duckdb.DuckDBPyConnection) -> DataVersions:
    rows = dict(con.execute("SELECT key, CAST(value AS BIGINT) FROM meta WHERE key IN ('data_version', ?)",
                            [_CORE_KEY]).fetchall())
    return DataVersions(int(rows.get("data_version") or 0), int(rows.get(_CORE_KEY) or 0))


def _file(path: Path) -> Path:
    return path.with_name(path.name + ".version")


def record(path: Path, versions: DataVersions) -> None:
    """Write "<inode of the database file> <version> <core version>" beside it, atomically.

    The inode ties the record to this very file: a database copied or recreated under the same
    name is read from the database until its first commit. A record that cannot be written is
    removed, so readers fall back to the database instead of trusting an old number.
    """
    target = _file(path)
    try:
        tmp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(f"{os.stat(path).st_ino} {int(versions.all)} {int(versions.core)}", encoding="ascii")
        os.replace(tmp, target)
    except OSError:
        try:
            target.unlink(missing_ok=True)
        except OSError:
            pass


def recorded(path: Path) -> DataVersions | None:
    """The versions the last commit recorded for this database file, or None."""
    try:
        inode, total, core = _file(path).read_text(encoding="ascii").split()
        if int(inode) != os.stat(path).st_ino:
            return None
        return DataVersions(int(total), int(core))
    except (OSError, ValueError):
        return None
