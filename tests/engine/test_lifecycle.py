"""CRM lead stages in one lifecycle vocabulary: the workspace's macro against the Python reference,
and two CRMs' exports (HubSpot contacts, Salesforce leads) loaded without a mapping, read as one."""
from __future__ import annotations

import pytest

from engine.identity import resolve
from engine.ingest import ingest_file
from engine.lifecycle import PROFILE_LIFECYCLE, STAGE_CHANGES, STAGES, WORDS, lifecycle_stage

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

HUBSPOT_STAGES = {"subscriber": "subscriber", "lead": "lead", "marketingqualifiedlead": "marketing_qualified_lead",
                  "salesqualifiedlead": "sales_qualified_lead", "opportunity": "opportunity",
                  "customer": "customer", "evangelist": "evangelist", "other": "other"}
SALESFORCE_STATUSES = {"Open - Not Contacted": "lead", "Working - Contacted": "lead",
                       "Closed - Converted": "opportunity", "Closed - Not Converted": "disqualified"}
ODD = ["", "   ", None, "  Marketing_Qualified-Lead ", "CLOSED - WON", "Something else", "MQL"]


def _every_word():
    return [w for words in WORDS.values() for w in words] + list(HUBSPOT_STAGES) + list(SALESFORCE_STATUSES) + ODD


def test_the_vocabulary_reads_each_crm_word():
    assert {w: lifecycle_stage(w) for w in HUBSPOT_STAGES} == HUBSPOT_STAGES
    assert {w: lifecycle_stage(w) for w in SALESFORCE_STATUSES} == SALESFORCE_STATUSES
    assert lifecycle_stage("  Marketing_Qualified-Lead ") == "marketing_qualified_lead"
    assert lifecycle_stage("   ") is None and lifecycle_stage(None) is None
    assert set(WORDS) <= set(STAGES)
    every = [w for words in WORDS.values() for w in words]
    assert len(every) == len(set(every)), "a word must mean one stage"


def test_the_workspace_macro_matches_the_python_reference(workspace):
    words = _every_word()
    with workspace.connect() as con:
        got = con.execute("SELECT w, lifecycle_stage(w) FROM unnest(?::VARCHAR[]) AS t(w)", [words]).fetchall()
    assert {w: s for w, s in got} == {w: lifecycle_stage(w) for w in words}


HUBSPOT = ("Record ID,First Name,Last Name,Email,Lifecycle Stage,Create Date\n"
           "101,Ann,Lee,ann@mailbox.org,marketingqualifiedlead,2026-01-05 10:00\n"
           "102,Bob,Ray,bob@mailbox.org,customer,2026-01-06 10:00\n"
           "103,Cy,Orr,cy@mailbox.org,lead,2026-01-07 10:00\n")
SALESFORCE = ("Lead ID,First Name,Last Name,Email,Company,Lead Status,Created Date\n"
              "00Q1,Dee,Fox,dee@mailbox.org,Acme,Open - Not Contacted,2026-01-08\n"
              "00Q2,Eve,Gale,eve@mailbox.org,Acme,Closed - Converted,2026-01-09\n"
              "00Q3,Fay,Hart,fay@mailbox.org,Acme,Working - Contacted,2026-01-10\n")


@pytest.fixture
def two_crms(workspace, admin, tmp_path):
    for name, text, source in (("hubspot.csv", HUBSPOT, "hubspot"), ("salesforce_leads.csv", SALESFORCE, "salesforce")):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = ingest_file(workspace, admin, "contacts", path, source)
        assert result.rows_loaded == 3 and result.mapping.get("Lifecycle Stage", result.mapping.get("Lead Status")) \
            == "lead_stage"
    resolve(workspace, admin)
    return workspace


def test_two_crms_load_into_one_vocabulary_with_the_raw_word_kept(two_crms):
    rows = dict(two_crms.query_rows("SELECT email, lead_stage || ' -> ' || lifecycle_stage FROM contacts"))
    assert rows == {"ann@mailbox.org": "marketingqualifiedlead -> marketing_qualified_lead",
                    "bob@mailbox.org": "customer -> customer", "cy@mailbox.org": "lead -> lead",
                    "dee@mailbox.org": "Open - Not Contacted -> lead",
                    "eve@mailbox.org": "Closed - Converted -> opportunity",
                    "fay@mailbox.org": "Working - Contacted -> lead"}
    leads = two_crms.query_rows(
        f"SELECT p.email, l.source FROM {PROFILE_LIFECYCLE} l JOIN profiles p USING (profile_id) "
        "WHERE l.lifecycle_stage = 'lead' ORDER BY 1")
    assert leads == [("cy@mailbox.org", "hubspot"), ("dee@mailbox.org", "salesforce"),
                     ("fay@mailbox.org", "salesforce")]


def test_a_changed_stage_is_read_again_and_the_latest_record_is_current(two_crms, admin, tmp_path):
    path = tmp_path / "hubspot.csv"
    path.write_text(HUBSPOT.replace("103,Cy,Orr,cy@mailbox.org,lead", "103,Cy,Orr,cy@mailbox.org,salesqualifiedlead"),
                    encoding="utf-8")
    ingest_file(two_crms, admin, "contacts", path, "hubspot")
    resolve(two_crms, admin)
    assert two_crms.query_rows("SELECT lead_stage, lifecycle_stage FROM contacts WHERE email = 'cy@mailbox.org'") == [
        ("salesqualifiedlead", "sales_qualified_lead")]
    assert two_crms.scalar(f"SELECT count(*) FROM {PROFILE_LIFECYCLE} WHERE lifecycle_stage = 'lead'") == 2
    assert two_crms.query_rows(f"SELECT stage, previous_lifecycle_stage, lifecycle_stage FROM {STAGE_CHANGES} "
                               "WHERE previous_stage IS NOT NULL") == [("salesqualifiedlead", "lead", "sales_qualified_lead")]
