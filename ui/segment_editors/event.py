"""Editor of an ``event`` condition: which event, how often, when, with which properties."""
from __future__ import annotations

import streamlit as st

from engine.segments.kinds.event import COUNT_OPS
from ui.segment_editors.widgets import event_picker, filters_editor, select, window_editor

COUNT_LABELS = dict(zip(COUNT_OPS, ("at least", "at most", "exactly", "did not perform")))


def render(node: dict, uid: str, choices: dict) -> None:
    node["event"] = event_picker("Event", node.get("event"), f"{uid}_event", choices)
    c1, c2 = st.columns(2)
    with c1:
        node["count_op"] = select("How often", list(COUNT_LABELS), node.get("count_op", "at_least"),
                                  f"{uid}_cop", format_func=COUNT_LABELS.get)
    with c2:
        if node["count_op"] != "none":
            node["count"] = int(st.number_input("Times", min_value=0, step=1, value=int(node.get("count", 1)),
                                                key=f"{uid}_cnt"))
        else:
            node.pop("count", None)
    window_editor(node, uid)
    filters_editor(node, uid)
