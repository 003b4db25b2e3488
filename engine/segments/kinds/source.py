"""``source``: has (or has no) records from a source.

Keys: ``source`` (source name), ``present`` (default true).
"""
from __future__ import annotations

from engine.segments.rules import check_flag, err
from engine.workspace.versions import NO_EVENTS

LABEL = "Present in a source"
ORDER = 100
READS = NO_EVENTS
EXAMPLE = {"type": "condition", "kind": "source", "source": "shop", "present": True}


def validate(path: str, c: dict, profile_fields: dict[str, str]) -> None:
    if not isinstance(c.get("source"), str) or not c["source"]:
        raise err(path, "source name is required")
    check_flag(path, c, "present")


def compile(comp, c: dict) -> str:
    sub = f"p.profile_id IN (SELECT profile_id FROM profile_members WHERE source = {comp.bind(c['source'])})"
    return sub if c.get("present", True) else f"NOT {sub}"


def describe(c: dict, window: str) -> str:
    return f"{'present' if c.get('present', True) else 'absent'} in source {c['source']!r}"
