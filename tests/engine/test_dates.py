"""Uploads and dates of birth read the same date shapes (engine.dates), and read them alike."""
from __future__ import annotations

from datetime import date

import duckdb
import pytest

from engine import dates
from engine.identity.normalise import DOB_FORMATS, dob_sql, parse_dob
from engine.ingest import validate

DAY = date(1987, 11, 23)          # day > 12: the day-first and US readings cannot both succeed
SHAPES = [*dates.DAY_FIRST, *dates.YEAR_FIRST, *dates.NAMED_MONTH]


def test_every_shared_shape_is_in_both_lists():
    for shape in SHAPES:
        assert shape in DOB_FORMATS
        assert shape in validate._DAY_FIRST + validate._OTHER
    for shape in dates.DAY_FIRST:
        assert dates.month_first(shape) in [dates.month_first(f) for f in validate._DAY_FIRST]


@pytest.mark.parametrize("shape", SHAPES)
def test_python_and_duckdb_read_each_shape_as_the_same_day(shape):
    text = DAY.strftime(shape)
    con = duckdb.connect()
    assert parse_dob(text) == DAY
    assert con.execute(f"SELECT {dob_sql('$v')}", {"v": text}).fetchone()[0] == DAY
    upload = con.execute(f"SELECT CAST(try_strptime($v, {validate._formats('dmy')}) AS DATE)",
                         {"v": text}).fetchone()[0]
    assert upload == DAY


def test_month_first_swaps_day_and_month_only():
    assert dates.month_first("%d/%m/%Y %H:%M") == "%m/%d/%Y %H:%M"
    assert dates.month_first(dates.month_first("%d.%m.%Y")) == "%d.%m.%Y"
