import pytest

from engine.profiles import refresh_search_index, search_profiles
from engine.profiles.search import normalise_query
from tests.engine.journey_data import build

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


@pytest.fixture
def ws(workspace):
    build(workspace)
    return workspace


@pytest.mark.parametrize("query, expected, matched_on", [
    ("alice smith", "P1", "name"),
    ("smith alice", "P1", "name"),        # either order
    ("alcie smith", "P1", "name"),        # transposed letters
    ("okafr", "P4", "name"),              # a letter missing, as typed so far
    ("bob.j", "P2", "email"),             # email prefix, as you type
    ("carol.dias@exa", "P3", "email"),    # typo in an email
    ("07700 900002", "P2", "phone"),      # national format, spaces
    ("+44 7700 900004", "P4", "phone"),
    ("a3", "P3", "anonymous_id"),         # any identifier
    ("c1", "P1", "customer_id"),
    ("P2", "P2", "profile_id"),
])
def test_finds_the_right_person_first(ws, admin, query, expected, matched_on):
    found = search_profiles(ws, admin, query)
    assert found.iloc[0]["profile_id"] == expected, found
    assert found.iloc[0]["matched_on"] == matched_on


def test_no_match_and_empty_query(ws, admin):
    assert search_profiles(ws, admin, "zzzzqqq").empty
    assert search_profiles(ws, admin, "   ").empty


def test_analyst_sees_masked_results(ws, analyst, admin):
    # Typing a personal value finds nothing for a role that may not see it (no probing) ...
    assert len(search_profiles(ws, admin, "alice.smith@example.com"))
    assert search_profiles(ws, analyst, "alice.smith@example.com").empty
    # ... an id does, masked.
    found = search_profiles(ws, analyst, "P1")
    row = found.iloc[0]
    assert row["profile_id"] == "P1"
    assert "alice.smith" not in row["email"] and "alice.smith" not in row["matched_value"]
    assert row["name"] != "Alice Smith"


def test_index_follows_profile_changes(ws, admin):
    assert search_profiles(ws, admin, "zelda").empty
    with ws.transaction() as con:
        con.execute("INSERT INTO profiles (profile_id, first_name, last_name, updated_at) "
                    "VALUES ('P9', 'Zelda', 'Quinn', now() + INTERVAL 1 SECOND)")
    assert search_profiles(ws, admin, "zelda").iloc[0]["profile_id"] == "P9"
    assert refresh_search_index(ws) is False          # nothing changed since


def test_normalise_query():
    assert normalise_query("  Alice   SMITH ") == ("alice smith", "")
    assert normalise_query("07700 900 001") == ("07700 900 001", "7700900001")
    assert normalise_query("abc") == ("abc", "")


def test_recent_profiles_newest_first_and_masked_for_analysts(workspace, admin, analyst):
    from engine.profiles.search import recent_profiles

    with workspace.transaction() as con:
        con.execute("""INSERT INTO profiles (profile_id, first_name, last_name, email, last_seen) VALUES
            ('p1', 'Old', 'Timer', 'old@example.com', '2025-01-01'),
            ('p2', 'New', 'Comer', 'new@example.com', '2026-11-01'),
            ('p3', 'Never', 'Seen', 'never@example.com', NULL)""")
    recent = recent_profiles(workspace, admin)
    assert list(recent["profile_id"]) == ["p2", "p1"] and recent["name"][0] == "New Comer"
    masked = recent_profiles(workspace, analyst)
    assert "new@example.com" not in masked.to_string() and list(masked["profile_id"]) == ["p2", "p1"]
