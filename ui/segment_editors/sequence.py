"""Editor of a ``sequence`` condition: first event, then event, within N days."""
from __future__ import annotations

import streamlit as st

from ui.segment_editors.widgets import event_picker, window_editor


def render(node: dict, uid: str, choices: dict) -> None:
    first, then = node.setdefault("first", {}), node.setdefault("then", {})
    c1, c2 = st.columns(2)
    with c1:
        first["event"] = event_picker("First", first.get("event"), f"{uid}_first", choices)
    with c2:
        then["event"] = event_picker("Then", then.get("event"), f"{uid}_then", choices)
    node["within_days"] = int(st.number_input("Within days", min_value=1, step=1,
                                              value=int(node.get("within_days", 7)), key=f"{uid}_within"))
    window_editor(node, uid, "When the second event happened")
