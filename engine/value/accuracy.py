"""Accuracy of one model's holdout predictions, in purchases and in money, beside a naive
baseline: the figures `validate_clv` reports and the model choice (choose.py) ranks by."""
from __future__ import annotations

import numpy as np
import pandas as pd

from engine.value.prediction import DataTooThin

FREQUENCY_CAP = 7  # by-frequency table: 0, 1, ..., 6, "7+"


def metrics(predicted, actual) -> dict:
    """Aggregate and ranking accuracy of per-customer predictions of later purchases.

    top_decile_capture: share of all later purchases made by the 10% of customers (rounded up)
    with the highest predictions.
    """
    from scipy.stats import spearmanr

    predicted = np.asarray(predicted, float)
    actual = np.asarray(actual, float)
    n = len(predicted)
    if n == 0:
        raise DataTooThin("No customers to validate.")
    top = int(np.ceil(n / 10))
    order = np.argsort(-predicted, kind="stable")
    actual_total = float(actual.sum())
    spearman = np.nan
    if np.ptp(predicted) > 0 and np.ptp(actual) > 0:
        spearman = float(spearmanr(predicted, actual).statistic)
    return {
        "customers": int(n),
        "predicted_total": float(predicted.sum()),
        "actual_total": actual_total,
        "mae": float(np.abs(predicted - actual).mean()),
        "spearman": None if np.isnan(spearman) else spearman,
        "top_decile_capture": float(actual[order[:top]].sum() / actual_total) if actual_total else None,
    }


def revenue_metrics(predicted, actual) -> dict:
    """The same figures on revenue, under revenue_* keys, plus the total's relative error."""
    m = metrics(predicted, actual)
    total, actual_total = m["predicted_total"], m["actual_total"]
    return {
        "predicted_revenue": total, "actual_revenue": actual_total,
        "revenue_error": (total / actual_total - 1.0) if actual_total else None,
        "revenue_mae": m["mae"], "revenue_spearman": m["spearman"],
        "revenue_top_decile_capture": m["top_decile_capture"],
    }


def by_frequency(frequency, predicted, actual, cap: int = FREQUENCY_CAP) -> pd.DataFrame:
    """Mean predicted vs actual later purchases by number of repeat purchases before the split."""
    freq = np.minimum(np.asarray(frequency, dtype=np.int64), cap)
    frame = pd.DataFrame({"f": freq, "predicted": predicted, "actual": actual})
    table = frame.groupby("f").agg(customers=("f", "size"), predicted=("predicted", "mean"),
                                   actual=("actual", "mean")).reset_index()
    table["calibration_purchases"] = table["f"].map(lambda v: f"{v}+" if v == cap else str(v))
    return table[["calibration_purchases", "customers", "predicted", "actual"]]


def by_decile(predicted_revenue, predicted_purchases, revenue, purchases) -> pd.DataFrame:
    """Totals per decile of predicted revenue (1 = the top 10%): predicted and actual
    purchases and revenue, and each decile's share of the actual revenue."""
    from engine.value.prediction import deciles

    frame = pd.DataFrame({
        "decile": deciles(np.asarray(predicted_revenue, float)),
        "predicted_purchases": predicted_purchases, "actual_purchases": purchases,
        "predicted_revenue": predicted_revenue, "actual_revenue": revenue,
    })
    table = frame.groupby("decile").agg(
        customers=("decile", "size"), predicted_purchases=("predicted_purchases", "sum"),
        actual_purchases=("actual_purchases", "sum"), predicted_revenue=("predicted_revenue", "sum"),
        actual_revenue=("actual_revenue", "sum")).reset_index()
    total = float(table["actual_revenue"].sum())
    table["revenue_share"] = table["actual_revenue"] / total if total else 0.0
    return table


def holdout_figures(frame: pd.DataFrame, naive_purchases, naive_revenue) -> dict:
    """Every accuracy figure of one model on one holdout.

    frame: one row per calibration customer with frequency, predicted_purchases,
    expected_spend, purchases and revenue (the actuals, 0 when none). naive_*: the baseline's
    predictions for the same rows (each customer keeps buying and spending at their own past
    rate).
    """
    spend = frame["expected_spend"].to_numpy(float)
    predicted_revenue = frame["predicted_purchases"].to_numpy(float) * np.nan_to_num(spend)
    purchases, revenue = frame["purchases"].to_numpy(float), frame["revenue"].to_numpy(float)
    result = {**metrics(frame["predicted_purchases"], purchases),
              **revenue_metrics(predicted_revenue, revenue)}
    result["naive"] = {**metrics(naive_purchases, purchases), **revenue_metrics(naive_revenue, revenue)}
    result["by_frequency"] = by_frequency(frame["frequency"], frame["predicted_purchases"],
                                          purchases).to_dict(orient="records")
    result["by_decile"] = by_decile(predicted_revenue, frame["predicted_purchases"], revenue,
                                    purchases).to_dict(orient="records")
    result["summary"] = in_words(result)
    return result


def _money(value: float) -> str:
    return f"{value:,.0f}"


def in_words(figures: dict) -> str:
    """The figures as a marketer reads them."""
    parts = [f"Predicted revenue {_money(figures['predicted_revenue'])} against "
             f"{_money(figures['actual_revenue'])} actually spent"]
    if figures["revenue_error"] is not None:
        parts[0] += f" ({figures['revenue_error']:+.0%})"
    capture = figures["revenue_top_decile_capture"]
    if capture is not None:
        naive = figures["naive"]["revenue_top_decile_capture"]
        parts.append(f"the 10% of customers ranked highest brought {capture:.0%} of the next "
                     f"period's revenue" + ("" if naive is None else
                                            f" (ranking by past spending rate: {naive:.0%})"))
    return "; ".join(parts) + "."
