"""Delivery rules: consent checked again at delivery, platform age limits, per-event errors
isolated from their batch, and refused credentials that stop the run.

The clock is injected: every time is relative to NOW, which the engine (enqueue, deliver) and
the platform stand-ins are all told; nothing depends on today's date.
"""
import hashlib
from datetime import datetime, timedelta, timezone

import pytest

from engine.cli.main import main
from engine.forward import config, quality
from engine.forward.deliver import ForwardError, deliver, field_violations
from engine.forward.queue import enqueue
from engine.forward.worker import run_forever, run_once
from tests.engine.forward_fakes import FakePlatform
from tests.engine.test_forward import fast_client

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

NOW = datetime(2031, 3, 14, 9, 30, tzinfo=timezone.utc)


def clock(at):
    return lambda: at.timestamp()


def seed_people(ws, people):
    """people: {profile id: (email, [(message_id, age), ...])}; everyone consents (30 days before NOW)."""
    with ws.transaction() as con:
        for pid, (email, events) in people.items():
            con.execute("INSERT INTO profiles (profile_id, email, country) VALUES (?, ?, 'US')", [pid, email])
            con.execute("INSERT INTO profile_identifiers (profile_id, id_type, id_value, first_seen) "
                        "VALUES (?, 'anonymous_id', ?, ?)", [pid, f"anon-{pid}", NOW - timedelta(days=60)])
            con.execute("INSERT INTO consents (source, source_record_id, purpose, granted, recorded_at) "
                        "VALUES ('cmp', ?, 'advertising', true, ?)", [f"grant-{pid}", NOW - timedelta(days=30)])
            con.execute("INSERT INTO profile_members VALUES (?, 'consents', 'cmp', ?)", [pid, f"grant-{pid}"])
            for message_id, age in events:
                con.execute("""INSERT INTO events (message_id, source, type, event, anonymous_id, timestamp, properties,
                               context) VALUES (?, 'web', 'track', 'Order Completed', ?, ?, '{"revenue": 10}',
                               '{"ip": "203.0.113.9", "userAgent": "Mozilla/5.0"}')""",
                            [message_id, f"anon-{pid}", NOW - age])


def meta(ws, admin, monkeypatch, url, batch_size=None, lookback=7):
    settings = {"pixel_id": "123", "base_url": url}
    if batch_size:
        settings["batch_size"] = str(batch_size)
    config.add_destination(ws, admin, "meta", "meta_capi", settings)
    monkeypatch.setenv("CDP_DEST_META_ACCESS_TOKEN", "tok")
    config.add_mapping(ws, admin, "meta", "event", "Order Completed", "Purchase", lookback_days=lookback)
    return "meta"


def google(ws, admin, monkeypatch, url, lookback=90):
    config.add_destination(ws, admin, "gads", "google_conversions",
                           {"account_id": "1234567890", "conversion_action_id": "987", "base_url": url})
    monkeypatch.setenv("CDP_DEST_GADS_ACCESS_TOKEN", "ya29.token")
    config.add_mapping(ws, admin, "gads", "event", "Order Completed", "purchase", lookback_days=lookback)
    return "gads"


def statuses(ws):
    return dict(ws.query_rows("SELECT event_id, status FROM forward_queue"))


def reasons(ws):
    return dict(ws.query_rows("SELECT event_id, reason FROM forward_queue"))


# -- consent, suppression and erasure checked again at delivery --------------------------------

def test_consent_withdrawn_suppressed_or_erased_after_queueing_is_not_sent(workspace, admin, monkeypatch):
    hour = timedelta(hours=1)
    seed_people(workspace, {"p1": ("keeps@example.com", [("m1", hour)]),
                            "p2": ("withdraws@example.com", [("m2", hour)]),
                            "p3": ("opts.out@example.com", [("m3", hour)]),
                            "p4": ("erased@example.com", [("m4", hour)])})
    with FakePlatform("meta", clock=clock(NOW + 2 * hour)) as fake:
        name = meta(workspace, admin, monkeypatch, fake.url)
        assert enqueue(workspace, name, now=NOW) == {"pending": 4, "held": 0}
        with workspace.transaction() as con:       # between queueing and delivery
            con.execute("INSERT INTO consents (source, source_record_id, purpose, granted, recorded_at) "
                        "VALUES ('cmp', 'withdraw-p2', 'advertising', false, ?)", [NOW + hour])
            con.execute("INSERT INTO profile_members VALUES ('p2', 'consents', 'cmp', 'withdraw-p2')")
            con.execute("INSERT INTO suppressions (id_type, id_hash, reason) VALUES ('email', ?, 'opt-out')",
                        [hashlib.sha256(b"opts.out@example.com").hexdigest()])
            con.execute("DELETE FROM profiles WHERE profile_id = 'p4'")   # erased by another process
            con.execute("DELETE FROM profile_identifiers WHERE profile_id = 'p4'")
        result = deliver(workspace, admin, name, client=fast_client(), now=NOW + 2 * hour)
        sent = [e["event_id"] for e in fake.events()]
    assert sent == ["m1"]
    assert (result["sent"], result["skipped"]) == (1, 3)
    assert statuses(workspace) == {"m1": "sent", "m2": "skipped", "m3": "skipped", "m4": "skipped"}
    why = reasons(workspace)
    assert why["m2"] == "advertising consent withdrawn before delivery"
    assert why["m3"] == "suppressed before delivery"
    assert why["m4"] == "person erased before delivery"
    counts = quality.status_counts(workspace, name)
    assert counts[counts["status"] == "skipped"]["events"].sum() == 3


def test_a_profile_merged_after_queueing_is_followed_not_dropped(workspace, admin, monkeypatch):
    seed_people(workspace, {"p5": ("merged@example.com", [("m5", timedelta(hours=1))]),
                            "p6": ("survivor@example.com", [])})
    with FakePlatform("meta", clock=clock(NOW)) as fake:
        name = meta(workspace, admin, monkeypatch, fake.url)
        enqueue(workspace, name, now=NOW)
        with workspace.transaction() as con:       # identity merged p5 into the older p6
            con.execute("UPDATE profile_identifiers SET profile_id = 'p6' WHERE profile_id = 'p5'")
            con.execute("UPDATE profile_members SET profile_id = 'p6' WHERE profile_id = 'p5'")
            con.execute("DELETE FROM profiles WHERE profile_id = 'p5'")
        result = deliver(workspace, admin, name, client=fast_client(), now=NOW)
        assert [e["event_id"] for e in fake.events()] == ["m5"]
    assert (result["sent"], result["skipped"]) == (1, 0)
    assert workspace.scalar("SELECT profile_id FROM forward_queue") == "p6"


# -- platform age limits ------------------------------------------------------------------------

def test_meta_events_past_seven_days_are_expired_not_sent(workspace, admin, monkeypatch):
    day = timedelta(days=1)
    seed_people(workspace, {"p1": ("a@example.com", [("fresh", 2 * day), ("edge", 5 * day), ("stale", 6 * day)])})
    later = NOW + 1.5 * day        # the worker was down for a day and a half: "stale" is now 7.5 days old
    with FakePlatform("meta", clock=clock(later)) as fake:
        name = meta(workspace, admin, monkeypatch, fake.url)
        assert enqueue(workspace, name, now=NOW)["pending"] == 3
        result = run_once(workspace, admin, client=fast_client(), now=later)[name]
        assert sorted(e["event_id"] for e in fake.events()) == ["edge", "fresh"]
        assert fake.problems == []          # no request was refused for an old event
    assert (result["sent"], result["expired"], result["dead"]) == (2, 1, 0)
    assert statuses(workspace)["stale"] == "expired"
    assert reasons(workspace)["stale"] == "older than 7 days, the most Meta accepts"


def test_store_sales_keep_metas_longer_window(workspace, admin, monkeypatch):
    with workspace.transaction() as con:
        con.execute("INSERT INTO profiles (profile_id, email) VALUES ('p1', 'shop@example.com')")
        con.execute("INSERT INTO consents (source, source_record_id, purpose, granted, recorded_at) "
                    "VALUES ('cmp', 'k1', 'advertising', true, ?)", [NOW - timedelta(days=90)])
        con.execute("INSERT INTO profile_members VALUES ('p1', 'consents', 'cmp', 'k1')")
        for rid, age in (("r20", 20), ("r70", 70)):
            con.execute("""INSERT INTO orders (source, source_record_id, order_id, ordered_at, amount, currency, store)
                           VALUES ('pos', ?, ?, ?, 5, 'usd', 'Leeds')""", [rid, rid, NOW - timedelta(days=age)])
            con.execute("INSERT INTO profile_members VALUES ('p1', 'orders', 'pos', ?)", [rid])
    with FakePlatform("meta", clock=clock(NOW)) as fake:
        config.add_destination(workspace, admin, "meta", "meta_capi", {"pixel_id": "1", "base_url": fake.url})
        monkeypatch.setenv("CDP_DEST_META_ACCESS_TOKEN", "tok")
        config.add_mapping(workspace, admin, "meta", "order", "pos", "Purchase", lookback_days=90)
        result = run_once(workspace, admin, client=fast_client(), now=NOW)["meta"]
        assert [e["event_id"] for e in fake.events()] == ["order:pos:r20"]   # 20 days: a store sale is fine
        assert fake.problems == []
    assert (result["sent"], result["expired"]) == (1, 1)
    assert reasons(workspace)["order:pos:r70"] == "older than 62 days, the most Meta accepts"


def test_google_events_past_ninety_days_are_expired(workspace, admin, monkeypatch):
    day = timedelta(days=1)
    seed_people(workspace, {"p1": ("g@example.com", [("recent", 10 * day), ("old", 88 * day)])})
    later = NOW + 3 * day
    with FakePlatform("google", clock=clock(later)) as fake:
        name = google(workspace, admin, monkeypatch, fake.url)
        enqueue(workspace, name, now=NOW)
        result = deliver(workspace, admin, name, client=fast_client(), now=later)
        assert [e["transactionId"] for e in fake.events()] == ["recent"] and fake.problems == []
    assert (result["sent"], result["expired"]) == (1, 1)
    assert reasons(workspace)["old"] == "older than 90 days, the most Google accepts"


# -- per-event errors isolated from their batch ---------------------------------------------------

def test_meta_one_bad_event_in_sixty_is_bisected_out(workspace, admin, monkeypatch):
    events = [(f"e{i:02d}", timedelta(minutes=i + 1)) for i in range(60)]
    seed_people(workspace, {"p1": ("bulk@example.com", events)})
    with FakePlatform("meta", clock=clock(NOW)) as fake:
        name = meta(workspace, admin, monkeypatch, fake.url)
        fake.reject_ids = {"e37"}
        enqueue(workspace, name, now=NOW)
        result = deliver(workspace, admin, name, client=fast_client(), now=NOW)
        delivered = sorted(e["event_id"] for e in fake.events())
        attempts = fake.attempts
    assert (result["sent"], result["dead"], result["batches"]) == (59, 1, 1)
    assert delivered == sorted(e for e, _ in events if e != "e37")
    assert attempts <= 1 + 2 * 6           # halving 60 down to one event: two requests per level
    assert statuses(workspace)["e37"] == "dead"
    assert "Invalid parameter" in reasons(workspace)["e37"]
    log = quality.delivery_log(workspace, name)
    assert list(log["status"]) == ["partial"] and int(log["accepted"][0]) == 59 and int(log["rejected"][0]) == 1


def test_a_systematic_rejection_does_not_bisect_forever(workspace, admin, monkeypatch):
    events = [(f"e{i:02d}", timedelta(minutes=i + 1)) for i in range(60)]
    seed_people(workspace, {"p1": ("bulk@example.com", events)})
    with FakePlatform("meta", clock=clock(NOW)) as fake:
        name = meta(workspace, admin, monkeypatch, fake.url)
        fake.reject_ids = {e for e, _ in events}          # e.g. a wrong pixel: every event refused
        enqueue(workspace, name, now=NOW)
        result = deliver(workspace, admin, name, client=fast_client(), now=NOW)
        attempts = fake.attempts
    assert result["dead"] == 60 and result["sent"] == 0
    assert attempts <= 8 + 6 * 6          # the isolation budget, not the 119 requests of a full bisection


def test_google_field_violations_name_the_bad_events(workspace, admin, monkeypatch):
    events = [(f"g{i}", timedelta(hours=i + 1)) for i in range(10)]
    seed_people(workspace, {"p1": ("g@example.com", events)})
    with FakePlatform("google", clock=clock(NOW)) as fake:
        name = google(workspace, admin, monkeypatch, fake.url)
        fake.reject_ids = {"g2", "g7"}
        enqueue(workspace, name, now=NOW)
        result = deliver(workspace, admin, name, client=fast_client(), now=NOW)
        attempts = fake.attempts
        delivered = sorted(e["transactionId"] for e in fake.events())
    assert (result["sent"], result["dead"]) == (8, 2)
    assert attempts == 2                   # one refused request, one resend of the other eight
    assert delivered == sorted(e for e, _ in events if e not in ("g2", "g7"))
    why = reasons(workspace)
    assert "transaction_id" in why["g2"] and "refused" in why["g7"]


def test_field_violations_ignore_paths_outside_the_request():
    body = (b'{"error": {"code": 400, "status": "INVALID_ARGUMENT", "details": [{"fieldViolations": ['
            b'{"field": "events[1].event_timestamp", "description": "too old"},'
            b'{"field": "events[9].consent", "description": "x"}, {"field": "destinations[0]"}]}]}}')
    assert field_violations(body, 3) == {1: "The destination rejected this event: too old (events[1].event_timestamp)"}
    assert field_violations(b"not json", 3) == {}


# -- refused credentials stop the run and raise an alert -----------------------------------------

def test_expired_meta_token_stops_the_run_keeps_events_queued_and_alerts(workspace, admin, monkeypatch, capsys):
    events = [(f"e{i}", timedelta(minutes=i + 1)) for i in range(9)]
    seed_people(workspace, {"p1": ("tok@example.com", events)})
    with FakePlatform("meta", clock=clock(NOW)) as fake:
        name = meta(workspace, admin, monkeypatch, fake.url, batch_size=3)
        fake.script = [200, "token-expired"]    # Meta says HTTP 400, OAuthException code 190
        result = run_once(workspace, admin, client=fast_client(), now=NOW)[name]
        assert fake.attempts == 2               # nothing sent after the refusal, no bisecting
    assert result["auth"] is True and result["sent"] == 3 and result["dead"] == 0
    assert "refused the access token" in result["error"] and "6 events stay queued" in result["error"]
    counts = dict(workspace.query_rows("SELECT status, count(*) FROM forward_queue GROUP BY 1"))
    assert counts == {"sent": 3, "pending": 6}
    assert workspace.scalar("SELECT max(attempts) FROM forward_queue WHERE status = 'pending'") == 0
    alert = quality.auth_alert(workspace, name)
    assert alert and "Session has expired" in alert["message"]

    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    assert main(["forward", "status", name]) == 0
    assert "ALERT" in capsys.readouterr().out

    with FakePlatform("meta", clock=clock(NOW)) as fake:    # a renewed token: the queue drains, the alert goes
        config.add_destination(workspace, admin, name, "meta_capi", {"pixel_id": "123", "base_url": fake.url})
        assert deliver(workspace, admin, name, client=fast_client(), now=NOW)["sent"] == 6
    assert quality.auth_alert(workspace, name) is None


def test_google_unauthenticated_is_an_auth_error_not_bad_content(workspace, admin, monkeypatch):
    seed_people(workspace, {"p1": ("g@example.com", [("g1", timedelta(hours=1))])})
    with FakePlatform("google", clock=clock(NOW)) as fake:
        name = google(workspace, admin, monkeypatch, fake.url)
        fake.script = [401]
        enqueue(workspace, name, now=NOW)
        with pytest.raises(ForwardError) as info:
            deliver(workspace, admin, name, client=fast_client(), now=NOW)
    assert info.value.auth and "Google refused the access token" in str(info.value)
    assert statuses(workspace) == {"g1": "pending"}
    assert quality.auth_alert(workspace, name) is not None


def test_cli_once_exits_1_and_says_why_when_credentials_are_refused(workspace, admin, monkeypatch, capsys):
    seed_people(workspace, {"p1": ("c@example.com", [("c1", timedelta(hours=1))])})
    with FakePlatform("meta") as fake:       # the CLI runs on the real clock: an event an hour old
        with workspace.transaction() as con:
            con.execute("UPDATE events SET timestamp = now() - INTERVAL 1 HOUR")
        meta(workspace, admin, monkeypatch, fake.url)
        fake.script = ["token-expired"]
        monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
        assert main(["forward", "--once"]) == 1
    err = capsys.readouterr().err
    assert "ALERT meta" in err and "stay queued" in err
    assert statuses(workspace) == {"c1": "pending"}


def test_the_worker_does_not_retry_a_refused_token_every_pass(workspace, admin, monkeypatch):
    seed_people(workspace, {"p1": ("w@example.com", [])})
    with FakePlatform("meta") as fake:
        name = meta(workspace, admin, monkeypatch, fake.url)
        with workspace.transaction() as con:     # the worker runs on the real clock: a fresh event
            con.execute("""INSERT INTO events (message_id, source, type, event, anonymous_id, timestamp)
                           VALUES ('w1', 'web', 'track', 'Order Completed', 'anon-p1', now() - INTERVAL 1 MINUTE)""")
        fake.script = ["token-expired"] * 5
        passes = []
        run_forever(workspace, admin, interval=0, on_pass=passes.append, stop=lambda: len(passes) >= 3,
                    client=fast_client(), auth_pause=3600)
        assert fake.attempts == 1                     # asked once, then left alone
    assert passes[0][name]["auth"] and name not in passes[1] and name not in passes[2]
    assert statuses(workspace) == {"w1": "pending"}
