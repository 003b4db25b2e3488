"""Syncs to local fake platforms: shapes and limits, diff and full, consent, holdouts,
retries, auth errors, crash and resume, history and audit."""
import json
import time

import pytest

from engine.access import PermissionDenied
from engine.activation import audiences, config, schedule, sync
from engine.activation.http import HttpClient
from tests.engine.activation_data import add_people, set_consent, suppress_email
from tests.engine.activation_fakes import TOKEN, WEBHOOK_SECRET, FakePlatform, fast, platform  # noqa: F401

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


@pytest.mark.parametrize("kind", ["meta", "google", "klaviyo", "hubspot", "linkedin", "webhook"])
def test_every_destination_gets_valid_batches_then_removals(kind, workspace, admin, platform):
    ids = add_people(workspace, 23, email_consent=True)
    fake, key = platform(kind, batch_size=10)
    out = sync.sync(workspace, admin, key, members=ids, client=fast())
    assert out["status"] == "succeeded", out["errors"]
    assert fake.violations == []
    assert out["added"] == 23 and fake.add_calls == 3          # 10 + 10 + 3
    assert len(fake.members) == 23
    # Five people leave the segment: only they are removed, in a separate call.
    out = sync.sync(workspace, admin, key, members=ids[5:], client=fast())
    assert (out["to_add"], out["to_remove"], out["removed"]) == (0, 5, 5)
    assert fake.remove_calls == 1 and len(fake.members) == 18 and fake.violations == []


def test_meta_payload_is_hashed_schema_rows_with_session(workspace, admin, platform):
    ids = add_people(workspace, 12)
    fake, key = platform("meta", batch_size=5)
    sync.sync(workspace, admin, key, members=ids, client=fast())
    bodies = [json.loads(r["body"]) for r in fake.requests]
    assert [b["session"]["batch_seq"] for b in bodies] == [1, 2, 3]
    assert [b["session"]["last_batch_flag"] for b in bodies] == [False, False, True]
    assert {b["session"]["session_id"] for b in bodies} == {bodies[0]["session"]["session_id"]}
    assert all(b["session"]["estimated_num_total"] == 12 for b in bodies)
    assert "person.0+news@example.com" not in json.dumps(bodies).lower()
    assert all(r["headers"]["Authorization"] == f"Bearer {TOKEN}" for r in fake.requests)


def test_meta_batches_never_exceed_ten_thousand(workspace, admin, platform):
    ids = add_people(workspace, 10_050)
    fake, key = platform("meta")
    out = sync.sync(workspace, admin, key, members=ids, client=fast())
    assert out["added"] == 10_050 and fake.violations == []
    sizes = [len(json.loads(r["body"])["payload"]["data"]) for r in fake.requests]
    assert sizes == [10_000, 50]


def test_consent_and_suppression_hold_people_back(workspace, admin, platform):
    ok = add_people(workspace, 6)
    no_consent = add_people(workspace, 2, start=100, consent=None)
    opted_out = add_people(workspace, 2, start=200)
    gpc = add_people(workspace, 1, start=300)
    suppressed = add_people(workspace, 1, start=400)
    with workspace.transaction() as con:
        set_consent(con, opted_out, "sale_sharing", False, at="2025-02-01")
        set_consent(con, gpc, "sale_sharing", False, method="gpc", at="2025-02-01")
        set_consent(con, ok[:1], "advertising", False, at="2025-03-01")   # withdrew later: latest wins
        suppress_email(con, "Person.400+news@example.com")
    fake, key = platform("google", batch_size=100)
    members = ok + no_consent + opted_out + gpc + suppressed + ["gone"]
    dry = sync.dry_run(workspace, admin, key, members=members)
    assert dry["held_back_reasons"] == {"no_advertising_consent": 3, "sale_sharing_opt_out": 2,
                                        "global_privacy_control": 1, "suppressed": 1, "unknown_profile": 1}
    assert dry["to_add"] == 5 and dry["eligible"] == 5
    assert fake.requests == []                                   # a dry run sends nothing
    assert "emailAddress" in dry["sample_payload"]["add"] and TOKEN not in dry["sample_payload"]["add"]
    out = sync.sync(workspace, admin, key, members=members, client=fast())
    assert out["added"] == 5 and out["held_back"] == 8 and len(fake.members) == 5
    sent = json.dumps([json.loads(r["body"]) for r in fake.requests if r["body"]])
    import hashlib
    for pid in suppressed + no_consent:
        i = int(pid[1:])
        assert hashlib.sha256(f"person.{i}+news@example.com".encode()).hexdigest() not in sent
    # Consent withdrawn after a push: the person is removed at the next sync.
    with workspace.transaction() as con:
        set_consent(con, ok[1:2], "advertising", False, at="2025-04-01")
    out = sync.sync(workspace, admin, key, members=members, client=fast())
    assert (out["added"], out["removed"]) == (0, 1) and len(fake.members) == 4


def test_klaviyo_needs_email_consent_too(workspace, admin, platform):
    ids = add_people(workspace, 3, email_consent=False) + add_people(workspace, 2, start=10, email_consent=True)
    fake, key = platform("klaviyo")
    dry = sync.dry_run(workspace, admin, key, members=ids)
    assert dry["held_back_reasons"] == {"no_email_consent": 3} and dry["to_add"] == 2


def test_diff_sends_only_changes_and_full_mirror_resends(workspace, admin, platform):
    ids = add_people(workspace, 8)
    fake, key = platform("webhook", batch_size=100)
    sync.sync(workspace, admin, key, members=ids, client=fast())
    with workspace.transaction() as con:
        con.execute("UPDATE profiles SET email = 'new.address@example.com' WHERE profile_id = ?", [ids[0]])
    dry = sync.dry_run(workspace, admin, key, members=ids)
    assert (dry["to_add"], dry["to_remove"], dry["unchanged"]) == (1, 0, 7)
    out = sync.sync(workspace, admin, key, members=ids, client=fast())
    assert out["added"] == 1
    full = sync.sync(workspace, admin, key, members=ids, full=True, client=fast())
    assert full["mode"] == "full" and full["added"] == 8 and full["removed"] == 0


def test_holdout_is_stable_recorded_and_never_sent(workspace, admin, platform):
    ids = add_people(workspace, 400)
    fake, key = platform("webhook", batch_size=1000)
    audiences.link_audience(workspace, admin, "list", "test", "webhook", holdout_pct=10)
    out = sync.sync(workspace, admin, key, members=ids, client=fast())
    held = set(sync.holdout_members(workspace, admin, "list", "test")["profile_id"])
    assert 20 <= len(held) <= 60 and out["holdout"] == len(held)
    assert held.isdisjoint(fake.members) and len(fake.members) == 400 - len(held)
    dry = sync.dry_run(workspace, admin, key, members=ids)
    assert dry["holdout"] == len(held) and dry["to_add"] == 0     # same people held out again


def test_429_and_5xx_are_retried_honouring_retry_after(workspace, admin, platform):
    ids = add_people(workspace, 3)
    fake, key = platform("google")
    fake.fail(429, retry_after="1")
    fake.fail(503)
    started = time.monotonic()
    out = sync.sync(workspace, admin, key, members=ids, client=fast())
    assert out["status"] == "succeeded" and out["added"] == 3
    ingests = [r for r in fake.requests if r["path"] == "/audienceMembers:ingest"]
    assert len(ingests) == 3 and time.monotonic() - started >= 1.0


def test_auth_error_is_not_retried_and_reads_plainly(workspace, admin, platform):
    ids = add_people(workspace, 25)
    fake, key = platform("meta", batch_size=10)
    fake.fail(401)
    out = sync.sync(workspace, admin, key, members=ids, client=fast())
    assert out["status"] == "failed" and len(fake.requests) == 1
    assert "refused our credentials" in out["errors"][0] and "Session has expired" in out["errors"][0]
    assert TOKEN not in json.dumps(out["errors"])
    assert list(out["batches"]["status"]) == ["failed", "skipped", "skipped"]
    # Fixed credentials: the next sync sends everything that did not arrive.
    out = sync.sync(workspace, admin, key, members=ids, client=fast())
    assert out["status"] == "succeeded" and out["added"] == 25 and len(fake.members) == 25


def test_outage_gives_up_after_retries(workspace, admin, platform):
    ids = add_people(workspace, 2, email_consent=True)      # an email tool: email-marketing consent
    fake, key = platform("hubspot")
    fake.fail(500, times=10)
    out = sync.sync(workspace, admin, key, members=ids, client=fast())
    assert out["status"] == "failed" and "unavailable after 4 attempts" in out["errors"][0]
    assert len(fake.requests) == 4


def test_crash_mid_sync_resumes_without_duplicates_or_lost_removals(workspace, admin, platform):
    ids = add_people(workspace, 50)
    fake, key = platform("webhook", batch_size=10)
    sync.sync(workspace, admin, key, members=ids[:30], client=fast())    # destination holds 0..29
    assert len(fake.members) == 30

    def crash(op, batch_no):
        if op == "add" and batch_no == 0:
            raise KeyboardInterrupt("power cut")

    # New plan: remove 0..9 (one batch), add 30..49 (two batches); dies after the first add batch.
    with pytest.raises(KeyboardInterrupt):
        sync.sync(workspace, admin, key, members=ids[10:], client=fast(), on_batch=crash)
    assert workspace.scalar("SELECT status FROM activation_runs ORDER BY run_id DESC LIMIT 1") == "running"
    sent_before = list(fake.webhook_ids)
    # Resume (even if the segment changed meanwhile, the interrupted plan is finished first).
    out = sync.sync(workspace, admin, key, members=ids[10:], client=fast())
    assert out["resumed"] and out["status"] == "succeeded"
    new_ids = fake.webhook_ids[len(sent_before):]
    assert len(new_ids) == 1 and not set(new_ids) & set(sent_before)       # only the missing batch
    assert len(fake.webhook_ids) == len(set(fake.webhook_ids))
    assert set(fake.members) == set(ids[10:])                              # removals kept
    assert workspace.scalar("SELECT count(*) FROM activation_membership WHERE audience_key = ?", [key]) == 40
    assert sync.sync(workspace, admin, key, members=ids[10:], client=fast())["to_add"] == 0


def test_history_and_audit_record_every_run(workspace, admin, marketer, analyst, platform):
    ids = add_people(workspace, 4) + add_people(workspace, 1, start=50, consent=None)
    fake, key = platform("meta")
    sync.sync(workspace, marketer, key, members=ids, client=fast())
    hist = sync.history(workspace, admin)
    row = hist.iloc[0]
    assert (row.started_by, row.status, row.added, row.held_back) == ("marketer", "succeeded", 4, 1)
    assert json.loads(row.held_back_reasons) == {"no_advertising_consent": 1}
    details = json.loads(workspace.scalar(
        "SELECT details FROM audit_log WHERE action = 'audience.sync' ORDER BY id DESC LIMIT 1"))
    assert details["added"] == 4 and details["held_back"] == 1
    with pytest.raises(PermissionDenied):
        sync.sync(workspace, analyst, key, members=ids)
    with pytest.raises(PermissionDenied):
        config.add_destination(workspace, marketer, "x", "meta", {"audience_id": "1"})


def test_credentials_never_stored_and_secrets_file_is_read(workspace, admin, monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="credential"):
        config.add_destination(workspace, admin, "m", "meta", {"audience_id": "1", "access_token": "abc"})
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[destinations.m]\naccess_token = "from-file"\n')
    monkeypatch.setenv("CDP_SECRETS_FILE", str(secrets))
    config.add_destination(workspace, admin, "m", "meta", {"audience_id": "1"})
    assert config.get_destination(workspace, "m").secret("access_token") == "from-file"
    credentials = config.list_destinations(workspace).set_index("name")["credentials"].to_dict()
    assert credentials == {"m": "present", "sandbox": "not needed"}   # every workspace has the sandbox
    dump = json.dumps(workspace.query_df("SELECT * FROM activation_destinations").astype(str).values.tolist())
    dump += json.dumps(workspace.query_df("SELECT * FROM audit_log").astype(str).values.tolist())
    assert "from-file" not in dump
    assert config.get_destination(workspace, "m").base_url == "https://graph.facebook.com/v21.0"
    with pytest.raises(ValueError, match="needs the setting"):
        config.add_destination(workspace, admin, "g", "google", {"customer_id": "1"})


def test_missing_terms_of_service_is_explained(workspace, admin, platform):
    ids = add_people(workspace, 2)
    fake, key = platform("google", terms_of_service_accepted="")
    out = sync.sync(workspace, admin, key, members=ids, client=fast())
    assert out["status"] == "failed" and "terms of service" in out["errors"][0] and fake.requests == []


def test_schedule_runs_due_syncs_only(workspace, admin, platform):
    add_people(workspace, 3)
    with workspace.transaction() as con:
        con.execute("INSERT INTO profile_tags (profile_id, tag) VALUES ('p0000', 'vip'), ('p0001', 'vip')")
    fake, _ = platform("meta")
    key = audiences.link_audience(workspace, admin, "tag", "vip", "meta", schedule="hourly")
    assert list(schedule.due_audiences(workspace)["audience_key"]) == [key]
    results = schedule.run_due(workspace, admin, client=fast())
    assert results[0]["status"] == "succeeded" and results[0]["added"] == 2
    assert schedule.due_audiences(workspace).empty                 # ran just now
    with workspace.transaction() as con:
        con.execute("UPDATE activation_runs SET started_at = now() - INTERVAL 2 HOUR")
    assert list(schedule.due_audiences(workspace)["audience_key"]) == [key]


def test_segment_members_feed_the_sync_and_the_cli(workspace, admin, platform, monkeypatch, capsys):
    from engine.cli.main import main as cli
    from engine.segments import create_static_segment
    ids = add_people(workspace, 6)
    create_static_segment(workspace, admin, "Big spenders", ids[:4])
    fake, _ = platform("meta")
    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    assert cli(["audience", "sync", "Big spenders", "--destination", "meta", "--dry-run"]) == 0
    assert '"to_add": 4' in capsys.readouterr().out and fake.requests == []
    assert cli(["audience", "sync", "Big spenders", "--destination", "meta", "--schedule", "daily"]) == 0
    assert len(fake.members) == 4 and "added 4" in capsys.readouterr().out
    assert cli(["audience", "sync", "--all"]) == 0 and "No sync is due" in capsys.readouterr().out
    assert cli(["destinations", "add", "bad", "--kind", "meta", "--set", "audience_id=1",
                "--set", "access_token=x"]) == 1
    assert cli(["destinations", "list"]) == 0 and "present" in capsys.readouterr().out


def test_batch_in_flight_at_crash_is_resent_with_the_same_webhook_id(workspace, admin, platform):
    ids = add_people(workspace, 30)
    fake, key = platform("webhook", batch_size=10)

    class DiesAfterSecondPost(HttpClient):
        posts = 0

        def send(self, req, describe):
            resp = super().send(req, describe)
            type(self).posts += 1
            if type(self).posts == 2:
                raise KeyboardInterrupt("killed after the platform answered, before the journal")
            return resp

    with pytest.raises(KeyboardInterrupt):
        sync.sync(workspace, admin, key, members=ids, client=DiesAfterSecondPost(base_delay=0.01))
    out = sync.sync(workspace, admin, key, members=ids, client=fast())
    assert out["resumed"] and out["status"] == "succeeded"
    # Batch 2 went out twice under one id (receivers drop it); batch 1 once; batch 3 once.
    assert sorted(fake.webhook_ids) == sorted([f"msg_{out['run_id']}_add_{b}" for b in (0, 1, 1, 2)])
    assert set(fake.members) == set(ids)
