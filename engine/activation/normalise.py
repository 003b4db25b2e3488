"""Per-platform normalisation before SHA-256, as SQL expressions DuckDB evaluates in bulk.

Each platform documents its own rules, and they differ:

* Meta (Marketing API, customer file custom audiences): EMAIL trimmed and lowercased;
  PHONE digits only with the country code, no "+" and no leading zeros; FN/LN lowercase,
  letters only (no punctuation, UTF-8 letters kept); CT lowercase without spaces or
  punctuation; ST the 2-letter code in lowercase; ZIP lowercase without spaces or dashes,
  US codes cut to 5 digits; COUNTRY ISO-3166-1 alpha-2 in lowercase; DOBY/DOBM/DOBD
  as YYYY/MM/DD; every one of these hashed. MADID (mobile advertiser id) lowercase with its
  hyphens, and not hashed.
* Google (Data Manager API, "Format user data"): email lowercased, without leading, trailing
  or intermediate whitespace, and for gmail.com/googlemail.com the dots and the "+suffix" of
  the local part removed (other domains keep both); phone in E.164 *with* the "+"
  ("(800)555-0100" in the US is "+18005550100"); given name lowercased, trimmed, without a
  prefix such as "Mrs."; family name lowercased, trimmed, without a suffix such as "Jr."
  (nothing else is removed: "O'Sullivan" is "o'sullivan", as Google's own formatter library
  leaves it); region code ISO-3166-1 alpha-2 and postal code trimmed, both unhashed (US: the
  5-digit ZIP code).

A value that is already a SHA-256 hex digest (64 hex characters) passes through
untouched (lowercased), so pre-hashed customer files work.

All functions here return SQL text built from column expressions chosen by the engine,
never from user input.
"""
from __future__ import annotations

import duckdb
import phonenumbers

HEX64 = "[0-9a-fA-F]{64}"

# Country names people type, to ISO-3166-1 alpha-2 (lowercase). Two-letter input passes as is.
COUNTRY_NAMES = {
    "united states": "us", "united states of america": "us", "usa": "us", "u.s.a.": "us",
    "u.s.": "us", "america": "us", "united kingdom": "gb", "uk": "gb", "great britain": "gb",
    "england": "gb", "scotland": "gb", "wales": "gb", "northern ireland": "gb",
    "germany": "de", "deutschland": "de", "france": "fr", "spain": "es", "españa": "es",
    "italy": "it", "italia": "it", "netherlands": "nl", "the netherlands": "nl",
    "holland": "nl", "belgium": "be", "ireland": "ie", "canada": "ca", "australia": "au",
    "new zealand": "nz", "sweden": "se", "norway": "no", "denmark": "dk", "finland": "fi",
    "switzerland": "ch", "austria": "at", "portugal": "pt", "poland": "pl", "japan": "jp",
    "india": "in", "brazil": "br", "mexico": "mx", "south africa": "za", "singapore": "sg",
}

NAME_PREFIXES = ("mr", "mrs", "ms", "miss", "dr", "prof", "sir", "madam", "mx")
NAME_SUFFIXES = ("jr", "sr", "ii", "iii", "iv", "phd", "md", "esq")


def _calling_codes() -> dict[str, str]:
    """ISO alpha-2 (lowercase) -> international calling code, from Google's libphonenumber."""
    out = {}
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        for region in regions:
            if len(region) == 2 and region.isalpha():
                out.setdefault(region.lower(), str(code))
    return out


CALLING_CODES = _calling_codes()


def _case_map(expr: str, mapping: dict[str, str], default: str) -> str:
    """Look expr up in a constant MAP (one lookup; a CASE with hundreds of WHENs nested in
    another took DuckDB's planner over ten seconds per query)."""
    def q(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"
    entries = ", ".join(f"{q(k)}: {q(v)}" for k, v in mapping.items())
    return f"coalesce(map_extract_value(MAP {{{entries}}}, {expr}), {default})"


def prehashed(x: str) -> str:
    # The length test first: DuckDB only runs the regex on rows that pass it.
    return f"(length({x}) BETWEEN 64 AND 80 AND regexp_full_match(trim({x}), '{HEX64}'))"


def hashed(x: str, normalised: str) -> str:
    """SHA-256 hex of the normalised value; pre-hashed input passes through; empty -> NULL."""
    return (f"(CASE WHEN {x} IS NULL THEN NULL WHEN {prehashed(x)} THEN lower(trim({x})) "
            f"ELSE sha256(nullif({normalised}, '')) END)")


def unhashed(x: str, normalised: str) -> str:
    return f"nullif({normalised}, '')"


# -- building blocks --------------------------------------------------------
def country_iso2(x: str) -> str:
    """Lowercase ISO alpha-2 from a code or a common country name; NULL when unknown."""
    v = f"lower(trim({x}))"
    return (f"(CASE WHEN regexp_full_match({v}, '[a-z]{{2}}') THEN "
            f"(CASE WHEN {v} = 'uk' THEN 'gb' ELSE {v} END) "
            f"ELSE {_case_map(v, COUNTRY_NAMES, 'NULL')} END)")


def email_basic(x: str) -> str:
    return f"lower(regexp_replace({x}, '\\s', '', 'g'))"


def email_google(x: str) -> str:
    e = email_basic(x)
    local, domain = f"split_part({e}, '@', 1)", f"split_part({e}, '@', 2)"
    return (f"(CASE WHEN {domain} IN ('gmail.com', 'googlemail.com') THEN "
            f"regexp_replace(split_part({local}, '+', 1), '\\.', '', 'g') || '@' || {domain} "
            f"ELSE {e} END)")


def phone_e164(x: str, country: str | None, default_country: str | None) -> str:
    """'+' and digits. '+..' and '00..' keep their country code; national numbers lose
    their leading zeros and get the calling code of the profile's country (or the
    destination's default country). NULL when no country code can be found."""
    raw = f"trim({x})"
    digits = f"regexp_replace({raw}, '[^0-9]', '', 'g')"
    cc_sources = []
    if country:
        cc_sources.append(_case_map(country_iso2(country), CALLING_CODES, "NULL"))
    if default_country:
        code = CALLING_CODES.get(default_country.strip().lower())
        if code:
            cc_sources.append(f"'{code}'")
    cc = f"coalesce({', '.join(cc_sources)})" if cc_sources else "NULL"
    national = f"ltrim({digits}, '0')"
    # North American numbers are often typed with their trunk '1' ("1 800 555 0100").
    national = (f"(CASE WHEN {cc} = '1' AND length({national}) = 11 AND {national} LIKE '1%' "
                f"THEN substr({national}, 2) ELSE {national} END)")
    return (f"(CASE WHEN {raw} LIKE '+%' THEN '+' || {digits} "
            f"WHEN {digits} LIKE '00%' THEN '+' || substr({digits}, 3) "
            f"WHEN length({national}) = 0 THEN NULL "
            f"ELSE '+' || {cc} || {national} END)")


def phone_meta(x: str, country: str | None, default_country: str | None) -> str:
    return f"ltrim(replace({phone_e164(x, country, default_country)}, '+', ''), '0')"


def letters_only(x: str) -> str:
    """Lowercase, letters (any script, with accents) only: no spaces, digits or punctuation."""
    return f"regexp_replace(lower(trim({x})), '[^\\p{{L}}\\p{{M}}]', '', 'g')"


def name_google(x: str, drop: tuple[str, ...], where: str) -> str:
    """Lowercase, trimmed, without a title before (`where`="prefix") or after ("suffix") the name."""
    words = "|".join(drop)
    v = f"lower(trim({x}))"
    pattern = (f"^(({words})\\.?\\s+)+" if where == "prefix" else f"(,?\\s+({words})\\.?)+$")
    return f"trim(regexp_replace({v}, '{pattern}', ''))"


def postcode_meta(x: str, country: str | None) -> str:
    v = f"regexp_replace(lower(trim({x})), '[\\s\\-]', '', 'g')"
    if country:
        return f"(CASE WHEN {country_iso2(country)} = 'us' THEN substr({v}, 1, 5) ELSE {v} END)"
    return v


def postcode_google(x: str, country: str | None) -> str:
    """Trimmed as typed; a US code is its 5-digit ZIP."""
    v = f"trim({x})"
    if country:
        return (f"(CASE WHEN {country_iso2(country)} = 'us' "
                f"THEN substr(regexp_replace({v}, '[^0-9]', '', 'g'), 1, 5) ELSE {v} END)")
    return v


def state_meta(x: str) -> str:
    return letters_only(x)


# -- per-destination keys ---------------------------------------------------
def meta_keys(c: dict[str, str], default_country: str | None = None) -> dict[str, str]:
    """Meta schema key -> SQL for its hashed value. `c` maps canonical fields to column SQL."""
    country = c.get("country")
    return {
        "EMAIL": hashed(c["email"], f"lower(trim({c['email']}))"),
        "PHONE": hashed(c["phone"], phone_meta(c["phone"], country, default_country)),
        "FN": hashed(c["first_name"], letters_only(c["first_name"])),
        "LN": hashed(c["last_name"], letters_only(c["last_name"])),
        "CT": hashed(c["city"], letters_only(c["city"])),
        "ST": hashed(c["state"], state_meta(c["state"])),
        "ZIP": hashed(c["postcode"], postcode_meta(c["postcode"], country)),
        "COUNTRY": hashed(country, country_iso2(country)),
        "DOBY": hashed(f"strftime({c['date_of_birth']}, '%Y')", f"strftime({c['date_of_birth']}, '%Y')"),
        "DOBM": hashed(f"strftime({c['date_of_birth']}, '%m')", f"strftime({c['date_of_birth']}, '%m')"),
        "DOBD": hashed(f"strftime({c['date_of_birth']}, '%d')", f"strftime({c['date_of_birth']}, '%d')"),
        # Mobile advertiser ids are not hashed: Meta takes them in plain lowercase (hyphens kept).
        "MADID": unhashed(c["madid"], f"lower(trim({c['madid']}))"),
    }


def google_keys(c: dict[str, str], default_country: str | None = None) -> dict[str, str]:
    country = c.get("country")
    return {
        "emailAddress": hashed(c["email"], email_google(c["email"])),
        "phoneNumber": hashed(c["phone"], phone_e164(c["phone"], country, default_country)),
        "givenName": hashed(c["first_name"], name_google(c["first_name"], NAME_PREFIXES, "prefix")),
        "familyName": hashed(c["last_name"], name_google(c["last_name"], NAME_SUFFIXES, "suffix")),
        "regionCode": unhashed(country, f"upper({country_iso2(country)})"),
        "postalCode": unhashed(c["postcode"], postcode_google(c["postcode"], country)),
    }


def plain_contact(c: dict[str, str], default_country: str | None = None) -> dict[str, str]:
    """Email and E.164 phone as plain text, for email and CRM tools that need them."""
    return {
        "email": f"nullif({email_basic(c['email'])}, '')",
        "phone": phone_e164(c["phone"], c.get("country"), default_country),
    }


# -- single values, for tests and the CLI -----------------------------------
CANONICAL = ("email", "phone", "first_name", "last_name", "city", "state", "postcode",
             "country", "date_of_birth", "madid")


def evaluate(keys_fn, values: dict[str, object], default_country: str | None = None) -> dict:
    """Evaluate a key builder (meta_keys, google_keys, plain_contact) on one record."""
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE r (" + ", ".join(
            f"{k} {'DATE' if k == 'date_of_birth' else 'VARCHAR'}" for k in CANONICAL) + ")")
        con.execute(f"INSERT INTO r VALUES ({', '.join('?' for _ in CANONICAL)})",
                    [values.get(k) for k in CANONICAL])
        exprs = keys_fn({k: k for k in CANONICAL}, default_country)
        row = con.execute("SELECT " + ", ".join(exprs.values()) + " FROM r").fetchone()
        return dict(zip(exprs.keys(), row))
    finally:
        con.close()
