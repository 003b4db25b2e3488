"""The one phone rule: its Python and SQL forms agree, it agrees with libphonenumber on real
numbers, and ingest, identity, privacy and activation all hash a national number alike."""
import duckdb
import phonenumbers
import pytest

from engine.ingest import ingest_file
from engine.phones import e164, e164_sql, region_rule, workspace_region

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

REGIONS = ("US", "GB", "DE", "FR", "AU", "CA", "IN")
TYPED = ["(415) 555-0100", "415.555.0100", "1 415 555 0100", "+1 415 555 0100", "+44 7700 900123",
         "07700 900123", "0044 7700 900123", "011 44 20 7946 0000", "020 7946 0000", "030 123456",
         "06 12 34 56 78", "0412 345 678", "98765 43210", "12", "n/a", "+1", "", "   ", None,
         "555-0123 ext 4", "+49 30 123456", "00000000000000000000", "+4930123456789012",
         "+44 (0)7700 900123", "+4407700900123", "0044 (0) 7700 900123", "+353 (0)86 123 4567", "+39 06 1234 5678"]


def _sql(values, region):
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER, v VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
    return [r[0] for r in con.execute(f"SELECT {e164_sql('v', region)} FROM t ORDER BY i").fetchall()]


@pytest.mark.parametrize("region", REGIONS)
def test_sql_and_python_agree(region):
    assert _sql(TYPED, region) == [e164(v, region) for v in TYPED]


@pytest.mark.parametrize("region", REGIONS)
def test_agrees_with_libphonenumber_on_real_numbers(region):
    typed, expected = [], []
    for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
        number = phonenumbers.example_number_for_type(region, kind)
        for fmt in (phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.INTERNATIONAL):
            typed.append(phonenumbers.format_number(number, fmt))
            expected.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    assert [e164(v, region) for v in typed] == expected
    assert _sql(typed, region) == expected


def test_the_trunk_zero_written_after_a_calling_code_is_dropped():
    # '+44 (0)...' is how a British number is often written; libphonenumber reads it as one number
    for typed in ("+44 (0)7700 900123", "+4407700900123", "0044 07700 900123"):
        expected = phonenumbers.format_number(phonenumbers.parse(typed, "GB"), phonenumbers.PhoneNumberFormat.E164)
        assert e164(typed, "US") == expected == "+447700900123"
    assert e164("+39 06 1234 5678", "GB") == "+390612345678"   # Italy dials no trunk prefix: its 0 stays
    assert _sql(["+353 (0)86 123 4567"], "GB") == ["+353861234567"]


def test_national_numbers_need_the_region():
    assert e164("07700 900123", "GB") == "+447700900123"
    assert e164("07700 900123", "US") is None          # not a US number: no phone, not a wrong one
    assert e164("(415) 555-0100", "US") == "+14155550100"
    with pytest.raises(ValueError):
        region_rule("XX")


def test_workspace_region_follows_identity_settings(workspace, admin):
    from engine.identity.settings import save_settings

    assert workspace_region(workspace) == "US"
    save_settings(workspace, admin, {"default_region": "GB"})
    assert workspace_region(workspace) == "GB"
    with workspace.connect() as con:
        assert workspace_region(con) == "GB"


def _gb_workspace_suppressing(workspace, admin, phone: str) -> None:
    """A workspace in the GB region whose suppression list holds `phone`, hashed as privacy does."""
    from engine.identity.settings import save_settings
    from engine.privacy.identifiers import identifier_hash

    save_settings(workspace, admin, {"default_region": "GB"})
    with workspace.transaction() as con:
        con.execute("INSERT INTO suppressions (id_type, id_hash, reason) VALUES ('phone', ?, 'test')",
                    [identifier_hash("phone", phone, "GB")])


def test_suppressed_national_phone_is_quarantined_at_ingest(workspace, admin, tmp_path):
    """The privacy hash of a national number and ingest's SQL check are one rule."""
    _gb_workspace_suppressing(workspace, admin, "07700 900123")
    path = tmp_path / "again.csv"
    path.write_text("id,first_name,last_name,phone\nr1,Zeb,Quill,07700900123\nr2,Ann,Lee,07700 900999\n")
    result = ingest_file(workspace, admin, "contacts", path, "Shop", id_column="id")
    assert result.rows_loaded == 1 and result.rows_quarantined == 1
    assert workspace.query_rows("SELECT reason, raw FROM quarantine") == [
        ("suppressed", "(withheld: suppressed person)")]


def test_suppressed_national_phone_on_an_event_is_not_loaded(workspace, admin, tmp_path):
    _gb_workspace_suppressing(workspace, admin, "+44 7700 900123")
    path = tmp_path / "web.ndjson"
    path.write_text('{"type":"identify","userId":"u9","messageId":"m1","traits":{"phone":"07700 900123"}}\n'
                    '{"type":"identify","userId":"u8","messageId":"m2","traits":{"phone":"07700 900999"}}\n')
    ingest_file(workspace, admin, "events", path, "Web")
    assert workspace.query_rows("SELECT message_id FROM events") == [("m2",)]
    assert workspace.query_rows("SELECT reason FROM quarantine") == [("suppressed",)]
