"""Editor of a ``source`` condition: a source, present or absent."""
from __future__ import annotations

import streamlit as st

from ui.segment_editors.widgets import select


def render(node: dict, uid: str, choices: dict) -> None:
    node["source"] = select("Source", choices["sources"] or ["(no sources yet)"], node.get("source"),
                            f"{uid}_source", accept_new_options=True)
    node["present"] = st.toggle("Present (off: absent)", value=node.get("present", True), key=f"{uid}_present")
