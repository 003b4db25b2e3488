"""Meta, Google Data Manager and Standard Webhooks as their docs describe them: what is sent
(is_raw, MADID, value-based seeds, Standard Webhooks payloads under 20 kB), what the platforms
report back after a push, and a match rate estimate that learns from those reports."""
import hashlib
import json

import pytest

from engine.activation import sync
from engine.activation.destinations.base import plain_error
from engine.activation.http import HttpClient, RejectedError, Request
from tests.engine.activation_data import add_people
from tests.engine.activation_fakes import TOKEN, FakePlatform, fast, platform  # noqa: F401

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

IDFA = "6D92078A-8246-4BA4-AE5B-76104861E7DC"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def bodies(fake, path_part=""):
    return [json.loads(r["body"]) for r in fake.requests if r["body"] and path_part in r["path"]]


def test_meta_multi_key_upload_is_raw_and_madid_plain_from_identity(workspace, admin, platform):
    ids = add_people(workspace, 3)
    with workspace.transaction() as con:       # identity knows a device's advertising id
        con.execute("INSERT INTO profile_identifiers (profile_id, id_type, id_value) VALUES (?, 'idfa', ?)",
                    [ids[0], IDFA])
    fake, key = platform("meta")
    dry = sync.dry_run(workspace, admin, key, members=ids)
    assert dry["coverage"]["ad_id"] == 1
    out = sync.sync(workspace, admin, key, members=ids, client=fast())
    assert out["status"] == "succeeded" and fake.violations == [] and fake.warnings == []
    payload = bodies(fake)[0]["payload"]
    assert payload["is_raw"] is True
    madids = [row[payload["schema"].index("MADID")] for row in payload["data"]]
    assert sorted(madids) == ["", "", IDFA.lower()]


def test_meta_stand_in_warns_without_is_raw_and_refuses_a_hashed_madid():
    """Control: the checks above can fail."""
    schema = ["EMAIL", "MADID"]
    with FakePlatform("meta") as fake:
        for rows, raw in (([[sha("a@x.com"), ""]], False), ([[sha("a@x.com"), sha(IDFA.lower())]], True)):
            body = {"payload": {"schema": schema, "data": rows, **({"is_raw": True} if raw else {})},
                    "session": {"session_id": 1, "batch_seq": 1, "last_batch_flag": True,
                                "estimated_num_total": 1}}
            try:
                HttpClient(max_attempts=1).send(Request("POST", f"{fake.url}/1/users", json.dumps(body).encode(),
                                                        {"Authorization": f"Bearer {TOKEN}"}), plain_error)
            except RejectedError:
                pass                    # the hashed MADID: refused, as the violation says
        assert len(fake.warnings) == 1 and "is_raw" in fake.warnings[0]
        assert len(fake.violations) == 1 and "MADID" in fake.violations[0]


def test_value_based_seed_carries_predicted_clv(workspace, admin, platform):
    ids = add_people(workspace, 3)
    with workspace.transaction() as con:
        con.executemany("INSERT INTO profile_scores (profile_id, predicted_clv) VALUES (?, ?)",
                        [[ids[0], 412.345], [ids[1], -3.0]])       # the third has no prediction
    fake, key = platform("meta", value_based="yes")
    fake.value_based_audiences.add("23850000")
    out = sync.sync(workspace, admin, key, members=ids, client=fast())
    assert out["status"] == "succeeded" and fake.violations == [] and fake.warnings == []
    payload = bodies(fake)[0]["payload"]
    assert payload["schema"][-1] == "LOOKALIKE_VALUE"
    values = {row[0]: row[-1] for row in payload["data"]}
    assert values == {sha(f"person.{i}+news@example.com"): v for i, v in ((0, 412.35), (1, 0), (2, 0))}


def test_meta_reports_are_kept_shown_and_teach_the_estimate(workspace, admin, platform):
    ids = add_people(workspace, 10)
    fake, key = platform("meta", batch_size=4)
    before = sync.dry_run(workspace, admin, key, members=ids)
    assert before["match_rate_reports"] == 0
    assert before["expected_match_rate"] == before["typical_match_rate"]          # no report yet
    bad = [sha(f"person.{i}+news@example.com") for i in (1, 6)]
    fake.invalid_keys.update(bad)
    out = sync.sync(workspace, admin, key, members=ids, client=fast())
    report = out["platform_report"]
    assert report["num_received"] == 10 and report["num_invalid_entries"] == 2
    assert set(report["invalid_entry_samples"]) == set(bad)
    assert sync.history(workspace, admin).iloc[0]["platform_report"] is not None
    after = sync.dry_run(workspace, admin, key, members=ids + add_people(workspace, 1, start=50))
    assert after["match_rate_reports"] == 1
    assert after["expected_match_rate"] == pytest.approx(after["typical_match_rate"] * 0.8, abs=0.001)


def test_google_request_diagnostics_are_fetched_and_teach_the_estimate(workspace, admin, platform):
    ids = add_people(workspace, 6)
    fake, key = platform("google", batch_size=4)
    out = sync.sync(workspace, admin, key, members=ids, client=fast())
    assert out["status"] == "succeeded" and fake.violations == []
    report = out["platform_report"]
    retrieves = [r for r in fake.requests if r["path"].startswith("/requestStatus:retrieve")]
    assert len(retrieves) == 2 and report["request_ids"] == ["req-1", "req-2"]
    assert report["request_status"] == {"SUCCESS": 2} and report["record_count"] == 6
    assert report["match_rate_range"] == "MATCH_RATE_RANGE_20_TO_30" and report["match_rate"] == 0.25
    after = sync.dry_run(workspace, admin, key, members=ids)
    assert after["match_rate_reports"] == 1 and after["expected_match_rate"] == pytest.approx(0.25, abs=0.001)


def test_webhook_payloads_are_standard_webhooks_under_20_kb(workspace, admin, platform):
    ids = add_people(workspace, 315)
    fake, key = platform("webhook", include_plain="yes")
    plan = sync.dry_run(workspace, admin, key, members=ids)
    assert plan["batch_size"] < 1000 and plan["batches"]["add"] > 1
    out = sync.sync(workspace, admin, key, members=ids, client=fast())
    assert out["status"] == "succeeded" and fake.violations == [] and fake.warnings == []
    sizes = [len(r["body"]) for r in fake.requests]
    assert max(sizes) <= 20_000 and len(fake.members) == 315
    event = bodies(fake)[0]
    assert set(event) == {"type", "timestamp", "data"} and event["type"] == "audience.members.added"
    assert event["data"]["audience"] == key and event["data"]["members"]
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= {k.lower() for k in fake.requests[0]["headers"]}


def test_webhook_stand_in_warns_over_20_kb(workspace, admin, platform):
    """Control: a receiver set to take 100 kB requests gets them, and the stand-in says so."""
    ids = add_people(workspace, 315)
    fake, key = platform("webhook", include_plain="yes", max_body_kb="100")
    sync.sync(workspace, admin, key, members=ids, client=fast())
    assert fake.warnings and "20 kB" in fake.warnings[0]


@pytest.mark.slow
def test_sample_push_draws_no_rejection_or_warning_and_an_unchanged_resync_sends_nothing(tmp_path, admin,
                                                                                        monkeypatch):
    """Done when: the sample (a small build of it, made for the run's day) pushed to strict
    stand-ins of Meta, Google Data Manager and a Standard Webhooks receiver."""
    from datetime import date

    from engine.sample import build_sample_workspace
    from engine.sample.generator import generate
    from engine.workspace import Workspace
    from tests.engine.activation_fakes import connect

    monkeypatch.setenv("CDP_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    generate(tmp_path / "sample", people=250, seed=11, end=date.today())
    path = tmp_path / "ws" / "cdp.duckdb"
    build_sample_workspace(path, admin, sample_dir=tmp_path / "sample")
    ws = Workspace(path)
    everyone = [r[0] for r in ws.query_rows("SELECT profile_id FROM profiles")]
    for kind in ("meta", "google", "webhook"):
        with FakePlatform(kind) as fake:
            key = connect(ws, admin, monkeypatch, fake)
            out = sync.sync(ws, admin, key, members=everyone, client=fast())
            assert out["status"] == "succeeded" and out["added"] > 0, (kind, out["errors"])
            assert fake.violations == [] and fake.warnings == [], kind
            sent = len(fake.requests)
            again = sync.sync(ws, admin, key, members=everyone, client=fast())
            assert (again["to_add"], again["to_remove"], again["added"]) == (0, 0, 0), kind
            assert len(fake.requests) == sent, f"{kind}: an unchanged re-sync sent something"


def test_cli_sync_json_carries_the_platform_report(workspace, admin, platform, monkeypatch, capsys):
    from engine.cli.main import main as cli
    from engine.segments import create_static_segment
    ids = add_people(workspace, 5)
    create_static_segment(workspace, admin, "Loyal", ids)
    fake, _ = platform("meta")
    fake.invalid_keys.add(sha("person.3+news@example.com"))
    monkeypatch.setenv("CDP_WORKSPACE", str(workspace.path))
    assert cli(["audience", "sync", "Loyal", "--destination", "meta", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"run_id", "status", "added", "removed", "failed", "held_back", "errors", "batches"} <= set(out)
    assert out["platform_report"]["num_received"] == 5 and out["platform_report"]["num_invalid_entries"] == 1
    assert out["failed"] == 1
    # Without --json the report is printed in words.
    assert cli(["audience", "sync", "Loyal", "--destination", "meta", "--full"]) == 0
    assert "Platform: Received 5 rows, 1 invalid." in capsys.readouterr().out


def test_linkedin_streams_hashed_emails_into_the_dmp_segment(workspace, admin, platform):
    ids = add_people(workspace, 2)
    fake, key = platform("linkedin")
    out = sync.sync(workspace, admin, key, members=ids, client=fast())
    assert out["status"] == "succeeded" and fake.violations == [] and out["added"] == 2
    request, = fake.requests
    assert request["path"] == "/dmpSegments/987654/users"
    assert {k.lower(): v for k, v in request["headers"].items()}["x-restli-method"] == "BATCH_CREATE"
    assert json.loads(request["body"])["elements"][0] == {
        "action": "ADD", "userIds": [{"idType": "SHA256_EMAIL", "idValue": sha("person.0+news@example.com")}],
        "firstName": "Anna", "lastName": "O'Brien"}
    assert out["platform_report"] == {"num_received": 2, "num_invalid_entries": 0}
    out = sync.sync(workspace, admin, key, members=ids[1:], client=fast())
    assert out["removed"] == 1 and json.loads(fake.requests[-1]["body"])["elements"][0]["action"] == "REMOVE"
    assert len(fake.members) == 1
