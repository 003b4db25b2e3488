"""The collector in process: Segment spec behaviour, auth, gzip, CORS, dedupe, a real client library."""
from __future__ import annotations

import json
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from engine.collect import Collector
from engine.collect.server import ApiError, prepare_request, write_key_from_header
from engine.ingest.events import REJECTED
from engine.sources import create_source, rotate_write_key
from tests.engine.collect_helpers import InAppCollectorServer, event_count, post, wait_for

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


@pytest.fixture
def source(workspace, admin):
    return create_source(workspace, admin, "Website", "events")


@pytest.fixture(params=["cdp collect", "in the app"])
def collector(request, workspace, source):
    """`cdp collect`'s own server, and the same endpoints served by the app's server (CDP_COLLECT_IN_APP)."""
    c = (Collector(workspace, "127.0.0.1", 0, interval=0.2).start() if request.param == "cdp collect"
         else InAppCollectorServer(workspace, interval=0.2))
    yield c
    c.stop()


def landed(workspace, n, timeout=20):
    return wait_for(lambda: event_count(workspace) >= n, timeout)


# -- pure request handling ------------------------------------------------------------

def test_clock_skew_is_corrected_from_sent_at_and_original_timestamp_kept():
    received = datetime(2026, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    # the device clock runs 1 hour slow: it stamped the event 10 s before sending
    payload = {"batch": [{"type": "track", "event": "Paid", "userId": "u1", "messageId": "m1",
                          "timestamp": "2026-05-01T10:59:50Z",
                          "context": {"consent": {"categoryPreferences": {"ads": False}}}}],
               "sentAt": "2026-05-01T11:00:00Z"}
    data, count = prepare_request("batch", payload, received)
    event = json.loads(data)
    assert count == 1
    assert event["timestamp"] == "2026-05-01T11:59:50.000Z"
    assert event["originalTimestamp"] == "2026-05-01T10:59:50Z"
    assert event["receivedAt"] == "2026-05-01T12:00:00.000Z"
    assert event["context"]["consent"] == {"categoryPreferences": {"ads": False}}


def test_missing_timestamp_becomes_received_at_and_ids_become_strings():
    received = datetime(2026, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    event = json.loads(prepare_request("identify", {"userId": 42, "writeKey": "secret"}, received)[0])
    assert event["timestamp"] == "2026-05-01T12:00:00.000Z"
    assert event["userId"] == "42" and event["type"] == "identify"
    assert "writeKey" not in event, "the write key must never be stored"
    assert event["messageId"].startswith("cdp-")


@pytest.mark.parametrize("kind, payload, needle", [
    ("track", {"anonymousId": "a"}, "event (the event name) is required"),
    ("track", {"event": "x"}, "userId or anonymousId is required"),
    ("alias", {"userId": "u"}, "previousId is required"),
    ("group", {"userId": "u"}, "groupId is required"),
    ("identify", {"userId": "u", "traits": [1]}, "traits must be a JSON object"),
    ("identify", {"userId": "u", "timestamp": "yesterday"}, "not an ISO-8601 time"),
])
def test_a_call_that_breaks_the_spec_is_spooled_rejected_with_its_reason(kind, payload, needle):
    data, count = prepare_request(kind, dict(payload))
    line = json.loads(data)
    assert count == 1
    assert needle in line[REJECTED]
    assert line["call"]["type"] == kind


def test_a_batch_keeps_its_valid_calls_and_rejects_only_the_invalid_one():
    payload = {"batch": [{"type": "track", "event": "ok", "userId": "u"}, {"type": "nope", "userId": "u"},
                         "not an object", {"type": "track", "event": "ok", "anonymousId": "a"}]}
    data, count = prepare_request("batch", payload)
    lines = [json.loads(line) for line in data.splitlines()]
    assert count == 4
    assert [REJECTED in line for line in lines] == [False, True, True, False]
    assert "batch[1]: type must be one of" in lines[1][REJECTED]
    assert lines[2] == {REJECTED: "batch[2]: an event must be a JSON object.", "call": "not an object"}


@pytest.mark.parametrize("kind, payload, needle", [
    ("batch", {"batch": "x"}, "needs a `batch` list"),
    ("batch", {"batch": [], "context": [1]}, "context must be a JSON object"),
    ("track", {"userId": "u", "event": "E\ud800x"}, "unpaired UTF-16 surrogate"),
])
def test_a_malformed_body_is_refused_whole(kind, payload, needle):
    with pytest.raises(ApiError) as info:
        prepare_request(kind, payload)
    assert info.value.status == 400
    assert needle in info.value.message


def test_a_call_cannot_mark_itself_rejected():
    event = json.loads(prepare_request("track", {"userId": "u", "event": "E", REJECTED: "forged"})[0])
    assert REJECTED not in event and event["event"] == "E"


def test_write_key_from_basic_and_bearer_headers():
    assert write_key_from_header("Basic d2tfYWJjOg==") == "wk_abc"
    assert write_key_from_header("Bearer wk_abc") == "wk_abc"
    assert write_key_from_header(None) is None
    with pytest.raises(ApiError):
        write_key_from_header("Basic %%%")


# -- over HTTP -------------------------------------------------------------------------

def test_every_endpoint_and_short_form_lands_events(collector, source, workspace):
    calls = {
        "/v1/identify": {"userId": "u1", "traits": {"email": "a@example.com"}},
        "/v1/track": {"userId": "u1", "event": "Order Completed", "properties": {"revenue": 9.5}},
        "/v1/page": {"anonymousId": "a1", "name": "Home"},
        "/v1/screen": {"userId": "u1", "name": "Cart"},
        "/v1/group": {"userId": "u1", "groupId": "g1"},
        "/v1/alias": {"userId": "u1", "previousId": "a1"},
        "/v1/i": {"userId": "u2"},
        "/v1/t": {"anonymousId": "a2", "event": "Clicked"},
        "/v1/p": {"anonymousId": "a2", "name": "Pricing"},
        "/v1/s": {"userId": "u2", "name": "Home"},
        "/v1/g": {"userId": "u2", "groupId": "g2"},
        "/v1/a": {"userId": "u2", "previousId": "a2"},
    }
    for i, (path, body) in enumerate(calls.items()):
        status, answer = post(collector.url, path, {**body, "messageId": f"m{i}"}, key=source.write_key)
        assert (status, answer) == (200, {"success": True}), path
    status, _ = post(collector.url, "/v1/b", {"writeKey": source.write_key, "batch": [
        {"type": "track", "event": "Batched", "userId": "u3", "messageId": "b1"},
        {"type": "page", "anonymousId": "a3", "name": "Blog", "messageId": "b2"}]})
    assert status == 200
    assert landed(workspace, 14)
    types = dict(workspace.query_rows("SELECT type, count(*) FROM events GROUP BY type"))
    assert types == {"identify": 2, "track": 3, "page": 3, "screen": 2, "group": 2, "alias": 2}
    row = workspace.query_rows(
        "SELECT source, event, properties->>'revenue', received_at IS NOT NULL FROM events WHERE message_id = 'm1'")
    assert row == [("Website", "Order Completed", "9.5", True)]
    # the day's collected events add up in one `loads` row per source: read = loaded + quarantined
    assert workspace.query_rows(
        "SELECT source, sum(rows_read), sum(rows_loaded), sum(rows_quarantined) FROM loads"
        " WHERE username = 'collector' GROUP BY source") == [("Website", 14, 14, 0)]


def test_write_key_in_body_bearer_and_rejections(collector, source, workspace, admin):
    event = {"userId": "u1", "event": "Signed Up"}
    assert post(collector.url, "/v1/track", {**event, "writeKey": source.write_key})[0] == 200
    assert post(collector.url, "/v1/track", event, key=source.write_key, auth="bearer")[0] == 200
    status, answer = post(collector.url, "/v1/track", event)
    assert status == 401 and "No write key" in answer["message"]
    status, answer = post(collector.url, "/v1/track", event, key="wk_wrong")
    assert status == 401 and "Unknown write key" in answer["message"]
    new_key = rotate_write_key(workspace, admin, "Website")
    assert post(collector.url, "/v1/track", event, key=new_key)[0] == 200, "a new key works at once"
    assert wait_for(lambda: post(collector.url, "/v1/track", event, key=source.write_key)[0] == 401, 10)


def test_size_limits_answer_413_and_bad_json_400(collector, source, workspace):
    big = {"userId": "u1", "event": "Big", "properties": {"blob": "x" * 40_000}}
    status, answer = post(collector.url, "/v1/track", big, key=source.write_key)
    assert status == 413 and "32 KB" in answer["message"]
    status, answer = post(collector.url, "/v1/batch", {"batch": [{**big, "type": "track"}]}, key=source.write_key)
    assert status == 413 and "batch[0]" in answer["message"]
    many = {"batch": [{"type": "track", "event": "E", "userId": "u", "properties": {"p": "y" * 20_000}}
                      for _ in range(30)]}
    status, answer = post(collector.url, "/v1/batch", many, key=source.write_key)
    assert status == 413 and "500 KB" in answer["message"]
    # far over the limit: the sender, still writing, reads the refusal (not a broken connection)
    status, answer = post(collector.url, "/v1/batch", None, key=source.write_key, raw=b" " * 6_000_000)
    assert status == 413 and "500 KB" in answer["message"]
    # a gzip bomb: small on the wire, far over the limit once inflated
    status, answer = post(collector.url, "/v1/batch", None, key=source.write_key, gzip=True,
                          raw=b'{"batch": [' + b" " * 2_000_000 + b"]}")
    assert status == 413
    status, answer = post(collector.url, "/v1/batch", None, key=source.write_key, raw=b"{not json")
    assert status == 400 and "not valid JSON" in answer["message"]
    status, _ = post(collector.url, "/v1/nothing", {}, key=source.write_key)
    assert status == 404
    # the connection-closing errors leave the server healthy
    assert post(collector.url, "/v1/track", {"userId": "u", "event": "ok"}, key=source.write_key)[0] == 200
    assert landed(workspace, 1)
    assert event_count(workspace) == 1, "nothing from a refused request may land"


def test_gzip_body_and_json_whatever_the_content_type(collector, source, workspace):
    batch = {"batch": [{"type": "track", "event": "Zipped", "anonymousId": f"a{i}"} for i in range(50)]}
    status, _ = post(collector.url, "/v1/batch", batch, key=source.write_key, gzip=True,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200
    assert landed(workspace, 50)
    assert workspace.scalar("SELECT count(DISTINCT anonymous_id) FROM events WHERE event = 'Zipped'") == 50


def test_cors_preflight_and_headers(collector, source):
    request = urllib.request.Request(collector.url + "/v1/t", method="OPTIONS", headers={
        "Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
        assert response.headers["Access-Control-Allow-Headers"] == "content-type"
    status, _ = post(collector.url, "/v1/t", {"writeKey": source.write_key, "anonymousId": "a", "event": "e"},
                     headers={"Origin": "https://shop.example.com"})
    assert status == 200


def test_settings_endpoint_points_analytics_js_at_the_collector(collector, source):
    url = f"{collector.url}/v1/projects/{source.write_key}/settings"
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Host": "t.shop.example"})) as r:
        settings = json.loads(r.read())
    segment_io = settings["integrations"]["Segment.io"]
    assert segment_io["apiKey"] == source.write_key
    assert segment_io["apiHost"] == "t.shop.example/v1"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{collector.url}/v1/projects/wk_nope/settings")
    assert info.value.code == 404


def test_retried_messages_are_deduplicated_by_message_id(collector, source, workspace):
    batch = {"batch": [{"type": "track", "event": "Retry", "userId": "u", "messageId": f"r{i}"}
                       for i in range(20)]}
    for _ in range(3):  # a client retrying after a lost answer sends the same batch again
        assert post(collector.url, "/v1/batch", batch, key=source.write_key)[0] == 200
    # and once more within the same request
    double = {"batch": batch["batch"] + batch["batch"][:5]}
    assert post(collector.url, "/v1/batch", double, key=source.write_key)[0] == 200
    assert wait_for(lambda: collector.loader.stats.landed_events >= 85, 20)
    assert event_count(workspace) == 20


def test_real_segment_python_library_with_host_set_to_the_collector(collector, source, workspace):
    from segment.analytics.client import Client

    errors = []
    client = Client(source.write_key, host=collector.url, gzip=True, upload_size=100,
                    max_retries=2, on_error=lambda e, batch: errors.append(e))
    sent_at = datetime.now(timezone.utc) - timedelta(days=1)
    for i in range(250):
        client.track(user_id=f"user-{i % 25}", event="Product Viewed",
                     properties={"sku": f"SKU-{i}", "price": 19.99},
                     context={"consent": {"categoryPreferences": {"advertising": i % 2 == 0}}},
                     timestamp=sent_at)
    client.identify(user_id="user-1", traits={"email": "one@example.com", "plan": "pro"})
    client.page(anonymous_id="anon-1", name="Pricing", properties={"url": "https://example.com/pricing"})
    client.screen(user_id="user-1", name="Home")
    client.group(user_id="user-1", group_id="acme", traits={"name": "Acme"})
    client.alias(previous_id="anon-1", user_id="user-1")
    client.flush()
    client.join()
    assert errors == []
    assert landed(workspace, 255)
    assert event_count(workspace) == 255
    consent = workspace.scalar(
        "SELECT count(*) FROM events WHERE context->'consent'->'categoryPreferences'->>'advertising' = 'true'")
    assert consent == 125
    library = workspace.scalar("SELECT DISTINCT context->'library'->>'name' FROM events WHERE type = 'track'")
    assert library == "analytics-python"
    # sent right away, so the correction keeps the client's clock: about a day ago
    oldest = workspace.scalar("SELECT min(timestamp) FROM events WHERE type = 'track'")
    assert abs((oldest - sent_at).total_seconds()) < 60
    assert workspace.scalar("SELECT traits->>'email' FROM events WHERE type = 'identify'") == "one@example.com"


def test_recent_events_tail_shows_spooled_and_landed_events_masked_by_role(collector, source, workspace,
                                                                          admin, analyst):
    from engine.collect.tail import collector_status, event_throughput, recent_events

    for i in range(5):
        post(collector.url, "/v1/track", {"userId": f"u{i}", "event": "Tail", "messageId": f"t{i}"},
             key=source.write_key)
    assert landed(workspace, 5)
    tail = recent_events(workspace, admin, limit=3)
    assert len(tail) == 3 and set(tail["event"]) == {"Tail"}
    assert tail["received_at"].is_monotonic_decreasing
    status = wait_for(lambda: (s := collector_status(workspace))["landed_events"] >= 5 and s, 10)
    assert status["running"] is True and status["acked_events"] >= 5
    assert event_throughput(workspace)["events"].sum() == 5
    assert len(recent_events(workspace, analyst)) == 5


def test_chunked_bodies_are_read_and_malformed_ones_refused(collector, source, workspace):
    import http.client

    host, port = collector.host, collector.port
    body = json.dumps({"writeKey": source.write_key, "batch": [
        {"type": "track", "event": "Chunked", "userId": "u", "messageId": f"c{i}"} for i in range(30)]}).encode()
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("POST", "/v1/batch", body=iter([body[:100], body[100:]]), encode_chunked=True,
                 headers={"Transfer-Encoding": "chunked"})
    assert conn.getresponse().status == 200
    conn.close()
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.putrequest("POST", "/v1/batch")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    conn.send(b"zz-not-hex\r\n")
    assert conn.getresponse().status == 400
    conn.close()
    assert landed(workspace, 30)


def test_real_rudderstack_python_library_with_its_data_plane_set_to_the_collector(collector, source,
                                                                                  workspace):
    client_module = pytest.importorskip("rudderstack.analytics.client")
    errors = []
    client = client_module.Client(source.write_key, host=collector.url, sync_mode=True,
                                  on_error=lambda e, batch: errors.append(e))
    client.identify(user_id="r-1", traits={"email": "r1@example.com"})
    client.track(user_id="r-1", event="Trial Started", properties={"plan": "pro"})
    client.page(user_id="r-1", name="Pricing")
    assert errors == []
    assert landed(workspace, 3)
    assert sorted(r[0] for r in workspace.query_rows("SELECT type FROM events")) == \
        ["identify", "page", "track"]


def test_a_batch_with_one_invalid_call_answers_200_and_lands_the_others(collector, source, workspace, admin):
    """Segment's own client library sends the batch; the invalid call waits in the quarantine."""
    from segment.analytics.request import post as library_post

    from engine.ingest.quarantine import quarantined_rows

    response = library_post(source.write_key, host=collector.url, gzip=True, batch=[
        {"type": "track", "event": "Order Completed", "userId": "u1", "messageId": "ok-1"},
        {"type": "track", "event": "Order Completed", "messageId": "no-id", "properties": {"total": 9}},
        {"type": "page", "anonymousId": "a1", "name": "Home", "messageId": "ok-2"}])
    assert response.status_code == 200
    assert wait_for(lambda: workspace.scalar("SELECT count(*) FROM quarantine") == 1, 20)
    assert landed(workspace, 2)
    assert sorted(r[0] for r in workspace.query_rows("SELECT message_id FROM events")) == ["ok-1", "ok-2"]
    rows = quarantined_rows(workspace, admin, source="Website")
    assert list(rows["reason"]) == ["batch[1]: userId or anonymousId is required."]
    assert json.loads(rows["raw"].iloc[0])["messageId"] == "no-id"
    assert workspace.query_rows(
        "SELECT sum(rows_read), sum(rows_loaded), sum(rows_quarantined) FROM loads WHERE username = 'collector'"
    ) == [(3, 2, 1)]


def test_a_single_invalid_call_answers_200_and_is_quarantined(collector, source, workspace):
    status, answer = post(collector.url, "/v1/track", {"anonymousId": "a1"}, key=source.write_key)
    assert (status, answer) == (200, {"success": True})
    assert post(collector.url, "/v1/track", {"anonymousId": "a1", "event": "Ok"}, key=source.write_key)[0] == 200
    assert wait_for(lambda: workspace.scalar("SELECT count(*) FROM quarantine") == 1, 20)
    assert landed(workspace, 1)
    assert workspace.scalar("SELECT reason FROM quarantine") == "track: event (the event name) is required for track."
