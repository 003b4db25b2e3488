"""The collector's durable spool: acknowledged events live here until they land.

A request's events are appended to the active segment file of their source and
fsynced before the request is answered, so an acknowledged event survives a
SIGKILL (and, thanks to the fsync, a power cut). Concurrent requests share one
fsync: they queue their bytes, one writer thread writes everything queued so
far, fsyncs each touched file once, and wakes all of them together (group
commit).

Files are `<seq>-<source-hex>.ndjson`, one JSON event per line. `rotate()` closes
the active files and starts a new sequence number; closed segments are what the
loader lands in the workspace and then deletes. A segment left by a process that
died is closed by definition (the next process starts at a higher sequence), so a
restart resumes where the last one stopped. A torn last line (a write cut short)
was never acknowledged; `repair_segment` trims it before landing. A write that fails
(a full disk) is cut back to the last whole line and the next write starts a new
segment, so an acknowledged line never follows a fragment; `last_error` says why
until a write succeeds again.
"""
from __future__ import annotations

import fcntl
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SEGMENT_GLOB = "*.ndjson"
_SEGMENT_NAME = re.compile(r"^(\d{12})-([0-9a-f]+)\.ndjson$")


class SpoolError(RuntimeError):
    """The spool could not make events durable (disk full, closed, locked by another collector)."""


@dataclass(frozen=True, order=True)
class Segment:
    seq: int
    source: str
    path: Path

    @property
    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0


def segment_name(seq: int, source: str) -> str:
    return f"{seq:012d}-{source.encode('utf-8').hex()}.ndjson"


def parse_segment(path: Path) -> Segment | None:
    match = _SEGMENT_NAME.match(path.name)
    if not match:
        return None
    try:
        source = bytes.fromhex(match.group(2)).decode("utf-8")
    except ValueError:
        return None
    return Segment(int(match.group(1)), source, path)


def list_segments(directory: Path) -> list[Segment]:
    """Every segment file in the spool, oldest first."""
    found = [parse_segment(p) for p in Path(directory).glob(SEGMENT_GLOB)]
    return sorted(s for s in found if s is not None)


def repair_segment(path: Path) -> int:
    """Trim a torn last line (never acknowledged); returns the bytes kept."""
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        keep = size
        while keep > 0:
            start = max(0, keep - (1 << 16))
            f.seek(start)
            chunk = f.read(keep - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            keep = start
        if keep != size:
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())
    return keep


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """Append-and-fsync with group commit; one per spool folder (held with a file lock)."""

    def __init__(self, directory: str | os.PathLike, *, rotate_bytes: int = 64 << 20,
                 fsync: bool = True):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.rotate_bytes = rotate_bytes
        self._do_fsync = fsync
        self._lock_fd = os.open(self.directory / "LOCK", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise SpoolError(f"Another collector is already using the spool {self.directory}.") from None
        existing = list_segments(self.directory)
        self._seq = (existing[-1].seq + 1) if existing else 1
        self._files: dict[str, object] = {}
        self._sizes: dict[str, int] = {}          # bytes of complete lines in each active file
        self._active_bytes = 0
        self._active_events = 0
        self._io_lock = threading.Lock()          # file handles and the sequence number
        self._cond = threading.Condition()        # the queue of pending appends
        self._pending: list[tuple[str, bytes, int]] = []
        self._group = 1                           # generation being filled
        self._durable = 0                         # last generation written and fsynced
        self._failed: dict[int, BaseException] = {}
        self._closed = False
        self.appended_events = 0                  # acknowledged since start
        self.fsyncs = 0
        self.last_error: str | None = None        # the last write's failure, until one succeeds
        self.last_error_at: float | None = None
        self._writer = threading.Thread(target=self._write_loop, name="spool-writer", daemon=True)
        self._writer.start()

    # -- appending ---------------------------------------------------------
    def append(self, source: str, data: bytes, count: int, timeout: float = 30.0) -> None:
        """Append data (complete lines) for source; returns once it is on disk."""
        if not data:
            return
        with self._cond:
            if self._closed:
                raise SpoolError("The collector is shutting down.")
            self._pending.append((source, data, count))
            group = self._group
            self._cond.notify_all()
            deadline = time.monotonic() + timeout
            while self._durable < group:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SpoolError("Timed out waiting for the disk.")
                self._cond.wait(remaining)
            error = self._failed.get(group)
        if error is not None:
            raise SpoolError(f"Could not write the spool: {error}") from error

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending and self._closed:
                    return
                batch, self._pending = self._pending, []
                group = self._group
                self._group += 1
            error = None
            try:
                self._write_group(batch)
            except BaseException as exc:  # noqa: BLE001 - reported to every waiter
                error = exc
            with self._cond:
                if error is not None:
                    self._failed[group] = error
                    for old in [g for g in self._failed if g < group - 10_000]:
                        del self._failed[old]
                self._durable = group
                self._cond.notify_all()

    def _write_group(self, batch: list[tuple[str, bytes, int]]) -> None:
        by_source: dict[str, list[bytes]] = {}
        events = 0
        for source, data, count in batch:
            by_source.setdefault(source, []).append(data)
            events += count
        with self._io_lock:
            touched = []  # (file, its size before this group)
            try:
                for source, chunks in by_source.items():
                    f = self._files.get(source)
                    if f is None:
                        path = self.directory / segment_name(self._seq, source)
                        f = open(path, "ab", buffering=0)
                        self._files[source] = f
                        self._sizes[source] = os.fstat(f.fileno()).st_size
                        if self._do_fsync:
                            _fsync_dir(self.directory)
                    touched.append((f, source))
                    data = b"".join(chunks)
                    view = memoryview(data)
                    while view:
                        written = f.write(view)
                        view = view[written:]
                if self._do_fsync:
                    for f, _ in touched:
                        os.fdatasync(f.fileno())
                    self.fsyncs += 1
            except BaseException as exc:
                self._undo_locked(touched)
                self.last_error = f"{type(exc).__name__}: {exc}"
                self.last_error_at = time.time()
                raise
            for f, source in touched:
                size = self._sizes[source] + sum(len(c) for c in by_source[source])
                self._active_bytes += size - self._sizes[source]
                self._sizes[source] = size
            self.last_error = None
            self._active_events += events
            self.appended_events += events
            if self._active_bytes >= self.rotate_bytes:
                self._rotate_locked()

    def _undo_locked(self, touched: list) -> None:
        """After a failed write (a full disk): cut every touched file back to its last good line
        and start new segments, so a later acknowledged event is never written after a fragment.

        The group's requests are all answered 503; if a file cannot be cut back, the torn end
        stays in a closed segment, where `repair_segment` trims it before landing.
        """
        for f, source in touched:
            try:
                f.truncate(self._sizes[source])
            except OSError:
                pass
        self._rotate_locked()

    # -- segments ----------------------------------------------------------
    def _rotate_locked(self) -> None:
        for f in self._files.values():
            try:
                f.close()
            except OSError:  # unbuffered: nothing is left to write; the file is done with
                pass
        self._files = {}
        self._sizes = {}
        self._seq += 1
        self._active_bytes = 0
        self._active_events = 0

    def rotate(self) -> bool:
        """Close the active segments so the loader can land them; False if they were empty."""
        with self._io_lock:
            if not self._files:
                return False
            self._rotate_locked()
            return True

    @property
    def active_events(self) -> int:
        return self._active_events

    def closed_segments(self) -> list[Segment]:
        """Segments no longer written to, oldest first: ready to land."""
        with self._io_lock:
            current = self._seq
        return [s for s in list_segments(self.directory) if s.seq < current]

    def close(self) -> None:
        """Finish pending appends, close the files and release the spool."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._writer.join(timeout=30)
        with self._io_lock:
            for f in self._files.values():
                f.close()
            self._files = {}
            self._seq += 1
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        finally:
            os.close(self._lock_fd)
