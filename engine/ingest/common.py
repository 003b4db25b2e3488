"""Small helpers every ingest module shares: errors, identifier quoting, temp names."""
from __future__ import annotations

import itertools
from contextlib import contextmanager
import os
import threading
from engine.sql_names import quote_name


class IngestError(ValueError):
    """A file or request that cannot be loaded; the message is one line a user can act on."""


_counter = itertools.count(1)
_guard = threading.Lock()


def temp_name(prefix: str) -> str:
    """A temp table name unique within this process (safe to nest loads in one connection)."""
    with _guard:
        n = next(_counter)
    return f"_ingest_{prefix}_{os.getpid()}_{n}"


def quote_ident(name: str, allowed) -> str:
    """Quote a column name for SQL after checking it against the columns that really exist."""
    if name not in allowed:
        raise IngestError(f"Unknown column {name!r}.")
    return quote_name(name)


@contextmanager
def utc_session(con):
    """Run with the session time zone at UTC, so text without a zone is read as UTC; restored after."""
    zone = con.execute("SELECT current_setting('TimeZone')").fetchone()[0]
    con.execute("SET TimeZone = 'UTC'")
    try:
        yield con
    finally:
        try:
            con.execute(f"SET TimeZone = '{zone.replace(chr(39), '')}'")  # a zone name, not user input
        except Exception:  # noqa: BLE001 - an aborted transaction; the connection is closed after
            pass


def drop_temp(con, *names: str) -> None:
    for name in names:
        try:
            con.execute(f'DROP TABLE IF EXISTS temp."{name}"')
        except Exception:  # noqa: BLE001 - an aborted transaction drops temp tables on rollback
            pass
