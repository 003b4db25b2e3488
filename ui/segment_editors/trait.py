"""Editor of a ``trait`` condition: a profile field, or a custom trait with its type and table."""
from __future__ import annotations

import streamlit as st

from engine.segments.kinds.trait import PREFIX, TRAIT_TABLES
from engine.segments.rules import OPS_BY_TYPE
from ui.segment_editors.widgets import select, value_editor

CUSTOM = "custom trait"


def render(node: dict, uid: str, choices: dict) -> None:
    fields = choices["profile_fields"]
    options = [f for f in fields if f != "profile_id"] + [CUSTOM]
    current = CUSTOM if str(node.get("field", "")).startswith(PREFIX) else node.get("field")
    picked = select("Field", options, current, f"{uid}_field")
    if picked == CUSTOM:
        c1, c2, c3 = st.columns(3)
        name = c1.text_input("Trait name", str(node.get("field", PREFIX))[len(PREFIX):], key=f"{uid}_tkey")
        node["field"] = PREFIX + name
        node["value_type"] = select("Type", list(OPS_BY_TYPE), node.get("value_type", "string"), f"{uid}_vtype")
        node["table"] = select("From", list(TRAIT_TABLES), node.get("table", "contacts"), f"{uid}_table")
        value_editor(node, node["value_type"], f"{uid}_{node['value_type']}")
    else:
        node["field"] = picked
        node.pop("value_type", None)
        node.pop("table", None)
        value_editor(node, fields[picked], f"{uid}_{fields[picked]}")
