"""Segment-spec events: each line's fate, dedupe by messageId, batch envelopes, transactions."""
import datetime as dt
import json

import pytest

from engine.ingest import load_events_ndjson

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

LINES = [
    {"type": "track", "event": "Signed Up", "userId": "u1", "messageId": "m1",
     "properties": {"plan": "pro"}, "timestamp": "2024-01-05T10:00:00+02:00",
     "context": {"consent": {"categoryPreferences": {"analytics": True}}}},     # 1 ok
    "this is not json",                                                          # 2 bad JSON
    {"type": "identify", "anonymousId": "a1", "traits": {"email": "x@y.com"}},   # 3 ok, no messageId
    "",                                                                          # 4 blank: skipped
    {"type": "track", "userId": "u2", "messageId": "m3"},                        # 5 no event
    [1, 2],                                                                      # 6 not an object
    {"type": "page", "name": "Home", "messageId": "m4"},                         # 7 no user/anon id
    {"type": "shout", "userId": "u1", "messageId": "m5"},                        # 8 unknown type
    {"type": "track", "event": "Signed Up", "userId": "u1", "messageId": "m1"},  # 9 duplicate of 1
    {"type": "alias", "userId": "u1", "messageId": "m6"},                        # 10 no previousId
    {"type": "group", "userId": "u1", "groupId": "g1", "messageId": "m7",
     "traits": {"name": "Acme"}, "timestamp": "not a time"},                     # 11 ok, bad timestamp
    {"batch": [{"type": "track", "event": "A", "anonymousId": "a9", "messageId": "b1"},
               {"type": "track", "anonymousId": "a9", "messageId": "b2"}],
     "sentAt": "2024-01-01T00:00:00Z", "context": {"ip": "203.0.113.9"}},       # 12 one ok, one bad
]


def write_ndjson(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    return path


def test_every_line_is_loaded_or_quarantined_with_reason(workspace, tmp_path):
    path = write_ndjson(tmp_path / "e.ndjson", LINES)
    with workspace.transaction() as con:
        counts = load_events_ndjson(con, path, "Website", load_id=7)
    loaded, quarantined = counts
    assert (counts.new, counts.duplicates, quarantined) == (4, 1, 7)
    assert loaded == 5
    reasons = dict(workspace.query_rows(
        "SELECT row_number, reason FROM quarantine WHERE source = 'Website' AND load_id = 7"))
    assert reasons == {
        2: "not valid JSON", 5: "event required for track", 6: "not a JSON object",
        7: "userId or anonymousId required",
        8: "unknown type (expected identify, track, page, screen, group or alias)",
        10: "previousId required for alias", 12: "event required for track (batch item 2)",
    }
    rows = {r[0]: r for r in workspace.query_rows(
        "SELECT message_id, type, event, user_id, anonymous_id, timestamp, sent_at, "
        "properties, context, traits, group_id, source, load_id FROM events")}
    assert set(rows) >= {"m1", "m7", "b1"}
    m1 = rows["m1"]
    assert m1[5].astimezone(dt.timezone.utc).isoformat().startswith("2024-01-05T08:00:00")   # timezone honoured
    assert json.loads(m1[7]) == {"plan": "pro"}
    assert json.loads(m1[8])["consent"]["categoryPreferences"]["analytics"] is True
    assert rows["m7"][10] == "g1" and json.loads(rows["m7"][9]) == {"name": "Acme"}
    assert rows["m7"][5] is not None                            # bad timestamp -> receivedAt
    b1 = rows["b1"]
    assert json.loads(b1[8]) == {"ip": "203.0.113.9"} and b1[6].year == 2024   # envelope defaults
    assert {r[11] for r in rows.values()} == {"Website"} and {r[12] for r in rows.values()} == {7}


def test_quarantine_raw_text_kept(workspace, tmp_path):
    path = write_ndjson(tmp_path / "e.ndjson", LINES)
    with workspace.transaction() as con:
        load_events_ndjson(con, path, "Website")
    raws = dict(workspace.query_rows("SELECT row_number, raw FROM quarantine"))
    assert raws[2] == "this is not json"
    assert json.loads(raws[5]) == LINES[4]


def test_reloading_the_same_file_adds_nothing(workspace, tmp_path):
    path = write_ndjson(tmp_path / "e.ndjson", LINES)
    with workspace.transaction() as con:
        load_events_ndjson(con, path, "Website")
    before = workspace.scalar("SELECT count(*) FROM events")
    with workspace.transaction() as con:
        again = load_events_ndjson(con, path, "Website")
    assert again.new == 0 and again.duplicates == 5
    assert workspace.scalar("SELECT count(*) FROM events") == before == 4


def test_failure_inside_the_callers_transaction_leaves_nothing(workspace, tmp_path):
    path = write_ndjson(tmp_path / "e.ndjson", LINES)
    with pytest.raises(RuntimeError):
        with workspace.transaction() as con:
            load_events_ndjson(con, path, "Website")
            raise RuntimeError("collector crashed before committing its bookkeeping")
    assert workspace.scalar("SELECT count(*) FROM events") == 0
    assert workspace.scalar("SELECT count(*) FROM quarantine") == 0


def test_events_of_suppressed_people_are_not_loaded(workspace, tmp_path):
    import hashlib

    with workspace.transaction() as con:
        for id_type, value in [("user_id", "gone"), ("email", "erased@x.com")]:
            con.execute("INSERT INTO suppressions (id_type, id_hash) VALUES (?, ?)",
                        [id_type, hashlib.sha256(value.encode()).hexdigest()])
    path = write_ndjson(tmp_path / "e.ndjson", [
        {"type": "track", "event": "A", "userId": "gone", "messageId": "s1"},
        {"type": "identify", "anonymousId": "a7", "traits": {"email": "Erased@X.com"}, "messageId": "s2"},
        {"type": "track", "event": "A", "userId": "kept", "messageId": "s3"},
    ])
    with workspace.transaction() as con:
        assert load_events_ndjson(con, path, "Website") == (1, 2)
    assert workspace.query_rows("SELECT row_number, raw, reason FROM quarantine ORDER BY 1") == [
        (1, "(withheld: suppressed person)", "suppressed"), (2, "(withheld: suppressed person)", "suppressed")]
    assert workspace.query_rows("SELECT message_id FROM events") == [("s3",)]
