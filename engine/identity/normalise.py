"""Normalisers for person fields, each in two forms that agree.

The Python functions are the reference (used for single values, in the review
screen and in tests); the `*_sql(expr)` builders produce DuckDB expressions with
the same meaning, used to normalise whole tables in one pass. Tests check that
the two agree.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime

from engine.dates import DAY_FIRST, NAMED_MONTH, YEAR_FIRST, month_first
from engine.identifiers import EMAIL
from engine.phones import e164
from engine.identity.nicknames import NICKNAMES, canonical_first_name

# -- emails ----------------------------------------------------------------
_EMAIL_RE = re.compile(f"^{EMAIL}$")
GMAIL_DOMAINS = ("gmail.com", "googlemail.com")


def normalise_email(value: str | None) -> str | None:
    """Trimmed, lower-cased email, or None when it is not an email address."""
    if value is None:
        return None
    text = str(value).strip().lower()
    return text if _EMAIL_RE.match(text) else None


def email_match_key(value: str | None) -> str | None:
    """Extra key joining variants: '+tag' dropped everywhere; dots dropped for Gmail."""
    email = normalise_email(value)
    if email is None:
        return None
    local, _, domain = email.rpartition("@")
    local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}" if local else None


def email_sql(expr: str) -> str:
    e = f"lower(trim({expr}))"
    return f"CASE WHEN regexp_full_match({e}, '{EMAIL}') THEN {e} END"


def email_key_sql(normalised: str) -> str:
    """Match key from an already normalised email column."""
    local = f"split_part(split_part({normalised}, '@', 1), '+', 1)"
    domain = f"split_part({normalised}, '@', 2)"
    gmail = f"{domain} IN ('gmail.com', 'googlemail.com')"
    return (f"CASE WHEN {normalised} IS NULL OR {local} = '' THEN NULL "
            f"WHEN {gmail} THEN replace({local}, '.', '') || '@gmail.com' "
            f"ELSE {local} || '@' || {domain} END")


# -- phones ----------------------------------------------------------------
def normalise_phone(value: str | None, region: str = "US") -> str | None:
    """E.164 ('+14155550123'), or None if it cannot be a phone: the workspace-wide rule of
    engine.phones (identity's SQL uses its twin, engine.phones.e164_sql)."""
    return e164(value, region)


# -- names -----------------------------------------------------------------
def fold(value: str) -> str:
    """Unicode folding: NFKD, drop combining marks, lower case."""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def normalise_name(value: str | None) -> str | None:
    """'  O'Brien-Smith ' -> 'obrien smith'; letters and single spaces only."""
    if value is None:
        return None
    text = fold(str(value))
    text = re.sub(r"['`’.]", "", text)
    text = re.sub(r"[^a-z]+", " ", text).strip()
    return text or None


def name_sql(expr: str) -> str:
    e = f"lower(strip_accents({expr}))"
    e = f"regexp_replace({e}, '[''`’.]', '', 'g')"
    e = f"trim(regexp_replace({e}, '[^a-z]+', ' ', 'g'))"
    return f"nullif({e}, '')"


def first_name_key(value: str | None, extra: dict[str, str] | None = None) -> str | None:
    """Canonical given name: nicknames map to one key ('Bobby' -> 'robert')."""
    name = normalise_name(value)
    if name is None:
        return None
    return canonical_first_name(name.split(" ")[0], extra)


def nickname_rows(extra: dict[str, str] | None = None) -> list[tuple[str, str]]:
    merged = dict(NICKNAMES)
    merged.update(extra or {})
    return sorted(merged.items())


# -- addresses and postcodes ---------------------------------------------------
ADDRESS_ABBREVIATIONS: dict[str, str] = {
    "st": "street str", "rd": "road", "ave": "avenue av", "blvd": "boulevard",
    "dr": "drive drv", "ln": "lane", "ct": "court", "pl": "place", "sq": "square",
    "ter": "terrace", "hwy": "highway", "pkwy": "parkway", "cres": "crescent",
    "cl": "close", "apt": "apartment", "ste": "suite", "fl": "floor",
    "n": "north", "s": "south", "e": "east", "w": "west",
    "ne": "northeast", "nw": "northwest", "se": "southeast", "sw": "southwest",
}
_ABBREVIATION_PATTERNS = [(re.compile(rf"\b({'|'.join(words.split())})\b"), short)
                          for short, words in ADDRESS_ABBREVIATIONS.items()]


def normalise_address(value: str | None) -> str | None:
    """'12, Main Street.' -> '12 main st'."""
    if value is None:
        return None
    text = fold(str(value))
    text = re.sub(r"[^a-z0-9]+", " ", text).strip()
    text = re.sub(r"\b(\d+)(st|nd|rd|th)\b", r"\1", text)
    for pattern, short in _ABBREVIATION_PATTERNS:
        text = pattern.sub(short, text)
    return text or None


def address_sql(expr: str) -> str:
    e = f"lower(strip_accents({expr}))"
    e = f"trim(regexp_replace({e}, '[^a-z0-9]+', ' ', 'g'))"
    e = f"regexp_replace({e}, '\\b(\\d+)(st|nd|rd|th)\\b', '\\1', 'g')"
    for short, words in ADDRESS_ABBREVIATIONS.items():
        e = f"regexp_replace({e}, '\\b({'|'.join(words.split())})\\b', '{short}', 'g')"
    return f"nullif({e}, '')"


def normalise_postcode(value: str | None) -> str | None:
    """Upper case without spaces; US ZIP+4 cut to the 5-digit ZIP."""
    if value is None:
        return None
    text = re.sub(r"[^A-Za-z0-9]", "", str(value)).upper()
    if re.fullmatch(r"\d{9}", text):
        text = text[:5]
    return text or None


def postcode_sql(expr: str) -> str:
    e = f"upper(regexp_replace({expr}, '[^A-Za-z0-9]', '', 'g'))"
    return f"nullif(CASE WHEN regexp_full_match({e}, '[0-9]{{9}}') THEN left({e}, 5) ELSE {e} END, '')"


def city_sql(expr: str) -> str:
    return name_sql(expr)


# -- dates of birth ---------------------------------------------------------
# ISO first, then day-first before US order for slash and dash dates (dots are day-first only).
DOB_FORMATS = ("%Y-%m-%d", *reversed(YEAR_FIRST),
               *(f for d in DAY_FIRST for f in ((d,) if "." in d else (d, month_first(d)))), *NAMED_MONTH)


def parse_dob(value, dayfirst: bool = True) -> date | None:
    """A date of birth from any common format; None when unreadable or implausible.

    Ambiguous numeric dates (03/04/1990) are read day-first unless dayfirst=False;
    an impossible reading (13/25/1990 day-first) falls through to the other order.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        result = value.date()
    elif isinstance(value, date):
        result = value
    else:
        text = str(value).strip()
        formats = DOB_FORMATS if dayfirst else tuple(
            f for f in DOB_FORMATS if f not in ("%d/%m/%Y", "%d-%m-%Y")) + ("%d/%m/%Y", "%d-%m-%Y")
        result = None
        for fmt in formats:
            try:
                result = datetime.strptime(text, fmt).date()
                break
            except ValueError:
                continue
    if result is None or not (1900 <= result.year <= date.today().year):
        return None
    return result


def dob_sql(expr: str) -> str:
    """A DATE from a DATE or VARCHAR column, trying the same formats as parse_dob."""
    formats = ", ".join(f"'{f}'" for f in DOB_FORMATS)
    d = f"COALESCE(TRY_CAST({expr} AS DATE), TRY_CAST(try_strptime(CAST({expr} AS VARCHAR), [{formats}]) AS DATE))"
    return f"CASE WHEN year({d}) BETWEEN 1900 AND year(current_date) THEN {d} END"


# -- phonetic key (blocking) --------------------------------------------------
def soundex(value: str | None) -> str | None:
    """American Soundex of a normalised name (letters only), as in the SQL below."""
    if not value:
        return None
    text = re.sub(r"[^a-z]", "", value.lower())
    if not text:
        return None
    codes = text.translate(str.maketrans("aeiouyhwbfpvcgjkqsxzdtlmnr", "000000..111122222222334556"))
    codes = codes.replace(".", "")
    collapsed = re.sub(r"(\d)\1+", r"\1", codes)
    tail = collapsed[1:] if collapsed[:1] == codes[:1] and text[0] not in "hw" else collapsed
    tail = tail.replace("0", "")
    return (text[0] + tail + "000")[:4]


def soundex_sql(expr: str) -> str:
    """SQL Soundex: letters to digit classes, h/w dropped, runs collapsed, vowels dropped."""
    t = f"regexp_replace({expr}, '[^a-z]', '', 'g')"
    codes = f"replace(translate({t}, 'aeiouyhwbfpvcgjkqsxzdtlmnr', '000000..111122222222334556'), '.', '')"
    for d in "0123456":
        codes = f"regexp_replace({codes}, '{d}{d}+', '{d}', 'g')"
    first_is_code = f"(left({t}, 1) NOT IN ('h', 'w'))"
    tail = f"CASE WHEN {first_is_code} THEN substr({codes}, 2) ELSE {codes} END"
    return f"CASE WHEN {t} = '' OR {t} IS NULL THEN NULL ELSE left(left({t}, 1) || replace({tail}, '0', '') || '000', 4) END"
