"""Segments: build audiences visually, see their size as you edit, save, version, compare."""
from __future__ import annotations

import copy
import json

import plotly.express as px
import streamlit as st

from engine import segments as seg
from engine.access import can
from engine.segments import kinds, model
from ui import segment_editors
from ui.context import cached_query, current_user, require_page, workspace
from ui.freshness import keep_fresh
from ui.recent import recent_query, recounting
from ui.segment_editors.widgets import forget_widgets, select
from ui.text import md, plain

user = require_page("view")
ws = workspace()
may_edit = can(user, "edit_segments")

GROUP_LABELS = {"all": "All of", "any": "Any of", "none": "None of"}


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


def condition_editor(node: dict, choices: dict) -> None:
    """The kind picker, then the kind's own editor (ui/segment_editors/<kind>.py)."""
    uid = node["_uid"]
    kind = select("Condition", list(kinds.NAMES), node.get("kind"), f"{uid}_kind", format_func=kinds.label)
    if kind != node.get("kind"):
        node.clear()
        node.update({"type": "condition", "kind": kind, "_uid": uid})
        forget_widgets(uid, keep=f"{uid}_kind")
    segment_editors.editor(kind)(node, uid, choices)


def group_editor(node: dict, choices: dict, depth: int = 0) -> None:
    uid = node["_uid"]
    with st.container(border=True):
        head = st.columns([2, 1, 1, 1] if depth else [2, 1, 1])
        node["op"] = head[0].selectbox("Match", list(GROUP_LABELS), index=list(GROUP_LABELS).index(node["op"]),
                                       key=f"{uid}_gop", format_func=GROUP_LABELS.get, label_visibility="collapsed")
        head[1].button("Condition", key=f"{uid}_addc", icon=":material/add:", on_click=_add_condition, args=(uid,),
                       width="stretch")
        head[2].button("Group", key=f"{uid}_addg", icon=":material/account_tree:", on_click=_add_group, args=(uid,),
                       width="stretch")
        if depth:
            head[3].button("Remove", key=f"{uid}_rm", icon=":material/delete:", on_click=_remove, args=(uid,),
                           width="stretch")
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
keep_fresh("segment event index")   # counts read events directly until it is updated
choices = recent_query(seg.builder_choices).value     # pick lists: a landing's new names a moment later
saved = seg.list_segments(ws)

# Lazy tabs: only the open one runs (the overlap and the size history read every saved segment).
builder, overlap_tab, sizes_tab = st.tabs(["Builder", "Overlap", "Size over time"], key="seg_tab",
                                          on_change="rerun")


@st.fragment
def _builder() -> None:
    """The builder, its live size and saving: an edit reruns only this, not the whole screen
    (Open, New, saving and deleting rerun the screen, so lists and tabs see the change)."""
    choices = recent_query(seg.builder_choices).value     # pick lists: a landing's new names a moment later
    top = st.columns([3, 1, 1])
    seg_names = dict(zip(saved["segment_id"], saved["name"]))
    loaded = st.session_state.get("seg_loaded")
    pick = top[0].selectbox("Open a saved segment", ["(new segment)"] + list(seg_names),
                            format_func=lambda s: seg_names.get(s, s), key="seg_pick")
    if top[1].button("Open", key="seg_open", width="stretch") and pick != "(new segment)":
        record = seg.get_segment(ws, pick)
        if record["kind"] == "static":
            st.info("This is a static list of people; it has no rules to edit. It can still be used in "
                    "other segments and in the Overlap tab.")
        else:
            _load(record["definition"], record)
            st.rerun()
    if top[2].button("New", key="seg_new", width="stretch"):
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
                    # Keyed on the data the rules read (a rule on profiles stays counted while
                    # events land); after a change, the last count while it is recounted.
                    sized = recent_query(seg.live_size, current_user(), definition,
                                         loaded["segment_id"] if loaded else None, reads=model.reads(definition))
                    recounting(sized, what="the newest data")
                    live = sized.value
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
            st.dataframe(live["sample"], hide_index=True, width="stretch", height=260)
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
                st.dataframe(history.drop(columns=["definition"]), hide_index=True, width="stretch")
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


def _overlap() -> None:
    """Pairwise overlap and exclusive combinations of saved segments (cached until data changes)."""
    if len(saved) < 2:
        st.info("Save at least two segments to compare them.")
    else:
        names = dict(zip(saved["segment_id"], saved["name"]))
        chosen = st.multiselect("Segments to compare", list(names), default=list(names)[:3],
                                format_func=names.get, key="seg_overlap_pick", max_selections=8)
        if len(chosen) >= 2:
            result = cached_query(seg.overlap, user, tuple(chosen))
            matrix = result["matrix"]
            c1, c2 = st.columns(2)
            with c1:
                st.markdown("**People in both (pairwise)**")
                matrix = matrix.rename(index=plain, columns=plain)
                fig = px.imshow(matrix, text_auto=True, color_continuous_scale="Blues", aspect="auto")
                fig.update_layout(margin=dict(l=0, r=0, t=10, b=0), height=360)
                st.plotly_chart(fig, width="stretch")
            with c2:
                st.markdown("**Exclusive combinations (UpSet-style)**")
                combos = result["combinations"].head(20)
                combos = combos.assign(segments=combos["segments"].map(plain))
                fig = px.bar(combos, x="people", y="segments", orientation="h", color="size")
                fig.update_layout(margin=dict(l=0, r=0, t=10, b=0), height=360,
                                  yaxis={"categoryorder": "total ascending"})
                st.plotly_chart(fig, width="stretch")


def _sizes() -> None:
    """The event index's state and every segment's size over time."""
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
        st.plotly_chart(fig, width="stretch")
        st.dataframe(history, hide_index=True, width="stretch")


with builder:
    if builder.open:
        _builder()

with overlap_tab:
    if overlap_tab.open:
        _overlap()

with sizes_tab:
    if sizes_tab.open:
        _sizes()
