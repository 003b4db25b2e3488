"""Household evidence: a phone shared by different first names joins nobody; explanations say so."""
import pytest
from engine.identity import resolve, review
from engine.identity.settings import save_settings
from tests.engine.identity_helpers import add_contacts, profile_of

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

LINE = "+44 20 7946 0111"


def _family(workspace):
    home = dict(last_name="Reed", phone=LINE)
    add_contacts(workspace, [
        dict(source="crm", source_record_id="al1", first_name="Al", email="al@reed.io", **home),
        dict(source="pos", source_record_id="al2", first_name="Al", **home),       # till: name and phone only
        dict(source="crm", source_record_id="bea", first_name="Bea", email="bea@reed.io", **home),
        dict(source="pos", source_record_id="cy", first_name="Cy", **home),
        # Control: a typo of one first name on one person's shared phone still joins.
        dict(source="crm", source_record_id="jon1", first_name="Jonathan", last_name="Pike", phone="+44 20 7946 0222"),
        dict(source="pos", source_record_id="jon2", first_name="Jonathon", last_name="Pike", phone="+44 20 7946 0222"),
    ])


def test_shared_landline_is_household_evidence_not_a_merge_key(workspace, admin):
    _family(workspace)
    stats = resolve(workspace, admin)
    assert stats["household_values"] == 1 and stats["household_records"] == 4
    assert profile_of(workspace, "crm", "al1") == profile_of(workspace, "pos", "al2")   # same first name: joined
    assert len({profile_of(workspace, s, r) for s, r in [("crm", "al1"), ("crm", "bea"), ("pos", "cy")]}) == 3
    assert profile_of(workspace, "crm", "jon1") == profile_of(workspace, "pos", "jon2")
    # The phone stays on a profile (for look-ups and erasure), as evidence.
    assert workspace.scalar("SELECT count(*) FROM profile_identifiers WHERE id_type = 'phone' "
                            "AND id_value = '+442079460111'") == 1
    resolve(workspace, admin)                                                        # a re-run agrees
    assert profile_of(workspace, "crm", "al1") != profile_of(workspace, "crm", "bea")


def test_explanation_says_who_shares_the_line(workspace, admin, analyst):
    _family(workspace)
    save_settings(workspace, admin, {"low_threshold": 0.0001, "high_threshold": 0.999})
    resolve(workspace, admin)
    key = workspace.scalar("""SELECT pair_key FROM identity_pairs WHERE
        (l_record_id = 'al1' AND r_record_id = 'bea') OR (l_record_id = 'bea' AND r_record_id = 'al1')""")
    assert key is not None
    said = review.explain(workspace, admin, key)["household"]
    assert said == ["Shares a phone with 3 people named Al, Bea and Cy: household evidence, not a merge key."]
    masked = review.explain(workspace, analyst, key)["household"]
    assert masked == ["Shares a phone with 3 people: household evidence, not a merge key."]
