"""Editor of a ``subscription`` condition: state, plans, when it started or was cancelled."""
from __future__ import annotations

from engine.segments.kinds.subscription import SUBSCRIPTION_STATES
from ui.segment_editors.widgets import names_picker, select, window_editor


def render(node: dict, uid: str, choices: dict) -> None:
    node["state"] = select("State", list(SUBSCRIPTION_STATES), node.get("state", "active"), f"{uid}_state")
    plans = names_picker("Plans (any if empty)", choices["plans"], node.get("plan"), f"{uid}_plans")
    if plans:
        node["plan"] = plans
    else:
        node.pop("plan", None)
    window_editor(node, uid, "Cancelled" if node["state"] == "cancelled" else "Started")
