"""Widgets the segment condition editors share: pickers, operator/value, window, property filters.

Each editor (ui/segment_editors/<kind>.py) writes what the person picked into the condition's
dict; widget keys start with the condition's uid so a condition's widgets can be forgotten at once.
"""
from __future__ import annotations

from datetime import date

import streamlit as st

from engine.segments.rules import NO_VALUE_OPS, OPS_BY_TYPE

OP_LABELS = {
    "equals": "equals", "not_equals": "does not equal", "one_of": "is one of", "not_one_of": "is not one of",
    "contains": "contains", "not_contains": "does not contain", "starts_with": "starts with",
    "ends_with": "ends with", "is_set": "is set", "not_set": "is not set", "gt": ">", "gte": "≥",
    "lt": "<", "lte": "≤", "between": "between", "before": "before", "after": "after", "on": "on",
    "within_last_days": "within the last N days", "more_than_days_ago": "more than N days ago",
    "is_true": "is true", "is_false": "is false", "top_percent": "in the top N %",
}
WINDOW_LABELS = {"ever": "at any time", "last_days": "in the last N days",
                 "between_dates": "between two dates", "days_ago": "between N and M days ago"}


def select(label, options, current, key, format_func=str, **kw):
    options = list(options)
    if current is not None and current not in options:
        options = [current] + options
    index = options.index(current) if current in options else 0
    return st.selectbox(label, options, index=index, key=key, format_func=format_func, **kw)


def as_date(value, fallback: date | None = None) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except (TypeError, ValueError):
        return fallback or date.today()


def number(text: str):
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        return text  # validation names it


def value_editor(node: dict, value_type: str, uid: str, ops=None) -> None:
    ops = list(ops or OPS_BY_TYPE[value_type])
    op = select("Operator", ops, node.get("op"), f"{uid}_op", format_func=lambda o: OP_LABELS.get(o, o))
    node["op"] = op
    current = node.get("value")
    if op in NO_VALUE_OPS:
        node.pop("value", None)
    elif op in ("one_of", "not_one_of"):
        text = st.text_input("Values, comma-separated", key=f"{uid}_{op}_list",
                             value=", ".join(map(str, current)) if isinstance(current, list) else "")
        items = [x.strip() for x in text.split(",") if x.strip()]
        node["value"] = [number(x) for x in items] if value_type == "number" else items
    elif op == "between":
        low, high = (current if isinstance(current, list) and len(current) == 2 else [None, None])
        a, b = st.columns(2)
        if value_type == "date":
            node["value"] = [a.date_input("From", as_date(low), key=f"{uid}_bd1").isoformat(),
                             b.date_input("To", as_date(high), key=f"{uid}_bd2").isoformat()]
        else:
            node["value"] = [a.number_input("From", value=float(low or 0), key=f"{uid}_bn1"),
                             b.number_input("To", value=float(high or 0), key=f"{uid}_bn2")]
    elif op in ("within_last_days", "more_than_days_ago"):
        node["value"] = int(st.number_input("Days", min_value=0, step=1, key=f"{uid}_days",
                                            value=int(current) if isinstance(current, int) else 30))
    elif op == "top_percent":
        node["value"] = st.number_input("Top %", min_value=0.1, max_value=100.0, key=f"{uid}_pct",
                                        value=float(current) if isinstance(current, (int, float)) else 10.0)
    elif value_type == "number":
        node["value"] = st.number_input("Value", key=f"{uid}_num",
                                        value=float(current) if isinstance(current, (int, float)) else 0.0)
    elif value_type == "date":
        node["value"] = st.date_input("Date", as_date(current), key=f"{uid}_date").isoformat()
    else:
        node["value"] = st.text_input("Value", value="" if current is None else str(current), key=f"{uid}_text")


def window_editor(node: dict, uid: str, label: str = "When") -> None:
    window = node.get("window") or {"type": "ever"}
    kind = select(label, list(WINDOW_LABELS), window.get("type", "ever"), f"{uid}_wt",
                   format_func=WINDOW_LABELS.get)
    if kind == "ever":
        node.pop("window", None)
    elif kind == "last_days":
        node["window"] = {"type": kind, "days": int(st.number_input(
            "Days", min_value=1, step=1, value=int(window.get("days", 30)), key=f"{uid}_wd"))}
    elif kind == "between_dates":
        a, b = st.columns(2)
        node["window"] = {"type": kind,
                          "start": a.date_input("From", as_date(window.get("start")), key=f"{uid}_ws").isoformat(),
                          "end": b.date_input("To", as_date(window.get("end")), key=f"{uid}_we").isoformat()}
    else:
        a, b = st.columns(2)
        node["window"] = {"type": kind,
                          "min_days": int(a.number_input("From N days ago", min_value=0, step=1,
                                                         value=int(window.get("min_days", 30)), key=f"{uid}_wmin")),
                          "max_days": int(b.number_input("To M days ago", min_value=0, step=1,
                                                         value=int(window.get("max_days", 60)), key=f"{uid}_wmax"))}


def filters_editor(node: dict, uid: str) -> None:
    filters = node.setdefault("filters", [])
    for i, f in enumerate(list(filters)):
        cols = st.columns([2, 1, 1])
        f["property"] = cols[0].text_input("Property", f.get("property", ""), key=f"{uid}_f{i}_p")
        f["value_type"] = cols[1].selectbox("Type", ["string", "number"], key=f"{uid}_f{i}_t",
                                            index=["string", "number"].index(f.get("value_type", "string")))
        if cols[2].button("Remove filter", key=f"{uid}_f{i}_rm"):
            filters.pop(i)
            st.rerun()
        value_editor(f, f["value_type"], f"{uid}_f{i}")
    if st.button("Add property filter", key=f"{uid}_addf", icon=":material/filter_alt:"):
        filters.append({"property": "", "op": "equals", "value": ""})
        st.rerun()
    if not filters:
        node.pop("filters", None)


def event_picker(label: str, current, key: str, choices: dict) -> str:
    return select(label, choices["events"] or ["Order Completed"], current, key, accept_new_options=True)


def as_list(value) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def measure_label(measure: str) -> str:
    return measure.replace("_", " ")


def names_picker(label: str, known, current, key: str, **kw) -> list:
    """A multiselect of known names plus the ones the condition holds already."""
    return st.multiselect(label, sorted(set(known) | set(as_list(current))), default=as_list(current), key=key, **kw)


def forget_widgets(uid: str, keep: str = "") -> None:
    """Drop a condition's widget values (window, operator, value...) but `keep`, so a new kind
    starts from its own defaults instead of the previous kind's settings."""
    for key in [k for k in st.session_state if str(k).startswith(f"{uid}_") and k != keep]:
        del st.session_state[key]
