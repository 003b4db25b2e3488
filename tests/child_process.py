"""Servers the suite and the benchmarks start (the app, the collector, a benchmark module): each in
its own process group with its output drained, and stopped as a group, so that no grandchild
(Chromium, a collector a benchmark started) outlives it and no full pipe stalls it.

`sweep_orphans` is the safety net: every process of a test run carries RUN_MARKER in its
environment; one whose parent has died (re-parented to PID 1) is left over from a test, and is
killed with its group.
"""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

RUN_MARKER = "CDP_TEST_RUN"
ROOT = Path(__file__).resolve().parents[1]


class Child:
    """A started process group; `lines` keeps the last output lines (stdout and stderr merged)."""

    def __init__(self, cmd: list[str], env: dict | None = None, cwd: Path = ROOT, keep: int = 200):
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        self.lines: collections.deque[str] = collections.deque(maxlen=keep)
        self._first = threading.Event()
        threading.Thread(target=self._drain, name=f"drain-{self.proc.pid}", daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self._first.set()
        self._first.set()

    def first_line(self, timeout: float = 60) -> str:
        """The first line the process printed ('' if it exited or said nothing within timeout)."""
        self._first.wait(timeout)
        return self.lines[0] if self.lines else ""

    def output(self) -> str:
        return "\n".join(self.lines)

    def running(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        """Send sig to the process only (a graceful stop the process itself handles)."""
        if self.running():
            self.proc.send_signal(sig)

    def stop(self, grace: float = 10) -> int:
        """SIGTERM the group, SIGKILL it after `grace` seconds; the exit code."""
        stop_group(self.proc.pid, grace, wait=self.proc.wait)
        return self.proc.returncode


def stop_group(pgid: int, grace: float = 10, wait=None) -> None:
    """SIGTERM a process group, then SIGKILL what is left of it after grace seconds."""
    kill_group(pgid, signal.SIGTERM)
    if wait is not None:
        try:
            wait(grace)
        except subprocess.TimeoutExpired:
            pass
    else:
        deadline = time.monotonic() + grace
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
    kill_group(pgid, signal.SIGKILL)
    if wait is not None:
        wait(10)


def kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _marked_orphans(token: str) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid != 1 or f"{RUN_MARKER}={token}".encode() not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, IndexError, ValueError):
            continue
        found.append((int(entry.name), command))
    return found


def sweep_orphans() -> list[str]:
    """Kill this run's left-over processes (and their groups); their command lines."""
    token = os.environ.get(RUN_MARKER)
    if not token or not Path("/proc").is_dir():
        return []
    killed: list[str] = []
    for _ in range(5):          # a killed orphan's children become orphans in turn
        orphans = _marked_orphans(token)
        if not orphans:
            break
        for pid, command in orphans:
            try:
                if os.getpgid(pid) != os.getpgid(0):       # never the group this run itself is in
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            killed.append(command[:200])
        time.sleep(0.2)
    return killed
