"""``sequence``: one event, then another within N days.

Keys: ``first`` and ``then`` (each ``{"event", "filters"}``), ``within_days`` N (``then``
happened at or after ``first``, within N days), ``window`` (for the ``then`` event).
"""
from __future__ import annotations

from engine.segments.rules import check_event_name, check_filters, check_int, err, personal_filters
from engine.workspace.versions import DATA

LABEL = "Behaviour: event then event within N days"
ORDER = 30
READS = DATA
EXAMPLE = {"type": "condition", "kind": "sequence", "first": {"event": "Product Viewed"},
           "then": {"event": "Added To Cart"}, "within_days": 7}
STEPS = ("first", "then")


def validate(path: str, c: dict, profile_fields: dict[str, str]) -> None:
    for step in STEPS:
        s = c.get(step)
        if not isinstance(s, dict):
            raise err(path, f"{step} must be an object with an event")
        check_event_name(f"{path}.{step}.event", s.get("event"))
        check_filters(f"{path}.{step}.filters", s.get("filters"))
    check_int(path + ".within_days", c.get("within_days"), 1)


def compile(comp, c: dict) -> str:
    first, then = c["first"], c["then"]
    later = comp.event_rows(then["event"], then.get("filters"), c.get("window"), "profile_id, ts")
    earlier = comp.event_rows(first["event"], first.get("filters"), None, "profile_id, ts")
    order = ">" if first["event"] == then["event"] else ">="
    return (f"p.profile_id IN (SELECT t.profile_id FROM ({later}) t ASOF JOIN ({earlier}) f "
            f"ON t.profile_id = f.profile_id AND t.ts {order} f.ts "
            f"WHERE t.ts <= f.ts + to_days({comp.bind(int(c['within_days']))}))")


def describe(c: dict, window: str) -> str:
    return (f"performed {c['first']['event']!r} then {c['then']['event']!r} "
            f"within {c['within_days']} days{window}")


def personal_fields(c: dict, path: str) -> list[str]:
    return [found for step in STEPS if isinstance(c.get(step), dict)
            for found in personal_filters(f"{path}.{step}", c[step].get("filters"))]
