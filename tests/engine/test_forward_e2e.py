"""From a tracked event through the collector, identity and consent to the platform."""
import base64
import json
import time
import urllib.request

import pytest

from engine.collect.server import Collector
from engine.forward import config
from engine.forward.worker import run_once
from engine.identity import resolve
from engine.privacy.consent import capture_event_consents
from engine.sources import create_source
from tests.engine.forward_fakes import FakePlatform
from tests.engine.test_forward import fast_client, sha


def _post(url, key, path, body):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json",
        "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


@pytest.mark.slow
def test_tracked_purchase_reaches_meta_with_click_id_and_consent(workspace, admin, monkeypatch):
    source = create_source(workspace, admin, "Website", "events")
    context = {"page": {"url": "https://shop.example/checkout?fbclid=CLICK42"}, "ip": "198.51.100.4",
               "userAgent": "Mozilla/5.0 (X11)", "consent": {"categoryPreferences": {"Advertising": True}}}
    collector = Collector(workspace, "127.0.0.1", 0, interval=0.2).start()
    try:
        _post(collector.url, source.write_key, "/v1/identify",
              {"anonymousId": "anon-9", "userId": "u-9", "traits": {"email": "Shopper@Example.com"}, "context": context})
        _post(collector.url, source.write_key, "/v1/track",
              {"anonymousId": "anon-9", "event": "Order Completed", "messageId": "order-msg-1",
               "properties": {"revenue": 80, "currency": "EUR"}, "context": context})
        deadline = time.time() + 20
        while workspace.scalar("SELECT count(*) FROM events") < 2 and time.time() < deadline:
            time.sleep(0.2)
    finally:
        collector.stop()
    resolve(workspace, admin)
    with workspace.transaction() as con:
        capture_event_consents(con)
    with FakePlatform("meta") as fake:
        config.add_destination(workspace, admin, "meta", "meta_capi", {"pixel_id": "42", "base_url": fake.url})
        monkeypatch.setenv("CDP_DEST_META_ACCESS_TOKEN", "tok")
        config.add_mapping(workspace, admin, "meta", "event", "Order Completed", "Purchase")
        result = run_once(workspace, admin, client=fast_client())
        assert result["meta"]["sent"] == 1, result
        assert fake.problems == []
        event = fake.events()[0]
    assert event["event_id"] == "order-msg-1"          # the browser pixel's eventID dedupes against it
    assert event["user_data"]["fbc"].endswith(".CLICK42")
    assert event["user_data"]["em"] == [sha("shopper@example.com")]
    assert event["custom_data"] == {"value": 80, "currency": "EUR"}
