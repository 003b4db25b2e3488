"""Mobile advertising ids from the Segment spec's context.device reach profiles (IDFA on iOS, GAID
on Android, lowercase), except when the person limited ad tracking or iOS sent its zero id;
a Meta push then fills the MADID key from them."""
import pytest
import json

from engine.activation import sync
from engine.identifiers import ZERO_AD_ID
from engine.identity import resolve
from tests.engine.activation_data import set_consent
from tests.engine.activation_fakes import fast, platform  # noqa: F401
from tests.engine.identity_helpers import add_contacts, add_events, profile_of

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

IDFA = "6D92078A-8246-4BA4-AE5B-76104861E7DC"
GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"


def _device(ad_id, os, tracking=True):
    return {"device": {"advertisingId": ad_id, "type": os, "adTrackingEnabled": tracking}}


def test_device_ad_ids_land_on_profiles_and_fill_meta_madid(workspace, admin, platform):
    add_contacts(workspace, [dict(source="crm", source_record_id=str(i), email=f"p{i}@shop.io", user_id=f"u{i}",
                                  first_name=n) for i, n in enumerate(["Ann", "Bob", "Cy", "Di"])])
    add_events(workspace, [
        dict(user_id="u0", event="App Opened", context=_device(IDFA, "ios")),
        dict(user_id="u1", event="App Opened", context=_device(GAID, "android")),
        dict(user_id="u2", event="App Opened", context=_device("AAAA-1111", "ios", tracking=False)),
        dict(user_id="u3", event="App Opened", context=_device(ZERO_AD_ID, "ios")),
    ])
    resolve(workspace, admin)
    held = dict(((r[0], r[1]), r[2]) for r in workspace.query_rows(
        "SELECT profile_id, id_type, id_value FROM profile_identifiers "
        "WHERE id_type IN ('idfa', 'gaid', 'madid')"))
    assert held == {(profile_of(workspace, "crm", "0"), "idfa"): IDFA.lower(),
                    (profile_of(workspace, "crm", "1"), "gaid"): GAID}
    fake, key = platform("meta")
    members = [profile_of(workspace, "crm", str(i)) for i in range(4)]
    with workspace.transaction() as con:
        set_consent(con, members, "advertising", True)
    out = sync.sync(workspace, admin, key, members=members, client=fast())
    assert out["status"] == "succeeded" and fake.warnings == []
    payload = json.loads(next(r["body"] for r in fake.requests if r["body"]))["payload"]
    madids = sorted(row[payload["schema"].index("MADID")] for row in payload["data"])
    assert madids == ["", "", GAID, IDFA.lower()]
