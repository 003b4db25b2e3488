"""Editor of a ``value`` condition: a score, compared, or the top N % by it."""
from __future__ import annotations

from engine.segments.kinds.value import VALUE_FIELDS, operators
from ui.segment_editors.widgets import select, value_editor


def render(node: dict, uid: str, choices: dict) -> None:
    node["field"] = select("Score", list(VALUE_FIELDS), node.get("field", "predicted_clv"), f"{uid}_vf")
    vt = VALUE_FIELDS[node["field"]]
    value_editor(node, vt, f"{uid}_{vt}", ops=operators(node["field"]))
