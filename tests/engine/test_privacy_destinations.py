"""An erasure deletes the person at every destination at once, through each destination class,
records each outcome, and keeps failures queued until a retry succeeds."""
import json

import pytest

from engine.activation import sync
from engine.activation.destinations import KINDS, BatchResult, Destination, ErasureContext
from engine.privacy import removals
from engine.privacy.subject import erase_subject
from tests.engine.activation_data import add_people
from tests.engine.test_activation_sync import fast, platform  # noqa: F401  (fixture)

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

ERASED = "person.2+news@example.com"


@pytest.mark.parametrize("kind, deleted", [
    ("meta", False), ("google", False), ("klaviyo", True), ("hubspot", True), ("webhook", True)])
def test_each_kind_deletes_the_person_at_once(kind, deleted, workspace, admin, platform):  # noqa: F811
    ids = add_people(workspace, 5, email_consent=True)
    fake, key = platform(kind)
    assert sync.sync(workspace, admin, key, members=ids, client=fast())["added"] == 5
    before = dict(fake.members)
    result = erase_subject(workspace, admin, "email", ERASED, compact=False, client=fast())
    outcome, = result["destinations"]
    assert (outcome["destination"], outcome["status"], outcome["error"]) == (kind, "done", None)
    assert fake.violations == []
    assert len(fake.members) == 4 and set(fake.members) < set(before)   # the others stay
    if deleted:   # deleted outright, not only taken off a list
        assert fake.deletions and fake.remove_calls == 0
        assert ERASED in fake.deletions or "p0002" in fake.deletions
    else:
        assert fake.remove_calls == 1
    row = workspace.query_rows("SELECT status, attempts, members FROM privacy_destination_removals "
                               "WHERE id_type = 'members'")
    assert row == [("done", 1, None)]    # delivered: the identifiers it needed are gone
    assert workspace.scalar("SELECT count(*) FROM audit_log WHERE action = 'privacy.destination_deletion'") == 1


def test_a_person_who_left_the_list_is_still_deleted_at_the_tool(workspace, admin, platform):  # noqa: F811
    ids = add_people(workspace, 3, email_consent=True)
    fake, key = platform("klaviyo")
    sync.sync(workspace, admin, key, members=ids, client=fast())
    sync.sync(workspace, admin, key, members=[i for i in ids if i != "p0002"], client=fast())
    assert ERASED not in fake.members     # unsubscribed from the list, but Klaviyo keeps the profile
    result = erase_subject(workspace, admin, "email", ERASED, compact=False, client=fast())
    assert [d["status"] for d in result["destinations"]] == ["done"]
    assert fake.deletions == [ERASED]


def test_failures_are_kept_visible_and_retried(workspace, admin, platform):  # noqa: F811
    ids = add_people(workspace, 3, email_consent=True)
    fake, key = platform("hubspot")
    sync.sync(workspace, admin, key, members=ids, client=fast())
    fake.fail(503, times=8)
    result = erase_subject(workspace, admin, "email", ERASED, compact=False, client=fast())
    outcome, = result["destinations"]
    assert outcome["status"] == "failed" and "503" in outcome["error"]
    listed = removals.list_removals(workspace, admin)
    assert list(listed["status"]) == ["failed"] and "503" in listed["last_error"][0]
    assert fake.deletions == []
    fake.faults.clear()
    again = removals.deliver(workspace, admin, client=fast())
    assert [o["status"] for o in again] == ["done"] and fake.deletions == [ERASED]
    assert workspace.query_rows("SELECT status, attempts, members IS NULL FROM privacy_destination_removals "
                                "WHERE id_type = 'members'") == [("done", 2, True)]
    assert removals.deliver(workspace, admin, client=fast()) == []   # nothing left to send


def test_a_new_destination_kind_gets_audience_removal_by_default(workspace, admin, monkeypatch):
    """A kind that only implements the sync interface (as a new kind would) is asked to remove."""
    sent = []

    class Toy(Destination):
        kind, label = "toy", "Toy list"

        def keys(self, c):
            return {"email": f"lower(trim({c['email']}))"}

        def member_sql(self, k):
            return f"to_json({k['email']})::VARCHAR"

        def send(self, client, members, ctx):
            sent.append((ctx.op, tuple(members), ctx.run_id))
            return BatchResult(sent=len(members))

    monkeypatch.setitem(KINDS, "toy", Toy)
    members = ['"a@example.com"', '"b@example.com"']
    result = Toy("t", {}, {}).erase(None, members, ErasureContext(7, "t"))
    assert result.sent == 2 and sent == [("remove", tuple(members), ErasureContext(7, "t").run_id)]
    assert Toy("t").erasure_members(['"held@example.com"'], ['"now@example.com"'], ["x@example.com"]) == [
        '"held@example.com"', '"now@example.com"']
    assert json.loads(members[0]) == "a@example.com"
