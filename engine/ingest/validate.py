"""Typing text values as SQL expressions over the staging table (no per-row Python).

Each builder takes a SQL expression holding the trimmed text of a column (NULL
when empty) and returns the SQL of the typed value, NULL when the text cannot be
read as that type. Column-level choices that cannot be made value by value
(DD/MM vs MM/DD, decimal comma vs decimal point) are inferred once per column by
`infer_formats` from the whole column, then baked into the expressions.

Conventions: times without a timezone are read as UTC; dates of birth must lie
between 1900 and today; phones keep a leading '+' and their digits.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.dates import DAY_FIRST, NAMED_MONTH, YEAR_FIRST, month_first, with_times
from engine.identifiers import EMAIL_FIELD
from engine.sql_names import quote_name


def trimmed(column_sql: str) -> str:
    """The value with surrounding spaces (no-break spaces too) removed; NULL when nothing is left.

    Most values need nothing done, and three byte checks are far cheaper than rewriting
    every string, so only values with a space at either end or a no-break space anywhere
    are rewritten (no-break spaces to spaces, then trimmed).
    """
    c = column_sql
    # (LIKE with one wildcard measured a fifth cheaper than starts_with/ends_with here.)
    return (f"CASE WHEN {c} LIKE '% ' OR {c} LIKE ' %' OR {c} = '' OR contains({c}, chr(160)) "
            f"THEN NULLIF(trim(replace({c}, chr(160), ' ')), '') ELSE {c} END")


def email_sql(t: str) -> str:
    # lower() first, then a 'mailto:' prefix cut by position: no regex rewrite of every value.
    low = f"lower({t})"
    v = f"CASE WHEN starts_with({low}, 'mailto:') THEN {low}[8:] ELSE {low} END"
    return f"CASE WHEN regexp_full_match({v}, '{EMAIL_FIELD}') THEN {v} END"


# The punctuation a phone number may contain; everything else must be a digit.
_PHONE_PUNCTUATION = (" ", "(", ")", ".", "/", "+", "-")


def phone_sql(t: str) -> str:
    """Digits (7 to 15 of them), '+' kept for international numbers ('00' read as '+').

    Most numbers hold only digits, spaces and a leading '+': dropping the spaces gives the
    answer. Anything else has the allowed punctuation removed with plain replace() and must
    then be digits only (the same answer as stripping non-digits and checking for stray
    characters with regular expressions, at a fraction of the cost); that branch is a lambda
    so DuckDB does not compute it in advance for every row.
    """
    every = "d"
    for ch in _PHONE_PUNCTUATION:
        every = f"replace({every}, '{ch}', '')"
    general = (f"list_transform([{t}], lambda d: list_transform([{every}], lambda e: "
               f"CASE WHEN regexp_full_match(e, '[0-9]{{7,15}}') THEN CASE WHEN starts_with(d, '00') THEN '+' || e[3:] "
               f"WHEN starts_with(d, '+') THEN '+' || e ELSE e END END)[1])[1]")
    bare = f"replace({t}, ' ', '')"   # '+' and 7 to 15 digits
    simple = f"CASE WHEN starts_with({t}, '00') THEN '+' || {bare}[3:] ELSE {bare} END"
    # One match checks the characters and counts the digits (a count out of range fails the
    # general branch too); counting them with length() after the match cost as much again.
    return f"CASE WHEN regexp_full_match({t}, '\\+? *(?:[0-9] *){{7,15}}') THEN {simple} ELSE {general} END"


_DAY_FIRST = [f for d in DAY_FIRST for f in with_times(d)] + ["%d/%m/%y", "%d.%m.%y", "%d/%m/%Y %I:%M %p"]
_OTHER = [YEAR_FIRST[0], *with_times(YEAR_FIRST[1]), "%Y-%m-%d %H:%M", "%Y.%m.%d", *NAMED_MONTH[:2],
          "%d-%b-%Y", "%d-%b-%y", "%d %b %Y %H:%M", *NAMED_MONTH[2:], "%a, %d %b %Y %H:%M:%S",
          "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


def _formats(order: str) -> str:
    day_first = _DAY_FIRST if order == "dmy" else [month_first(f) for f in _DAY_FIRST]
    return "[" + ", ".join(f"'{f}'" for f in day_first + _OTHER) + "]"


_HAS_TZ = "'\\d:\\d{2}(:\\d{2}(\\.\\d+)?)?\\s*(Z|z|[+-]\\d{2}(:?\\d{2})?|UTC|GMT)$'"


def _naive_sql(t: str, order: str) -> str:
    """A TIMESTAMP (no zone) from ISO text, a list of day/month formats, or epoch seconds/ms."""
    return (f"COALESCE(TRY_CAST({t} AS TIMESTAMP), try_strptime({t}, {_formats(order)}), "
            f"CASE WHEN regexp_full_match({t}, '1\\d{{9}}') THEN CAST(to_timestamp(CAST({t} AS BIGINT)) AT TIME ZONE 'UTC' AS TIMESTAMP) "
            f"WHEN regexp_full_match({t}, '1\\d{{12}}') THEN CAST(to_timestamp(CAST({t} AS BIGINT) / 1000) AT TIME ZONE 'UTC' AS TIMESTAMP) END)")


def _fast_sql(t: str, fast: str | None) -> str | None:
    """The TIMESTAMP of t read with the column's usual format, when it has one (see infer_formats).

    Failed casts are what make date typing slow: a DD/MM/YYYY value first fails two ISO casts
    before the format list reads it. A value this one format reads with a four-digit year is
    read the same way by the full chain (an ISO cast would take its day for a year and its
    year for a day, and no earlier format in the list matches its separators and length), so
    trying it first changes no answer. The same holds for the ISO shapes (_ISO_SHAPES): a value
    one of them reads whole has no zone, which is exactly when the ISO cast reads it as UTC too.
    The format comes from a fixed list, never from input.
    """
    if fast is None:
        return None
    assert fast in FAST_FORMATS, fast
    p = f"try_strptime({t}, '{fast}')"
    return f"CASE WHEN year({p}) >= 1000 THEN {p} END"


def _unless_settled(t: str, fast: str | None, rest: str) -> str:
    """rest, except for a value already settled as unreadable: one the column's usual date-only
    day/month format failed although the value has exactly its shape ('31/02/1990'). No cast or
    format in the chain reads such a value either (tests/engine/test_ingest_mapping.py checks
    every day and month number), and the chain tries some thirty formats on it, so the answer
    is known without them."""
    if fast not in _DATE_ONLY:
        return rest
    sep = "\\" + fast[2]
    return f"CASE WHEN regexp_full_match({t}, '\\d{{1,2}}{sep}\\d{{1,2}}{sep}[1-9]\\d{{3}}') THEN NULL ELSE {rest} END"


def timestamp_sql(t: str, order: str = "dmy", fast: str | None = None) -> str:
    """ISO text (with or without a zone) by a plain cast, which needs the session in UTC (see
    common.utc_session); anything else through the day/month formats, read as UTC."""
    zoned = f"regexp_replace({t}, '\\s+(Z|z|[+-]\\d{{2}}(:?\\d{{2}})?|UTC|GMT)$', '\\1')"  # '10:00 +0100'
    full = (f"COALESCE(TRY_CAST({t} AS TIMESTAMPTZ), "
            f"CASE WHEN regexp_matches({t}, {_HAS_TZ}) THEN TRY_CAST({zoned} AS TIMESTAMPTZ) "
            f"ELSE timezone('UTC', {_naive_sql(t, order)}) END)")
    quick = _fast_sql(t, fast)
    return f"COALESCE({utc_sql(quick)}, {_unless_settled(t, fast, full)})" if quick else full


def utc_sql(naive: str) -> str:
    """A TIMESTAMP (no zone) read as UTC, as TIMESTAMPTZ: through its epoch microseconds, which
    skips the time-zone library that timezone('UTC', ...) goes through (a third of the cost)."""
    return f"make_timestamptz(epoch_us({naive}))"


def date_sql(t: str, order: str = "dmy", birth: bool = False, fast: str | None = None) -> str:
    value = f"COALESCE(TRY_CAST({t} AS DATE), CAST({_naive_sql(t, order)} AS DATE))"
    quick = _fast_sql(t, fast)
    if quick:
        value = f"COALESCE(CAST({quick} AS DATE), {_unless_settled(t, fast, value)})"
    if birth:
        return f"CASE WHEN {value} BETWEEN DATE '1900-01-01' AND current_date THEN {value} END"
    return value


def _money_text(t: str) -> str:
    """Text with currency symbols and codes, spaces and apostrophes removed."""
    return f"regexp_replace(upper({t}), '[A-Z]{{1,2}}\\$|[A-Z]{{3}}|[\\s$€£¥₹\\x27]', '', 'g')"


def money_sql(t: str, decimal_comma: bool = False) -> str:
    """The amount in money text: symbols, codes and spaces dropped, '(12)' and '12-' negative.

    The clean-up is written as a lambda over the one cleaned text so that DuckDB evaluates
    it only for the values that need it: written out, the cleaned text appears four times
    and DuckDB's common-subexpression pass would compute it for every row in advance.
    """
    negative = "(regexp_matches(s, '^\\(.*\\)$') OR regexp_matches(s, '^-|-$'))"
    digits = "regexp_replace(s, '[()+\\-]', '', 'g')"
    number = (f"replace(replace({digits}, '.', ''), ',', '.')" if decimal_comma
              else f"replace({digits}, ',', '')")
    ok = "regexp_full_match(s, '[-+]?\\(?[-+]?[0-9][0-9.,]*\\)?-?')"
    general = (f"list_transform([{_money_text(t)}], lambda s: CASE WHEN {ok} THEN "
               f"(CASE WHEN {negative} THEN -1 ELSE 1 END) * TRY_CAST({number} AS DOUBLE) END)[1]")
    if decimal_comma:
        return general
    # Plain numbers ('12.5', '-3') skip the clean-up; COALESCE only evaluates the rest for the others.
    plain = f"TRY_CAST({t} AS DOUBLE)"
    return f"COALESCE(CASE WHEN isfinite({plain}) THEN {plain} END, {general})"


def currency_from_money_sql(t: str) -> str:
    """The currency a money text names by symbol or ISO code, if any."""
    return (f"CASE WHEN contains({t}, '€') THEN 'EUR' WHEN contains({t}, '£') THEN 'GBP' "
            f"WHEN contains({t}, '¥') THEN 'JPY' WHEN contains({t}, '₹') THEN 'INR' "
            f"WHEN regexp_matches(upper({t}), '(^|[^A-Z])([A-Z]{{3}})([^A-Z]|$)') "
            f"THEN regexp_extract(upper({t}), '(^|[^A-Z])([A-Z]{{3}})([^A-Z]|$)', 2) "
            f"WHEN contains({t}, '$') THEN 'USD' END")


def integer_sql(t: str) -> str:
    number = f"TRY_CAST(replace(replace({t}, ',', ''), ' ', '') AS DOUBLE)"
    return f"CASE WHEN {number} = floor({number}) AND abs({number}) < 2147483647 THEN CAST({number} AS INTEGER) END"


TRUE_WORDS = ("true", "t", "yes", "y", "1", "granted", "opt-in", "opt in", "opted in", "optin",
              "subscribed", "agree", "agreed", "accepted", "allow", "allowed", "on", "x", "consented")
FALSE_WORDS = ("false", "f", "no", "n", "0", "denied", "opt-out", "opt out", "opted out", "optout",
               "unsubscribed", "withdrawn", "revoked", "declined", "rejected", "refused", "off",
               "disallowed")


def boolean_sql(t: str) -> str:
    words_true = ", ".join(f"'{w}'" for w in TRUE_WORDS)
    words_false = ", ".join(f"'{w}'" for w in FALSE_WORDS)
    return (f"CASE WHEN lower({t}) IN ({words_true}) THEN true "
            f"WHEN lower({t}) IN ({words_false}) THEN false END")


def json_sql(t: str) -> str:
    return f"CASE WHEN json_valid({t}) THEN json({t}) END"


INFER_SAMPLE = 100_000
SHAPE_SAMPLE = 10_000


@dataclass
class ColumnFormat:
    """What was inferred about one column's values."""

    date_order: str = "dmy"          # dmy | mdy
    ambiguous_dates: bool = False    # slash dates seen, none decides the order
    decimal_comma: bool = False
    fast: str | None = None          # the day/month format most values follow (FAST_FORMATS)


# Shapes of day/month text (digit runs of 1-2 as N, of 4 as Y) and the format reading them,
# day first; a column whose values mostly have one shape reads that format before the others.
_SHAPES = {f"N{sep}N{sep}Y{time}": f"%d{sep}%m{sep}%Y{clock}"
           for sep in "/-." for time, clock in (("", ""), (" N:N", " %H:%M"), (" N:N:N", " %H:%M:%S"))}
# ISO date-times without a zone: one format reads them at a third of the cost of the ISO cast to
# TIMESTAMPTZ (which must look for a zone); a value with a zone fails it and takes the full chain.
_ISO_SHAPES = {f"Y-N-N{sep}N:N{secs}": f"%Y-%m-%d{sep}%H:%M{clock}"
               for sep in (" ", "T") for secs, clock in (("", ""), (":N", ":%S"))}
_DATE_ONLY = {f"%{a}{sep}%{b}{sep}%Y" for sep in "/-." for a, b in ("dm", "md")}
FAST_FORMATS = (set(_SHAPES.values()) | set(_ISO_SHAPES.values())
                | {month_first(f) for f in _SHAPES.values()})


def _shape_sql(t: str) -> str:
    return f"regexp_replace(regexp_replace({t}, '\\d{{4}}', 'Y', 'g'), '\\d{{1,2}}', 'N', 'g')"


def infer_formats(con, table: str, columns: dict[str, str]) -> dict[str, ColumnFormat]:
    """Infer DD/MM vs MM/DD and decimal comma for columns {name: type} in one scan.

    `name` is a staging column name (checked by the caller), `type` a field type.
    """
    wanted = {c: t for c, t in columns.items() if t in ("date", "timestamp", "money")}
    if not wanted:
        return {}
    inner, parts, shapes = [], [], []
    for i, (column, type_) in enumerate(wanted.items()):
        t = trimmed(quote_name(column))
        inner.append(f"{t} AS t{i}")
        if type_ == "money":
            parts.append(f"count_if(regexp_matches(t{i}, '\\d,\\d{{1,2}}(\\D*)$') OR regexp_matches(t{i}, '\\.\\d{{3}},')) AS a{i}")
            parts.append(f"count_if(regexp_matches(t{i}, '\\d\\.\\d{{1,2}}(\\D*)$') OR regexp_matches(t{i}, ',\\d{{3}}\\.')) AS b{i}")
            parts.append(f"0 AS c{i}, 0 AS n{i}")
        else:
            # One match gives both leading numbers (empty when the value is not day/month text).
            inner.append(f"regexp_extract({t}, '^(\\d{{1,2}})[/.-](\\d{{1,2}})[/.-]\\d{{2,4}}', ['x', 'y']) AS r{i}")
            parts.append(f"count_if(TRY_CAST(r{i}.x AS INTEGER) > 12) AS a{i}")
            parts.append(f"count_if(TRY_CAST(r{i}.y AS INTEGER) > 12) AS b{i}")
            parts.append(f"count_if(r{i}.x <> '') AS c{i}")
            parts.append(f"count(t{i}) AS n{i}")
            # The most common shape of the first values (see _fast_sql).
            shapes.append((column, f"mode({_shape_sql(t)})"))
    # A large sample decides as well as the whole column and keeps this scan short.
    row = con.execute(f"SELECT {', '.join(parts)} FROM (SELECT {', '.join(inner)} FROM "
                      f"(SELECT * FROM {table} LIMIT ?))", [INFER_SAMPLE]).fetchone()
    # Only speed rides on the shape (every value gets the same answer either way), so fewer rows do.
    usual = dict(zip([c for c, _ in shapes], con.execute(
        f"SELECT {', '.join(m for _, m in shapes)} FROM (SELECT * FROM {table} LIMIT ?)",
        [SHAPE_SAMPLE]).fetchone())) if shapes else {}
    out = {}
    for i, (column, type_) in enumerate(wanted.items()):
        a, b, c, n = (row[4 * i] or 0), (row[4 * i + 1] or 0), (row[4 * i + 2] or 0), (row[4 * i + 3] or 0)
        if type_ == "money":
            out[column] = ColumnFormat(decimal_comma=a > b)
        else:
            order = "mdy" if b > a else "dmy"
            # Worth trying first when most values look day/month (else it adds a failed parse to most).
            fast = _SHAPES.get(usual.get(column)) if c * 2 > n else None
            if fast and order == "mdy":
                fast = fast.replace("%d", "%_").replace("%m", "%d").replace("%_", "%m")
            if type_ == "timestamp" and fast is None:  # ISO dates alone are read fast by the cast
                fast = _ISO_SHAPES.get(usual.get(column))
            out[column] = ColumnFormat(date_order=order, ambiguous_dates=bool(c) and a == 0 and b == 0,
                                       fast=fast)
    return out


def typed_sql(field_type: str, t: str, fmt: ColumnFormat | None = None, field_name: str = "") -> str:
    """The typed value of trimmed text t for a field of field_type."""
    fmt = fmt or ColumnFormat()
    if field_type == "email":
        return email_sql(t)
    if field_type == "phone":
        return phone_sql(t)
    if field_type == "date":
        return date_sql(t, fmt.date_order, birth=field_name == "date_of_birth", fast=fmt.fast)
    if field_type == "timestamp":
        return timestamp_sql(t, fmt.date_order, fast=fmt.fast)
    if field_type == "money":
        return money_sql(t, fmt.decimal_comma)
    if field_type == "integer":
        return integer_sql(t)
    if field_type == "boolean":
        return boolean_sql(t)
    if field_type == "json":
        return json_sql(t)
    return t


TYPE_NAMES = {"email": "email address", "phone": "phone number", "date": "date",
              "timestamp": "date/time", "money": "amount", "integer": "whole number",
              "boolean": "yes/no value", "json": "JSON value", "text": "text"}
