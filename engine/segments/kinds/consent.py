"""``consent``: consent for a purpose is currently granted (or not).

Keys: ``purpose``, ``granted`` (true: currently granted; false: not granted or unknown).
"""
from __future__ import annotations

from engine.segments.rules import check_flag, err
from engine.workspace.versions import DATA

LABEL = "Consent for a purpose"
ORDER = 90
READS = DATA    # consent signals come with events too
EXAMPLE = {"type": "condition", "kind": "consent", "purpose": "email", "granted": True}


def validate(path: str, c: dict, profile_fields: dict[str, str]) -> None:
    if not isinstance(c.get("purpose"), str) or not c["purpose"]:
        raise err(path, "purpose is required")
    check_flag(path, c, "granted")


def compile(comp, c: dict) -> str:
    sub = (f"p.profile_id IN (SELECT profile_id FROM profile_consent_state "
           f"WHERE purpose = {comp.bind(c['purpose'])} AND granted)")
    return sub if c.get("granted", True) else f"NOT {sub}"


def describe(c: dict, window: str) -> str:
    return f"consent for {c['purpose']} {'granted' if c.get('granted', True) else 'not granted'}"
