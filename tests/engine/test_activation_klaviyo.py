"""Klaviyo and HubSpot list syncs change list membership only, never a person's email consent,
against a stand-in that behaves as Klaviyo's API reference documents (revision, shapes, limits)."""
import json
import urllib.parse

import pytest

from engine.activation import audiences, config, sandbox_files, sync
from engine.activation.destinations import klaviyo
from engine.activation.http import HttpClient, Request
from engine.privacy.files import scrub_folder
from tests.engine.activation_data import add_people
from tests.engine.activation_fakes import KLAVIYO_OLDEST_REVISION, TOKEN, FakePlatform

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def fast():
    return HttpClient(base_delay=0.01, max_attempts=2)


@pytest.fixture
def klaviyo_fake(workspace, admin, monkeypatch, tmp_path):
    """A running Klaviyo stand-in, configured as destination `klaviyo` and linked to list:test."""
    monkeypatch.setenv("CDP_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    monkeypatch.setenv("CDP_DEST_KLAVIYO_API_KEY", TOKEN)
    with FakePlatform("klaviyo") as fake:
        config.add_destination(workspace, admin, "klaviyo", "klaviyo",
                               {"list_id": "Xy12Ab", "base_url": fake.url})
        yield fake, audiences.link_audience(workspace, admin, "list", "test", "klaviyo")


def paths(fake):
    return [(r["method"], r["path"].split("?")[0]) for r in fake.requests]


def test_adding_imports_profiles_into_the_list_and_never_subscribes(workspace, admin, klaviyo_fake):
    fake, key = klaviyo_fake
    ids = add_people(workspace, 4, email_consent=True)
    # Someone who unsubscribed at Klaviyo (or reported spam) stays that way when added to a list.
    fake.klaviyo_profiles["person.0+news@example.com"] = "01KOLD"
    fake.klaviyo_consent["person.0+news@example.com"] = "UNSUBSCRIBED"
    out = sync.sync(workspace, admin, key, members=ids, client=fast())
    assert out["status"] == "succeeded" and fake.violations == [], (out["errors"], fake.violations)
    assert paths(fake) == [("POST", "/api/profile-bulk-import-jobs")]
    body = json.loads(fake.requests[0]["body"])
    assert body["data"]["relationships"]["lists"]["data"] == [{"type": "list", "id": "Xy12Ab"}]
    assert "subscriptions" not in fake.requests[0]["body"].decode()
    assert fake.subscription_calls == 0
    assert fake.klaviyo_consent["person.0+news@example.com"] == "UNSUBSCRIBED"
    assert fake.members["person.0+news@example.com"] == "01KOLD" and len(fake.members) == 4


def test_removing_takes_people_off_the_list_by_profile_id_and_leaves_consent(workspace, admin, klaviyo_fake):
    fake, key = klaviyo_fake
    ids = add_people(workspace, 5, email_consent=True)
    sync.sync(workspace, admin, key, members=ids, client=fast())
    fake.klaviyo_consent["person.0+news@example.com"] = "SUBSCRIBED"
    fake.requests.clear()
    out = sync.sync(workspace, admin, key, members=ids[2:], client=fast())
    assert (out["status"], out["removed"]) == ("succeeded", 2) and fake.violations == []
    assert paths(fake) == [("GET", "/api/profiles"), ("DELETE", "/api/lists/Xy12Ab/relationships/profiles")]
    query = dict(urllib.parse.parse_qsl(fake.requests[0]["path"].partition("?")[2]))
    assert query["filter"] == 'any(email,["person.0+news@example.com","person.1+news@example.com"])'
    removed = json.loads(fake.requests[1]["body"])["data"]
    assert removed == [{"type": "profile", "id": fake.klaviyo_profiles[f"person.{i}+news@example.com"]}
                       for i in (0, 1)]
    assert not any("subscription" in p for _, p in paths(fake)) and fake.subscription_calls == 0
    assert fake.klaviyo_consent["person.0+news@example.com"] == "SUBSCRIBED"     # consent as it was
    assert sorted(fake.members) == [f"person.{i}+news@example.com" for i in (2, 3, 4)]


def test_batches_stay_within_the_documented_maximums(workspace, admin, klaviyo_fake):
    fake, key = klaviyo_fake
    ids = add_people(workspace, 2_150, email_consent=True)
    out = sync.sync(workspace, admin, key, members=ids, client=fast())
    assert out["added"] == 2_150 and fake.violations == []
    sizes = [len(json.loads(r["body"])["data"]["attributes"]["profiles"]["data"]) for r in fake.requests]
    assert sizes == [1_000, 1_000, 150]
    fake.requests.clear()
    out = sync.sync(workspace, admin, key, members=ids[:50], client=fast())
    assert out["removed"] == 2_100 and fake.violations == [] and len(fake.members) == 50
    lookups = [r for r in fake.requests if r["method"] == "GET"]
    deletes = [len(json.loads(r["body"])["data"]) for r in fake.requests if r["method"] == "DELETE"]
    assert len(lookups) == 21 and sorted(deletes) == [100, 1_000, 1_000]
    assert all(int(dict(urllib.parse.parse_qsl(r["path"].partition("?")[2]))["page[size]"]) <= 100
               for r in lookups)


def test_revision_header_is_current_and_the_stand_in_refuses_a_retired_one(workspace, admin, klaviyo_fake,
                                                                          monkeypatch):
    fake, key = klaviyo_fake
    # Klaviyo: stable for a year, deprecated the next, retired after two; 2026-01-15 onwards is stable.
    assert klaviyo.REVISION >= "2026-01-15" and klaviyo.REVISION >= KLAVIYO_OLDEST_REVISION
    ids = add_people(workspace, 3, email_consent=True)
    sync.sync(workspace, admin, key, members=ids, client=fast())
    sent = [{k.lower(): v for k, v in r["headers"].items()}.get("revision") for r in fake.requests]
    assert len(sent) == 1 and set(sent) == {klaviyo.REVISION}
    # Control: the revision this destination used to pin is refused by the stand-in.
    monkeypatch.setattr(klaviyo, "REVISION", "2024-10-15")
    out = sync.sync(workspace, admin, key, members=ids[:1], client=fast())
    assert out["status"] == "failed" and any("retired" in v for v in fake.violations)


@pytest.mark.parametrize("body_path, body", [
    ("/api/profile-subscription-bulk-delete-jobs",
     {"data": {"type": "profile-subscription-bulk-delete-job",
               "attributes": {"profiles": {"data": [{"type": "profile", "attributes": {"email": "a@b.com"}}]}}}}),
    ("/api/profile-subscription-bulk-create-jobs",
     {"data": {"type": "profile-subscription-bulk-create-job", "attributes": {"profiles": {"data": []}}}}),
])
def test_stand_in_rejects_the_subscription_endpoints(body_path, body):
    """Control: the checks the tests above rely on do fail on the calls this destination used to make."""
    with FakePlatform("klaviyo") as fake:
        req = Request("POST", fake.url + body_path, json.dumps(body).encode(),
                      {"Content-Type": "application/vnd.api+json", "revision": klaviyo.REVISION,
                       "Authorization": f"Klaviyo-API-Key {TOKEN}"})
        with pytest.raises(Exception, match="rejected"):
            fast().send(req, lambda s, b: f"HTTP {s}")
        assert fake.subscription_calls == 1 and "email consent" in fake.violations[0]


def test_stand_in_rejects_removal_by_email_and_oversized_calls():
    with FakePlatform("klaviyo") as fake:
        headers = {"Content-Type": "application/vnd.api+json", "revision": klaviyo.REVISION,
                   "Authorization": f"Klaviyo-API-Key {TOKEN}"}
        by_email = {"data": [{"type": "profile", "attributes": {"email": "a@b.com"}}]}
        too_many = {"data": [{"type": "profile", "id": str(i)} for i in range(1_001)]}
        for body in (by_email, too_many):
            with pytest.raises(Exception, match="rejected"):
                fast().send(Request("DELETE", fake.url + "/api/lists/L1/relationships/profiles",
                                    json.dumps(body).encode(), headers), lambda s, b: f"HTTP {s}")
        assert len(fake.violations) == 2


@pytest.mark.parametrize("kind", ["klaviyo", "hubspot"])
def test_email_tools_need_email_marketing_consent_not_advertising(kind, workspace, admin):
    config.add_destination(workspace, admin, kind, kind, {"list_id": "L1"})
    key = audiences.link_audience(workspace, admin, "list", "test", kind)
    email_only = add_people(workspace, 2, consent=None, email_consent=True)
    ads_only = add_people(workspace, 3, start=10, consent="advertising", email_consent=False)
    dry = sync.dry_run(workspace, admin, key, members=email_only + ads_only)
    assert dry["held_back_reasons"] == {"no_email_consent": 3} and dry["to_add"] == 2


def test_sandbox_klaviyo_removal_names_the_email_plainly_so_an_erasure_scrub_finds_it(workspace, admin,
                                                                                       monkeypatch, tmp_path):
    monkeypatch.setenv("CDP_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    config.add_destination(workspace, admin, "sandbox-klaviyo", "sandbox", {"platform": "klaviyo"})
    key = audiences.link_audience(workspace, admin, "list", "test", "sandbox-klaviyo")
    ids = add_people(workspace, 3, email_consent=True)
    sync.sync(workspace, admin, key, members=ids)
    out = sync.sync(workspace, admin, key, members=ids[1:])
    assert out["removed"] == 1
    folder = sandbox_files.audience_folder(workspace.folder, key)
    lookup = next(p for p in folder.glob("*-remove-1-1.json"))
    assert json.loads(lookup.read_text())["url"].endswith('any(email,["person.0+news@example.com"])'
                                                          '&fields[profile]=email&page[size]=100')
    scrub_folder(workspace, {"person.0+news@example.com"})
    assert "person.0+news" not in "".join(p.read_text().lower() for p in folder.glob("*.json"))
