"""``tag``: tagged with a tag (or any of several).

Keys: ``tag`` (string or list of tags; member if any).
"""
from __future__ import annotations

import json

from engine.segments.rules import err
from engine.workspace.versions import NO_EVENTS

LABEL = "Tagged"
ORDER = 120
READS = NO_EVENTS
EXAMPLE = {"type": "condition", "kind": "tag", "tag": ["vip", "churn-risk"]}


def validate(path: str, c: dict, profile_fields: dict[str, str]) -> None:
    tag = c.get("tag")
    if not (isinstance(tag, str) and tag) and not (isinstance(tag, list) and tag
                                                   and all(isinstance(t, str) for t in tag)):
        raise err(path, "tag must be a tag or a list of tags")


def compile(comp, c: dict) -> str:
    tags = [c["tag"]] if isinstance(c["tag"], str) else list(c["tag"])
    return (f"p.profile_id IN (SELECT profile_id FROM profile_tags "
            f"WHERE list_contains(CAST({comp.bind(tags)} AS VARCHAR[]), tag))")


def describe(c: dict, window: str) -> str:
    return f"tagged {json.dumps(c.get('tag'))}"
