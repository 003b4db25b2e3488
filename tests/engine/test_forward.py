"""Conversion forwarding end to end against local stand-ins for Meta and Google."""
import hashlib

import pytest

from engine.access import PermissionDenied
from engine.activation.http import HttpClient
from engine.forward import config, quality
from engine.forward.deliver import ForwardError, deliver, retry_dead
from engine.forward.queue import enqueue, preview
from engine.forward.worker import run_once
from tests.engine.forward_fakes import FakePlatform

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def fast_client():
    return HttpClient(max_attempts=3, base_delay=0.01, max_delay=0.05, timeout=5)


def seed(ws, n_orders=3):
    with ws.transaction() as con:
        con.execute("""INSERT INTO profiles (profile_id, email, phone, first_name, last_name, city, state, postcode, country)
            VALUES ('p1', ' Jane.Doe@Example.com', '+1 (650) 555-1212', 'Jane', 'Doe', 'San Francisco', 'CA', '94107-1234', 'US'),
                   ('p2', 'no.consent@example.com', NULL, 'Bo', 'Lee', NULL, NULL, NULL, 'US')""")
        con.execute("""INSERT INTO profile_identifiers (profile_id, id_type, id_value, first_seen) VALUES
            ('p1', 'anonymous_id', 'a1', now()), ('p1', 'gclid', 'G-CLICK-1', now()),
            ('p2', 'anonymous_id', 'a2', now())""")
        con.execute("""INSERT INTO consents (source, source_record_id, purpose, granted, recorded_at)
            VALUES ('cmp', 'k1', 'advertising', true, now() - INTERVAL 1 DAY)""")
        con.execute("INSERT INTO profile_members VALUES ('p1', 'consents', 'cmp', 'k1')")
        for i in range(n_orders):
            for who in ("a1", "a2"):
                con.execute("""INSERT INTO events (message_id, source, type, event, anonymous_id, timestamp, properties, context)
                    VALUES (?, 'web', 'track', 'Order Completed', ?, now() - INTERVAL 1 HOUR, ?, ?)""",
                    [f"m-{who}-{i}", who, '{"revenue": 42.5, "currency": "usd", "products": [{"product_id": "sku1"}]}',
                     '{"page": {"url": "https://shop.example/thanks?fbclid=FBCLID1"}, "ip": "203.0.113.7", '
                     '"userAgent": "Mozilla/5.0"}'])
        con.execute("""INSERT INTO events (message_id, source, type, event, anonymous_id, timestamp)
            VALUES ('old', 'web', 'track', 'Order Completed', 'a1', now() - INTERVAL 30 DAY)""")
        con.execute("""INSERT INTO orders (source, source_record_id, order_id, ordered_at, amount, currency, store, email)
            VALUES ('pos', 'r1', 'r1', now() - INTERVAL 2 DAY, 19.99, 'usd', 'Leeds', 'jane.doe@example.com')""")
        con.execute("INSERT INTO profile_members VALUES ('p1', 'orders', 'pos', 'r1')")
        con.execute("""INSERT INTO contacts (source, source_record_id, email, deal_value) VALUES ('crm', 'c1', 'jane.doe@example.com', 900)""")
        con.execute("INSERT INTO profile_members VALUES ('p1', 'contacts', 'crm', 'c1')")
        con.execute("""INSERT INTO lead_stage_changes VALUES ('crm', 'c1', 'customer', 'lead', now() - INTERVAL 3 DAY, 1)""")


@pytest.fixture
def meta_dest(workspace, admin, monkeypatch):
    def make(url):
        config.add_destination(workspace, admin, "meta-main", "meta_capi",
                               {"pixel_id": "123", "base_url": url, "test_event_code": "TEST1"})
        monkeypatch.setenv("CDP_DEST_META_MAIN_ACCESS_TOKEN", "tok")
        config.add_mapping(workspace, admin, "meta-main", "event", "Order Completed", "Purchase",
                           content_ids_path="$.products[*].product_id")
        config.add_mapping(workspace, admin, "meta-main", "order", "pos", "Purchase", lookback_days=30)
        config.add_mapping(workspace, admin, "meta-main", "stage", "customer", "Lead", lookback_days=30)
        return "meta-main"
    return make


def test_meta_capi_payloads_hashing_consent_and_dedupe(workspace, admin, meta_dest):
    seed(workspace)
    with FakePlatform("meta") as fake:
        name = meta_dest(fake.url)
        assert enqueue(workspace, name) == {"pending": 5, "held": 3}
        assert enqueue(workspace, name) == {"pending": 0, "held": 0}  # idempotent
        result = deliver(workspace, admin, name, client=fast_client())
        assert result["sent"] == 5 and fake.problems == []
        events = {e["event_id"]: e for e in fake.events()}
    assert set(events) == {"m-a1-0", "m-a1-1", "m-a1-2", "order:pos:r1", "stage:crm:c1:customer"}
    web = events["m-a1-0"]
    ud = web["user_data"]
    # Meta's documented normalisation: email trimmed and lowercased; phone digits with country code
    assert ud["em"] == [sha("jane.doe@example.com")]
    assert ud["ph"] == [sha("16505551212")]
    assert ud["fn"] == [sha("jane")] and ud["ct"] == [sha("sanfrancisco")]
    assert ud["zp"] == [sha("94107")] and ud["st"] == [sha("ca")] and ud["country"] == [sha("us")]
    assert ud["fbc"].startswith("fb.1.") and ud["fbc"].endswith(".FBCLID1")   # built from fbclid, unhashed
    assert ud["client_ip_address"] == "203.0.113.7" and ud["client_user_agent"] == "Mozilla/5.0"
    assert web["event_name"] == "Purchase" and web["action_source"] == "website"
    assert web["custom_data"] == {"value": 42.5, "currency": "USD", "content_ids": ["sku1"]}
    assert web["event_source_url"].startswith("https://shop.example/")
    assert events["order:pos:r1"]["action_source"] == "physical_store"
    assert events["stage:crm:c1:customer"]["custom_data"]["value"] == 900
    assert "m-a2-0" not in events   # no advertising consent: held back
    counts = quality.status_counts(workspace, name).set_index("status")["events"].to_dict()
    assert counts == {"sent": 5, "held": 3}


def test_batches_stay_within_the_limit(workspace, admin, meta_dest):
    seed(workspace, n_orders=7)
    with FakePlatform("meta") as fake:
        name = meta_dest(fake.url)
        config.add_destination(workspace, admin, name, "meta_capi",
                               {"pixel_id": "123", "base_url": fake.url, "batch_size": "4"})
        enqueue(workspace, name)
        assert deliver(workspace, admin, name, client=fast_client())["batches"] == 3   # 9 events, 4 per request
        assert max(len(r["data"]) for r in fake.requests) == 4 and fake.problems == []


def test_retries_on_429_and_5xx_then_succeeds(workspace, admin, meta_dest):
    seed(workspace, n_orders=1)
    with FakePlatform("meta") as fake:
        name = meta_dest(fake.url)
        fake.script = [429, 503]
        enqueue(workspace, name)
        assert deliver(workspace, admin, name, client=fast_client())["sent"] == 3
        assert len(fake.requests) == 1


def test_validation_error_goes_to_dead_letters_and_can_be_retried(workspace, admin, meta_dest):
    seed(workspace, n_orders=1)
    with FakePlatform("meta") as fake:
        name = meta_dest(fake.url)
        fake.reject_ids = {"order:pos:r1"}
        enqueue(workspace, name)
        result = deliver(workspace, admin, name, client=fast_client())
        assert (result["dead"], result["sent"]) == (1, 2)       # only the refused event is dead
        dead = quality.dead_letters(workspace, name)
        assert list(dead["event_id"]) == ["order:pos:r1"] and "Invalid parameter" in dead["reason"][0]
        assert retry_dead(workspace, admin, name) == 1
        fake.reject_ids = set()
        assert deliver(workspace, admin, name, client=fast_client())["sent"] == 1


def test_auth_error_stops_and_keeps_events_queued(workspace, admin, meta_dest):
    seed(workspace, n_orders=1)
    with FakePlatform("meta") as fake:
        name = meta_dest(fake.url)
        fake.script = [401]
        enqueue(workspace, name)
        with pytest.raises(ForwardError, match="refused the access token") as info:
            deliver(workspace, admin, name, client=fast_client())
        assert info.value.auth
        assert workspace.scalar("SELECT count(*) FROM forward_queue WHERE status = 'pending'") == 3
        assert workspace.scalar("SELECT max(attempts) FROM forward_queue") == 0   # no attempt spent


def test_crash_after_claiming_resends_same_ids(workspace, admin, meta_dest):
    seed(workspace, n_orders=1)
    with FakePlatform("meta") as fake:
        name = meta_dest(fake.url)
        enqueue(workspace, name)
        with workspace.transaction() as con:   # a worker died after marking a batch as sending
            con.execute("UPDATE forward_queue SET status = 'sending', batch_id = 999 WHERE status = 'pending'")
        assert deliver(workspace, admin, name, client=fast_client())["sent"] == 3
        assert sorted(e["event_id"] for e in fake.events()) == sorted(
            r[0] for r in workspace.query_rows("SELECT event_id FROM forward_queue WHERE status = 'sent'"))


def test_google_data_manager_events(workspace, admin, monkeypatch):
    seed(workspace, n_orders=1)
    with FakePlatform("google") as fake:
        config.add_destination(workspace, admin, "gads", "google_conversions",
                               {"account_id": "1234567890", "conversion_action_id": "987", "base_url": fake.url})
        monkeypatch.setenv("CDP_DEST_GADS_ACCESS_TOKEN", "ya29.token")
        config.add_mapping(workspace, admin, "gads", "event", "Order Completed", "purchase")
        result = run_once(workspace, admin, client=fast_client())
        assert result["gads"]["sent"] == 1 and fake.problems == []
        event = fake.events()[0]
    assert event["adIdentifiers"] == {"gclid": "G-CLICK-1"}
    assert {"emailAddress": sha("jane.doe@example.com")} in event["userData"]["userIdentifiers"]
    assert {"phoneNumber": sha("+16505551212")} in event["userData"]["userIdentifiers"]   # E.164 with +
    assert event["conversionValue"] == 42.5 and event["currency"] == "USD" and event["eventSource"] == "WEB"


def test_preview_shows_exact_payload_without_queueing(workspace, admin, meta_dest):
    seed(workspace, n_orders=1)
    name = meta_dest("http://127.0.0.1:9")
    mapping_id = int(config.list_mappings(workspace, name)["mapping_id"][0])
    shown = preview(workspace, name, mapping_id)
    assert shown and shown[0]["payload"]["event_name"] == "Purchase"
    assert workspace.scalar("SELECT count(*) FROM forward_queue") == 0


def test_configuration_is_checked_and_role_bound(workspace, admin, marketer):
    with pytest.raises(ValueError, match="needs pixel_id"):
        config.add_destination(workspace, admin, "m", "meta_capi", {})
    with pytest.raises(ValueError, match="credentials go in secrets"):
        config.add_destination(workspace, admin, "m", "meta_capi", {"pixel_id": "1", "access_token": "x"})
    with pytest.raises(PermissionDenied):
        config.add_destination(workspace, marketer, "m", "meta_capi", {"pixel_id": "1"})
    config.add_destination(workspace, admin, "m", "meta_capi", {"pixel_id": "1"})
    with pytest.raises(ValueError, match="JSON path"):
        config.add_mapping(workspace, admin, "m", "event", "Order Completed", "Purchase", value_path="revenue; DROP")
    assert "access_token" not in workspace.scalar("SELECT settings FROM forward_destinations WHERE name = 'm'")
