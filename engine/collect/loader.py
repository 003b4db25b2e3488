"""Micro-batches: closed spool segments land in the workspace, then leave the spool.

Every `interval` seconds the loader closes the active spool segments and lands
all closed ones in one workspace transaction, through the events loader shared
with file uploads (its typed spool read, or line by line when a line needs
quarantining); only after the commit are the segment files deleted. A crash
between the commit and the delete lands the same events again on restart, and
the events loader's dedupe by messageId makes that a no-op. After each landing the new events
are appended to the derived tables (engine/derived.py), so screens never find them stale.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from engine.collect.spool import Segment, Spool, list_segments, repair_segment
from engine.derived import append_new_events, carry_forward, landing
# the one Segment -> events normaliser: typed read of the spool, line by line when needed
from engine.ingest.events import load_events_ndjson, load_spool_events
from engine.workspace import Workspace, WorkspaceBusy, WorkspaceUnwritable
from engine.workspace.versions import EVENTS

log = logging.getLogger("cdp.collect")


def _load(con, path: Path, source: str, load_id: int | None) -> tuple[int, int]:
    """(loaded, quarantined) for one segment, through the shared events loader."""
    loaded, quarantined = load_spool_events(con, path, source, load_id)
    return int(loaded), int(quarantined)


def _load_line_by_line(con, path: Path, source: str, load_id: int | None) -> tuple[int, int]:
    loaded, quarantined = load_events_ndjson(con, path, source, load_id)
    return int(loaded), int(quarantined)


CPUS = os.cpu_count() or 2
# failures of the machine or the workspace file, not of what a segment holds
NOT_THE_SEGMENT = (OSError, WorkspaceBusy, WorkspaceUnwritable, duckdb.IOException,
                   duckdb.TransactionException, duckdb.OutOfMemoryException, duckdb.FatalException,
                   duckdb.ConnectionException)
COLLECTOR_USER = "collector"


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def _daily_load(con, source: str) -> int:
    """The `loads` row that adds up one source's collected events for one UTC day."""
    label = f"collector {time.strftime('%Y-%m-%d', time.gmtime())}"
    row = con.execute("SELECT load_id FROM loads WHERE source = ? AND kind = 'events' AND file_name = ?"
                      " AND username = ?", [source, label, COLLECTOR_USER]).fetchone()
    if row:
        return row[0]
    load_id = con.execute("SELECT nextval('load_id_seq')").fetchone()[0]
    con.execute("INSERT INTO loads (load_id, source, kind, file_name, rows_read, rows_loaded,"
                " rows_quarantined, warnings, started_at, finished_at, username)"
                " VALUES (?, ?, 'events', ?, 0, 0, 0, '[]', now(), now(), ?)",
                [load_id, source, label, COLLECTOR_USER])
    return load_id


def land_segments(workspace: Workspace, segments: list[Segment]) -> int:
    """Land segments in one transaction, then delete them; returns the events read.

    Each source's events add to its `loads` row of the day (rows read = loaded + quarantined).
    The landing and its appends change events only (engine/workspace/versions.py): caches of
    reads that touch no event stay valid.
    """
    before = workspace.data_versions()
    with workspace.changing(EVENTS), landing(workspace):
        return _land_segments(workspace, segments, before)


def _land_segments(workspace: Workspace, segments: list[Segment], before) -> int:
    ready = []
    for segment in segments:
        if not segment.path.exists():
            continue
        if repair_segment(segment.path) == 0:
            segment.path.unlink(missing_ok=True)
            continue
        ready.append(segment)
    if not ready:
        return 0
    lines = {s.path: count_lines(s.path) for s in ready}
    try:
        _land_ready(workspace, ready, lines, _load)
    except WorkspaceBusy:
        raise
    except duckdb.Error as exc:
        # A segment DuckDB cannot read as typed JSON (it never should: the collector writes
        # every line); the transaction rolled back, so land the same segments line by line.
        log.warning("collector: landing line by line after: %s", exc)
        _land_ready(workspace, ready, lines, _load_line_by_line)
    for segment in ready:
        segment.path.unlink(missing_ok=True)
    _append_to_derived(workspace, before)
    return sum(lines.values())


def _append_to_derived(workspace: Workspace, before) -> None:
    """Add the landed events to journeys and the segment event index (appends, in their own
    transaction), so no screen finds them stale (and, in the app's process, tell the staleness
    gate so). A failure leaves them for the app's refresh."""
    try:
        carry_forward(workspace, before, append_new_events(workspace))
    except Exception as exc:  # noqa: BLE001 - the events are landed; the refresh catches up
        log.warning("collector: derived tables not updated after a landing: %s", exc)


def _land_ready(workspace: Workspace, ready: list[Segment], lines: dict, load) -> None:
    with workspace.transaction() as con:
        # Every core: answering requests needs little CPU (the ack rate stays far above the
        # target while a landing runs), and a landing that finishes sooner keeps events fresh.
        con.execute(f"SET threads = {CPUS}")
        for source in sorted({s.source for s in ready}):
            load_id = _daily_load(con, source)
            read = loaded = quarantined = 0
            for segment in (s for s in ready if s.source == source):
                got, bad = load(con, segment.path, source, load_id)
                read += lines[segment.path]
                loaded += got
                quarantined += bad
            con.execute("UPDATE loads SET rows_read = rows_read + ?, rows_loaded = rows_loaded + ?,"
                        " rows_quarantined = rows_quarantined + ?, finished_at = now() WHERE load_id = ?",
                        [read, loaded, quarantined, load_id])


def land_spool(workspace: Workspace, directory: Path, max_bytes: int = 256 << 20) -> int:
    """Land every segment in a spool folder that no collector is writing (offline recovery)."""
    total = 0
    segments = list_segments(directory)
    while segments:
        chunk, size = [], 0
        while segments and (not chunk or size + segments[0].size <= max_bytes):
            segment = segments.pop(0)
            chunk.append(segment)
            size += segment.size
        total += land_segments(workspace, chunk)
    return total


@dataclass
class LoaderStats:
    landed_events: int = 0
    landings: int = 0
    last_landed_at: float | None = None
    last_landing_seconds: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    failing_since: float | None = None   # first of the landings failing since the last success
    failing_busy: bool = False           # ... and whether the last one failed on a held workspace
    status_error: str | None = None      # the status file could not be written
    history: deque = field(default_factory=lambda: deque(maxlen=120))  # (time, acked, landed)


class Loader:
    """Background thread: rotate the spool every `interval` s and land what is closed."""

    def __init__(self, workspace: Workspace, spool: Spool, *, interval: float = 1.0,
                 max_events: int = 50_000, max_bytes: int = 256 << 20,
                 status_path: Path | None = None, status: dict | None = None,
                 before_cycle=None):
        self.workspace = workspace
        self.spool = spool
        self.interval = interval
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.status_path = status_path
        self.status = status if status is not None else {}
        self.before_cycle = before_cycle
        self.stats = LoaderStats()
        self._failures: dict[str, int] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="collect-loader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 60) -> None:
        """Land everything still in the spool, then stop."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        """Cycles until stopped. Nothing ends this thread but stop(): every failure is recorded
        (the collector's /health reports it), and the cycle is retried with a growing pause."""
        last_rotation = time.monotonic()
        backoff = self.interval
        behind = False
        while True:
            if not behind:  # a landing that outlasted the interval left a backlog: no pause
                self._wake.wait(self.interval / 4)
            self._wake.clear()
            stopping = self._stop.is_set()  # read after the wait: stop() wakes us to land and leave
            behind = False
            try:
                if self.before_cycle:
                    try:
                        self.before_cycle()
                    except Exception as exc:  # noqa: BLE001 - keep collecting, show the error
                        self._error(exc, landing=False)
                now = time.monotonic()
                if (stopping or now - last_rotation >= self.interval
                        or self.spool.active_events >= self.max_events):
                    self.spool.rotate()
                    last_rotation = now
                behind = self.land_closed() > 0 and time.monotonic() - now >= self.interval
                self._landed_ok()
                backoff = self.interval
            except Exception as exc:  # noqa: BLE001 - the spool keeps the events; retry later
                self._error(exc)
                if not stopping:
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 30)
            try:
                self.write_status()
                self.stats.status_error = None
            except Exception as exc:  # noqa: BLE001 - e.g. a full disk; the next cycle tries again
                log.warning("collector: could not write the status file: %s", exc)
                self.stats.status_error = f"{type(exc).__name__}: {exc}"
            if stopping:
                return

    def _error(self, exc: Exception, landing: bool = True) -> None:
        log.warning("collector loader: %s", exc)
        self.stats.last_error = f"{type(exc).__name__}: {exc}"
        self.stats.last_error_at = time.time()
        if landing:
            if self.stats.failing_since is None:
                self.stats.failing_since = self.stats.last_error_at
            self.stats.failing_busy = isinstance(exc, WorkspaceBusy)

    def _landed_ok(self) -> None:
        self.stats.failing_since = None

    def problem(self, busy_grace: float = 60.0) -> str | None:
        """Why collecting is degraded ("; " between reasons), or None. A workspace held by another
        process is normal for a while (the spool keeps the events); other landing failures count
        at once."""
        problems = []
        if self._thread.ident is not None and not self._thread.is_alive() and not self._stop.is_set():
            problems.append("the landing thread is not running")
        if self.spool.last_error:
            problems.append(f"the spool cannot store events (requests are refused with 503): "
                            f"{self.spool.last_error}")
        since = self.stats.failing_since
        if since is not None and (not self.stats.failing_busy or time.time() - since >= busy_grace):
            problems.append(f"landing events in the workspace has failed since "
                            f"{time.strftime('%H:%M:%S', time.gmtime(since))} UTC: {self.stats.last_error}")
        if self.stats.status_error:
            problems.append(f"the collector's status file cannot be written: {self.stats.status_error}")
        return "; ".join(problems) or None

    def land_closed(self) -> int:
        """Land every closed segment; raises the last failure once the rest has been tried."""
        segments = self.spool.closed_segments()
        landed = 0
        failure = None
        while segments:
            chunk, size = [], 0
            while segments and (not chunk or size + segments[0].size <= self.max_bytes):
                segment = segments.pop(0)
                chunk.append(segment)
                size += segment.size
            started = time.monotonic()
            try:
                count = land_segments(self.workspace, chunk)
            except WorkspaceBusy:
                raise
            except Exception as exc:  # noqa: BLE001 - find the segment that cannot land
                if len(chunk) == 1:
                    self._set_aside_if_stuck(chunk[0], exc)
                    raise
                count = 0  # retry one at a time
                for segment in chunk:
                    try:
                        count += land_segments(self.workspace, [segment])
                    except WorkspaceBusy:
                        raise
                    except Exception as one_exc:  # noqa: BLE001
                        self._set_aside_if_stuck(segment, one_exc)
                        failure = one_exc
            landed += count
            log.debug("landed %d events from %d segments in %.2f s", count, len(chunk),
                      time.monotonic() - started)
            if count:
                self.stats.landed_events += count
                self.stats.landings += 1
                self.stats.last_landed_at = time.time()
                self.stats.last_landing_seconds = time.monotonic() - started
        if failure is not None:
            raise failure
        return landed

    def _set_aside_if_stuck(self, segment: Segment, exc: Exception) -> None:
        """After 3 failed landings a segment moves to failed/ (kept, never deleted) so the rest flows.

        Only failures that can be the segment's own count: a full disk, a failed commit or too
        little memory would set aside every segment while it lasts, and nothing lands them back.
        """
        if isinstance(exc, NOT_THE_SEGMENT):
            return
        tries = self._failures[segment.path.name] = self._failures.get(segment.path.name, 0) + 1
        if tries < 3:
            return
        failed = self.spool.directory / "failed"
        failed.mkdir(exist_ok=True)
        segment.path.replace(failed / segment.path.name)
        (failed / (segment.path.name + ".reason.txt")).write_text(f"{type(exc).__name__}: {exc}\n")
        self._failures.pop(segment.path.name, None)
        log.error("collector: set aside %s after 3 failed landings: %s", segment.path.name, exc)

    def write_status(self, **extra) -> None:
        if not self.status_path:
            return
        now = time.time()
        acked = self.spool.appended_events
        self.stats.history.append((now, acked, self.stats.landed_events))
        window = [h for h in self.stats.history if h[0] >= now - 10]
        first = window[0] if window else (now, acked, self.stats.landed_events)
        span = max(now - first[0], 1e-9)
        pending = list_segments(self.spool.directory)
        status = dict(self.status)
        status.update({
            "pid": os.getpid(),
            "updated_at": now,
            "acked_events": acked,
            "landed_events": self.stats.landed_events,
            "acked_per_second": round((acked - first[1]) / span, 1) if len(window) > 1 else 0.0,
            "landed_per_second": (round((self.stats.landed_events - first[2]) / span, 1)
                                  if len(window) > 1 else 0.0),
            "pending_segments": len(pending),
            "pending_bytes": sum(s.size for s in pending),
            "landings": self.stats.landings,
            "last_landed_at": self.stats.last_landed_at,
            "last_landing_seconds": self.stats.last_landing_seconds,
            "last_error": self.stats.last_error,
            "last_error_at": self.stats.last_error_at,
            "problem": self.problem(),
            **extra,
        })
        write_json_atomically(self.status_path, status)


def write_json_atomically(path: Path, data: dict) -> None:
    """Replace a JSON file in one step; a failed write (a full disk) leaves the old one."""
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
