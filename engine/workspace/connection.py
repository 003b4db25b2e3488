"""Short-lived, retrying connections to the workspace's DuckDB file.

DuckDB lets one process at a time hold a database file open for writing. The
app, the CLI and the collector all share one workspace, so nobody keeps a
connection open while idle: every unit of work opens the file, does its work
in one transaction and closes it again. When another process holds the file,
we wait with exponential backoff (and jitter) instead of failing.

Every connection is opened with a memory limit and a spill folder (engine.workspace.resources),
so no process on the workspace can take the whole machine's memory.

A hosted server whose collector lands in its own process (nothing else needs the file) may
instead keep it open for its lifetime (`Workspace.hold`, $CDP_HOLD_WORKSPACE): every unit of
work is then a cursor on the one DuckDB instance, with no open, no schema check and a warm
buffer pool; other processes wait until the server stops.
"""
from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import duckdb

import engine.workspace.migrations as migrations
import engine.workspace.resources as resources
import engine.workspace.versions as versions
from engine.workspace.errors import (  # noqa: F401 - re-exported: callers import them from here too
    WorkspaceBusy,
    WorkspaceError,
    WorkspaceTooNew,
    WorkspaceUnwritable,
    as_unwritable,
)

DEFAULT_PATH = Path("workspace") / "cdp.duckdb"
# Long enough to outlast the longest single write (identity resolution of 1M records ~100 s).
LOCK_WAIT_SECONDS = float(os.environ.get("CDP_LOCK_WAIT_SECONDS", "180"))

_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()

# The last marker is this process itself: a connection elsewhere in the process (another
# session's thread, the SQL console's read-only attachment) has the file open in another mode.
_LOCK_MARKERS = ("Could not set lock", "Conflicting lock", "database is locked", "being used by another process",
                 "Unique file handle conflict")


class _Hold:
    """The connection a process keeps open to one file, and the cursors it has lent out."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.lent = 0
        self.paused = False
        self.closed = False
        self.changed = threading.Condition()

    def lend(self) -> duckdb.DuckDBPyConnection | None:
        """A cursor for one unit of work; None once the hold is closed (open the file instead)."""
        with self.changed:                 # the keeper refuses two calls at once: one cursor at a time
            self.changed.wait_for(lambda: not self.paused)
            if self.closed:
                return None
            cursor = self.con.cursor()
            self.lent += 1
            return cursor

    def close(self, wait: float) -> None:
        """Close the keeper once the cursors lent out are back (closing it closes them), or after `wait` s."""
        with self.changed:
            self.closed = True
            self.changed.wait_for(lambda: self.lent == 0, timeout=wait)
            self.con.close()

    def give_back(self, cursor: duckdb.DuckDBPyConnection) -> None:
        try:
            cursor.close()
        finally:
            with self.changed:
                self.lent -= 1
                self.changed.notify_all()


_HOLDS: dict[str, _Hold] = {}
_HOLDS_GUARD = threading.Lock()
HOLD_ENV = "CDP_HOLD_WORKSPACE"


def hold_requested() -> bool:
    """Whether $CDP_HOLD_WORKSPACE asks a server to keep its workspace open."""
    return os.environ.get(HOLD_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def default_workspace_path() -> Path:
    """The workspace path: $CDP_WORKSPACE, else workspace/cdp.duckdb."""
    return Path(os.environ.get("CDP_WORKSPACE") or DEFAULT_PATH)


def _write_lock(path: Path) -> threading.RLock:
    """One writer at a time per file inside this process (DuckDB would raise a conflict)."""
    key = str(path.resolve())
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.RLock())


def _is_lock_error(exc: Exception) -> bool:
    return any(marker in str(exc) for marker in _LOCK_MARKERS)


class Workspace:
    """A workspace file. Cheap to create; holds no open connection."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path else default_workspace_path()
        self._local = threading.local()
        self._resolved: tuple[Path, str] | None = None

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"

    @property
    def folder(self) -> Path:
        """Folder beside the database file for raw landings, spool and exports."""
        return self.path.parent

    def exists(self) -> bool:
        return self.path.exists()

    # -- holding the file open -------------------------------------------------
    def file_key(self) -> str:
        """The file's resolved path, what per-file state in a process is keyed on (resolved once:
        every connect of a held workspace and every screen's freshness check asks)."""
        if self._resolved is None or self._resolved[0] is not self.path:
            self._resolved = (self.path, str(self.path.resolve()))
        return self._resolved[1]

    def _hold(self) -> _Hold | None:
        return _HOLDS.get(self.file_key()) if _HOLDS else None

    @property
    def held(self) -> bool:
        """True when this process keeps the file open (see `hold`)."""
        return self._hold() is not None

    def hold(self) -> None:
        """Keep the file open in this process until `release`: later connections are cursors on it.

        Opens (creating and upgrading) the workspace once; other processes cannot open the file
        until it is released, so only a server that lands events itself should hold it.
        """
        with _HOLDS_GUARD:
            if self.file_key() in _HOLDS:
                return
            _HOLDS[self.file_key()] = _Hold(self._open_current(read_only=False))
            self._holder_file.write_text(json.dumps({"pid": os.getpid(), "since": time.time()}))

    def release(self) -> None:
        """Stop holding the file (no-op when not held) once the connections lent out are closed."""
        with _HOLDS_GUARD:
            hold = _HOLDS.pop(self.file_key(), None)
        if hold is not None:
            hold.close(LOCK_WAIT_SECONDS)
            self._holder_file.unlink(missing_ok=True)

    @property
    def _holder_file(self) -> Path:
        return self.path.with_name(self.path.name + ".held")

    def holder(self) -> int | None:
        """The id of another live process that holds the file (`hold`), or None."""
        try:
            pid = int(json.loads(self._holder_file.read_text())["pid"])
            os.kill(pid, 0)                # raises when no such process is alive
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return pid if pid != os.getpid() else None

    @contextmanager
    def file_swap(self) -> Iterator[None]:
        """Around replacing the database file on disk: when held, waits until no connection of the
        process is open (new ones wait), closes the file, and opens the new one after the block."""
        hold = self._hold()
        if hold is None:
            yield
            return
        if getattr(self._local, "con", None) is not None:
            raise WorkspaceError("The database file cannot be replaced while this thread has it open.")
        with hold.changed:
            hold.paused = True
            try:
                if not hold.changed.wait_for(lambda: hold.lent == 0, timeout=LOCK_WAIT_SECONDS):
                    raise WorkspaceBusy(f"The workspace {self.path} stayed busy for {LOCK_WAIT_SECONDS:.0f} s; "
                                        "try again in a moment.")
                hold.con.close()
                try:
                    yield
                finally:
                    hold.con = self._open(read_only=False)
                    resources.apply_setting(hold.con)
            finally:
                hold.paused = False
                hold.changed.notify_all()

    # -- connections -------------------------------------------------------
    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        return self._waiting_for_lock(lambda: duckdb.connect(str(self.path), read_only=read_only,
                                                             config=resources.connect_config(self.path)))

    def attach_read_only(self, con: duckdb.DuckDBPyConnection, alias: str) -> None:
        """ATTACH this workspace to another DuckDB connection, read-only, as `alias`.

        Waits for other writers as connect() does; `alias` must be a plain identifier.
        """
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", alias):
            raise ValueError(f"Not a plain identifier: {alias!r}")
        self._waiting_for_lock(lambda: con.execute(f"ATTACH ? AS {alias} (READ_ONLY)", [str(self.path)]))

    def _waiting_for_lock(self, open_file):
        """open_file(), retried with backoff while another connection holds the file."""
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        delay = 0.02
        while True:
            try:
                return open_file()
            except (duckdb.IOException, duckdb.ConnectionException, duckdb.OperationalError) as exc:
                if not _is_lock_error(exc):
                    raise as_unwritable(exc, self.folder) or exc
                holder = self.holder()
                if holder is not None:     # a server holds it until it stops: waiting would not help
                    raise WorkspaceBusy(
                        f"The workspace {self.path} is held open by the app server (process {holder}, started "
                        f"with CDP_HOLD_WORKSPACE=1) until it stops. Do this from the app, or stop the "
                        f"server first.") from exc
                if time.monotonic() >= deadline:
                    raise WorkspaceBusy(
                        f"The workspace {self.path} is busy in another process; tried for "
                        f"{LOCK_WAIT_SECONDS:.0f} s. Try again in a moment."
                    ) from exc
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 1.0)

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one unit of work; re-entrant within a thread.

        Nested calls in the same thread reuse the open connection so that
        engine functions can call each other inside one transaction.
        """
        current = getattr(self._local, "con", None)
        if current is not None:
            yield current
            return
        hold = self._hold()
        lent = hold.lend() if hold is not None else None
        if lent is not None:
            yield from self._lent(hold, lent)
            return
        con = self._open_current(read_only)
        self._local.con = con
        try:
            yield con
        finally:
            self._local.con = None
            con.close()

    def _open_current(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        """The file opened (created if missing), at the latest schema (upgraded, or only checked
        when read-only), with the workspace's resource settings applied."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise as_unwritable(exc, self.folder) or exc
        con = self._open(read_only)
        try:
            if migrations.is_current(con):
                pass
            elif read_only:
                migrations.check_version(con)
            else:
                with _write_lock(self.path):
                    try:
                        migrations.upgrade(con)
                    except duckdb.Error as exc:
                        raise as_unwritable(exc, self.folder) or exc
            resources.apply_setting(con)
        except BaseException:
            con.close()
            raise
        return con

    def _lent(self, hold: _Hold, con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on the held file (upgraded when it was first held) for one unit of work."""
        self._local.con = con
        try:
            yield con
        finally:
            self._local.con = None
            hold.give_back(con)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One all-or-nothing write; bumps the data version on success."""
        with self.connect() as con:
            if getattr(self._local, "in_tx", False):
                yield con
                return
            with _write_lock(self.path):
                self._local.in_tx = True
                con.execute("BEGIN TRANSACTION")
                try:
                    yield con
                    moved = bump_data_version(con, getattr(self._local, "changes", versions.KINDS))
                    con.execute("COMMIT")
                    versions.record(self.path, moved)
                except BaseException as exc:
                    try:
                        con.execute("ROLLBACK")
                    except duckdb.Error:  # a failed COMMIT (a full disk) rolled back already:
                        pass              # its error is the one to report, not "no transaction"
                    unwritable = as_unwritable(exc, self.folder) if isinstance(exc, Exception) else None
                    if unwritable is not None:  # e.g. the WAL or a landing copy on a full disk
                        raise unwritable from exc
                    raise
                finally:
                    self._local.in_tx = False

    # -- convenience -------------------------------------------------------
    def query_df(self, sql: str, params: Any = None):
        """Run a read query and return a pandas DataFrame."""
        with self.connect() as con:
            return con.execute(sql, params or []).df()

    def query_rows(self, sql: str, params: Any = None) -> list[tuple]:
        with self.connect() as con:
            return con.execute(sql, params or []).fetchall()

    def scalar(self, sql: str, params: Any = None):
        with self.connect() as con:
            row = con.execute(sql, params or []).fetchone()
            return row[0] if row else None

    def data_version(self) -> int:
        """A counter bumped by every committed write; key caches on it."""
        return self.data_versions().all

    def data_versions(self) -> versions.DataVersions:
        """Every version (engine/workspace/versions.py): `.all` moves at every commit, `.core` at every
        commit that changes more than events.

        Read from the small file each commit writes beside the database, so a page's cache hit
        opens no connection; the database when that file is missing or belongs to another file.
        """
        recorded = versions.recorded(self.path)
        if recorded is not None:
            return recorded
        with self.connect() as con:
            return versions.read(con)

    @contextmanager
    def changing(self, *kinds: str) -> Iterator[None]:
        """Declare that the transactions this thread commits inside the block change only these kinds
        of data (versions.KINDS): `with ws.changing(EVENTS):` keeps the core version, so caches of
        reads that touch no event stay valid. Without it a commit counts as changing everything."""
        unknown = set(kinds) - set(versions.KINDS)
        if unknown or not kinds:
            raise ValueError(f"Say which kinds of data change: {', '.join(versions.KINDS)}.")
        before = getattr(self._local, "changes", None)
        self._local.changes = tuple(kinds)
        try:
            yield
        finally:
            self._local.changes = before if before is not None else versions.KINDS

    def also_changing(self, *kinds: str) -> None:
        """Inside a `changing(...)` block: the write under way turns out to change these kinds too
        (a landing's fill of order events). Outside one every commit counts as changing everything."""
        current = getattr(self._local, "changes", None)
        if current is not None:
            self._local.changes = tuple(dict.fromkeys((*current, *kinds)))

    def schema_version(self) -> int:
        with self.connect() as con:
            return migrations.current_version(con)

    def table_counts(self) -> dict[str, int]:
        """Row count of every base table, for `cdp status` and health screens."""
        with self.connect() as con:
            names = [r[0] for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY table_name"
            ).fetchall()]
            return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def bump_data_version(con: duckdb.DuckDBPyConnection, changes=versions.KINDS) -> versions.DataVersions:
    """Move the data versions for these changes inside the open transaction; the new versions."""
    return versions.bump(con, changes)


def recorded_data_version(path: Path) -> int | None:
    """The version the last commit recorded for this database file, or None."""
    recorded = versions.recorded(path)
    return recorded.all if recorded is not None else None


def open_workspace(path: str | os.PathLike | None = None) -> Workspace:
    """Open (creating and upgrading if needed) the workspace at path."""
    ws = Workspace(path)
    with ws.connect():
        pass
    return ws
