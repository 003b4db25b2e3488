"""Editor of a ``segment`` condition: another saved segment (not the one being edited)."""
from __future__ import annotations

import streamlit as st

from engine.segments import list_segments
from ui.context import workspace
from ui.segment_editors.widgets import select


def render(node: dict, uid: str, choices: dict) -> None:
    saved = list_segments(workspace())
    loaded = st.session_state.get("seg_loaded") or {}
    saved = saved[saved["segment_id"] != loaded.get("segment_id")]
    names = dict(zip(saved["segment_id"], saved["name"]))
    if not names:
        st.caption("No other saved segments yet.")
    else:
        node["segment_id"] = select("Segment", list(names), node.get("segment_id"), f"{uid}_seg",
                                    format_func=lambda s: names.get(s, s))
