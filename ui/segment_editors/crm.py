"""Editor of a ``crm`` condition: current stage, stage history, owner or deal value."""
from __future__ import annotations

from engine.segments.kinds.crm import COMPARED, CRM_MEASURES
from ui.segment_editors.widgets import measure_label, names_picker, select, value_editor, window_editor


def render(node: dict, uid: str, choices: dict) -> None:
    node["measure"] = select("Measure", list(CRM_MEASURES), node.get("measure", "stage_is"), f"{uid}_crm",
                             format_func=measure_label)
    m = node["measure"]
    if m in COMPARED:
        value_type = COMPARED[m][2]
        value_editor(node, value_type, f"{uid}_{value_type[0]}")
        return
    stages = names_picker("Stages" + (" (any change if empty)" if m == "stage_changed" else ""),
                          choices["stages"], node.get("value"), f"{uid}_stages")
    node.pop("op", None)
    if stages:
        node["value"] = stages
    else:
        node.pop("value", None)
    window_editor(node, uid)
