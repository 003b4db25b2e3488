"""Profiles: find anyone, then see their golden record, figures, timeline, records and notes."""

import pandas as pd
import plotly.express as px
import streamlit as st

from engine.access import can
from engine.freshness import AS_BUILT
from engine.profiles import (
    TIMELINE_TYPES, NoteError, ProfileNotFound, add_note, add_tag, profile_timeline, profile_view,
    remove_tag, search_profiles,
)
from engine.profiles.search import recent_profiles
from engine.profiles.timeline import activity_by_day
from engine.profiles.view import headline_text
from ui.context import require_page, workspace
from ui.freshness import keep_fresh
from ui.text import md

user = require_page("view")
ws = workspace()


def titled_table(title: str, frame: pd.DataFrame, empty: str) -> None:
    st.markdown(f"**{title}**")
    if frame.empty:
        st.caption(empty)
    else:
        st.dataframe(frame, hide_index=True, width="stretch")


st.title("Profiles")
# Search the term table as last built; a stale one is refreshed in the background meanwhile.
searchable = keep_fresh("profile search")
if can(user, "view_pii"):
    search_hint = ("Name, email, phone, customer id, anonymous id… typos are fine",
                   "Matches names either way round, email and phone prefixes, any identifier; "
                   "tolerates a typo or two.")
else:   # the engine matches ids only for this role: personal values are masked, so not searchable
    search_hint = ("Profile id, customer id, user id, anonymous id…",
                   "Your role sees personal data masked, so search matches ids, not names, emails or phones.")
query = st.text_input("Search people", key="profile_query", type="search", live="300ms",  # as you type
                      placeholder=search_hint[0], help=search_hint[1])

if query.strip() and not searchable:
    st.caption("Search answers once the first build of the search index above is done.")
elif query.strip():
    with st.spinner("Searching…"):
        results = search_profiles(ws, user, query, limit=25, freshness=AS_BUILT)
    if results.empty:
        st.info("Nobody matches that. Try part of a name, an email or a phone number.")
    else:
        st.caption(f"{len(results)} best matches")
        shown = results[["profile_id", "name", "email", "phone", "matched_on", "matched_value", "score", "last_seen"]]
        picked = st.dataframe(shown, hide_index=True, on_select="rerun", selection_mode="single-row",
                              key="profile_results", width="stretch")
        rows = picked.selection.rows if picked and picked.selection else []
        if rows:
            st.session_state["profile_open"] = results.iloc[rows[0]]["profile_id"]
        labels = {r.profile_id: f"{r.name or '(no name)'} · {r.email or r.matched_value} · {r.profile_id}"
                  for r in results.itertuples()}
        choice = st.selectbox("Open profile", [None] + list(labels), key="profile_pick",
                              format_func=lambda pid: "Choose a person…" if pid is None else labels[pid])
        if choice:
            st.session_state["profile_open"] = choice

elif not st.session_state.get("profile_open"):
    recent = recent_profiles(ws, user)
    if not recent.empty:
        st.caption("Recently active people — pick one, or search above.")
        picked = st.dataframe(recent, hide_index=True, on_select="rerun", selection_mode="single-row",
                              key="profile_recent", width="stretch")
        rows = picked.selection.rows if picked and picked.selection else []
        if rows:
            st.session_state["profile_open"] = recent.iloc[rows[0]]["profile_id"]

profile_id = st.session_state.get("profile_open")
if not profile_id:
    st.stop()

# One audited read per opening (and per data change), not one per widget rerun.
cache_key = (profile_id, ws.data_version())
cached = st.session_state.get("profile_view_cache")
if cached is None or cached[0] != cache_key:
    try:
        view = profile_view(ws, user, profile_id)
    except ProfileNotFound as exc:
        st.warning(md(exc))
        st.session_state.pop("profile_open", None)
        st.stop()
    st.session_state["profile_view_cache"] = ((profile_id, ws.data_version()), view)
else:
    view = cached[1]

st.divider()
st.subheader(md(view.display_name))
st.caption(f"Profile {md(profile_id)}" + ("" if can(user, "view_pii") else " · personal data masked for your role"))

h = view.headline
tiles = [("First seen", h.get("first_seen")), ("Last seen", h.get("last_seen")), ("Orders", h.get("orders")),
         ("Revenue to date", h.get("revenue")), ("Average order", h.get("average_order_value")),
         ("Subscription", h.get("subscription_status")), ("Lead stage", h.get("lead_stage"))]
if "rfm_segment" in h:
    tiles += [("RFM segment", h.get("rfm_segment")), ("Predicted value", h.get("predicted_clv")),
              ("Churn risk", None if h.get("churn_risk") is None else f"{h['churn_risk']:.0%}")]
for start in range(0, len(tiles), 5):
    cols = st.columns(5)
    for col, (label, value) in zip(cols, tiles[start:start + 5]):
        col.metric(label, headline_text(value))

# Lazy tabs: only the open one runs (the timeline is a query of its own).
tab_overview, tab_timeline, tab_records, tab_ids, tab_activation = st.tabs(
    ["Golden record", "Timeline", "Source records", "Identifiers", "Segments and syncs"], key="profiles_tab",
    on_change="rerun")

with tab_overview:
    if tab_overview.open:
        left, right = st.columns([3, 2])
        with left:
            st.markdown("**Golden record** (value and where it came from)")
            st.dataframe(view.golden, hide_index=True, width="stretch")
            titled_table("Consent by purpose", view.consent.assign(
                granted=view.consent["granted"].map({True: "granted", False: "withdrawn"})), "No consent recorded.")
        with right:
            titled_table("Tags", view.tags, "No tags yet.")
            st.markdown("**Notes**")
            for note in view.notes.itertuples():
                with st.container(border=True):
                    st.caption(f"{md(note.created_by)} · {pd.Timestamp(note.created_at):%Y-%m-%d %H:%M}")
                    st.text(note.body)
            if can(user, "edit_profiles"):
                with st.form("profile_tag_form", clear_on_submit=True):
                    tag = st.text_input("Add a tag", key="profile_new_tag")
                    note_text = st.text_area("Add a note", key="profile_new_note")
                    saved = st.form_submit_button("Save")
                if saved:
                    try:
                        if tag.strip():
                            add_tag(ws, user, profile_id, tag)
                        if note_text.strip():
                            add_note(ws, user, profile_id, note_text)
                        if tag.strip() or note_text.strip():
                            st.toast("Saved")
                            st.rerun()
                        else:
                            st.warning("Type a tag or a note first.")
                    except NoteError as exc:
                        st.error(md(exc))
                if not view.tags.empty:
                    drop = st.selectbox("Remove a tag", [None] + view.tags["tag"].tolist(), key="profile_drop_tag")
                    if drop and st.button("Remove tag", key="profile_remove_tag"):
                        remove_tag(ws, user, profile_id, drop)
                        st.rerun()

with tab_timeline:
    if tab_timeline.open:
        kinds = st.multiselect("Show", list(TIMELINE_TYPES), default=list(TIMELINE_TYPES),
                               format_func=TIMELINE_TYPES.get, key="profile_timeline_types")
        timeline = profile_timeline(ws, user, profile_id, types=kinds or None)
        if timeline.empty:
            st.caption("Nothing on the timeline for these types.")
        else:
            daily = activity_by_day(timeline)
            fig = px.bar(daily, x="day", y="count", color="type", title="Activity over time")
            fig.update_layout(height=260, margin=dict(t=40, b=10), bargap=0.1)
            st.plotly_chart(fig, width="stretch")
            st.dataframe(timeline, hide_index=True, width="stretch",
                         column_config={"anonymous": st.column_config.CheckboxColumn("before identifying")})

with tab_records:
    if tab_records.open:
        st.caption("Every source record that makes up this person, with the load it came in.")
        st.dataframe(view.records, hide_index=True, width="stretch")

with tab_ids:
    if tab_ids.open:
        st.dataframe(view.identifiers, hide_index=True, width="stretch")

with tab_activation:
    if tab_activation.open:
        titled_table("Segments", view.segments, "Not in any saved segment.")
        titled_table("Audience syncs", view.syncs, "Never sent to a destination.")
