"""How a column header is read: one normal spelling, and the shorter names inside it.

Exports put a group before a field's name and a unit or zone after it ('Default Address City',
'Billing Email Address', 'Customer - Mobile', 'Created date (UTC)', 'Start (UTC)'); the
suggestion compares those inner names with the fields too, a little below the whole header.
"""
from __future__ import annotations

import re

# Words that name a group of fields (before) or a unit or zone (after) rather than the field.
PREFIXES = ("default address", "billing address", "shipping address", "mailing address", "mailing",
            "billing", "physical", "customer", "contact", "primary", "card address", "address")
SUFFIXES = ("utc", "gmt", "local", "local time")
AFFIX_PENALTY = 3.0   # an inner name counts a little less than the whole header
# Inner names too generic to stand for a field on their own ('Customer Name' is no order 'name',
# 'Customer ID' no record 'id').
GENERIC = frozenset({"name", "id", "order", "code", "number", "type", "note", "notes", "full name"})


def normalise_header(name: str) -> str:
    """'firstName', 'FIRST_NAME', ' First-Name ' -> 'first name'."""
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    text = re.sub(r"[_\-./#:()\[\]]+", " ", text).lower()
    return re.sub(r"\s+", " ", text).strip()


def header_variants(name: str) -> list[tuple[str, float]]:
    """(text, penalty): the normalised header, then it without a group prefix and/or unit suffix."""
    whole = normalise_header(name)
    out = [(whole, 0.0)]
    cores = [whole]
    for suffix in SUFFIXES:
        if whole.endswith(" " + suffix):
            cores.append(whole[: -len(suffix) - 1])
    for core in list(cores):
        for prefix in PREFIXES:
            if core.startswith(prefix + " ") and len(core) > len(prefix) + 1:
                cores.append(core[len(prefix) + 1:])
    for core in cores[1:]:
        if core not in GENERIC and core not in {t for t, _ in out}:
            out.append((core, AFFIX_PENALTY))
    return out
