"""Normalisers: each Python function, and the SQL builders agree with them."""
from datetime import date

import duckdb
import jellyfish
import pytest

from engine.identity import normalise as N
from engine.identity.guards import is_junk
from engine.identity.settings import DEFAULTS


def sql(expr_builder, value):
    return duckdb.execute(f"SELECT {expr_builder('v')} FROM (SELECT CAST(? AS VARCHAR) AS v)", [value]).fetchall()[0][0]


@pytest.mark.parametrize("raw, expected", [
    ("  Ann.Lee@Example.COM ", "ann.lee@example.com"),
    ("not an email", None),
    ("a@b", None),
    (None, None),
])
def test_email(raw, expected):
    assert N.normalise_email(raw) == expected
    if raw is not None:
        assert sql(N.email_sql, raw) == expected


@pytest.mark.parametrize("raw, key", [
    ("J.Doe+promo@gmail.com", "jdoe@gmail.com"),
    ("jdoe@googlemail.com", "jdoe@gmail.com"),
    ("j.doe+x@work.org", "j.doe@work.org"),
])
def test_email_match_key(raw, key):
    assert N.email_match_key(raw) == key
    normalised = N.normalise_email(raw)
    assert sql(N.email_key_sql, normalised) == key


@pytest.mark.parametrize("raw, region, expected", [
    ("(415) 555-0100", "US", "+14155550100"),
    ("415.555.0100", "US", "+14155550100"),
    ("+44 7700 900123", "US", "+447700900123"),
    ("07700 900123", "GB", "+447700900123"),
    ("0044 7700 900123", "US", "+447700900123"),
    ("12", "US", None),
    ("n/a", "US", None),
])
def test_phone(raw, region, expected):
    assert N.normalise_phone(raw, region) == expected


@pytest.mark.parametrize("raw, expected", [
    ("  O'Brien-Smith ", "obrien smith"),
    ("ZOË", "zoe"),
    ("José  María", "jose maria"),
    ("---", None),
])
def test_name(raw, expected):
    assert N.normalise_name(raw) == expected
    assert sql(N.name_sql, raw) == expected


def test_nickname_key():
    assert N.first_name_key("Bobby") == "robert"
    assert N.first_name_key("Liz") == "elizabeth"
    assert N.first_name_key("Xavier") == "xavier"
    assert N.first_name_key("Jo", {"jo": "joanna"}) == "joanna"


@pytest.mark.parametrize("raw, expected", [
    ("12, Main Street.", "12 main st"),
    ("12 MAIN ST", "12 main st"),
    ("4 North Road Apartment 5", "4 n rd apt 5"),
    ("21st Avenue", "21 ave"),
])
def test_address(raw, expected):
    assert N.normalise_address(raw) == expected
    assert sql(N.address_sql, raw) == expected


@pytest.mark.parametrize("raw, expected", [("sw1a 1aa", "SW1A1AA"), ("94105-1234", "94105"), (" 02139 ", "02139")])
def test_postcode(raw, expected):
    assert N.normalise_postcode(raw) == expected
    assert sql(N.postcode_sql, raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("1990-03-04", date(1990, 3, 4)),
    ("04/03/1990", date(1990, 3, 4)),
    ("13/25/1990", None),
    ("03/25/1990", date(1990, 3, 25)),
    ("4 March 1990", date(1990, 3, 4)),
    ("March 4, 1990", date(1990, 3, 4)),
    ("1850-01-01", None),
    ("garbage", None),
])
def test_dob(raw, expected):
    assert N.parse_dob(raw) == expected
    assert sql(N.dob_sql, raw) == expected


@pytest.mark.parametrize("name", ["robert", "rupert", "tymczak", "pfister", "ashcraft", "lee", "honeyman", "washington"])
def test_soundex_agrees_with_jellyfish_and_sql(name):
    assert N.soundex(name) == jellyfish.soundex(name).lower()
    assert sql(N.soundex_sql, name) == N.soundex(name)


@pytest.mark.parametrize("value, junk", [
    ("test@test.com", True), ("noemail@example.com", True), ("+10000000000", True),
    ("anonymous", True), ("-1", True), ("ann@shop.io", False), ("+14155550100", False),
])
def test_junk_values(value, junk):
    assert is_junk(value, DEFAULTS) is junk
