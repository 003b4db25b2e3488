"""An upload while the collector writes events into the same workspace: both land, nothing lost."""
from __future__ import annotations

import threading

from engine.ingest import ingest_file
from engine.sources import create_source
from tests.engine.collect_helpers import CollectorProcess, event_count, post, wait_for


def test_upload_while_the_collector_writes(workspace, admin, tmp_path):
    key = create_source(workspace, admin, "Web", "events").write_key
    rows = 5000
    path = tmp_path / "crm.csv"
    path.write_text("id,email,stage\n" + "".join(f"{i},p{i}@example.com,lead\n" for i in range(rows)))
    collector = CollectorProcess(workspace.path, interval=0.2)
    acked: set[str] = set()
    stop = threading.Event()

    def send():
        n = 0
        while not stop.is_set():
            batch = [{"type": "track", "event": "Viewed", "anonymousId": f"a{n}", "messageId": f"m{n + i}"}
                     for i in range(25)]
            status, _ = post(collector.url, "/v1/batch", {"batch": batch}, key=key)
            if status == 200:
                acked.update(e["messageId"] for e in batch)
            n += 25

    sender = threading.Thread(target=send, daemon=True)
    try:
        sender.start()
        results = [ingest_file(workspace, admin, "contacts", path, "CRM", id_column="id")]
        path.write_text("id,email,stage\n" + "".join(f"{i},p{i}@example.com,customer\n" for i in range(rows)))
        results.append(ingest_file(workspace, admin, "contacts", path, "CRM", id_column="id"))
        stop.set()
        sender.join(30)
        assert acked, "the collector acknowledged events during the uploads"
        assert wait_for(lambda: event_count(workspace) >= len(acked), 60)
    finally:
        stop.set()
        code = collector.terminate()
    assert code == 0
    assert [r.rows_loaded for r in results] == [rows, rows]
    assert results[1].rows_updated == rows
    assert workspace.scalar("SELECT count(*) FROM contacts WHERE lead_stage = 'customer'") == rows
    assert workspace.scalar("SELECT count(*) FROM lead_stage_changes") == 2 * rows
    landed = {r[0] for r in workspace.query_rows("SELECT message_id FROM events")}
    assert acked <= landed
