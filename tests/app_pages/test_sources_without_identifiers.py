"""The Sources screen loads a contacts file of names, birth dates and addresses (no email or phone)."""

import pytest
from tests.app_pages.sources_upload import upload

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

LEGACY = (b"Ref,First Name,Surname,Date of Birth,Address,Postcode\n"
          b"L1,Maria,Lopez,1980-03-04,12 Elm Road,AB1 2CD\n"
          b"L2,Maria,Lopes,1980-03-04,12 Elm Rd,AB1 2CD\n"
          b"L3,,,1975-01-02,4 Mill Lane,\n")


def test_a_names_dob_and_address_file_is_mapped_and_loaded(logged_in_app, app_env):
    at = logged_in_app("marketer", "app_pages/sources.py")
    upload(at, "Legacy CRM", "legacy.csv", LEGACY)
    assert not at.exception, at.exception
    at.button(key="src_load").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("Loaded into Legacy CRM: 2 of 3 rows" in s.value for s in at.success)
    assert sorted(r[0] for r in app_env.query_rows("SELECT last_name FROM contacts")) == ["Lopes", "Lopez"]
