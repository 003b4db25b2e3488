"""The one phone normaliser: E.164 text from what people type, with the workspace's default region.

Ingest (suppression checks), identity (`n_phone`), privacy (suppression hashes) and activation
(suppression checks) all read phones through this module, so one number typed two ways is one
number everywhere, and a number hashed at erasure is the number a re-upload is checked against.

One rule, two forms that agree (tests run both on the same values):
`e164(value, region)` in Python and `e164_sql(expr, region)` as a DuckDB expression.

The rule, from Google's libphonenumber metadata for the region (calling code, national
prefix, possible lengths of a national number):

* only digits, spaces and ( ) . / - + are allowed; anything else is not a phone;
* '+' or '00' (and '011' where the calling code is 1) start an international number:
  '+' and its 8 to 15 digits, without the trunk '0' people write after a calling code whose
  country dials one nationally ('+44 (0)7700 900123' is '+447700900123');
* otherwise it is national: the region's national prefix ('0' in GB, '1' in the US) is dropped
  when what is left has a possible length, and a national number of a possible length
  becomes '+' + calling code + number ('07700 900123' in GB is '+447700900123');
* anything else (too short, too long) is no phone (None / NULL).
"""
from __future__ import annotations

import re
from functools import lru_cache

DEFAULT_REGION = "US"
_ALLOWED = re.compile(r"[0-9 ()./+\-]*[0-9][0-9 ()./+\-]*")


@lru_cache(maxsize=64)
def region_rule(region: str | None) -> tuple[str, str, tuple[int, ...]]:
    """(calling code, national prefix, possible national lengths) of a region (ISO alpha-2)."""
    import phonenumbers

    code = (region or DEFAULT_REGION).strip().upper()
    meta = phonenumbers.PhoneMetadata.metadata_for_region(code)
    if meta is None:
        raise ValueError(f"Unknown phone region {region!r}.")
    prefix = meta.national_prefix or ""
    lengths = tuple(sorted(set(meta.general_desc.possible_length or ()))) or tuple(range(7, 13))
    cc, prefix = str(meta.country_code), re.sub(r"\D", "", prefix)
    return cc, prefix, lengths


@lru_cache(maxsize=1)
def trunk_zero_pattern() -> str:
    """A regexp of calling codes followed by a trunk '0' (countries whose national prefix is '0')."""
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

    codes = []
    for cc, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        meta = PhoneMetadata.metadata_for_region(regions[0]) if regions else None
        if meta is not None and meta.national_prefix == "0":
            codes.append(str(cc))
    return "^(" + "|".join(sorted(codes)) + ")0"


def _international_digits(text: str, digits: str, cc: str) -> str | None:
    if text.startswith("+"):
        intl = digits
    elif digits.startswith("00"):
        intl = digits[2:]
    elif cc == "1" and digits.startswith("011"):
        intl = digits[3:]
    else:
        return None
    return re.sub(trunk_zero_pattern(), r"\1", intl)


def e164(value, region: str | None = DEFAULT_REGION) -> str | None:
    """'+<digits>' for a phone number as typed, or None when it cannot be one."""
    if value is None:
        return None
    text = str(value).strip()
    if not text or not _ALLOWED.fullmatch(text):
        return None
    cc, prefix, lengths = region_rule(region)
    digits = re.sub(r"\D", "", text)
    intl = _international_digits(text, digits, cc)
    if intl is not None:
        return "+" + intl if 8 <= len(intl) <= 15 else None
    if prefix and digits.startswith(prefix) and len(digits) - len(prefix) in lengths:
        digits = digits[len(prefix):]
    return "+" + cc + digits if len(digits) in lengths and len(cc + digits) <= 15 else None


def e164_sql(expr: str, region: str | None = DEFAULT_REGION) -> str:
    """The same rule as `e164`, as a DuckDB expression over `expr` (any type; read as text).

    The region's constants (digits and lengths from libphonenumber's metadata) are the only
    values written into the SQL; `expr` is a column expression chosen by the engine."""
    cc, prefix, lengths = region_rule(region)
    t = f"trim(CAST({expr} AS VARCHAR))"
    d = f"regexp_replace({t}, '[^0-9]', '', 'g')"
    idd = f"WHEN starts_with({t}, '+') THEN {d} WHEN starts_with({d}, '00') THEN substr({d}, 3)"
    if cc == "1":
        idd += f" WHEN starts_with({d}, '011') THEN substr({d}, 4)"
    intl = f"regexp_replace((CASE {idd} END), '{trunk_zero_pattern()}', '\\1')"
    lens = ", ".join(str(n) for n in lengths)
    if prefix:
        national = (f"(CASE WHEN starts_with({d}, '{prefix}') AND length({d}) - {len(prefix)} IN ({lens}) "
                    f"THEN substr({d}, {len(prefix) + 1}) ELSE {d} END)")
    else:
        national = d
    return (f"(CASE WHEN {t} IS NULL OR NOT regexp_full_match({t}, '[0-9 ()./+\\-]*[0-9][0-9 ()./+\\-]*') "
            f"THEN NULL "
            f"WHEN {intl} IS NOT NULL THEN CASE WHEN length({intl}) BETWEEN 8 AND 15 THEN '+' || {intl} END "
            f"WHEN length({national}) IN ({lens}) AND length({national}) + {len(cc)} <= 15 "
            f"THEN '+{cc}' || {national} END)")


def workspace_region(source) -> str:
    """The workspace's default phone region (identity setting `default_region`).

    `source` is a Workspace or an open connection (inside a transaction)."""
    import json

    sql = "SELECT CAST(value AS VARCHAR) FROM settings WHERE key = 'identity'"
    if hasattr(source, "execute"):
        row = source.execute(sql).fetchone()
    else:
        rows = source.query_rows(sql)
        row = rows[0] if rows else None
    saved = json.loads(row[0]) if row and row[0] else {}
    region = str(saved.get("default_region") or DEFAULT_REGION).upper()
    try:
        region_rule(region)
    except ValueError:
        return DEFAULT_REGION
    return region
