"""A full disk: refused requests leave no fragment in the spool, landing never stops for good,
/health says what is wrong, and every acknowledged event lands once space is back."""
from __future__ import annotations

import builtins
import errno
import json
import os
import urllib.error
import urllib.request

import pytest

from engine.collect import Collector
from engine.collect import loader as loader_module
from engine.collect import spool as spool_module
from engine.collect.spool import Spool, SpoolError, list_segments
from engine.sources import create_source
from tests.engine.collect_helpers import post, wait_for


class Disk:
    """Writes through the spool's open(): when full, a write stores a few bytes (a torn line,
    as a real short write does) and the next raises ENOSPC."""

    def __init__(self):
        self.full = False
        self._torn = False

    def fill(self) -> None:
        self.full, self._torn = True, False

    def check(self, data) -> int | None:
        """Bytes to write before failing, or None for a normal write."""
        if not self.full:
            return None
        if not self._torn:
            self._torn = True
            return min(7, len(data))
        raise OSError(errno.ENOSPC, "No space left on device")

    def open(self, path, mode="r", *args, **kwargs):
        return _File(builtins.open(path, mode, *args, **kwargs), self)


class _File:
    def __init__(self, f, disk: Disk):
        self._f, self._disk = f, disk

    def write(self, data):
        part = self._disk.check(data)
        if part is not None:
            return self._f.write(bytes(data[:part]))
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


@pytest.fixture
def disk(monkeypatch):
    disk = Disk()
    monkeypatch.setattr(spool_module, "open", disk.open, raising=False)
    return disk


def _line(message_id: str) -> bytes:
    return json.dumps({"type": "track", "event": "E", "userId": "u", "messageId": message_id}).encode() + b"\n"


def _spooled_lines(directory) -> list[bytes]:
    return [line for s in list_segments(directory) for line in s.path.read_bytes().splitlines()]


def test_a_failed_spool_write_leaves_no_fragment_for_the_next_line(tmp_path, disk):
    spool = Spool(tmp_path / "spool")
    try:
        spool.append("Web", _line("a"), 1)
        disk.fill()
        with pytest.raises(SpoolError, match="No space left"):
            spool.append("Web", _line("refused-1") + _line("refused-2"), 2)
        error_while_full = getattr(spool, "last_error", None)
        disk.full = False
        spool.append("Web", _line("b"), 1)
        error_after = getattr(spool, "last_error", None)
    finally:
        spool.close()
    lines = _spooled_lines(tmp_path / "spool")
    assert lines == [_line("a")[:-1], _line("b")[:-1]], "only acknowledged lines, whole"
    assert spool.appended_events == 2
    assert "No space" in (error_while_full or "") and error_after is None, "what /health reports"


def _health(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url + "/health", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_disk_full_then_space_back_loses_no_acknowledged_event(workspace, admin, disk, monkeypatch):
    source = create_source(workspace, admin, "Website", "events")
    real_land, real_replace = loader_module.land_segments, os.replace

    workspace_full = [False]

    def land(*args, **kwargs):  # the workspace is on the same full disk
        if workspace_full[0]:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_land(*args, **kwargs)

    def replace(src, dst, *args, **kwargs):  # ... and so is the collector's status file
        if workspace_full[0] and str(dst).endswith("collector.json"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(loader_module, "land_segments", land)
    monkeypatch.setattr(os, "replace", replace)
    acked = []

    def send(message_id: str) -> int:
        code, _ = post(collector.url, "/v1/track", {"userId": "u", "event": "E", "messageId": message_id},
                       key=source.write_key)
        if code == 200:
            acked.append(message_id)
        return code

    collector = Collector(workspace, "127.0.0.1", 0, interval=0.1).start()
    try:
        assert send("before") == 200
        assert wait_for(lambda: workspace.scalar("SELECT count(*) FROM events") == 1, 20)
        assert _health(collector.url)[0] == 200

        disk.fill()
        workspace_full[0] = True
        assert send("refused-1") == 503
        assert send("refused-2") == 503
        degraded = wait_for(lambda: (h := _health(collector.url))[0] == 503 and h, 20)
        assert degraded, "/health must not say ok while events cannot be stored"
        code, health = degraded
        assert health["status"] == "degraded" and "No space left" in health["reason"]

        disk.full = False  # the spool has room again, the workspace's commits still fail
        assert send("while-landing-fails") == 200
        failed_at = collector.loader.stats.last_error_at
        assert wait_for(lambda: collector.loader.stats.last_error_at != failed_at, 30), "the loader stopped"
        code, health = _health(collector.url)
        assert code == 503 and "landing events in the workspace has failed" in health["reason"]
        assert collector.loader._thread.is_alive()

        workspace_full[0] = False
        assert send("after") == 200
        landed = wait_for(lambda: workspace.scalar("SELECT count(*) FROM events") == len(acked), 40)
        assert landed, f"acknowledged {acked}, landed " \
                       f"{[r[0] for r in workspace.query_rows('SELECT message_id FROM events')]}"
        assert wait_for(lambda: _health(collector.url)[0] == 200, 20)
    finally:
        collector.stop()
    assert sorted(r[0] for r in workspace.query_rows("SELECT message_id FROM events")) == sorted(acked)
    assert acked == ["before", "while-landing-fails", "after"]
    assert workspace.scalar("SELECT count(*) FROM quarantine") == 0
    assert not (collector.spool.directory / "failed").exists(), "a full disk is no reason to set events aside"
