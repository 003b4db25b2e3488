"""resolve(): deterministic merges, event actors, guards, stable ids, golden record, fuzzy and households."""
import pytest

from engine.access import PermissionDenied
from engine.identity import resolve
from engine.identity.resolve import export_members, preview_thresholds
from engine.identity.settings import save_settings
from tests.engine.identity_helpers import add_contacts, add_events, profile_of

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def test_shared_identifiers_make_one_profile(workspace, admin):
    # The till and billing share one customer number (declared; each source's own otherwise).
    save_settings(workspace, admin, {"id_namespaces": {"pos": "customer", "billing": "customer"}})
    add_contacts(workspace, [
        dict(source="crm", source_record_id="1", email="Ann@Shop.io", first_name="Ann", user_id="u1"),
        dict(source="crm", source_record_id="2", email="ann@shop.io ", phone="(415) 555-0100"),
        dict(source="pos", source_record_id="3", phone="415.555.0100", customer_id="c9"),
        dict(source="pos", source_record_id="4", email="zed@shop.io", first_name="Zed"),
    ])
    add_contacts(workspace, [dict(source="billing", source_record_id="o1", customer_id="c9")], table="orders")
    stats = resolve(workspace, admin)
    pid = profile_of(workspace, "crm", "1")
    assert {profile_of(workspace, s, r) for s, r in [("crm", "2"), ("pos", "3"), ("billing", "o1")]} == {pid}
    assert profile_of(workspace, "pos", "4") != pid
    ids = dict(workspace.query_rows("SELECT id_type || ':' || id_value, profile_id FROM profile_identifiers"))
    assert ids["email:ann@shop.io"] == pid and ids["phone:+14155550100"] == pid and ids["customer_id:c9"] == pid
    assert stats["profiles"] == 2
    assert workspace.scalar("SELECT record_count FROM profiles WHERE profile_id = ?", [pid]) == 4


def test_every_event_actor_gets_a_profile_and_identify_joins_history(workspace, admin):
    add_contacts(workspace, [dict(source="crm", source_record_id="1", email="kim@shop.io", user_id="u1")])
    add_events(workspace, [
        dict(anonymous_id="a1", event="Viewed", properties={"fbclid": "FB.1"}),
        dict(type="identify", anonymous_id="a1", user_id="u1", traits={"email": "kim@shop.io"}),
        dict(anonymous_id="a2", context={"page": {"url": "https://x.io/?gclid=G-7&utm=1"}}),
        dict(type="alias", previous_id="a3", user_id="u1"),
        dict(anonymous_id="a3", event="Viewed"),
    ])
    resolve(workspace, admin)
    pid = profile_of(workspace, "crm", "1")
    assert profile_of(workspace, "events", "anonymous_id:a1") == pid
    assert profile_of(workspace, "events", "user_id:u1") == pid
    assert profile_of(workspace, "events", "anonymous_id:a3") == pid       # alias
    anon = profile_of(workspace, "events", "anonymous_id:a2")
    assert anon and anon != pid                                             # own profile until identified
    unattributed = workspace.scalar("""
        SELECT count(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM profile_events p WHERE p.message_id = e.message_id)""")
    assert unattributed == 0
    ids = dict(workspace.query_rows("SELECT id_type || ':' || id_value, profile_id FROM profile_identifiers"))
    assert ids["fbclid:FB.1"] == pid and ids["gclid:G-7"] == anon


def test_junk_values_do_not_merge_and_user_id_conflict_goes_to_review(workspace, admin):
    add_contacts(workspace, [
        dict(source="crm", source_record_id="1", email="test@test.com", first_name="A"),
        dict(source="crm", source_record_id="2", email="test@test.com", first_name="B"),
        dict(source="crm", source_record_id="3", phone="0000000000"),
        dict(source="crm", source_record_id="4", phone="0000000000"),
        dict(source="crm", source_record_id="5", email="bo@shop.io", user_id="u2"),
        dict(source="crm", source_record_id="6", email="bo@shop.io", user_id="u3"),
    ])
    stats = resolve(workspace, admin)
    assert stats["profiles"] == 6
    guard = workspace.query_rows("SELECT reason, l_record_id, r_record_id FROM identity_pairs WHERE reason LIKE 'guard:%'")
    assert guard == [("guard:user_id", "5", "6")]
    assert stats["to_review"] >= 1


def test_profile_ids_are_stable_older_survives_merge_larger_keeps_split(workspace, admin):
    add_contacts(workspace, [dict(source="crm", source_record_id="1", email="a@x.io")])
    resolve(workspace, admin)
    old = profile_of(workspace, "crm", "1")
    add_contacts(workspace, [dict(source="crm", source_record_id="2", phone="4155550101")])
    resolve(workspace, admin)
    newer = profile_of(workspace, "crm", "2")
    assert profile_of(workspace, "crm", "1") == old and newer != old
    # A record joining both: the older id survives, the newer is retired into it.
    add_contacts(workspace, [dict(source="crm", source_record_id="3", email="a@x.io", phone="415 555 0101"),
                             dict(source="crm", source_record_id="4", email="a@x.io")])
    resolve(workspace, admin)
    assert {profile_of(workspace, "crm", r) for r in "1234"} == {old}
    assert workspace.scalar("SELECT merged_into FROM identity_profile_registry WHERE profile_id = ?", [newer]) == old
    # Re-runs change nothing.
    resolve(workspace, admin, full=True)
    assert {profile_of(workspace, "crm", r) for r in "1234"} == {old}


def test_golden_record_survivorship_and_sources(workspace, admin):
    add_contacts(workspace, [
        dict(source="crm", source_record_id="1", email="liz@x.io", first_name="Liz", last_name="Taylor",
             updated_at="2024-01-01"),
        dict(source="shop", source_record_id="2", email="liz@x.io", first_name="Elizabeth", last_name="Taylor",
             updated_at="2025-01-01"),
        dict(source="shop", source_record_id="3", email="LIZ@x.io", first_name="Elizabeth", updated_at="2023-01-01"),
    ])
    resolve(workspace, admin)
    pid = profile_of(workspace, "crm", "1")
    row = workspace.query_rows("SELECT first_name, email FROM profiles WHERE profile_id = ?", [pid])[0]
    assert row == ("Elizabeth", "liz@x.io")          # most frequent
    src = workspace.query_rows("SELECT source, rule FROM profile_field_sources WHERE profile_id = ? AND field = 'first_name'",
                               [pid])[0]
    assert src == ("shop", "most_frequent")
    save_settings(workspace, admin, {"survivorship": {"default": "most_recent", "fields": {"first_name": "source_priority"},
                                                      "source_priority": ["crm"]}})
    resolve(workspace, admin)
    assert workspace.scalar("SELECT first_name FROM profiles WHERE profile_id = ?", [pid]) == "Liz"
    with pytest.raises(ValueError):
        save_settings(workspace, admin, {"survivorship": {"default": "newest-ish", "fields": {}}})


PEOPLE = [
    # same person, typos and a nickname, no shared identifier
    dict(source="crm", source_record_id="p1", first_name="Robert", last_name="Johnson",
         address_line1="12 Oak Street", city="Springfield", postcode="62701", date_of_birth="1980-05-17"),
    dict(source="pos", source_record_id="p2", first_name="Bob", last_name="Jonson",
         address_line1="12 Oak St", city="Springfield", postcode="62701", date_of_birth="1980-05-17"),
    # household: same surname and address, different first name and birth date
    dict(source="pos", source_record_id="h1", first_name="Mary", last_name="Johnson",
         address_line1="12 Oak St.", city="Springfield", postcode="62701", date_of_birth="1982-11-02"),
    dict(source="crm", source_record_id="h2", first_name="Tim", last_name="Johnson",
         address_line1="12 Oak Street", city="Springfield", postcode="62701", date_of_birth="2010-03-09"),
]


def _noise(n=40):
    """Unrelated people so that the model has something to learn from."""
    first = ["Ann", "Carl", "Dora", "Eve", "Finn", "Gus", "Hana", "Ivan", "Jade", "Kurt"]
    last = ["Baker", "Cole", "Dunn", "Ellis", "Frost", "Grant", "Hale", "Irwin", "Judd", "Knox"]
    rows = []
    for i in range(n):
        person = dict(first_name=first[i % 10], last_name=last[(i * 3) % 10], address_line1=f"{i + 1} Elm Road",
                      city="Shelbyville", postcode=f"{60000 + i}", date_of_birth=f"19{50 + i}-0{1 + i % 9}-1{i % 9}")
        rows.append(dict(source="crm", source_record_id=f"n{i}", **person))
        rows.append(dict(source="pos", source_record_id=f"m{i}", **{**person, "first_name": person["first_name"].upper()}))
    return rows


def test_fuzzy_match_merges_typos_but_not_household(workspace, admin):
    add_contacts(workspace, PEOPLE + _noise())
    stats = resolve(workspace, admin)
    assert stats["pairs_scored"] > 0
    bob = profile_of(workspace, "crm", "p1")
    assert profile_of(workspace, "pos", "p2") == bob
    assert profile_of(workspace, "pos", "h1") != bob
    assert profile_of(workspace, "crm", "h2") not in (bob, profile_of(workspace, "pos", "h1"))
    assert profile_of(workspace, "crm", "n3") == profile_of(workspace, "pos", "m3")


def test_incremental_run_matches_new_records_against_existing(workspace, admin):
    add_contacts(workspace, _noise())
    resolve(workspace, admin, full=True)
    before = profile_of(workspace, "crm", "n5")
    add_contacts(workspace, [dict(source="web", source_record_id="w5", first_name="Gus", last_name="Grnat",
                                  address_line1="6 Elm Rd", city="Shelbyville", postcode="60005",
                                  date_of_birth="1955-06-15")])
    stats = resolve(workspace, admin)
    assert stats["new_records"] == 1
    assert profile_of(workspace, "web", "w5") == before


def test_threshold_preview_does_not_change_anything(workspace, admin):
    add_contacts(workspace, PEOPLE + _noise())
    resolve(workspace, admin)
    profiles = workspace.scalar("SELECT count(*) FROM profiles")
    version = workspace.data_version()
    strict = preview_thresholds(workspace, admin, 0.5, 1.0)
    assert strict["profiles_now"] == profiles
    assert strict["profiles_after"] > profiles and strict["profiles_split"] > 0
    assert workspace.scalar("SELECT count(*) FROM profiles") == profiles and workspace.data_version() == version


def test_permissions_and_export(workspace, admin, analyst, tmp_path):
    add_contacts(workspace, [dict(source="crm", source_record_id="1", email="a@x.io")])
    with pytest.raises(PermissionDenied):
        resolve(workspace, analyst)
    resolve(workspace, admin)
    out = tmp_path / "members.csv"
    assert export_members(workspace, analyst, out) == 1
    assert out.read_text().splitlines()[0] == "profile_id,kind,source,source_record_id"
    actions = [r[0] for r in workspace.query_rows("SELECT action FROM audit_log")]
    assert "identity.resolve" in actions and "identity.profiles.export" in actions


def test_rebuilt_outputs_keep_their_indexes(workspace, admin):
    with workspace.transaction() as con:
        con.execute("CREATE INDEX profiles_last_name_idx ON profiles (last_name)")
    add_contacts(workspace, [dict(source="crm", source_record_id="1", email="a@x.io", last_name="Ng")])
    resolve(workspace, admin)
    assert workspace.scalar("SELECT count(*) FROM duckdb_indexes() WHERE index_name = 'profiles_last_name_idx'") == 1
    assert workspace.scalar("SELECT last_name FROM profiles") == "Ng"
