"""``segment``: member of another saved segment (rules or static; cycles are refused).

Keys: ``segment_id``.
"""
from __future__ import annotations

from engine.segments.rules import DefinitionError, err
from engine.workspace.versions import DATA

LABEL = "Member of another segment"
ORDER = 110
READS = DATA    # the other segment's rules may read anything
EXAMPLE = {"type": "condition", "kind": "segment", "segment_id": "seg_example"}


def validate(path: str, c: dict, profile_fields: dict[str, str]) -> None:
    if not isinstance(c.get("segment_id"), str) or not c["segment_id"]:
        raise err(path, "segment_id is required")


def compile(comp, c: dict) -> str:
    seg_id = c["segment_id"]
    if seg_id in comp.stack:
        chain = " -> ".join(comp.stack + [seg_id])
        raise DefinitionError(f"segments refer to each other in a cycle: {chain}")
    found = comp.resolve_segment(seg_id) if comp.resolve_segment else None
    if found is None:
        raise DefinitionError(f"segment {seg_id!r} does not exist")
    kind, definition = found
    if kind == "static":
        return (f"p.profile_id IN (SELECT profile_id FROM segment_static_members "
                f"WHERE segment_id = {comp.bind(seg_id)})")
    comp.stack.append(seg_id)
    try:
        inner = comp.node(definition, 2)
    finally:
        comp.stack.pop()
    return f"p.profile_id IN (SELECT p.profile_id FROM profiles p WHERE {inner})"


def describe(c: dict, window: str) -> str:
    return f"member of segment {c['segment_id']}"
