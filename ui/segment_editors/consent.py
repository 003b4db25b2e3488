"""Editor of a ``consent`` condition: a purpose, granted or not."""
from __future__ import annotations

import streamlit as st

from ui.segment_editors.widgets import select


def render(node: dict, uid: str, choices: dict) -> None:
    node["purpose"] = select("Purpose", choices["purposes"], node.get("purpose", "email"), f"{uid}_purpose")
    node["granted"] = st.toggle("Granted (off: not granted or unknown)", value=node.get("granted", True),
                                key=f"{uid}_granted")
