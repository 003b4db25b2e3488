"""Journeys: funnels (with drop-offs saved as segments), paths as a Sankey, attribution, cohorts."""
from datetime import timedelta

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from engine.access import PermissionDenied, can
from engine.freshness import AS_BUILT
from engine.journeys import (
    BREAKDOWNS, END, START, JourneyError, PropertyFilter, Step, attribution, cohorts, event_names, funnel,
    funnel_dropoffs, paths, profile_touches, retention_matrix, sankey_nodes,
)
from engine.journeys.attribution import LEVELS as ATTRIBUTION_LEVELS, MODEL_LABELS, MODELS as ATTRIBUTION_MODELS
from engine.journeys.base import OPS
from engine.journeys.cohorts import BASIS_LABELS
from ui.context import cached_query, require_page, workspace
from ui.freshness import keep_fresh
from ui.recent import recent_query, recounting
from ui.text import md, plain

try:  # built by the segments module; the screen works without it
    from engine.segments import create_static_segment
except ImportError:  # pragma: no cover - only in builds without segments
    create_static_segment = None

DROPOFF_ROWS = 500        # drop-offs listed under the funnel (all of them go into a saved segment)

user = require_page("view")
ws = workspace()
st.title("Journeys")


# Read journey_events as last built; a stale one is refreshed in the background meanwhile.
if not keep_fresh("journeys"):
    st.stop()

# The pick list and the funnel answer at once after new events land: the last result while the
# new one is counted (ui/recent.py); the other tabs are opened on purpose and wait.
names = recent_query(event_names, freshness=AS_BUILT)
options = names.value["step"].tolist()
if not options:
    st.info("No events attributed to profiles yet. Load web events and run identity resolution first.")
    st.stop()

# Lazy tabs: only the open one runs its queries.
tabs = st.tabs(["Funnels", "Paths", "Attribution", "Cohorts"], key="journey_tab", on_change="rerun")
# Start from the classic shopping funnel when the workspace has those events.
classic = [e for e in ("Product Viewed", "Product Added", "Checkout Started", "Order Completed") if e in options]


def _funnels() -> None:
    chosen = st.multiselect("Steps, in order", options, default=classic if len(classic) >= 2 else None,
                            key="funnel_steps", help="Pick the events in the order people should do them.")
    c1, c2, c3, c4 = st.columns(4)
    window_days = c1.number_input("Conversion window (days)", min_value=1, max_value=365, value=7, key="funnel_window")
    breakdown = c2.selectbox("Break down by", [None] + list(BREAKDOWNS), key="funnel_breakdown",
                             format_func=lambda b: "Nothing" if b is None else b.replace("_", " "))
    since = c3.date_input("From", value=None, key="funnel_since")
    until = c4.date_input("To", value=None, key="funnel_until")
    with st.expander("Property filters"):
        st.caption("Only count a step's events whose property matches, e.g. step 2, price, >=, 50.")
        filters = st.data_editor(
            pd.DataFrame({"step": pd.Series(dtype="int"), "property": pd.Series(dtype="str"),
                          "op": pd.Series(dtype="str"), "value": pd.Series(dtype="str")}),
            num_rows="dynamic", key="funnel_filters", width="stretch",
            column_config={"step": st.column_config.NumberColumn(min_value=1, max_value=10, step=1),
                           "op": st.column_config.SelectboxColumn(options=list(OPS))})
    if len(chosen) < 2:
        st.info("Choose at least two steps.")
    else:
        rules = {}
        for row in filters.dropna(subset=["step", "property"]).itertuples():
            rules.setdefault(int(row.step), []).append(
                PropertyFilter(str(row.property).strip(), row.op or "=", None if pd.isna(row.value) else str(row.value)))
        steps = tuple(Step(event, tuple(rules.get(i, ()))) for i, event in enumerate(chosen, 1))
        window = timedelta(days=int(window_days))
        try:
            counted = recent_query(funnel, user, steps, window, since, until, breakdown, dropoffs=DROPOFF_ROWS,
                                   freshness=AS_BUILT)
        except JourneyError as exc:
            st.error(md(exc))
            st.stop()
        recounting(counted, names, what="the newest events")
        result = counted.value
        funnel_table = result.steps
        # A horizontal bar per step (bars, unlike plotly's funnel trace, report clicks to Streamlit).
        fig = go.Figure(go.Bar(
            y=[f"{i}. {plain(l)}" for i, l in zip(funnel_table["step"], funnel_table["label"])],
            x=funnel_table["people"], orientation="h",
            text=[f"{p:,} ({pct:.1f}%)" for p, pct in zip(funnel_table["people"], funnel_table["pct_of_start"])],
            textposition="auto"))
        fig.update_layout(height=90 + 60 * len(funnel_table), margin=dict(t=20, b=10),
                          yaxis=dict(autorange="reversed"), xaxis_title="people", clickmode="event+select")
        st.caption("Click a step to see who dropped off before it.")
        clicked = st.plotly_chart(fig, width="stretch", on_select="rerun", selection_mode="points",
                                  key="funnel_chart")
        points = (clicked or {}).get("selection", {}).get("points", []) if clicked else []
        if points and 1 <= int(points[0].get("point_index", 0)) < len(steps):
            st.session_state["dropoff_step"] = int(points[0]["point_index"]) + 1
        shown = funnel_table.assign(
            median_time=funnel_table["median_seconds"].map(
                lambda s: "" if pd.isna(s) else str(timedelta(seconds=round(s)))),
            pct_of_previous=funnel_table["pct_of_previous"].map(      # the first step has none: "—", not "None"
                lambda p: "—" if pd.isna(p) else f"{p:.1f}%"))
        st.dataframe(shown.drop(columns="median_seconds"), hide_index=True, width="stretch",
                     column_config={"pct_of_start": st.column_config.NumberColumn("% of start", format="%.1f%%"),
                                    "pct_of_previous": st.column_config.TextColumn("% of previous"),
                                    "median_time": "median time from previous"})
        if breakdown and not result.breakdown.empty:
            bd = result.breakdown.assign(label=lambda d: d["step"].astype(str) + ". " + d["label"].map(plain),
                                         value=lambda d: d["value"].map(plain))
            st.plotly_chart(px.bar(bd, x="label", y="pct_of_start", color="value", barmode="group",
                                   labels={"label": "step", "pct_of_start": "% of those who started"}),
                            width="stretch")

        st.markdown("**Who dropped off**")
        at_step = st.selectbox("Dropped off before step", list(range(2, len(steps) + 1)), key="dropoff_step",
                               format_func=lambda k: f"{k}. {steps[k - 1].label} ({int(funnel_table.loc[k - 1, 'dropped'])} people)")
        # the funnel's own pass brought the most recent of them; all of them are listed when saved
        dropped_count = int(funnel_table.loc[at_step - 1, "dropped"])
        shown_dropped = result.dropped.get(int(at_step), pd.DataFrame())
        st.caption(f"{dropped_count:,} people did step {at_step - 1} but not step {at_step} within the window"
                   + (f" (the {len(shown_dropped):,} most recent below)." if dropped_count > len(shown_dropped) else "."))
        st.dataframe(shown_dropped, hide_index=True, width="stretch")
        if create_static_segment is None:
            st.caption("Install the segments module to save these people as a segment.")
        elif can(user, "edit_segments") and dropped_count:
            with st.form("dropoff_form"):
                seg_name = st.text_input("Segment name", key="dropoff_segment_name",
                                         value=f"Dropped off before {steps[at_step - 1].event}")
                save = st.form_submit_button("Save drop-offs as a segment")
            if save:
                try:
                    with st.spinner("Listing everyone who dropped off..."):
                        dropped = funnel_dropoffs(ws, user, steps, int(at_step), window, since, until,
                                                  freshness=AS_BUILT)
                    segment_id = create_static_segment(
                        ws, user, seg_name, dropped["profile_id"].tolist(),
                        description=f"Funnel {' → '.join(s.label for s in steps)}: did step {at_step - 1}, "
                                    f"not step {at_step} within {window_days} days")
                    st.session_state["dropoff_saved"] = segment_id
                    st.success(f"Saved {len(dropped)} people as a segment.")
                except (ValueError, PermissionDenied) as exc:
                    st.error(md(exc))


def _paths() -> None:
    c1, c2 = st.columns([3, 2])
    # Paths read best from a shopping step; else the commonest event that is not an identify call.
    first_choice = next(iter(classic), next((o for o in options if o != "Identify"), options[0]))
    anchor = c1.selectbox("Event", options, index=options.index(first_choice), key="path_anchor")
    direction = c2.radio("Show", ["after", "before"], horizontal=True, key="path_direction",
                         format_func={"after": "next steps", "before": "previous steps"}.get)
    c3, c4, c5 = st.columns(3)
    depth = c3.slider("Steps", 1, 8, 3, key="path_depth")
    top = c4.slider("Named steps per column (rest grouped as Other)", 1, 15, 5, key="path_top")
    within_hours = c5.number_input("Within (hours)", 1, 24 * 90, 24, key="path_within")
    show_stops = st.toggle("Show where paths stop", value=False, key="path_show_stops",
                           help="People who did nothing else in the window usually dwarf every other flow.")
    path_result = cached_query(paths, user, anchor, direction, int(depth), int(top),
                               timedelta(hours=int(within_hours)), freshness=AS_BUILT)
    flows = path_result.links
    if not show_stops:
        flows = flows[~flows["source"].isin([END, START]) & ~flows["target"].isin([END, START])]
    if path_result.people:
        share = 100.0 * path_result.stopped / path_result.people
        st.caption(f"{path_result.people:,} people did {md(anchor)}; {path_result.stopped:,} ({share:.0f}%) did nothing "
                   f"else {'after' if direction == 'after' else 'before'} it within {int(within_hours)} hours.")
    if path_result.links.empty:
        st.info("Nobody did that event (in this window).")
    elif flows.empty:
        st.info("Nobody did anything else in this window: widen it, or switch on where paths stop.")
    else:
        labels, src, dst, values = sankey_nodes(flows)
        fig = go.Figure(go.Sankey(node=dict(label=[plain(l) for l in labels], pad=12),
                                  link=dict(source=src, target=dst, value=values)))
        fig.update_layout(height=520, margin=dict(t=20, b=10))
        st.plotly_chart(fig, width="stretch", key="path_sankey")
    if not path_result.paths.empty:
        st.dataframe(path_result.paths, hide_index=True, width="stretch")


def _attribution() -> None:
    st.caption("Each order's touches are its buyer's marketing touches before it. First and last touch give "
               "the order to one of them; linear shares it equally; position-based gives 40% to the first, 40% "
               "to the last and 20% to those between. Orders without a touch are 'direct' when the buyer "
               "was on the website, 'no web touch' when not (till and billing orders).")
    a1, a2, a3 = st.columns(3)
    attr_level = a1.radio("Rows", list(ATTRIBUTION_LEVELS), horizontal=True, key="attr_level",
                          format_func=lambda v: "Channel" if v == "channel" else "Campaign (utm_campaign)")
    lookback = a2.number_input("Lookback window (days, 0 = all history)", min_value=0, max_value=3650,
                               value=0, step=1, key="attr_lookback")
    attr_model = a3.selectbox("Model in the chart", list(ATTRIBUTION_MODELS), key="attr_model",
                              format_func=lambda m: MODEL_LABELS[m])
    attr_table = cached_query(attribution, user, lookback_days=int(lookback) or None, level=attr_level,
                              freshness=AS_BUILT)
    if attr_table.empty:
        st.info("No marketing touches or orders yet.")
    else:
        chart = attr_table.copy()
        chart["row"] = chart[list(ATTRIBUTION_LEVELS[attr_level])].fillna("(none)").astype(str).agg(" · ".join, axis=1)
        chart["row"] = chart["row"].map(plain)
        chart = chart[chart[f"{attr_model}_revenue"] > 0]
        st.plotly_chart(px.bar(chart, x="row", y=f"{attr_model}_revenue",
                               labels={"row": attr_level, f"{attr_model}_revenue": "revenue"}),
                        width="stretch")
        st.dataframe(attr_table, hide_index=True, width="stretch")
        with st.expander("First and last touch per person (latest 1,000)"):
            st.dataframe(cached_query(profile_touches, user, freshness=AS_BUILT), hide_index=True, width="stretch")


def _cohorts() -> None:
    c1, c2 = st.columns(2)
    basis = c1.radio("Cohort by", list(BASIS_LABELS), format_func=BASIS_LABELS.get, key="cohort_basis")
    months = c2.slider("Months", 1, 36, 12, key="cohort_months")
    long = cached_query(cohorts, user, basis, int(months), freshness=AS_BUILT)
    if long.empty:
        st.info("No activity to build cohorts from yet.")
    else:
        matrix = retention_matrix(long)
        matrix.index = [pd.Timestamp(c).strftime("%Y-%m") for c in matrix.index]
        fig = px.imshow(matrix, text_auto=".0f", aspect="auto", color_continuous_scale="Blues",
                        labels={"x": "months since", "y": "cohort", "color": "% retained"})
        st.plotly_chart(fig, width="stretch")
        st.dataframe(retention_matrix(long, "people"), width="stretch")


for tab, render in zip(tabs, (_funnels, _paths, _attribution, _cohorts)):
    with tab:
        if tab.open:
            render()
