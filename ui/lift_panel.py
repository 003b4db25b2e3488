"""Lift from holdout groups on the Audiences screen: exposed vs held-out people, in money and in
words (engine/value/lift.py does the counting)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.access import User
from engine.value.lift import DEFAULT_WINDOW_DAYS, audience_lift
from ui.text import md


def _range(d: dict, fmt: str) -> str:
    return "n/a" if d["lift"] is None else f"{d['lift']:{fmt}} ({d['low']:{fmt}} to {d['high']:{fmt}})"


def render_lift_panel(workspace, user: User, labels: dict[str, str]) -> None:
    """One row per audience source pushed with a holdout; `labels` names the sources."""
    st.subheader("Lift from holdout groups")
    window = st.number_input("Window after the push (days)", 1, 365, DEFAULT_WINDOW_DAYS, key="lift_window",
                             help="Orders each person placed in this many days after they were first "
                                  "pushed (or first held out). Only complete windows count.")
    if not st.button("Measure lift", key="lift_measure"):
        st.caption("Compares people who were sent with the holdout group kept out of every push.")
        return
    results = audience_lift(workspace, user, int(window))
    if not results:
        st.info("No audience has been pushed with a holdout yet: set a holdout share when you push.")
        return
    for r in results:
        st.markdown(f"**{md(labels.get(r['source'], r['source']))}**: {md(r['verdict'])}")
    st.dataframe(pd.DataFrame([{
        "audience": labels.get(r["source"], r["source"]), "exposed": r["exposed"], "holdout": r["holdout"],
        "waiting for the window": r["waiting"],
        "revenue per person, lift (95% CI)": _range(r["revenue_per_person"], "+,.2f"),
        "conversion rate, lift (95% CI)": _range(r["conversion_rate"], "+.1%"),
    } for r in results]), hide_index=True)
