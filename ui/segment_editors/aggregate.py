"""Editor of an ``aggregate`` condition: a function of an event property or an order value."""
from __future__ import annotations

import streamlit as st

from engine.segments.kinds.aggregate import AGG_FUNCS, ORDER_PROPERTIES
from engine.segments.rules import NO_VALUE_OPS, NUMBER_OPS
from ui.segment_editors.widgets import event_picker, select, value_editor, window_editor


def render(node: dict, uid: str, choices: dict) -> None:
    c1, c2 = st.columns(2)
    with c1:
        node["source"] = select("Of", ["orders", "event"], node.get("source", "orders"), f"{uid}_src")
    with c2:
        node["func"] = select("Measure", list(AGG_FUNCS), node.get("func", "sum"), f"{uid}_func")
    if node["source"] == "event":
        node["event"] = event_picker("Event", node.get("event"), f"{uid}_aevent", choices)
        if node["func"] != "count":
            node["property"] = st.text_input("Property", node.get("property", "revenue"), key=f"{uid}_aprop")
    else:
        node.pop("event", None)
        node["property"] = select("Order value", list(ORDER_PROPERTIES), node.get("property", "amount"),
                                  f"{uid}_oprop")
    value_editor(node, "number", uid, ops=[o for o in NUMBER_OPS if o not in NO_VALUE_OPS])
    window_editor(node, uid)
