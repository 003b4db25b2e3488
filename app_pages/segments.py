"""Segments: build audiences visually, see their size as you edit, save, version, compare."""
from __future__ import annotations

import copy
import json
from datetime import date

import pandas as pd
import plotly.express as px
import streamlit as st

from engine import segments as seg
from engine.access import can
from engine.segments import model
from ui.context import current_user, require_page, workspace
from ui.text import md, plain

user = require_page("view")
ws = workspace()
may_edit = can(user, "edit_segments")

KIND_LABELS = {
    "trait": "Trait (profile field or custom trait)",
    "event": "Behaviour: performed / did not perform an event",
    "sequence": "Behaviour: event then event within N days",
    "aggregate": "Aggregate: sum / average / min / max of a value",
    "orders": "Orders: count, revenue, dates, products",
    "subscription": "Subscription: active plan, cancelled",
    "crm": "CRM: lead stage, owner, deal value",
    "value": "Value: RFM segment, predicted CLV, p(alive)",
    "consent": "Consent for a purpose",
    "source": "Present in a source",
    "segment": "Member of another segment",
    "tag": "Tagged",
}
GROUP_LABELS = {"all": "All of", "any": "Any of", "none": "None of"}
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
COUNT_LABELS = {"at_least": "at least", "at_most": "at most", "exactly": "exactly", "none": "did not perform"}


# -- state ---------------------------------------------------------------------

def _uid() -> str:
    st.session_state.seg_uid = st.session_state.get("seg_uid", 0) + 1
    return f"n{st.session_state.seg_uid}"


def _with_uids(node: dict) -> dict:
    node = copy.deepcopy(node)

    def walk(n):
        n["_uid"] = _uid()
        for child in n.get("children", []):
            walk(child)
    walk(node)
    node["_uid"] = "root"
    return node


def _clean(node: dict) -> dict:
    out = {k: v for k, v in node.items() if not k.startswith("_")}
    if "children" in out:
        out["children"] = [_clean(c) for c in out["children"]]
    return out


def _load(definition: dict, segment: dict | None, name: str | None = None) -> None:
    """Put a definition in the builder; widget values are applied at the top of the next run."""
    st.session_state.seg_tree = _with_uids(definition)
    st.session_state.seg_loaded = segment
    st.session_state.seg_pending = {
        "seg_name": name if name is not None else (segment["name"] if segment else ""),
        "seg_desc": (segment or {}).get("description") or "", "seg_note": ""}


if "seg_tree" not in st.session_state:
    _load(model.empty_definition(), None)
for _key, _value in st.session_state.pop("seg_pending", {}).items():
    st.session_state[_key] = _value


def _find(node: dict, uid: str) -> tuple[dict | None, dict | None]:
    """(node, parent) for uid."""
    for child in node.get("children", []):
        if child["_uid"] == uid:
            return child, node
        found = _find(child, uid)
        if found[0] is not None:
            return found
    return (node, None) if node.get("_uid") == uid else (None, None)


def _add_condition(uid: str) -> None:
    group, _ = _find(st.session_state.seg_tree, uid)
    group["children"].append({"type": "condition", "kind": "trait", "field": "country", "op": "equals",
                              "value": "", "_uid": _uid()})


def _add_group(uid: str) -> None:
    group, _ = _find(st.session_state.seg_tree, uid)
    group["children"].append({"type": "group", "op": "any", "children": [], "_uid": _uid()})


def _remove(uid: str) -> None:
    node, parent = _find(st.session_state.seg_tree, uid)
    if parent is not None:
        parent["children"].remove(node)


# -- cached reads (keyed by workspace data version and the definition's JSON) -----------

@st.cache_data(show_spinner=False, max_entries=64)
def _choices(path: str, version: int) -> dict:
    return seg.builder_choices(ws)


@st.cache_data(show_spinner=False, max_entries=256)
def _live(path: str, version: int, definition_json: str, segment_id: str | None, role: str, _user) -> dict:
    """Reach and a sample; keyed by role too, since the sample is masked per role."""
    definition = json.loads(definition_json)
    reach = seg.reachability(ws, _user, definition, segment_id=segment_id)
    sample = seg.sample_members(ws, _user, definition, n=20, segment_id=segment_id)
    return {"reach": reach, "sample": sample}


def _select(label, options, current, key, format_func=str, **kw):
    options = list(options)
    if current is not None and current not in options:
        options = [current] + options
    index = options.index(current) if current in options else 0
    return st.selectbox(label, options, index=index, key=key, format_func=format_func, **kw)


# -- editors ----------------------------------------------------------------------

def _as_date(value, fallback: date | None = None) -> date:
    try:
        return date.fromisoformat(str(value)[:10])
    except (TypeError, ValueError):
        return fallback or date.today()


def _number(text: str):
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        return text  # validation names it


def value_editor(node: dict, value_type: str, uid: str, ops=None) -> None:
    ops = list(ops or model.OPS_BY_TYPE[value_type])
    op = _select("Operator", ops, node.get("op"), f"{uid}_op", format_func=lambda o: OP_LABELS.get(o, o))
    node["op"] = op
    current = node.get("value")
    if op in model.NO_VALUE_OPS:
        node.pop("value", None)
    elif op in ("one_of", "not_one_of"):
        text = st.text_input("Values, comma-separated", key=f"{uid}_{op}_list",
                             value=", ".join(map(str, current)) if isinstance(current, list) else "")
        items = [x.strip() for x in text.split(",") if x.strip()]
        node["value"] = [_number(x) for x in items] if value_type == "number" else items
    elif op == "between":
        low, high = (current if isinstance(current, list) and len(current) == 2 else [None, None])
        a, b = st.columns(2)
        if value_type == "date":
            node["value"] = [a.date_input("From", _as_date(low), key=f"{uid}_bd1").isoformat(),
                             b.date_input("To", _as_date(high), key=f"{uid}_bd2").isoformat()]
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
        node["value"] = st.date_input("Date", _as_date(current), key=f"{uid}_date").isoformat()
    else:
        node["value"] = st.text_input("Value", value="" if current is None else str(current), key=f"{uid}_text")


def window_editor(node: dict, uid: str, label: str = "When") -> None:
    window = node.get("window") or {"type": "ever"}
    kind = _select(label, list(WINDOW_LABELS), window.get("type", "ever"), f"{uid}_wt",
                   format_func=WINDOW_LABELS.get)
    if kind == "ever":
        node.pop("window", None)
    elif kind == "last_days":
        node["window"] = {"type": kind, "days": int(st.number_input(
            "Days", min_value=1, step=1, value=int(window.get("days", 30)), key=f"{uid}_wd"))}
    elif kind == "between_dates":
        a, b = st.columns(2)
        node["window"] = {"type": kind,
                          "start": a.date_input("From", _as_date(window.get("start")), key=f"{uid}_ws").isoformat(),
                          "end": b.date_input("To", _as_date(window.get("end")), key=f"{uid}_we").isoformat()}
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
    return _select(label, choices["events"] or ["Order Completed"], current, key, accept_new_options=True)


def _forget_widgets(uid: str) -> None:
    """Drop a condition's widget values (window, operator, value...) except its kind picker, so a
    new kind starts from its own defaults instead of the previous kind's settings."""
    for key in [k for k in st.session_state if str(k).startswith(f"{uid}_") and k != f"{uid}_kind"]:
        del st.session_state[key]


def condition_editor(node: dict, choices: dict) -> None:
    uid = node["_uid"]
    kind = _select("Condition", list(KIND_LABELS), node.get("kind"), f"{uid}_kind", format_func=KIND_LABELS.get)
    if kind != node.get("kind"):
        node.clear()
        node.update({"type": "condition", "kind": kind, "_uid": uid})
        _forget_widgets(uid)
    k = node["kind"]
    if k == "trait":
        fields = choices["profile_fields"]
        options = [f for f in fields if f != "profile_id"] + ["custom trait"]
        current = "custom trait" if str(node.get("field", "")).startswith("traits.") else node.get("field")
        picked = _select("Field", options, current, f"{uid}_field")
        if picked == "custom trait":
            c1, c2, c3 = st.columns(3)
            name = c1.text_input("Trait name", str(node.get("field", "traits."))[len("traits."):], key=f"{uid}_tkey")
            node["field"] = "traits." + name
            node["value_type"] = _select("Type", list(model.OPS_BY_TYPE), node.get("value_type", "string"),
                                         f"{uid}_vtype")
            node["table"] = _select("From", list(model.TRAIT_TABLES), node.get("table", "contacts"), f"{uid}_table")
            value_editor(node, node["value_type"], f"{uid}_{node['value_type']}")
        else:
            node["field"] = picked
            node.pop("value_type", None)
            node.pop("table", None)
            value_editor(node, fields[picked], f"{uid}_{fields[picked]}")
    elif k == "event":
        node["event"] = event_picker("Event", node.get("event"), f"{uid}_event", choices)
        c1, c2 = st.columns(2)
        with c1:
            node["count_op"] = _select("How often", list(COUNT_LABELS), node.get("count_op", "at_least"),
                                       f"{uid}_cop", format_func=COUNT_LABELS.get)
        with c2:
            if node["count_op"] != "none":
                node["count"] = int(st.number_input("Times", min_value=0, step=1, value=int(node.get("count", 1)),
                                                    key=f"{uid}_cnt"))
            else:
                node.pop("count", None)
        window_editor(node, uid)
        filters_editor(node, uid)
    elif k == "sequence":
        first, then = node.setdefault("first", {}), node.setdefault("then", {})
        c1, c2 = st.columns(2)
        with c1:
            first["event"] = event_picker("First", first.get("event"), f"{uid}_first", choices)
        with c2:
            then["event"] = event_picker("Then", then.get("event"), f"{uid}_then", choices)
        node["within_days"] = int(st.number_input("Within days", min_value=1, step=1,
                                                  value=int(node.get("within_days", 7)), key=f"{uid}_within"))
        window_editor(node, uid, "When the second event happened")
    elif k == "aggregate":
        c1, c2 = st.columns(2)
        with c1:
            node["source"] = _select("Of", ["orders", "event"], node.get("source", "orders"), f"{uid}_src")
        with c2:
            node["func"] = _select("Measure", list(model.AGG_FUNCS), node.get("func", "sum"), f"{uid}_func")
        if node["source"] == "event":
            node["event"] = event_picker("Event", node.get("event"), f"{uid}_aevent", choices)
            if node["func"] != "count":
                node["property"] = st.text_input("Property", node.get("property", "revenue"), key=f"{uid}_aprop")
        else:
            node.pop("event", None)
            node["property"] = _select("Order value", list(model.ORDER_PROPERTIES), node.get("property", "amount"),
                                       f"{uid}_oprop")
        value_editor(node, "number", uid, ops=[o for o in model.NUMBER_OPS if o not in model.NO_VALUE_OPS])
        window_editor(node, uid)
    elif k == "orders":
        measures = list(model.ORDER_NUMBER_MEASURES + model.ORDER_DATE_MEASURES) + ["bought"]
        node["measure"] = _select("Measure", measures, node.get("measure", "order_count"), f"{uid}_measure",
                                  format_func=lambda m: m.replace("_", " "))
        if node["measure"] == "bought":
            node["item_field"] = _select("Product field", list(model.ITEM_FIELDS), node.get("item_field", "category"),
                                         f"{uid}_item")
            value_editor(node, "string", f"{uid}_b", ops=["equals", "one_of", "contains", "starts_with"])
            window_editor(node, uid)
        elif node["measure"] in model.ORDER_DATE_MEASURES:
            value_editor(node, "date", f"{uid}_d")
            node.pop("window", None)
        else:
            value_editor(node, "number", f"{uid}_n")
            window_editor(node, uid)
    elif k == "subscription":
        node["state"] = _select("State", list(model.SUBSCRIPTION_STATES), node.get("state", "active"), f"{uid}_state")
        plans = st.multiselect("Plans (any if empty)", sorted(set(choices["plans"]) | set(_as_list(node.get("plan")))),
                               default=_as_list(node.get("plan")), key=f"{uid}_plans")
        if plans:
            node["plan"] = plans
        else:
            node.pop("plan", None)
        window_editor(node, uid, "Cancelled" if node["state"] == "cancelled" else "Started")
    elif k == "crm":
        node["measure"] = _select("Measure", list(model.CRM_MEASURES), node.get("measure", "stage_is"),
                                  f"{uid}_crm", format_func=lambda m: m.replace("_", " "))
        m = node["measure"]
        if m in ("stage_is", "owner"):
            value_editor(node, "string", f"{uid}_s")
        elif m == "deal_value":
            value_editor(node, "number", f"{uid}_n")
        else:
            stages = st.multiselect("Stages" + (" (any change if empty)" if m == "stage_changed" else ""),
                                    sorted(set(choices["stages"]) | set(_as_list(node.get("value")))),
                                    default=_as_list(node.get("value")), key=f"{uid}_stages")
            node.pop("op", None)
            if stages:
                node["value"] = stages
            else:
                node.pop("value", None)
            window_editor(node, uid)
    elif k == "value":
        node["field"] = _select("Score", list(model.VALUE_FIELDS), node.get("field", "predicted_clv"), f"{uid}_vf")
        vt = model.VALUE_FIELDS[node["field"]]
        ops = list(model.OPS_BY_TYPE[vt]) + (["top_percent"] if vt == "number" else [])
        value_editor(node, vt, f"{uid}_{vt}", ops=ops)
    elif k == "consent":
        node["purpose"] = _select("Purpose", choices["purposes"], node.get("purpose", "email"), f"{uid}_purpose")
        node["granted"] = st.toggle("Granted (off: not granted or unknown)", value=node.get("granted", True),
                                    key=f"{uid}_granted")
    elif k == "source":
        node["source"] = _select("Source", choices["sources"] or ["(no sources yet)"], node.get("source"),
                                 f"{uid}_source", accept_new_options=True)
        node["present"] = st.toggle("Present (off: absent)", value=node.get("present", True), key=f"{uid}_present")
    elif k == "segment":
        saved = seg.list_segments(ws)
        loaded = st.session_state.get("seg_loaded") or {}
        saved = saved[saved["segment_id"] != loaded.get("segment_id")]
        names = dict(zip(saved["segment_id"], saved["name"]))
        if not names:
            st.caption("No other saved segments yet.")
        else:
            node["segment_id"] = _select("Segment", list(names), node.get("segment_id"), f"{uid}_seg",
                                         format_func=lambda s: names.get(s, s))
    elif k == "tag":
        tags = st.multiselect("Tags (any of)", sorted(set(choices["tags"]) | set(_as_list(node.get("tag")))),
                              default=_as_list(node.get("tag")), key=f"{uid}_tags", accept_new_options=True)
        node["tag"] = tags


def _as_list(value) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def group_editor(node: dict, choices: dict, depth: int = 0) -> None:
    uid = node["_uid"]
    with st.container(border=True):
        head = st.columns([2, 1, 1, 1] if depth else [2, 1, 1])
        node["op"] = head[0].selectbox("Match", list(GROUP_LABELS), index=list(GROUP_LABELS).index(node["op"]),
                                       key=f"{uid}_gop", format_func=GROUP_LABELS.get, label_visibility="collapsed")
        head[1].button("Condition", key=f"{uid}_addc", icon=":material/add:", on_click=_add_condition, args=(uid,),
                       use_container_width=True)
        head[2].button("Group", key=f"{uid}_addg", icon=":material/account_tree:", on_click=_add_group, args=(uid,),
                       use_container_width=True)
        if depth:
            head[3].button("Remove", key=f"{uid}_rm", icon=":material/delete:", on_click=_remove, args=(uid,),
                           use_container_width=True)
        if not node["children"]:
            st.caption("Empty group: " + ("matches everyone." if node["op"] != "any" else "matches no one."))
        for child in node["children"]:
            if child.get("type") == "group":
                group_editor(child, choices, depth + 1)
            else:
                with st.container(border=True):
                    condition_editor(child, choices)
                    st.button("Remove condition", key=f"{child['_uid']}_rm", on_click=_remove,
                              args=(child["_uid"],), icon=":material/close:")


# -- page ----------------------------------------------------------------------------

st.title("Segments")
version = ws.data_version()
choices = _choices(str(ws.path), version)
saved = seg.list_segments(ws)

builder, overlap_tab, sizes_tab = st.tabs(["Builder", "Overlap", "Size over time"])

with builder:
    top = st.columns([3, 1, 1])
    seg_names = dict(zip(saved["segment_id"], saved["name"]))
    loaded = st.session_state.get("seg_loaded")
    pick = top[0].selectbox("Open a saved segment", ["(new segment)"] + list(seg_names),
                            format_func=lambda s: seg_names.get(s, s), key="seg_pick")
    if top[1].button("Open", key="seg_open", use_container_width=True) and pick != "(new segment)":
        record = seg.get_segment(ws, pick)
        if record["kind"] == "static":
            st.info("This is a static list of people; it has no rules to edit. It can still be used in "
                    "other segments and in the Overlap tab.")
        else:
            _load(record["definition"], record)
            st.rerun()
    if top[2].button("New", key="seg_new", use_container_width=True):
        _load(model.empty_definition(), None)
        st.rerun()
    loaded = st.session_state.get("seg_loaded")
    if loaded:
        st.caption(f"Editing **{md(loaded['name'])}** (version {loaded['version']}).")

    left, right = st.columns([3, 2], gap="large")
    with left:
        group_editor(st.session_state.seg_tree, choices)
    definition = _clean(st.session_state.seg_tree)
    error = None
    try:
        definition = model.validate(definition, choices["profile_fields"])
    except model.DefinitionError as exc:
        error = str(exc)

    with right:
        st.subheader("Live size")
        live = None
        if error:
            st.warning(f"Finish the rules to see the count: {md(error)}")
        else:
            try:
                with st.spinner("Counting…"):
                    live = _live(str(ws.path), version, json.dumps(definition, sort_keys=True),
                                 loaded["segment_id"] if loaded else None, user.role, current_user())
            except model.PersonalConditionRefused as exc:
                st.error(md(exc), icon=":material/lock:")
            except model.DefinitionError as exc:
                st.warning(md(exc))
        if live:
            reach = live["reach"]
            st.metric("Members", f"{reach['members']:,}")
            c1, c2, c3 = st.columns(3)
            c1.metric("By email", f"{reach['email']:,}")
            c2.metric("By phone", f"{reach['phone']:,}")
            c3.metric("By ad ids", f"{reach['ad_ids']:,}")
            st.caption(f"Reachable by at least one channel: {reach['any_channel']:,} "
                       "(suppressed identifiers excluded; consent is enforced when pushing).")
            st.markdown("**Sample of members**")
            st.dataframe(live["sample"], hide_index=True, use_container_width=True, height=260)
        index_status = seg.store.event_index.status(ws)
        if not index_status["fresh"] and model.condition_count(definition) and any(
                k in json.dumps(definition) for k in ('"event"', '"sequence"', '"aggregate"')):
            st.caption("Events changed since the event index was built, so behavioural conditions read "
                       "events directly (slower on big workspaces). Refresh on the *Size over time* tab.")
        st.markdown("**In words**")
        st.text(model.describe(definition) if not error else model.describe(_clean(st.session_state.seg_tree)))

        if can(user, "view_sql") and not error:
            with st.expander("Generated SQL (admins)"):
                try:
                    compiled = seg.definition_sql(ws, user, definition,
                                                  segment_id=loaded["segment_id"] if loaded else None)
                    st.code(compiled.pretty(), language="sql")
                except model.DefinitionError as exc:
                    st.warning(md(exc))

    st.divider()
    save_col, io_col = st.columns([3, 2], gap="large")
    with save_col:
        st.subheader("Save")
        if not may_edit:
            st.caption("Your role can count segments but not save them.")
        else:
            name = st.text_input("Name", key="seg_name", max_chars=120)
            desc = st.text_area("Description", key="seg_desc", height=68)
            note = st.text_input("What changed (optional)", key="seg_note")
            b1, b2, b3 = st.columns(3)
            if b1.button("Save as new segment", type="primary", key="seg_save_new", disabled=bool(error)):
                try:
                    sid = seg.create_segment(ws, user, name, definition, desc)
                    _load(definition, seg.get_segment(ws, sid))
                    st.session_state.seg_flash = f"Saved {md(repr(name))}."
                    st.rerun()
                except (ValueError, PermissionError) as exc:
                    st.error(md(exc))
            if loaded and b2.button("Save new version", key="seg_save_version", disabled=bool(error)):
                try:
                    v = seg.save_segment(ws, user, loaded["segment_id"], definition, name=name,
                                         description=desc, note=note)
                    _load(definition, seg.get_segment(ws, loaded["segment_id"]))
                    st.session_state.seg_flash = f"Saved version {v}."
                    st.rerun()
                except (ValueError, PermissionError) as exc:
                    st.error(md(exc))
            if loaded and b3.button("Duplicate", key="seg_dup"):
                sid = seg.duplicate_segment(ws, user, loaded["segment_id"])
                _load(definition, seg.get_segment(ws, sid))
                st.session_state.seg_flash = "Duplicated."
                st.rerun()
        if st.session_state.get("seg_flash"):
            st.success(st.session_state.pop("seg_flash"))

        if loaded:
            with st.expander("Versions"):
                history = seg.segment_versions(ws, loaded["segment_id"])
                st.dataframe(history.drop(columns=["definition"]), hide_index=True, use_container_width=True)
                which = st.selectbox("Version", list(history["version"]), key="seg_version_pick")
                chosen = history[history["version"] == which].iloc[0]
                if chosen["definition"]:
                    st.text(model.describe(json.loads(chosen["definition"])))
                if may_edit and st.button("Restore this version", key="seg_restore",
                                          disabled=int(which) == loaded["version"]):
                    seg.restore_version(ws, user, loaded["segment_id"], int(which))
                    record = seg.get_segment(ws, loaded["segment_id"])
                    _load(record["definition"], record)
                    st.session_state.seg_flash = f"Restored version {which}."
                    st.rerun()

            if may_edit:
                def _stop_deleting():
                    st.session_state.pop("seg_deleting", None)

                @st.dialog("Delete segment", on_dismiss=_stop_deleting)
                def confirm_delete(segment):
                    st.write(f"Delete **{md(segment['name'])}**? Its history is kept; it stops appearing in lists.")
                    links = seg.audience_links(ws, segment["segment_id"])
                    if links:
                        st.warning(md(f"It feeds {len(links)} audience link(s): {seg.store.links_text(links)}. "
                                      f"The links are {seg.store.AUDIENCE_LINKS_ON_DELETE}."))
                    force = bool(links) and st.checkbox("Delete it anyway", key="seg_delete_force")
                    yes, no = st.columns(2)
                    if yes.button("Delete", type="primary", key="seg_delete_yes", disabled=bool(links) and not force):
                        try:
                            seg.delete_segment(ws, user, segment["segment_id"], force=force)
                            _stop_deleting()
                            _load(model.empty_definition(), None)
                            st.rerun()
                        except ValueError as exc:
                            st.error(md(exc))
                    if no.button("Cancel", key="seg_delete_no"):
                        _stop_deleting()
                        st.rerun()

                if st.button("Delete segment…", key="seg_delete", icon=":material/delete:"):
                    st.session_state.seg_deleting = loaded["segment_id"]
                if st.session_state.get("seg_deleting") == loaded["segment_id"]:
                    confirm_delete(loaded)

    with io_col:
        st.subheader("JSON")
        doc = {"format": seg.store.EXPORT_FORMAT, "format_version": seg.store.EXPORT_VERSION,
               "name": st.session_state.get("seg_name") or "segment",
               "description": st.session_state.get("seg_desc") or "", "definition": definition}
        st.download_button("Export definition", json.dumps(doc, indent=2), key="seg_export",
                           file_name=f"{(doc['name'] or 'segment').replace(' ', '_')}.json",
                           mime="application/json", icon=":material/download:", disabled=bool(error))
        upload = st.file_uploader("Import a definition", type=["json"], key="seg_import")
        if upload is not None and st.button("Load into the builder", key="seg_import_go"):
            try:
                parsed = seg.parse_import(upload.getvalue())
                _load(parsed["definition"], None, name=parsed["name"])
                st.session_state.seg_flash = "Imported; review and save it."
                st.rerun()
            except model.DefinitionError as exc:
                st.error(md(exc))

with overlap_tab:
    if len(saved) < 2:
        st.info("Save at least two segments to compare them.")
    else:
        names = dict(zip(saved["segment_id"], saved["name"]))
        chosen = st.multiselect("Segments to compare", list(names), default=list(names)[:3],
                                format_func=names.get, key="seg_overlap_pick", max_selections=8)
        if len(chosen) >= 2:
            result = seg.overlap(ws, user, chosen)
            matrix = result["matrix"]
            c1, c2 = st.columns(2)
            with c1:
                st.markdown("**People in both (pairwise)**")
                matrix = matrix.rename(index=plain, columns=plain)
                fig = px.imshow(matrix, text_auto=True, color_continuous_scale="Blues", aspect="auto")
                fig.update_layout(margin=dict(l=0, r=0, t=10, b=0), height=360)
                st.plotly_chart(fig, use_container_width=True)
            with c2:
                st.markdown("**Exclusive combinations (UpSet-style)**")
                combos = result["combinations"].head(20)
                combos = combos.assign(segments=combos["segments"].map(plain))
                fig = px.bar(combos, x="people", y="segments", orientation="h", color="size")
                fig.update_layout(margin=dict(l=0, r=0, t=10, b=0), height=360,
                                  yaxis={"categoryorder": "total ascending"})
                st.plotly_chart(fig, use_container_width=True)

with sizes_tab:
    status = seg.store.event_index.status(ws)
    st.caption(("Event index is up to date" if status["fresh"] else
                "Event index is out of date: counts read events directly (slower) until a refresh")
               + f" · {status['rows']:,} events indexed.")
    if st.button("Refresh: rebuild index if needed and snapshot every segment", key="seg_refresh"):
        bar = st.progress(0.0, "Starting")
        report = seg.refresh_segments(ws, user, progress=lambda f, m: bar.progress(min(f, 1.0), m))
        st.success(f"Counted {len(report['counts'])} segments.")
    history = seg.snapshot_history(ws)
    if history.empty:
        st.info("No snapshots yet: each save and each refresh records a segment's size.")
    else:
        fig = px.line(history, x="taken_at", y="member_count", color="name", markers=True,
                      labels={"taken_at": "", "member_count": "Members", "name": "Segment"})
        fig.update_layout(margin=dict(l=0, r=0, t=10, b=0), height=380)
        st.plotly_chart(fig, use_container_width=True)
        st.dataframe(history, hide_index=True, use_container_width=True)
