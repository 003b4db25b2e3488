"""HubSpot list syncs, request by request against HubSpot's API reference: contacts found or
created by email (batch upsert / batch read), list membership through the Lists API's add and
remove endpoints (which leave subscriptions untouched), GDPR delete on erasure."""
import json

import pytest

from engine.activation import sync
from engine.activation.destinations.base import plain_error
from engine.activation.http import HttpClient, RejectedError, Request
from engine.privacy.subject import erase_subject
from tests.engine.activation_data import add_people
from tests.engine.activation_fakes import TOKEN, FakePlatform, fast, platform  # noqa: F401

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

EMAILS = [f"person.{i}+news@example.com" for i in range(3)]


def calls(fake):
    return [(r["method"], r["path"], json.loads(r["body"])) for r in fake.requests]


def test_adding_upserts_contacts_by_email_then_adds_record_ids_to_the_list(workspace, admin, platform):
    ids = add_people(workspace, 3, email_consent=True)
    fake, key = platform("hubspot")
    out = sync.sync(workspace, admin, key, members=ids, client=fast())
    assert out["status"] == "succeeded" and out["added"] == 3
    assert calls(fake) == [
        ("POST", "/crm/v3/objects/contacts/batch/upsert",
         {"inputs": [{"idProperty": "email", "id": e, "properties": {"email": e}} for e in EMAILS]}),
        ("PUT", "/crm/v3/lists/77/memberships/add", ["1000", "1001", "1002"]),
    ]
    assert all(r["headers"]["Authorization"] == f"Bearer {TOKEN}" for r in fake.requests)
    assert fake.subscription_calls == 0 and fake.violations == []


def test_removing_reads_record_ids_then_removes_them_from_the_list_only(workspace, admin, platform):
    ids = add_people(workspace, 3, email_consent=True)
    fake, key = platform("hubspot")
    sync.sync(workspace, admin, key, members=ids, client=fast())
    fake.requests.clear()
    out = sync.sync(workspace, admin, key, members=ids[1:], client=fast())
    assert out["removed"] == 1
    assert calls(fake) == [
        ("POST", "/crm/v3/objects/contacts/batch/read",
         {"idProperty": "email", "properties": ["email"], "inputs": [{"id": EMAILS[0]}]}),
        ("PUT", "/crm/v3/lists/77/memberships/remove", ["1000"]),
    ]
    assert fake.subscription_calls == 0 and sorted(fake.members) == ["1001", "1002"]


def test_erasure_is_a_gdpr_delete_by_email(workspace, admin, platform):
    ids = add_people(workspace, 2, email_consent=True)
    fake, key = platform("hubspot")
    sync.sync(workspace, admin, key, members=ids, client=fast())
    fake.requests.clear()
    erase_subject(workspace, admin, "email", EMAILS[1], compact=False, client=fast())
    assert calls(fake) == [("POST", "/crm/v3/objects/contacts/gdpr-delete",
                            {"objectId": EMAILS[1], "idProperty": "email"})]
    assert fake.deletions == [EMAILS[1]]


def test_stand_in_refuses_a_subscription_change():
    """Control: the stand-in can tell a subscription call from a list call."""
    with FakePlatform("hubspot") as fake:
        with pytest.raises(RejectedError):
            HttpClient(max_attempts=1).send(Request(
                "POST", fake.url + "/communication-preferences/v3/unsubscribe",
                json.dumps({"emailAddress": EMAILS[0], "subscriptionId": "1"}).encode(),
                {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}), plain_error)
        assert fake.subscription_calls == 1 and fake.violations
