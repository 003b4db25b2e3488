"""An erased person who was pushed to a destination is removed there by the erasure itself."""
import pytest
from engine.activation import sync
from engine.privacy.subject import erase_subject
from tests.engine.test_activation_sync import fast, platform  # noqa: F401  (fixture)
from tests.engine.activation_data import add_people

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def test_erasure_removes_the_person_from_the_destination_at_once(workspace, admin, platform):  # noqa: F811
    ids = add_people(workspace, 5)
    fake, key = platform("meta", batch_size=100)
    assert sync.sync(workspace, admin, key, members=ids, client=fast())["added"] == 5
    result = erase_subject(workspace, admin, "email", "person.2+news@example.com", compact=False, client=fast())
    assert [(d["destination"], d["status"]) for d in result["destinations"]] == [("meta", "done")]
    assert len(fake.members) == 4 and fake.remove_calls == 1 and fake.violations == []
    assert workspace.scalar("SELECT count(*) FROM profiles WHERE profile_id = 'p0002'") == 0
    assert workspace.scalar("SELECT count(*) FROM activation_membership WHERE profile_id = 'p0002'") == 0
    out = sync.sync(workspace, admin, key, members=ids, client=fast())   # the segment still lists p0002
    assert out["removed"] == 0 and out["added"] == 0 and len(fake.members) == 4
