"""Mapping suggestions from header names and from values; date and money conventions per column."""
import duckdb
import pytest

from engine.ingest.mapping import as_mapping, normalise_header, suggest_mapping
from engine.ingest.validate import infer_formats


def table(con, columns, rows):
    quoted = ", ".join(f'"{c}" VARCHAR' for c in columns)
    con.execute(f"CREATE TABLE t (_row BIGINT, {quoted})")
    for i, row in enumerate(rows, 1):
        con.execute(f"INSERT INTO t VALUES (?, {', '.join('?' * len(row))})", [i, *row])
    return "t"


def test_headers_in_many_spellings():
    assert normalise_header(" firstName ") == "first name"
    assert normalise_header("E_MAIL-Address") == "e mail address"


def test_suggestion_from_headers_and_values():
    con = duckdb.connect()
    columns = ["Cust #", "eMail", "Tel.", "Given name", "Family Name", "Zip", "Birthday",
               "Deal Size", "contact", "Notes"]
    rows = [["K1", "a@x.com", "+44 20 7946 0958", "Ann", "Lee", "LS1 4AB", "1990-01-02", "1,200", "z@y.com", "hi"],
            ["K2", "b@x.com", "020 7946 0959", "Bo", "Ng", "90210", "1991-02-03", "300", "q@y.com", ""]]
    mapping = as_mapping(suggest_mapping(con, table(con, columns, rows), columns, "contacts"))
    assert mapping["eMail"] == "email"
    assert mapping["Tel."] == "phone"
    assert mapping["Given name"] == "first_name" and mapping["Family Name"] == "last_name"
    assert mapping["Zip"] == "postcode" and mapping["Birthday"] == "date_of_birth"
    assert mapping["Deal Size"] == "deal_value"
    assert mapping["Notes"] is None
    assert mapping["contact"] is None       # emails, but email is taken by a better column


def test_values_win_when_the_header_says_nothing():
    con = duckdb.connect()
    columns = ["col_a", "col_b"]
    rows = [["a@x.com", "x"], ["b@x.com", "y"], ["c@x.com", "z"]]
    mapping = as_mapping(suggest_mapping(con, table(con, columns, rows), columns, "contacts"))
    assert mapping == {"col_a": "email", "col_b": None}


def test_a_header_whose_values_disagree_is_not_trusted():
    con = duckdb.connect()
    columns = ["email", "order date", "total"]
    rows = [["yes", "2024-01-01", "12.5"], ["no", "2024-01-02", "3"]]
    mapping = as_mapping(suggest_mapping(con, table(con, columns, rows), columns, "orders"))
    assert mapping["order date"] == "ordered_at" and mapping["total"] == "amount"
    assert mapping["email"] == "email"       # an exact header still wins, values are then validated


def test_saved_mapping_reused_only_for_the_same_shape():
    con = duckdb.connect()
    columns = ["a", "b"]
    tbl = table(con, columns, [["x@y.com", "1"]])
    saved = {"a": "email", "b": "customer_id"}
    assert as_mapping(suggest_mapping(con, tbl, columns, "contacts", saved=saved)) == saved
    partly = {"a": "email", "zzz": "phone"}
    got = as_mapping(suggest_mapping(con, tbl, columns, "contacts", saved=partly))
    assert got["a"] == "email"


@pytest.mark.parametrize("values, order", [
    (["05/01/2024", "13/01/2024"], "dmy"),
    (["05/01/2024", "01/13/2024"], "mdy"),
    (["2024-01-05", "2024-01-13"], "dmy"),
])
def test_day_month_order_inferred_per_column(values, order):
    con = duckdb.connect()
    table(con, ["d"], [[v] for v in values])
    assert infer_formats(con, "t", {"d": "date"})["d"].date_order == order


def test_ambiguous_dates_are_flagged():
    con = duckdb.connect()
    table(con, ["d"], [["05/01/2024"], ["06/02/2024"]])
    assert infer_formats(con, "t", {"d": "timestamp"})["d"].ambiguous_dates


def test_decimal_comma_inferred():
    con = duckdb.connect()
    table(con, ["m"], [["12,50 €"], ["1.234,00"], ["3"]])
    assert infer_formats(con, "t", {"m": "money"})["m"].decimal_comma


def test_iso_timestamps_read_fast_give_the_full_chain_answer():
    """A column of zone-less ISO date-times reads them with one format first; every value, with a
    zone or not, must come out as the full chain reads it."""
    from engine.ingest.validate import timestamp_sql

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    values = ["2023-01-01 10:00:00", "2023-01-01 10:00:00+01", "2023-01-01T10:00:00Z", "2023-01-01 10:00",
              "2023-01-01 10:00:00 UTC", "2023-01-01 10:00:00-05:00", "2023-01-01 10:00:00 Europe/Paris",
              "2023-01-01T10:00", "2023-1-1 1:2:3", "1999-12-31 24:00:00", "2023-02-30 10:00:00",
              "0999-01-01 10:00:00", "2023-01-01 10:00:00.25", "31/12/2023 10:00", "1700000000", None]
    table(con, ["ts"], [[v] for v in ["2024-03-01 08:30:00"] * 20 + values])
    fmt = infer_formats(con, "t", {"ts": "timestamp"})["ts"]
    assert fmt.fast == "%Y-%m-%d %H:%M:%S"
    rows = con.execute(f"SELECT ts, {timestamp_sql('ts')}, {timestamp_sql('ts', fast=fmt.fast)} FROM t").fetchall()
    assert [(v, fast) for v, _, fast in rows] == [(v, full) for v, full, _ in rows]
    assert dict((v, fast) for v, _, fast in rows)["2023-01-01 10:00:00+01"].hour == 9


@pytest.mark.parametrize("text, expected", [
    ("+44 20 7123 4567", "+442071234567"), ("0044 20 7123 4567", "+442071234567"),
    ("+ 44 20 7123 4567", "+442071234567"), ("0 044 1234567", "00441234567"),
    ("020 7123 4567", "02071234567"), ("+1 (555) 123-4567", "+15551234567"), ("555.123.4567", "5551234567"),
    ("1234567", "1234567"), ("123456", None), ("123456789012345", "123456789012345"),
    ("1234567890123456", None), ("+", None), ("++441234567", "+441234567"), ("12 34 56 7", "1234567"),
    ("+4420 7123 4567 ext 5", None), ("abc", None),
])
def test_phones_typed(text, expected):
    from engine.ingest.validate import phone_sql

    assert duckdb.connect().execute(f"SELECT {phone_sql('t')} FROM (SELECT ? AS t)", [text]).fetchone()[0] == expected


@pytest.mark.parametrize("order", ["dmy", "mdy"])
def test_usual_date_format_first_gives_the_full_chain_answer(order):
    """Reading a column's usual day/month format first (and calling a value of exactly its shape
    that the format fails unreadable) must give every value the answer of the full chain."""
    from engine.ingest.validate import _DATE_ONLY, date_sql, timestamp_sql

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    numbers = [str(i) for i in range(10)] + [f"{i:02d}" for i in range(40)] + ["99"]
    for fast in sorted(f for f in _DATE_ONLY if f.startswith("%d" if order == "dmy" else "%m")):
        sep = fast[2]
        con.execute("CREATE OR REPLACE TABLE x AS SELECT a || ? || b || ? || y AS t FROM unnest(?) a(a), "
                    "unnest(?) b(b), unnest(['0999', '1990', '2024']) y(y)", [sep, sep, numbers, numbers])
        con.execute("INSERT INTO x VALUES ('2024-01-31'), ('31 Jan 2024'), (NULL), ('1/2/24')")
        for build in (date_sql, timestamp_sql):
            differ = con.execute(f"SELECT count(*), any_value(t) FROM x WHERE {build('t', order, fast=fast)} "
                                 f"IS DISTINCT FROM {build('t', order)}").fetchone()
            assert differ == (0, None), (fast, build.__name__, differ)
