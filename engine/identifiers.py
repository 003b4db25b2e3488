"""The one vocabulary for identifier types and email address patterns.

Every module that names a kind of identifier, or decides whether a string is an email address,
imports it from here (tests/engine/test_identifiers.py checks that no other module writes its
own copy). The patterns are written so that Python's `re` and DuckDB's regexes read them alike.
"""
from __future__ import annotations

# -- identifier types (profile_identifiers.id_type) --------------------------------------------
# Ad click ids and browser ids carried on events (engine.clickids reads them); identity resolves
# them into profile_identifiers.
CLICK_ID_TYPES = ("fbclid", "gclid", "gbraid", "wbraid", "fbc", "fbp")
# Meta's browser ids: cookies (_fbc, _fbp), never in a landing-page URL.
BROWSER_ID_TYPES = ("fbc", "fbp")
# Click ids of other platforms, named so that a workspace holding them counts them as ad ids.
OTHER_CLICK_ID_TYPES = ("ttclid", "msclkid")
# Mobile advertising ids (Apple IDFA, Google GAID/AAID) under the names sources use; Meta
# matches them as MADID.
MOBILE_AD_ID_TYPES = ("madid", "idfa", "gaid", "aaid", "mobile_ad_id", "maid")
# The mobile ad id type a Segment `context.device.type` names (identity reads
# `context.device.advertisingId`); any other device type gives the generic "madid".
MOBILE_AD_ID_BY_DEVICE_TYPE = {"ios": "idfa", "android": "gaid"}
# What iOS reports when the person declined tracking: not an identifier.
ZERO_AD_ID = "00000000-0000-0000-0000-000000000000"
# Every identifier an ad platform can match a person on, besides email and phone.
AD_ID_TYPES = CLICK_ID_TYPES + OTHER_CLICK_ID_TYPES + MOBILE_AD_ID_TYPES

# -- email addresses ---------------------------------------------------------------------------
# A whole value that is one address, as identity matches on it (normalise.py, Python and SQL).
EMAIL = r"[^@\s]+@[^@\s]+\.[^@\s]+"
# A whole field value that is one address as ingest keeps it: no list separators or brackets
# (`a@x.com, b@y.com`, `Name <a@x.com>`) and no trailing dot.
EMAIL_FIELD = r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>.]+"
# A sample value that makes a column look like emails when guessing a mapping.
EMAIL_LOOKALIKE = r"[^@\s]+@[^@\s]+\.[^@\s.]+"
# Addresses inside free text (masked in timeline details).
EMAIL_IN_TEXT = r"[\w.+-]+@[\w-]+(\.[\w-]+)+"
