"""Data versions: counters that committed writes bump, for caches to key on.

Every commit that changes data bumps `data_version` (meta key 'data_version'). A commit that changes only events
(the collector's landing and what it appends to tables derived from events: declared with
`Workspace.changing(EVENTS)`) leaves the *core* version ('data_version.core') alone; every other
commit bumps it too. So a read that touches no event (profiles, scores, identity review, segment
definitions...) can key its cache on the core version and stay cached while events stream in;
a read that may touch events keys on `data_version`. Revenue reads touch events only through the
web purchases among them (`web_orders`): they read (CORE, ORDER_EVENTS) and key on the core and
*orders* versions; a landing moves the orders version only when order events came with it (the
landing's fill of `order_events` says so, engine/order_events.py). A commit that only records who came in
(a login, a logout, a refused attempt: `changing(ACCESS)`) moves neither: it moves the *access*
version alone, so logging in keeps everyone's cached screens. The versions are also recorded in
a small file beside the database after each commit, so reading them opens no connection.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb

EVENTS = "events"        # events, the collector's loads rows and quarantine lines, tables derived from events
ACCESS = "access"        # logins, logouts and refused attempts: their audit rows and login throttles
ORDER_EVENTS = "order events"   # web purchases and refunds among events (what web_orders reads)
CORE = "core"            # everything else
KINDS = (CORE, EVENTS, ACCESS, ORDER_EVENTS)
DATA = (CORE, EVENTS)    # what a read passes as `reads` by default: whatever changes data, not logins
NO_EVENTS = (CORE,)      # what a read that touches no event passes as `reads`
REVENUE = (CORE, ORDER_EVENTS)   # what a read of orders (web purchases included) passes as `reads`
_CORE_KEY = "data_version.core"
_ACCESS_KEY = "data_version.access"
_ORDERS_KEY = "data_version.orders"


@dataclass(frozen=True)
class DataVersions:
    all: int             # bumped by every commit that changes data (all but ACCESS-only commits)
    core: int            # bumped by every commit that changes more than events
    access: int = 0      # bumped by every commit that records access
    orders: int = 0      # bumped by every commit that may change order events

    def reading(self, kinds=DATA):
        """The version a read of these kinds of data keys on (a tuple when it reads access or
        order events as well as core data)."""
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"Unknown kinds of data {sorted(unknown)}; use {', '.join(KINDS)}.")
        if EVENTS in kinds:
            data = self.all                      # every data commit moves it, order events included
        elif ORDER_EVENTS in kinds:
            data = (self.core, self.orders)
        else:
            data = self.core
        return (data, self.access) if ACCESS in kinds else data

    @property
    def data(self) -> tuple[int, int]:
        """The versions data reads key on (not access)."""
        return self.all, self.core


def _add_one(con: duckdb.DuckDBPyConnection, key: str) -> None:
    con.execute("INSERT OR IGNORE INTO meta VALUES (?, '0')", [key])
    con.execute("UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS VARCHAR) WHERE key = ?", [key])


def bump(con: duckdb.DuckDBPyConnection, changes=KINDS) -> DataVersions:
    """Add one to the versions these changes move, inside the open transaction; the new versions."""
    changes = set(changes)
    if changes - {ACCESS}:
        _add_one(con, "data_version")
    if changes - {EVENTS, ACCESS, ORDER_EVENTS}:
        _add_one(con, _CORE_KEY)
    if ACCESS in changes:
        _add_one(con, _ACCESS_KEY)
    if ORDER_EVENTS in changes:
        _add_one(con, _ORDERS_KEY)
    return read(con)


def read(con: duckdb.DuckDBPyConnection) -> DataVersions:
    rows = dict(con.execute("SELECT key, CAST(value AS BIGINT) FROM meta WHERE key IN ('data_version', ?, ?, ?)",
                            [_CORE_KEY, _ACCESS_KEY, _ORDERS_KEY]).fetchall())
    return DataVersions(int(rows.get("data_version") or 0), int(rows.get(_CORE_KEY) or 0),
                        int(rows.get(_ACCESS_KEY) or 0), int(rows.get(_ORDERS_KEY) or 0))


def _file(path: Path) -> Path:
    return path.with_name(path.name + ".version")


def record(path: Path, versions: DataVersions) -> None:
    """Write "<inode of the database file> <version> <core> <access> <orders>" beside it, atomically.

    The inode ties the record to this very file: a database copied or recreated under the same
    name is read from the database until its first commit. A record that cannot be written is
    removed, so readers fall back to the database instead of trusting an old number.
    """
    target = _file(path)
    try:
        tmp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(f"{os.stat(path).st_ino} {int(versions.all)} {int(versions.core)} {int(versions.access)}"
                       f" {int(versions.orders)}", encoding="ascii")
        os.replace(tmp, target)
    except OSError:
        try:
            target.unlink(missing_ok=True)
        except OSError:
            pass


def recorded(path: Path) -> DataVersions | None:
    """The versions the last commit recorded for this database file, or None."""
    try:
        inode, total, core, access, orders = _file(path).read_text(encoding="ascii").split()
        if int(inode) != os.stat(path).st_ino:
            return None
        return DataVersions(int(total), int(core), int(access), int(orders))
    except (OSError, ValueError):
        return None
