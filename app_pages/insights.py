"""Insights: customer value (RFM, predicted lifetime value, churn risk) and how accurate it is."""
from __future__ import annotations

from datetime import date

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from engine.access import can
from engine.currency import currency_status, unconverted_message
from engine.value import (DataTooThin, RuleError, fit_clv, save_segment_rules, score_rfm,
                          segment_rules, validate_clv)
from engine.value import insights as value_insights
from engine.value import store as value_store
from engine.value.clv import DEFAULT_MODEL, MODEL_CHOICES, MODELS
from engine.value.validate import suggest_calibration_end
from engine.workspace.versions import NO_EVENTS, REVENUE
from ui.context import cached_query, require_page, workspace
from ui.recent import recent_query, recounting
from ui.jobs import job_panel
from ui.jobs import start as start_job
from ui.text import md, plain

try:  # built on the segments branch; the screen works without it
    from engine.segments import create_static_segment
except ImportError:  # pragma: no cover - depends on what has landed
    create_static_segment = None

user = require_page("view")
ws = workspace()
may_score = can(user, "score_value")

st.title("Insights")
st.caption("Who your valuable customers are, who is slipping away, and how far to trust the predictions.")

# Revenue reads answer at once after a change (ui/recent.py): the last result while it is recounted.
money_read = recent_query(currency_status, reads=REVENUE)
dates_read = recent_query(value_insights.order_dates, reads=REVENUE)
recounting(money_read, dates_read, what="the newest orders")
money = money_read.value
if money["reporting_currency"]:
    st.caption(f"Money is in {md(money['reporting_currency'])}, the reporting currency (`cdp currency`).")
if unconverted_message(money):
    st.warning(md(unconverted_message(money)))

first_day, last_day = dates_read.value
if last_day is None:
    st.info("There are no orders yet. Load orders on the Sources screen and resolve identities first.")
    st.stop()


def _progress_bar(label: str):
    bar = st.progress(0.0, text=label)

    def report(fraction: float, message: str = "") -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=message or label)
    return bar, report


def _show_choice(choice: dict) -> None:
    """Why this model: the rule and every backtested model's figures."""
    st.caption(md(choice["reason"]))
    rows = [{"model": MODELS.get(m, m), **({"note": f["error"]} if "error" in f else {
        "Spearman": f["spearman"], "MAE (purchases)": f["mae"],
        "top 10% capture": f["top_decile_capture"], "revenue vs actual": f["revenue_error"]})}
        for m, f in choice["candidates"].items()]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, key=f"choice_{choice.get('holdout_end')}")


def _fit_summary(result: dict) -> str:
    if result["status"] == "too_thin":
        return (f"{result['message']} RFM scores were computed for {result['rfm']['customers']} "
                "customers instead.")
    return (f"{result['model_name']} fitted on {result['customers']:,} customers "
            f"({result['repeat_customers']:,} repeat buyers) as of {result['as_of']}: "
            f"{result['predicted_purchases']:,.0f} purchases and {result['predicted_clv']:,.2f} "
            f"of value expected in the next {result['horizon_days']} days."
            + _corrected(result))


def _corrected(result: dict) -> str:
    """The totals corrected by the chosen model's miss on this data's own holdout, in words."""
    if not result.get("total_adjustment"):
        return ""
    return (f" Corrected for how far the model missed on your own holdout: about "
            f"{result['adjusted_predicted_purchases']:,.0f} purchases and "
            f"{result['adjusted_predicted_clv']:,.2f} of value in total (people's own scores are not corrected).")


# -- computing scores ------------------------------------------------------------------
with st.expander("Compute scores", expanded=not cached_query(value_insights.clv_totals, reads=NO_EVENTS).get("customers")):
    if not may_score:
        st.caption("Your role can look at scores but not recompute them.")
    with st.form("value_fit_form"):
        c1, c2, c3 = st.columns(3)
        as_of = c1.date_input("As of", value=last_day, min_value=first_day, max_value=last_day,
                              key="value_as_of")
        model = c2.selectbox("Model", list(MODEL_CHOICES), index=list(MODEL_CHOICES).index(DEFAULT_MODEL),
                             format_func=MODEL_CHOICES.get, key="value_model",
                             help="Automatic backtests every model on the last part of your own "
                                  "history and keeps the best; pick one to pin it.")
        horizon = c3.number_input("Horizon (days)", 1, 3650, 365, key="value_horizon")
        c4, c5, _ = st.columns(3)
        margin = c4.number_input("Margin (share of revenue)", 0.01, 1.0, 1.0, 0.05, key="value_margin")
        discount = c5.number_input("Annual discount rate", 0.0, 0.99, 0.10, 0.01, key="value_discount")
        fit_clicked = st.form_submit_button("Fit and score", type="primary", disabled=not may_score,
                                            key="value_fit")
    if fit_clicked:
        start_job("clv_fit", "Lifetime value fit", user, lambda progress: fit_clv(
            ws, user, as_of, model=model, horizon_days=int(horizon), margin=float(margin),
            discount_rate=float(discount), progress=progress))
    fitted = job_panel("clv_fit", _fit_summary)
    if fitted is not None and fitted.state == "done" and (fitted.result or {}).get("choice"):
        _show_choice(fitted.result["choice"])


def _show_validation(validation: dict) -> None:
    """Accuracy in money and in words, beside the naive baseline, with the per-decile chart."""
    naive = validation["naive"]
    st.markdown(f"**{validation['model_name']}**, fitted on orders up to "
                f"{validation['calibration_end']}, predicting the {validation['horizon_days']} "
                f"days to {validation['holdout_end']} for {validation['customers']:,} customers.")
    if validation.get("choice"):
        _show_choice(validation["choice"])
    if validation.get("summary"):
        st.info(md(validation["summary"]))
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Predicted vs actual revenue",
              f"{validation['predicted_revenue']:,.0f} / {validation['actual_revenue']:,.0f}",
              delta=None if validation.get("revenue_error") is None else f"{validation['revenue_error']:+.0%}",
              delta_color="off")
    m2.metric("Predicted vs actual purchases",
              f"{validation['predicted_total']:,.0f} / {validation['actual_total']:,.0f}")
    capture = validation.get("revenue_top_decile_capture")
    m3.metric("Next period's revenue from our top 10%", "n/a" if capture is None else f"{capture:.0%}",
              delta=None if capture is None or naive.get("revenue_top_decile_capture") is None
              else f"{capture - naive['revenue_top_decile_capture']:+.0%} vs naive")
    m4.metric("Mean absolute error per customer", f"{validation['mae']:.3f}",
              delta=f"{validation['mae'] - naive['mae']:+.3f} vs naive", delta_color="inverse")
    spearman = validation["spearman"]
    st.caption("Naive baseline: each customer keeps buying at their own past rate and spend. It "
               f"predicts revenue {naive.get('predicted_revenue', 0):,.0f}, purchases "
               f"{naive['predicted_total']:,.0f}, MAE {naive['mae']:.3f}. The model's rank correlation "
               f"with what people bought (Spearman) is {'n/a' if spearman is None else f'{spearman:.3f}'}.")
    if validation.get("by_decile"):
        deciles = pd.DataFrame(validation["by_decile"])
        long = deciles.melt(id_vars=["decile", "customers"], value_vars=["predicted_revenue", "actual_revenue"],
                            var_name="series", value_name="revenue")
        fig = px.bar(long, x="decile", y="revenue", color="series", barmode="group",
                     labels={"decile": "Decile of predicted revenue (1 = top 10%)", "revenue": "Revenue"},
                     title="Predicted vs actual revenue by decile")
        fig.update_xaxes(type="category")
        st.plotly_chart(fig, key="validation_deciles")
        st.dataframe(deciles, hide_index=True)
    table = pd.DataFrame(validation["by_frequency"])
    long = table.melt(id_vars=["calibration_purchases", "customers"],
                      value_vars=["predicted", "actual"], var_name="series", value_name="purchases")
    fig = px.bar(long, x="calibration_purchases", y="purchases", color="series", barmode="group",
                 labels={"calibration_purchases": "Repeat purchases before the calibration end",
                         "purchases": "Mean purchases in the holdout"},
                 title="Predicted vs actual purchases by purchase history")
    fig.update_xaxes(type="category")
    st.plotly_chart(fig, key="validation_chart")


# Lazy tabs: only the open one runs its queries and draws its charts.
value_tab, rfm_tab, cohort_tab, accuracy_tab, churn_tab = st.tabs(
    ["Lifetime value", "RFM", "Cohorts", "Prediction accuracy", "Churn risk"], key="insights_tab",
    on_change="rerun")

# -- lifetime value ---------------------------------------------------------------------
with value_tab:
    if value_tab.open:
        totals = cached_query(value_insights.clv_totals, reads=NO_EVENTS)
        if not totals.get("customers"):
            st.info("No predictions yet: use *Compute scores* above.")
        else:
            m1, m2, m3, m4 = st.columns(4)
            m1.metric("Customers scored", f"{int(totals['customers']):,}")
            last_fit = value_store.latest_run(ws, "fit")
            spread = ((last_fit or {}).get("params") or {}).get("clv_range") or {}
            m2.metric(f"Predicted value, next {int(totals['horizon_days'])} days", f"{totals['total_clv']:,.0f}",
                      help=None if spread.get("total_low") is None else
                      f"{spread['level']} range {spread['total_low']:,.0f} to {spread['total_high']:,.0f}, "
                      f"{spread['note']}.")
            if spread.get("total_low") is not None:
                st.caption(f"{spread['level']} range of the total: {spread['total_low']:,.0f} to "
                           f"{spread['total_high']:,.0f} ({md(spread['note'])}). Each customer's range is in "
                           "the churn-risk list.")
            m3.metric("Average per customer", f"{totals['avg_clv']:,.2f}")
            m4.metric("Average probability alive", f"{totals['avg_p_alive']:.0%}")
            st.caption(f"Model: {MODELS.get(totals['model'], totals['model'])}, as of "
                       f"{pd.Timestamp(totals['as_of']).date()}.")
            choice = (last_fit or {}).get("details", {}).get("choice")
            if choice:
                with st.expander("Why this model"):
                    _show_choice(choice)
            by_decile = cached_query(value_insights.clv_by_decile, reads=NO_EVENTS)
            if len(by_decile) and by_decile["clv_low"].notna().all():
                top = by_decile.iloc[0]
                st.markdown(f"The top 10% ({int(top['customers']):,} people) are expected to bring "
                            f"**{top['clv']:,.0f}** ({spread.get('level', '90%')} range {top['clv_low']:,.0f} "
                            f"to {top['clv_high']:,.0f}).")
                fig = go.Figure(go.Bar(
                    x=by_decile["decile"].astype(str), y=by_decile["clv"], name="Predicted value",
                    error_y={"type": "data", "symmetric": False,
                             "array": by_decile["clv_high"] - by_decile["clv"],
                             "arrayminus": by_decile["clv"] - by_decile["clv_low"]}))
                fig.update_layout(title="Predicted value by decile, with its range (1 = top 10%)",
                                  xaxis_title="Decile of predicted value", yaxis_title="Predicted value")
                st.plotly_chart(fig, key="clv_deciles")
            hist = cached_query(value_insights.clv_histogram, reads=NO_EVENTS)
            fig = px.bar(hist, x="bin_start", y="customers",
                         labels={"bin_start": "Predicted lifetime value", "customers": "Customers"},
                         title="Distribution of predicted lifetime value (top 1% in the last bar)")
            fig.update_traces(width=hist["bin_width"].iloc[0] if len(hist) else None)
            st.plotly_chart(fig, key="clv_hist")
        curve_read = recent_query(value_insights.pareto_curve, reads=REVENUE)
        recounting(curve_read, what="the newest orders")
        curve = curve_read.value
        if len(curve) > 1:
            top20 = float(curve.loc[curve["customer_share"] <= 0.2, "revenue_share"].max() or 0)
            fig = go.Figure()
            fig.add_trace(go.Scatter(x=curve["customer_share"], y=curve["revenue_share"], mode="lines",
                                     name="Customers ranked by revenue", fill="tozeroy"))
            fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="Equal spend",
                                     line={"dash": "dot"}))
            fig.update_layout(title=f"Revenue concentration: the top 20% of customers bring {top20:.0%} of revenue",
                              xaxis_title="Share of customers", yaxis_title="Share of revenue",
                              xaxis_tickformat=".0%", yaxis_tickformat=".0%")
            st.plotly_chart(fig, key="pareto")

# -- RFM ---------------------------------------------------------------------------------
with rfm_tab:
    if rfm_tab.open:
        grid = cached_query(value_insights.rfm_grid, reads=NO_EVENTS)
        if grid.empty:
            st.info("No RFM scores yet: use *Compute scores* above, or score RFM only.")
        else:
            pivot = grid.pivot(index="r_score", columns="f_score", values="customers").reindex(
                index=range(5, 0, -1), columns=range(1, 6)).fillna(0)
            pivot.index = [f"R{v}" for v in pivot.index]  # labels, so R5 (most recent) stays on top
            pivot.columns = [f"F{v}" for v in pivot.columns]
            fig = px.imshow(pivot, text_auto=True, aspect="auto", color_continuous_scale="Blues",
                            labels={"x": "Frequency score", "y": "Recency score", "color": "Customers"},
                            title="RFM grid: customers by recency and frequency score")
            st.plotly_chart(fig, key="rfm_grid")
            segments = cached_query(value_insights.segment_summary, reads=NO_EVENTS)
            c1, c2 = st.columns(2)
            segments = segments.assign(segment=segments["segment"].map(plain))
            c1.plotly_chart(px.bar(segments, x="segment", y="customers", title="Segment sizes"), key="seg_sizes")
            c2.plotly_chart(px.bar(segments, x="segment", y="revenue", title="Revenue by segment"), key="seg_revenue")
            st.dataframe(segments, hide_index=True)
        if may_score and st.button("Score RFM only", key="value_rfm"):
            try:
                summary = score_rfm(ws, user, st.session_state.get("value_as_of"))
                st.success(f"RFM scores for {summary['customers']:,} customers as of {summary['as_of']}.")
                st.rerun()
            except ValueError as exc:
                st.error(md(exc))

        st.subheader("Segment rules")
        st.caption("First matching rule names the segment. Scores are quintiles 1-5 (5 = most recent, "
                   "most frequent, highest spend); leave M empty to ignore spend.")
        rules = segment_rules(ws)
        table = pd.DataFrame([{
            "name": r["name"], "r_low": r["r"][0], "r_high": r["r"][1], "f_low": r["f"][0],
            "f_high": r["f"][1], "m_low": r.get("m", [None, None])[0], "m_high": r.get("m", [None, None])[1],
            "description": r.get("description", ""),
        } for r in rules])
        edited = st.data_editor(table, num_rows="dynamic", hide_index=True, disabled=not may_score,
                                key="value_rules_editor")
        b1, b2, _ = st.columns([1, 1, 4])
        if b1.button("Save rules", disabled=not may_score, key="value_rules_save"):
            try:
                new_rules = [{
                    "name": row["name"], "description": row.get("description") or "",
                    "r": [row["r_low"], row["r_high"]], "f": [row["f_low"], row["f_high"]],
                    **({"m": [row["m_low"], row["m_high"]]} if pd.notna(row["m_low"]) and pd.notna(row["m_high"]) else {}),
                } for row in edited.to_dict(orient="records") if str(row.get("name") or "").strip()]
                save_segment_rules(ws, user, new_rules)
                score_rfm(ws, user, st.session_state.get("value_as_of"))
                st.success("Rules saved and segments recomputed.")
            except (RuleError, ValueError, TypeError) as exc:
                st.error(f"Rules not saved: {md(exc)}")
        if b2.button("Restore defaults", disabled=not may_score, key="value_rules_reset"):
            save_segment_rules(ws, user, None)
            score_rfm(ws, user, st.session_state.get("value_as_of"))
            st.rerun()

# -- cohorts --------------------------------------------------------------------------------
with cohort_tab:
    if cohort_tab.open:
        cohorts_read = recent_query(value_insights.cohort_retention, reads=REVENUE)
        recounting(cohorts_read, what="the newest orders")
        cohorts = cohorts_read.value
        if cohorts.empty:
            st.info("No orders to build cohorts from.")
        else:
            heat = cohorts.pivot(index="cohort", columns="months_since", values="retention")
            fig = px.imshow(heat, text_auto=".0%", aspect="auto", color_continuous_scale="Greens",
                            labels={"x": "Months since first order", "y": "First-order month",
                                    "color": "Ordering"},
                            title="Cohort retention: share of each first-order month ordering again")
            fig.update_yaxes(type="category")
            fig.update_xaxes(type="category")
            st.plotly_chart(fig, key="cohorts")

# -- accuracy -------------------------------------------------------------------------------
with accuracy_tab:
    if accuracy_tab.open:
        st.caption("Split the order history at a calibration date, fit on the earlier part, predict the "
                   "later part and compare with what customers actually did.")
        suggested, _ = suggest_calibration_end(ws, 0.7)
        with st.form("value_validate_form"):
            c1, c2, c3 = st.columns(3)
            cal_end = c1.date_input("Calibration end", value=suggested, min_value=first_day,
                                    max_value=last_day, key="value_cal_end")
            hold_end = c2.date_input("Holdout end", value=last_day, min_value=first_day,
                                     max_value=last_day, key="value_hold_end")
            v_model = c3.selectbox("Model", list(MODEL_CHOICES), format_func=MODEL_CHOICES.get,
                                   key="value_v_model")
            validate_clicked = st.form_submit_button("Run validation", key="value_validate")
        validation = None
        if validate_clicked:
            bar, report = _progress_bar("Validating")
            try:
                validation = validate_clv(ws, user, cal_end, hold_end, model=v_model, progress=report)
                bar.empty()
            except DataTooThin as exc:
                bar.empty()
                st.warning(md(exc))
                st.info("RFM scores (on the RFM tab) do not need a model and work on thin data.")
            except ValueError as exc:
                bar.empty()
                st.error(md(exc))
        else:
            last_run = value_store.latest_run(ws, "validation")
            if last_run:
                validation = last_run["details"]
                st.caption(f"Last validation, run by {md(last_run['made_by'])} on "
                           f"{pd.Timestamp(last_run['made_at']).strftime('%Y-%m-%d %H:%M')}.")
        if validation:
            _show_validation(validation)

# -- churn risk --------------------------------------------------------------------------------
with churn_tab:
    if churn_tab.open:
        st.caption("Past high spenders who are probably gone. Probability alive comes from the fitted "
                   "model; when that is BG/NBD (which says 1 for every one-time buyer), from a "
                   "Modified BG/NBD fitted on the same histories.")
        c1, c2 = st.columns(2)
        max_alive = c1.slider("Probability alive below", 0.05, 0.95, 0.30, 0.05, key="churn_p_alive")
        min_m = c2.slider("Monetary score at least", 1, 5, 4, key="churn_m_score")
        risk = cached_query(value_insights.churn_risk, user, float(max_alive), int(min_m), None, reads=NO_EVENTS)
        st.markdown(f"**{len(risk):,}** customers at risk" + (" (the first 500 shown)" if len(risk) > 500 else ""))
        st.dataframe(risk.head(500), hide_index=True)
        may_save = can(user, "edit_segments") and create_static_segment is not None and len(risk) > 0
        if create_static_segment is None:
            st.caption("Saving as a segment becomes available once the segments module is installed.")
        name = st.text_input("Segment name", value=f"Churn risk {date.today():%Y-%m-%d}", key="churn_name")
        if st.button("Save as segment", disabled=not may_save, key="churn_save", icon=":material/group_add:"):
            try:
                create_static_segment(ws, user, name, risk["profile_id"].tolist(),
                                      f"Monetary score >= {min_m} and probability alive < {max_alive:.2f}")
                st.success(f"Saved {len(risk):,} people as the segment {md(repr(name))}.")
            except (ValueError, PermissionError) as exc:
                st.error(md(exc))
