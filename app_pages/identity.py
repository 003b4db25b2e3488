"""Identity: the review queue, explanations, unmerge, thresholds and survivorship, health."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from engine.access import PII_FIELDS, can, mask_value
from engine.identity import resolve, review
from engine.identity.golden import GOLDEN_FIELDS
from engine.identity.health import health
from engine.identity.resolve import preview_thresholds
from engine.identity.settings import SURVIVORSHIP_RULES, load_settings, save_settings
from engine.derived import refresh as refresh_derived
from engine.jobs import running_job
from engine.workspace.versions import NO_EVENTS
from ui.context import cached_query, require_page, workspace
from ui.jobs import job_panel
from ui.jobs import start as start_job
from ui.text import md, plain

user = require_page("view")
ws = workspace()
may_review = can(user, "review_matches")
may_resolve = can(user, "resolve")

st.title("Identity")
st.caption("One profile per person: exact identifiers first, then fuzzy evidence, with people deciding "
           "the uncertain cases. Every merge can be undone.")


def _resolution(full: bool):
    """The job: resolve, then bring the read tables up to date, so no screen rebuilds them."""
    def work(progress):
        stats = resolve(ws, user, full=full, progress=lambda f, m: progress(0.9 * f, m))
        refresh_derived(ws, progress=lambda f, m: progress(0.9 + 0.1 * f, m))
        return stats
    return work


def _resolved(stats: dict) -> str:
    return (f"Resolved {stats['records']:,} records into {stats['profiles']:,} profiles; "
            f"{stats['to_review']:,} pairs to review.")


h = cached_query(health, user, reads=NO_EVENTS)
largest = h["largest_clusters"]   # the Health tab lists them; Unmerge starts from the largest
top = st.columns([1, 1, 1, 1, 2])
top[0].metric("Profiles", f"{h['profiles']:,}")
top[1].metric("Source records", f"{h['records']:,}")
top[2].metric("Pending reviews", f"{h['pending_reviews']:,}")
top[3].metric("Decisions to apply", f"{h['pending_decisions']:,}")
with top[4]:
    if may_resolve:
        full = st.checkbox("Full re-run (rescore every pair)", key="identity_full")
        label = "Apply decisions and resolve" if h["pending_decisions"] else "Run resolution"
        running = running_job(ws, "resolve") is not None
        if st.button(label, type="primary", icon=":material/join_inner:", key="identity_run", disabled=running):
            start_job("resolve", "Identity resolution", user, _resolution(full))
job_panel("resolve", _resolved)

# Lazy tabs: only the open one runs its queries.
tab_queue, tab_health, tab_unmerge, tab_settings = st.tabs(["Review queue", "Health", "Unmerge", "Settings"],
                                                          key="identity_tab", on_change="rerun")


# -- review queue ---------------------------------------------------------------------
def waterfall(contributions: dict) -> go.Figure:
    names = [k for k in contributions if k != "prior"]
    values = [contributions[k] for k in names]
    fig = go.Figure(go.Waterfall(
        orientation="h", measure=["absolute"] + ["relative"] * len(names) + ["total"],
        y=["prior"] + [n.replace("_", " ") for n in names] + ["match weight"],
        x=[contributions.get("prior", 0.0)] + values + [0],
        text=[f"{v:+.1f}" for v in [contributions.get("prior", 0.0)] + values] + [f"{sum(contributions.values()):+.1f}"],
        increasing={"marker": {"color": "#2e7d32"}}, decreasing={"marker": {"color": "#c62828"}},
        totals={"marker": {"color": "#1565c0"}}))
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10), title="Why: each field's weight (bits)",
                      yaxis=dict(autorange="reversed"))
    return fig


def side_by_side(row) -> pd.DataFrame:
    rows = []
    for f in review.RECORD_FIELDS:
        left, right = row[f"l_{f}"], row[f"r_{f}"]
        left = None if pd.isna(left) else str(left)
        right = None if pd.isna(right) else str(right)
        equal = row.get(f"same_{f}")  # compared as the matcher compares them (normalised)
        same = "" if left is None or right is None or pd.isna(equal) else ("same" if equal else "differs")
        rows.append({"field": f.replace("_", " "), "left": left, "right": right, "": same})
    return pd.DataFrame(rows)


def highlight(frame: pd.DataFrame):
    def colour(r):
        shade = {"differs": "background-color: #fdecea", "same": "background-color: #e8f5e9"}.get(r[""], "")
        return [shade] * len(r)
    return frame.style.apply(colour, axis=1)


def bulk_default(filters: dict) -> tuple[float, float]:
    """The widest band whose estimated precision reaches 98%, explained under the slider."""
    band = review.bulk_accept_band(ws, user, **filters)
    source = ("calibrated on reviewer decisions" if band["calibrated"]
              else "model scores not yet calibrated: decide more pairs one by one to calibrate them")
    if band["low"] is None:
        st.session_state["identity_bulk_note"] = (f"No score band in the queue reaches an estimated precision of "
                                                  f"{band['target']:.0%} ({source}).")
        return (1.0, 1.0)
    st.session_state["identity_bulk_note"] = (f"Default band: estimated precision {band['estimated_precision']:.1%} "
                                              f"over {band['pairs']:,} pairs ({source}).")
    return (band["low"], 1.0)


with tab_queue:
    if tab_queue.open:
        f1, f2, f3, f4 = st.columns([1, 1, 1, 2])
        sources = [r[0] for r in ws.query_rows("SELECT l_source FROM identity_pairs UNION SELECT r_source FROM identity_pairs ORDER BY 1")]
        source = f1.selectbox("Source", ["All"] + sources, key="identity_q_source")
        reason = f2.selectbox("Reason", ["All", "fuzzy", "guard"], key="identity_q_reason")
        rule = f3.text_input("Blocking rule contains", key="identity_q_rule")
        p_range = f4.slider("Match probability", 0.0, 1.0, (0.0, 1.0), 0.01, key="identity_q_range")
        filters = dict(source=None if source == "All" else source, reason=None if reason == "All" else reason,
                       rule=rule or None, min_probability=p_range[0] if p_range[0] > 0 else None,
                       max_probability=p_range[1] if p_range[1] < 1 else None)
        skipped = st.session_state.setdefault("identity_skipped", [])
        queue = review.review_queue(ws, user, limit=50 + len(skipped), **filters)
        queue = queue[~queue["pair_key"].isin(skipped)]
        if queue.empty:
            st.info("Nothing to review with these filters." + (" Skipped pairs come back after a rerun of the page."
                                                               if skipped else ""))
        else:
            current = queue.iloc[0]
            p = current["probability"]
            st.subheader(f"Same person?  p = {p:.3f}" if pd.notna(p) else "Same person?  (held by a merge guard)")
            st.caption(f"{md(current['l_source'])}:{md(current['l_record_id'])}  vs  "
                       f"{md(current['r_source'])}:{md(current['r_record_id'])} · "
                       f"reason: {current['reason']} · rules: {current['rules'] or '-'}")
            left, right = st.columns([3, 2])
            left.dataframe(highlight(side_by_side(current)), hide_index=True, width="stretch")
            with right:
                try:
                    info = review.explain(ws, user, current["pair_key"])
                    st.plotly_chart(waterfall(info["contributions"]), key="identity_waterfall")
                    st.caption(f"Model: {info['model']}. Green pushes towards one person, red towards two.")
                    for sentence in info["household"]:
                        st.warning(md(sentence), icon=":material/family_restroom:")
                except ValueError as exc:
                    st.caption(md(exc))
            if may_review:
                b1, b2, b3, b4 = st.columns(4)
                if b1.button("Accept (same person)", icon=":material/check:", key="identity_accept", type="primary"):
                    review.decide(ws, user, current["pair_key"], "accept")
                    st.rerun()
                if b2.button("Reject (different)", icon=":material/close:", key="identity_reject"):
                    review.decide(ws, user, current["pair_key"], "reject")
                    st.rerun()
                if b3.button("Skip", icon=":material/skip_next:", key="identity_skip"):
                    skipped.append(current["pair_key"])
                    st.rerun()
                if b4.button("Undo last", icon=":material/undo:", key="identity_undo"):
                    try:
                        done = review.undo(ws, user)
                        st.toast(f"Undid {done['decision']}.")
                    except ValueError as exc:
                        st.toast(md(exc))
                    st.rerun()
                with st.form("identity_keys", clear_on_submit=True, border=False):
                    key_cmd = st.text_input("Keyboard: type a (accept), r (reject), s (skip) or u (undo) and press Enter",
                                            key="identity_key_cmd")
                    if st.form_submit_button("Go") and key_cmd:
                        cmd = key_cmd.strip().lower()[:1]
                        if cmd in ("a", "r"):
                            review.decide(ws, user, current["pair_key"], "accept" if cmd == "a" else "reject")
                        elif cmd == "s":
                            skipped.append(current["pair_key"])
                        elif cmd == "u":
                            try:
                                review.undo(ws, user)
                            except ValueError:
                                pass
                        st.rerun()
            st.markdown("**Next in the queue** (most informative first)")
            st.dataframe(queue[["pair_key", "probability", "uncertainty", "reason", "l_source", "l_first_name",
                                "l_last_name", "r_source", "r_first_name", "r_last_name"]].head(50),
                         hide_index=True, width="stretch")
            if may_review:
                with st.expander("Bulk decision by score range"):
                    if "identity_bulk_range" not in st.session_state:
                        st.session_state["identity_bulk_range"] = bulk_default(filters)
                    lo, hi = st.slider("Probability range", 0.0, 1.0, step=0.01, key="identity_bulk_range")
                    in_range = review.review_queue(ws, user, limit=1_000_000, **{**filters, "min_probability": lo,
                                                                                    "max_probability": hi,
                                                                                    "reason": filters["reason"] or "fuzzy"})
                    st.write(f"{len(in_range):,} queued {filters['reason'] or 'fuzzy'} pairs in [{lo:.2f}, {hi:.2f}] "
                             "with the filters above (pairs held by a guard only when the Reason filter says guard).")
                    if note := st.session_state.get("identity_bulk_note"):
                        st.caption(note)
                    c1, c2 = st.columns(2)
                    for col, decision in ((c1, "accept"), (c2, "reject")):
                        if col.button(f"Bulk {decision} {len(in_range):,}", key=f"identity_bulk_{decision}",
                                      disabled=not len(in_range)):
                            n = review.bulk_decide(ws, user, decision, lo, hi, source=filters["source"],
                                                   rule=filters["rule"], reason=filters["reason"] or "fuzzy")
                            st.session_state["identity_flash"] = f"{decision.capitalize()}ed {n:,} pairs; undo one by one or apply them."
                            st.rerun()
        recent = review.decisions(ws, user, limit=20)
        if len(recent):
            with st.expander("Recent decisions"):
                st.dataframe(recent, hide_index=True, width="stretch")

# -- health -------------------------------------------------------------------------
def reliability_chart(cal: dict | None) -> None:
    """Predicted probability against the share of reviewer-labelled pairs that were one person."""
    st.markdown("**Calibration: predicted against observed**")
    if cal is None:
        st.caption("Probabilities are calibrated once reviewers have decided enough pairs of both kinds "
                   "(accepted and rejected) in the review band.")
        return
    fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect",
                               line={"dash": "dot", "color": "#9e9e9e"}))
    for name, frame in (("model score", cal["raw"]), ("calibrated", cal["calibrated"])):
        if len(frame):
            fig.add_trace(go.Scatter(x=frame["predicted"], y=frame["observed"], mode="lines+markers", name=name,
                                     text=[f"{n:,} pairs" for n in frame["pairs"]]))
    fig.update_layout(height=340, margin=dict(t=30, b=10), xaxis_title="predicted probability",
                      yaxis_title="share that were one person", xaxis_range=[0, 1], yaxis_range=[0, 1])
    st.plotly_chart(fig, key="identity_calibration")
    st.caption(f"{cal['labels']:,} reviewer decisions on pairs scored {cal['band'][0]:.2f}–{cal['band'][1]:.2f}; "
               "each calibrated point is measured on pairs its calibration was not fitted on.")


with tab_health:
    if tab_health.open:
        c1, c2 = st.columns(2)
        sizes = h["size_distribution"]
        if len(sizes):
            c1.plotly_chart(go.Figure(go.Bar(x=sizes["records"], y=sizes["profiles"]))
                            .update_layout(title="Records per profile", height=300, margin=dict(t=40, b=10),
                                           xaxis_title="records", yaxis_title="profiles"), key="identity_sizes")
        rates = h["merge_rate_by_source"]
        if len(rates):
            c2.plotly_chart(go.Figure(go.Bar(x=rates["source"].map(plain), y=rates["merge_rate_pct"]))
                            .update_layout(title="Merge rate by source (% of records in multi-record profiles)",
                                           height=300, margin=dict(t=40, b=10)), key="identity_rates")
        if len(largest) and int(largest["record_count"].iloc[0]) >= 50:
            st.warning(f"The largest profile has {int(largest['record_count'].iloc[0])} records: check it for over-merging.")
        st.markdown("**Largest profiles**")
        st.dataframe(largest, hide_index=True, width="stretch")
        if len(h["guarded"]):
            st.markdown("**Merges held by guards**")
            st.dataframe(h["guarded"], hide_index=True)
        reliability_chart(h["calibration"])
        if h["last_run"]:
            st.caption("Last run: " + ", ".join(f"{k} {v}" for k, v in h["last_run"].items()))

# -- unmerge -------------------------------------------------------------------------
with tab_unmerge:
    if tab_unmerge.open:
        pid = st.text_input("Profile id", value=str(largest["profile_id"].iloc[0]) if len(largest) else "",
                            key="identity_unmerge_pid")
        if pid:
            records = review.profile_records(ws, user, pid)
            if records.empty:
                st.info("No profile with that id.")
            else:
                sources = ws.query_df("SELECT field, value, source, rule FROM profile_field_sources WHERE profile_id = ? "
                                      "ORDER BY field", [pid])
                if not can(user, "view_pii"):
                    pii = sources["field"].isin(list(PII_FIELDS))
                    sources.loc[pii, "value"] = sources.loc[pii, "value"].map(mask_value)
                with st.expander("Golden record and where each value came from"):
                    st.dataframe(sources, hide_index=True)
                edit = records.copy()
                edit.insert(0, "group", 1)
                edited = st.data_editor(edit, hide_index=True, key="identity_unmerge_editor",
                                        disabled=[c for c in edit.columns if c != "group"],
                                        column_config={"group": st.column_config.NumberColumn(min_value=1, step=1)})
                if may_review:
                    c1, c2 = st.columns(2)
                    if c1.button("Split into the groups above", key="identity_split_groups"):
                        groups = [list(zip(g["source"], g["source_record_id"])) for _, g in edited.groupby("group")]
                        try:
                            result = review.unmerge(ws, user, pid, groups)
                            st.session_state["identity_flash"] = f"Split {pid} into {result['groups']} profiles."
                            st.rerun()
                        except ValueError as exc:
                            st.error(md(exc))
                    if c2.button("Split into single records", key="identity_split_all"):
                        try:
                            result = review.unmerge(ws, user, pid)
                            st.session_state["identity_flash"] = f"Split {pid} into {result['groups']} profiles."
                            st.rerun()
                        except ValueError as exc:
                            st.error(md(exc))
        active = review.splits(ws, user)
        if len(active):
            st.markdown("**Unmerges in force** (kept on every re-run)")
            st.dataframe(active, hide_index=True)
            if may_review:
                undo_id = st.selectbox("Undo unmerge", active["split_id"].tolist(), key="identity_undo_split")
                if st.button("Undo this unmerge", key="identity_undo_split_btn"):
                    review.undo_unmerge(ws, user, int(undo_id))
                    st.rerun()

# -- settings ------------------------------------------------------------------------
with tab_settings:
    if tab_settings.open:
        settings = load_settings(ws)
        st.markdown("**Thresholds**: at or above *high* merge automatically; between *low* and *high* go to review.")
        low, high = st.slider("Low / high", 0.0, 1.0, (float(settings["low_threshold"]), float(settings["high_threshold"])),
                              0.005, key="identity_thresholds")
        c1, c2 = st.columns(2)
        if c1.button("Preview", key="identity_preview"):
            with st.spinner("Re-clustering with these thresholds (nothing is saved)"):
                st.session_state["identity_preview_result"] = preview_thresholds(ws, user, low, high)
        if prev := st.session_state.get("identity_preview_result"):
            st.write(f"Profiles {prev['profiles_now']:,} → {prev['profiles_after']:,}: "
                     f"{prev['profiles_merged']:,} would merge, {prev['profiles_split']:,} would split; "
                     f"{prev['review_queue']:,} pairs to review.")
        with st.form("identity_settings"):
            region = st.text_input("Default phone region", settings["default_region"])
            household = st.toggle("Household guard (same home, different first name or birth date: two people)",
                                  settings["household_guard"])
            chains = st.toggle("Cluster consistency (never chain records with birth dates years apart into one profile; "
                               "the linking pair goes to review)", settings["cluster_consistency"])
            use_sup = st.toggle("Use the model trained on reviewer decisions once it has enough labels",
                                settings["use_supervised"])
            limits = {k: st.number_input(f"At most this many {k} values per profile", 1, 100, int(v), key=f"lim_{k}")
                      for k, v in settings["max_per_profile"].items()}
            blocklist = st.text_area("Junk values (one per line; never used to join records)",
                                     "\n".join(settings["blocklist"]))
            st.markdown("**Golden record survivorship**")
            surv = settings["survivorship"]
            default_rule = st.selectbox("Default rule", SURVIVORSHIP_RULES,
                                        index=SURVIVORSHIP_RULES.index(surv.get("default", "most_recent")))
            cols = st.columns(3)
            rules = {f: cols[i % 3].selectbox(f.replace("_", " "), SURVIVORSHIP_RULES,
                                              index=SURVIVORSHIP_RULES.index(surv["fields"].get(f, default_rule)),
                                              key=f"surv_{f}") for i, f in enumerate(GOLDEN_FIELDS)}
            all_sources = [r[0] for r in ws.query_rows("SELECT DISTINCT source FROM profile_members ORDER BY 1")]
            priority = st.multiselect("Source priority (first wins)", all_sources + [s for s in surv.get("source_priority", [])
                                                                                     if s not in all_sources],
                                      surv.get("source_priority", []))
            if st.form_submit_button("Save settings", disabled=not may_resolve):
                try:
                    save_settings(ws, user, {
                        "low_threshold": low, "high_threshold": high, "default_region": region.strip().upper(),
                        "household_guard": household, "cluster_consistency": chains, "use_supervised": use_sup, "max_per_profile": limits,
                        "blocklist": [v.strip() for v in blocklist.splitlines() if v.strip()],
                        "survivorship": {"default": default_rule, "fields": rules, "source_priority": priority}})
                    st.session_state["identity_flash"] = "Settings saved; they apply on the next run."
                    st.rerun()
                except ValueError as exc:
                    st.error(md(exc))
