"""Servers the suite and the benchmarks start (the app, the collector, a benchmark module): each in
its own process group with its output drained, and stopped as a group, so that no grandchild
(Chromium, a collector a benchmark started) outlives it and no full pipe stalls it.

Each child carries RUN_MARKER in its environment, its starter's value with its own suffix
("<worker>/<child>/<grandchild>"): stopping a child kills every process whose marker starts with
its own, however deep and in whatever process group (a server a benchmark module started in a
group of its own). `sweep_orphans` is the suite's safety net: a process of this worker whose
parent has died (re-parented to PID 1) is left over from a test, and is killed.
"""
from __future__ import annotations

import collections
import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

RUN_MARKER = "CDP_TEST_RUN"
ROOT = Path(__file__).resolve().parents[1]


class Child:
    """A started process group; `lines` keeps the last output lines (stdout and stderr merged)."""

    def __init__(self, cmd: list[str], env: dict | None = None, cwd: Path = ROOT, keep: int = 200):
        env = dict(os.environ if env is None else env)
        self.marker = f"{env.get(RUN_MARKER) or os.environ.get(RUN_MARKER) or 'run'}/{uuid.uuid4().hex[:8]}"
        env[RUN_MARKER] = self.marker
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
        """SIGTERM the group, SIGKILL it after `grace` seconds, then whatever it started that is
        still running anywhere; the exit code."""
        kill_group(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        kill_group(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        _kill_all(_marked(self.marker, orphans_only=False))
        return self.proc.returncode


def kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _marked(prefix: str, orphans_only: bool) -> list[tuple[int, str]]:
    """(pid, command line) of other processes whose marker is prefix or below it."""
    wanted = f"{RUN_MARKER}={prefix}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if orphans_only and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != 1:
                continue
            marks = [v for v in (entry / "environ").read_bytes().split(b"\0") if v.startswith(wanted)]
            if not any(v == wanted or v.startswith(wanted + b"/") for v in marks):
                continue
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, IndexError, ValueError):
            continue
        found.append((int(entry.name), command))
    return found


def _kill_all(processes: list[tuple[int, str]]) -> None:
    for pid, _ in processes:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def sweep_orphans() -> list[str]:
    """Kill this worker's left-over processes (parent gone); their command lines."""
    token = os.environ.get(RUN_MARKER)
    if not token or not Path("/proc").is_dir():
        return []
    killed: list[str] = []
    for _ in range(5):          # a killed orphan's children become orphans in turn
        orphans = _marked(token, orphans_only=True)
        if not orphans:
            break
        _kill_all(orphans)
        killed += [command[:200] for _, command in orphans]
        time.sleep(0.2)
    return killed
