"""Landing the spool: the typed read of collector segments gives the same rows as the line-by-line
events loader, and falls back to it whenever a line needs quarantining or cannot be read."""
from __future__ import annotations

import json

from engine.collect.loader import land_spool
from engine.collect.server import prepare_request
from engine.collect.spool import segment_name
from engine.ingest.events import load_events_ndjson
from engine.sources import create_source
from tests.conftest import copy_workspace

_COLUMNS = ("message_id, source, type, event, name, user_id, anonymous_id, previous_id, group_id, timestamp, "
            "sent_at, received_at, CAST(properties AS VARCHAR), CAST(context AS VARCHAR), CAST(traits AS VARCHAR)")


def _spool_lines() -> bytes:
    """What the collector writes for a realistic batch: every type, odd ids, consent, skew."""
    batch = [
        {"type": "track", "event": "Order Completed", "userId": 42, "messageId": "m-track",
         "timestamp": "2026-03-01T10:00:00+02:00", "properties": {"total": 10.5, "name": "Shoes"},
         "context": {"consent": {"categoryPreferences": {"advertising": False, "analytics": True}}}},
        {"type": "page", "anonymousId": "a-1", "messageId": "m-page", "properties": {"name": "Home"},
         "context": {"gpc": True, "traits": {"email": "x@example.com"}}},
        {"type": "identify", "userId": "u-1", "messageId": "m-identify", "traits": {"email": "u@example.com"}},
        {"type": "identify", "userId": "u-2", "messageId": "m-ctx-traits", "context": {"traits": {"plan": "pro"}}},
        {"type": "group", "userId": "u-1", "groupId": 7, "messageId": "m-group"},
        {"type": "alias", "userId": "u-1", "previousId": "a-1", "messageId": "m-alias", "sentAt": "2026-03-01T10:00:05Z"},
        {"type": "screen", "userId": "u-1", "name": "  Settings ", "messageId": "m-screen",
         "properties": {"unicode": "é \u2028 \"quoted\" \\ back"}},
        {"type": "track", "event": "Retried", "userId": "u-1", "messageId": "m-dup", "properties": {"try": 1}},
        {"type": "track", "event": "Retried", "userId": "u-1", "messageId": "m-dup", "properties": {"try": 2}},
    ]
    data, count = prepare_request("batch", {"batch": batch, "sentAt": "2026-03-01T10:00:01Z"})
    assert count == len(batch)
    return data


def _rows(ws) -> list[tuple]:
    return ws.query_rows(f"SELECT {_COLUMNS} FROM events ORDER BY message_id")


def _signals(ws) -> list[tuple]:
    return ws.query_rows("SELECT message_id, purpose, granted, method FROM event_consent_signals ORDER BY ALL")


def _land_through_spool(ws, data: bytes, seq: int = 1) -> int:
    spool = ws.folder / "spool-under-test"
    spool.mkdir(exist_ok=True)
    (spool / segment_name(seq, "Web")).write_bytes(data)
    return land_spool(ws, spool)


def test_typed_spool_read_lands_exactly_what_the_line_by_line_loader_lands(tmp_path, admin, migrated_template):
    data = _spool_lines()
    spooled = copy_workspace(migrated_template, tmp_path / "a" / "cdp.duckdb")
    lined = copy_workspace(migrated_template, tmp_path / "b" / "cdp.duckdb")
    for ws in (spooled, lined):
        create_source(ws, admin, "Web", "events")

    assert _land_through_spool(spooled, data) == 9
    path = tmp_path / "lines.ndjson"
    path.write_bytes(data)
    with lined.transaction() as con:
        counts = load_events_ndjson(con, path, "Web", None)
    assert (counts.new, counts.duplicates, counts.quarantined) == (8, 1, 0)

    rows = _rows(spooled)
    assert rows == _rows(lined)
    by_id = {r[0]: r for r in rows}
    assert json.loads(by_id["m-dup"][12]) == {"try": 1}, "the first of two copies wins"
    assert by_id["m-track"][5] == "42" and by_id["m-group"][8] == "7", "numeric ids land as text"
    assert by_id["m-screen"][4] == "Settings" and by_id["m-page"][4] == "Home"
    assert json.loads(by_id["m-ctx-traits"][14]) == {"plan": "pro"}, "traits fall back to context.traits"
    assert _signals(spooled) == _signals(lined) and len(_signals(spooled)) == 4
    load = spooled.query_rows("SELECT rows_read, rows_loaded, rows_quarantined FROM loads "
                              "WHERE source = 'Web' AND kind = 'events'")
    assert load == [(9, 9, 0)]

    # Landing the same events again (a crash between commit and delete) changes nothing.
    assert _land_through_spool(spooled, data, seq=2) == 9
    assert _rows(spooled) == rows and _signals(spooled) == _signals(lined)


def test_a_segment_with_a_line_to_quarantine_lands_line_by_line(tmp_path, admin, migrated_template):
    ws = copy_workspace(migrated_template, tmp_path / "cdp.duckdb")
    create_source(ws, admin, "Web", "events")
    good = json.dumps({"type": "track", "event": "E", "userId": "u", "messageId": "ok-1"}).encode()
    no_id = json.dumps({"type": "track", "event": "E", "userId": "u"}).encode()
    other_no_id = json.dumps({"type": "track", "event": "F", "userId": "u"}).encode()
    bad = json.dumps({"type": "track", "userId": "u", "messageId": "no-event"}).encode()
    assert _land_through_spool(ws, b"\n".join([good, no_id, bad, other_no_id, no_id]) + b"\n") == 5

    ids = sorted(r[0][:4] for r in ws.query_rows("SELECT message_id FROM events"))
    assert ids == ["gen-", "gen-", "ok-1"], "events without an id get one each; the repeated line is one event"
    quarantined = ws.query_rows("SELECT row_number, raw, reason FROM quarantine")
    assert quarantined == [(3, bad.decode(), "event required for track")]


def test_a_segment_duckdb_cannot_read_as_json_still_lands_line_by_line(tmp_path, admin, caplog, migrated_template):
    ws = copy_workspace(migrated_template, tmp_path / "cdp.duckdb")
    create_source(ws, admin, "Web", "events")
    good = json.dumps({"type": "track", "event": "E", "userId": "u", "messageId": "ok-1"}).encode()
    assert _land_through_spool(ws, good + b"\nthis is not json\n" + good.replace(b"ok-1", b"ok-2") + b"\n") == 3

    assert sorted(r[0] for r in ws.query_rows("SELECT message_id FROM events")) == ["ok-1", "ok-2"]
    assert ws.query_rows("SELECT row_number, reason FROM quarantine") == [(2, "not valid JSON")]
    assert "landing line by line" in caplog.text
    assert ws.query_rows("SELECT rows_read, rows_loaded, rows_quarantined FROM loads "
                         "WHERE source = 'Web' AND kind = 'events'") == [(3, 2, 1)]


def test_keep_alive_requests_are_answered_without_waiting_for_a_delayed_ack(tmp_path, admin, migrated_template):
    """With Nagle's algorithm on, each answer on a kept-alive connection waited ~40 ms for the
    client's delayed ACK; the collector turns it off, so sequential requests go back to back."""
    import base64
    import http.client
    import statistics
    import time

    from engine.collect import Collector

    ws = copy_workspace(migrated_template, tmp_path / "cdp.duckdb")
    key = create_source(ws, admin, "Web", "events").write_key
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    body = json.dumps({"batch": [{"type": "track", "event": "E", "userId": "u", "messageId": f"k{i}"}
                                 for i in range(50)]}).encode()
    with Collector(ws, "127.0.0.1", 0, fsync=False) as collector:
        conn = http.client.HTTPConnection(collector.host, collector.port, timeout=30)
        seconds = []
        for _ in range(15):
            started = time.perf_counter()
            conn.request("POST", "/v1/batch", body=body, headers={"Authorization": auth})
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            seconds.append(time.perf_counter() - started)
        conn.close()
    assert statistics.median(seconds) < 0.025, f"median answer took {statistics.median(seconds):.3f} s"


def test_landing_marks_the_journey_and_segment_copies_of_events_stale(tmp_path, admin, migrated_template):
    """journey_events and segment_event_index are derived from events: a landing must be seen."""
    from engine.journeys import journeys_stale, prepare_journeys
    from engine.segments import event_index

    ws = copy_workspace(migrated_template, tmp_path / "cdp.duckdb")
    create_source(ws, admin, "Web", "events")
    _land_through_spool(ws, _spool_lines())
    prepare_journeys(ws)
    event_index.rebuild(ws)
    assert not journeys_stale(ws) and event_index.status(ws)["fresh"]

    more = json.dumps({"type": "track", "event": "Later", "userId": "u-9", "messageId": "m-later",
                       "receivedAt": "2026-03-02T00:00:00Z"}).encode() + b"\n"
    assert _land_through_spool(ws, more, seq=2) == 1
    assert journeys_stale(ws) and not event_index.status(ws)["fresh"]
    # landing only events that are already there changes nothing, so nothing goes stale
    prepare_journeys(ws)
    event_index.rebuild(ws)
    _land_through_spool(ws, more, seq=3)
    assert not journeys_stale(ws) and event_index.status(ws)["fresh"]


def test_an_unpaired_surrogate_is_refused_at_the_door_not_acknowledged_then_quarantined():
    import pytest

    from engine.collect.server import ApiError, parse_json

    payload = parse_json(b'{"type": "track", "event": "E\\ud800x", "userId": "u"}')
    with pytest.raises(ApiError, match="unpaired UTF-16 surrogate") as refused:
        prepare_request("track", payload)
    assert refused.value.status == 400
    data, count = prepare_request("track", parse_json(b'{"type": "track", "event": "E\\ud83d\\ude00", "userId": "u"}'))
    assert count == 1 and "\U0001F600".encode() in data


def test_stopping_lands_at_once_even_with_a_long_interval(tmp_path, admin, migrated_template):
    import time

    from engine.collect.loader import Loader
    from engine.collect.spool import Spool

    ws = copy_workspace(migrated_template, tmp_path / "cdp.duckdb")
    create_source(ws, admin, "Web", "events")
    spool = Spool(tmp_path / "spool")
    loader = Loader(ws, spool, interval=120)
    loader.start()
    try:
        spool.append("Web", _spool_lines(), 9)
        started = time.monotonic()
        loader.stop()
        assert time.monotonic() - started < 10, "stop() waited for the next interval"
    finally:
        spool.close()
    assert ws.scalar("SELECT count(*) FROM events") == 8
