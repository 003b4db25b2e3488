"""People without email or phone: a name with a date of birth or a place is enough to load
(matched fuzzily); a row or a file with nothing that could ever match is refused."""
import pytest

from engine.identity import resolve
from engine.ingest import IngestError, ingest_file
from tests.engine.identity_helpers import profile_of

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def _write(tmp_path, text: str):
    path = tmp_path / "people.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_names_only_mapping_is_refused_with_what_would_do(workspace, admin, tmp_path):
    path = _write(tmp_path, "Ref,First Name,Surname,Colour\nA1,Ann,Lee,red\n")
    with pytest.raises(IngestError, match="or a name .* and one of date_of_birth"):
        ingest_file(workspace, admin, "contacts", path, "legacy", id_column="Ref")


def test_consents_still_need_an_identifier(workspace, admin, tmp_path):
    path = _write(tmp_path, "Ref,First Name,Surname,Date of Birth,Purpose,Granted\nA1,Ann,Lee,1980-01-02,email,yes\n")
    with pytest.raises(IngestError, match="Map at least one column to an identifier") as err:
        ingest_file(workspace, admin, "consents", path, "legacy", id_column="Ref")
    assert "or a name" not in str(err.value)


def test_subscriptions_by_name_and_postcode_load_and_join_the_contact(workspace, admin, tmp_path):
    contacts = _write(tmp_path, "Ref,Email,First Name,Surname,Postcode,Date of Birth\n"
                      "C1,ann@x.io,Ann,Lee,AB1 2CD,1980-01-02\nC2,bo@x.io,Bo,Kent,ZZ9 9ZZ,1971-05-06\n")
    ingest_file(workspace, admin, "contacts", contacts, "crm", id_column="Ref")
    subs = tmp_path / "subs.csv"
    subs.write_text("Subscription,First Name,Surname,Postcode,Date of Birth,Plan\n"
                    "S1,Ann,Lee,AB1 2CD,1980-01-02,gold\n"
                    "S2,,,AB1 2CD,1980-01-02,gold\n", encoding="utf-8")
    result = ingest_file(workspace, admin, "subscriptions", subs, "till", id_column="Subscription")
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    reason = workspace.scalar("SELECT reason FROM quarantine WHERE source = 'till'")
    assert reason.startswith("no usable identifier") and "a name with a date of birth" in reason
    stats = resolve(workspace, admin)
    assert stats["pairs_scored"] >= 1
    assert workspace.scalar("SELECT count(*) FROM identity_pairs WHERE l_source = 'till' OR r_source = 'till'") >= 1
    assert profile_of(workspace, "till", "S1") is not None
