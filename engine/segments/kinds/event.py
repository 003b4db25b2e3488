"""``event``: performed (or did not perform) an event, how often, when, with which properties.

Keys: ``event`` (name; page/screen calls without a name are ``page``/``screen``), ``filters``
(list of ``{"property", "op", "value", "value_type"}``), ``count_op``
(at_least|at_most|exactly|none; ``none`` = did not perform), ``count`` (default 1), ``window``.
"""
from __future__ import annotations

from engine.segments.rules import (
    check_event_name,
    check_filters,
    check_int,
    err,
    filters_text,
    personal_filters,
)
from engine.workspace.versions import DATA

LABEL = "Behaviour: performed / did not perform an event"
ORDER = 20
READS = DATA
EXAMPLE = {"type": "condition", "kind": "event", "event": "Order Completed", "count_op": "at_least",
           "count": 2, "window": {"type": "last_days", "days": 30},
           "filters": [{"property": "revenue", "op": "gt", "value": 10, "value_type": "number"}]}
COUNT_OPS = ("at_least", "at_most", "exactly", "none")


def validate(path: str, c: dict, profile_fields: dict[str, str]) -> None:
    check_event_name(path + ".event", c.get("event"))
    check_filters(path + ".filters", c.get("filters"))
    if c.get("count_op", "at_least") not in COUNT_OPS:
        raise err(path, f"count_op must be one of {', '.join(COUNT_OPS)}")
    check_int(path + ".count", c.get("count", 1))


def compile(comp, c: dict) -> str:
    count_op = c.get("count_op", "at_least")
    n = int(c.get("count", 1))
    rows = comp.event_rows(c["event"], c.get("filters"), c.get("window"))
    if count_op == "none" or (count_op == "exactly" and n == 0):
        return f"p.profile_id NOT IN ({rows})"
    if count_op == "at_least":
        if n <= 0:
            return "TRUE"
        if n == 1:
            return f"p.profile_id IN ({rows})"
        return f"p.profile_id IN ({rows} GROUP BY profile_id HAVING count(*) >= {comp.bind(n)})"
    if count_op == "at_most":
        return f"p.profile_id NOT IN ({rows} GROUP BY profile_id HAVING count(*) > {comp.bind(n)})"
    return f"p.profile_id IN ({rows} GROUP BY profile_id HAVING count(*) = {comp.bind(n)})"


def describe(c: dict, window: str) -> str:
    op = c.get("count_op", "at_least")
    text = (f"did not perform {c['event']!r}{window}" if op == "none" else
            f"performed {c['event']!r} {op.replace('_', ' ')} {c.get('count', 1)} times{window}")
    return text + filters_text(c.get("filters"))


def personal_fields(c: dict, path: str) -> list[str]:
    return personal_filters(path, c.get("filters"))
