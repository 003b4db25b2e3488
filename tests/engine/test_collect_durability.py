"""Durability: group commit, torn lines, SIGKILL mid-stream, restart, another process writing."""
from __future__ import annotations

import json
import threading
import time

import pytest

from engine.collect.loader import land_spool
from engine.collect.server import spool_dir
from engine.collect.spool import Spool, SpoolError, list_segments
from engine.sources import create_source
from tests.engine.collect_helpers import CollectorProcess, event_count, post, wait_for


def _line(message_id: str, source_user: str = "u") -> bytes:
    return json.dumps({"type": "track", "event": "E", "userId": source_user, "messageId": message_id,
                       "receivedAt": "2026-01-01T00:00:00Z"}).encode() + b"\n"


def test_group_commit_shares_fsyncs_between_concurrent_requests(tmp_path):
    spool = Spool(tmp_path / "spool")
    try:
        def writer(t):
            for i in range(50):
                spool.append("Web", _line(f"{t}-{i}"), 1)
        threads = [threading.Thread(target=writer, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert spool.appended_events == 400
        assert spool.fsyncs < 400, "concurrent appends must share fsyncs"
        with pytest.raises(SpoolError, match="Another collector"):
            Spool(tmp_path / "spool")
    finally:
        spool.close()
    lines = b"".join(s.path.read_bytes() for s in list_segments(tmp_path / "spool"))
    assert lines.count(b"\n") == 400


def test_restart_resumes_and_a_torn_last_line_is_dropped(workspace, admin):
    create_source(workspace, admin, "Web", "events")
    directory = spool_dir(workspace)
    spool = Spool(directory)
    spool.append("Web", _line("a") + _line("b"), 2)
    spool.close()  # as if the process stopped before landing
    segment = list_segments(directory)[0]
    with open(segment.path, "ab") as f:  # a write cut short by a crash: never acknowledged
        f.write(b'{"type":"track","event":"E","userId":"u","messageId":"torn"')
    spool = Spool(directory)  # the next process starts a new segment after the old ones
    spool.append("Web", _line("c"), 1)
    spool.close()
    assert [s.seq for s in list_segments(directory)] == [1, 2]
    assert land_spool(workspace, directory) == 3
    assert sorted(r[0] for r in workspace.query_rows("SELECT message_id FROM events")) == ["a", "b", "c"]
    assert list_segments(directory) == []
    # landing the same events again (a crash between commit and delete) changes nothing
    spool = Spool(directory)
    spool.append("Web", _line("a") + _line("c"), 2)
    spool.close()
    land_spool(workspace, directory)
    assert event_count(workspace) == 3


class Sender(threading.Thread):
    """Sends batches of unique events until stopped; remembers which ones were acknowledged."""

    def __init__(self, url: str, key: str, name: str, batch: int = 50):
        super().__init__(daemon=True)
        self.url, self.key, self.tag, self.batch = url, key, name, batch
        self.acked: set[str] = set()
        self.sent: set[str] = set()
        self.stop = threading.Event()
        self.errors = 0

    def run(self):
        n = 0
        while not self.stop.is_set():
            ids = [f"{self.tag}-{n + i}" for i in range(self.batch)]
            n += self.batch
            self.sent.update(ids)
            body = {"batch": [{"type": "track", "event": "Stream", "anonymousId": self.tag,
                               "messageId": m} for m in ids]}
            try:
                status, _ = post(self.url, "/v1/batch", body, key=self.key, timeout=5)
            except OSError:
                self.errors += 1
                if self.errors > 3:
                    return
                time.sleep(0.05)
                continue
            if status == 200:
                self.acked.update(ids)


def test_sigkill_mid_stream_loses_no_acknowledged_event(workspace, admin):
    key = create_source(workspace, admin, "Web", "events").write_key
    collector = CollectorProcess(workspace.path, interval=0.3)
    senders = []
    try:
        senders = [Sender(collector.url, key, f"s{i}") for i in range(3)]
        for s in senders:
            s.start()
        assert wait_for(lambda: sum(len(s.acked) for s in senders) >= 3000, 60)
        collector.proc.kill()  # SIGKILL, while requests are in flight
        collector.proc.wait(10)
    finally:
        for s in senders:
            s.stop.set()
        for s in senders:
            s.join(10)
        collector.kill()
    acked = set().union(*(s.acked for s in senders))
    sent = set().union(*(s.sent for s in senders))
    restarted = CollectorProcess(workspace.path, interval=0.3)
    try:
        assert restarted.terminate() == 0  # lands what the killed process left in the spool
    finally:
        restarted.kill()
    landed = {r[0] for r in workspace.query_rows("SELECT message_id FROM events")}
    missing = acked - landed
    print(f"sent {len(sent)}, acknowledged {len(acked)}, landed {len(landed)}, "
          f"acknowledged but lost {len(missing)}")
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"
    assert landed <= sent
    assert event_count(workspace) == len(landed)
    assert list_segments(spool_dir(workspace)) == []


@pytest.mark.slow
def test_collector_and_another_process_write_the_same_workspace(workspace, admin):
    key = create_source(workspace, admin, "Web", "events").write_key
    collector = CollectorProcess(workspace.path, interval=0.2)
    sender = Sender(collector.url, key, "c", batch=20)
    try:
        sender.start()
        for i in range(12):  # meanwhile this process keeps writing too
            with workspace.transaction() as con:
                con.execute("INSERT INTO contacts (source, source_record_id, email) VALUES ('CRM', ?, ?)",
                            [f"r{i}", f"p{i}@example.com"])
            time.sleep(0.02)
        sender.stop.set()
        sender.join(10)
        assert len(sender.acked) > 0
        assert wait_for(lambda: event_count(workspace) >= len(sender.acked), 30)
    finally:
        sender.stop.set()
        code = collector.terminate()
    assert code == 0
    assert workspace.scalar("SELECT count(*) FROM contacts") == 12
    landed = {r[0] for r in workspace.query_rows("SELECT message_id FROM events")}
    assert sender.acked <= landed


def test_a_segment_that_cannot_land_is_set_aside_and_the_rest_flows(workspace, admin, monkeypatch):
    from engine.collect import loader as loader_module
    from engine.collect.loader import Loader

    create_source(workspace, admin, "Web", "events")
    spool = Spool(spool_dir(workspace))
    try:
        spool.append("Web", _line("poison"), 1)
        spool.rotate()
        spool.append("Web", _line("good"), 1)
        spool.rotate()
        real = loader_module._load

        def flaky(con, path, source, load_id):
            if b"poison" in path.read_bytes():
                raise RuntimeError("cannot parse this segment")
            return real(con, path, source, load_id)

        monkeypatch.setattr(loader_module, "_load", flaky)
        loader = Loader(workspace, spool)
        for _ in range(3):
            try:
                loader.land_closed()
            except RuntimeError:
                pass
    finally:
        spool.close()
    assert [r[0] for r in workspace.query_rows("SELECT message_id FROM events")] == ["good"]
    failed = spool_dir(workspace) / "failed"
    kept = [p for p in failed.glob("*.ndjson")]
    assert len(kept) == 1 and b"poison" in kept[0].read_bytes(), "set aside, never deleted"
    assert "cannot parse" in next(failed.glob("*.reason.txt")).read_text()
    assert list_segments(spool_dir(workspace)) == []
