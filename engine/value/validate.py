"""How accurate are the predictions on this data? Split at a calibration date, fit on the
earlier part, predict the later part and compare with what customers actually did."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from engine.access import audit, can, require
from engine.value import store
from engine.value.clv import (DEFAULT_MODEL, MODELS, DataTooThin, check_models, predict_history,
                               run_prediction)
from engine.value.history import load_history, order_date_range, window_actuals

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


def by_frequency(frequency, predicted, actual, cap: int = FREQUENCY_CAP) -> pd.DataFrame:
    """Mean predicted vs actual later purchases by number of repeat purchases before the split."""
    freq = np.minimum(np.asarray(frequency, dtype=np.int64), cap)
    frame = pd.DataFrame({"f": freq, "predicted": predicted, "actual": actual})
    table = frame.groupby("f").agg(customers=("f", "size"), predicted=("predicted", "mean"),
                                   actual=("actual", "mean")).reset_index()
    table["calibration_purchases"] = table["f"].map(lambda v: f"{v}+" if v == cap else str(v))
    return table[["calibration_purchases", "customers", "predicted", "actual"]]


def validate_clv(workspace, user, calibration_end, holdout_end=None, model: str = DEFAULT_MODEL,
                 save: bool = True, progress=None) -> dict:
    """Fit on orders up to calibration_end, predict (calibration_end, holdout_end], compare.

    Returns the figures (customers, predicted_total, actual_total, mae, spearman,
    top_decile_capture, predicted_revenue, actual_revenue), a naive baseline's figures and a
    by-frequency table. Raises DataTooThin with a plain message when a model cannot be fitted.
    """
    require(user, "view")
    check_models(model)
    report = progress or (lambda f, m="": None)
    with workspace.connect() as con:
        first, last, _ = order_date_range(con)
        if last is None:
            raise DataTooThin("There are no orders yet: load orders and resolve identities first.")
        holdout_end = holdout_end or last
        if holdout_end <= calibration_end:
            raise ValueError(f"The holdout end ({holdout_end}) must come after the calibration end "
                             f"({calibration_end}); the last order is on {last}.")
        if calibration_end < first:
            raise DataTooThin(f"No orders before {calibration_end}: the first is on {first}.")
        horizon = (holdout_end - calibration_end).days
        report(0.1, "Reading order histories")
        history = load_history(con, calibration_end)
        actuals = window_actuals(con, calibration_end, holdout_end)
        report(0.3, f"Fitting {MODELS[model]} on orders up to {calibration_end}")
        if model == "ml":
            prediction = run_prediction(con, calibration_end, model, horizon, 1.0, 0.0)
    if model != "ml":  # fit outside the connection: other processes may use the file meanwhile
        prediction = predict_history(history, model, horizon, 1.0, 0.0)
    report(0.8, "Comparing with what customers did later")
    frame = prediction.frame.merge(actuals, on="profile_id", how="left").fillna(
        {"purchases": 0, "revenue": 0.0})
    result = {
        **metrics(frame["predicted_purchases"], frame["purchases"]),
        "predicted_revenue": float((frame["predicted_purchases"] * frame["expected_spend"]).sum()),
        "actual_revenue": float(frame["revenue"].sum()),
        "model": model, "model_name": MODELS[model],
        "calibration_end": str(calibration_end), "holdout_end": str(holdout_end),
        "horizon_days": horizon, "repeat_customers": prediction.repeat_customers,
        "params": prediction.params,
    }
    # Naive baseline: each customer keeps buying at their own past rate.
    naive = (history.frequency / np.maximum(history.T, 1.0)) * horizon
    naive_frame = pd.DataFrame({"profile_id": history.profile_id, "naive": naive}).merge(
        actuals, on="profile_id", how="left").fillna({"purchases": 0})
    result["naive"] = metrics(naive_frame["naive"], naive_frame["purchases"])
    table = by_frequency(frame["frequency"], frame["predicted_purchases"], frame["purchases"])
    result["by_frequency"] = table.to_dict(orient="records")
    if save and can(user, "score_value"):
        with workspace.transaction() as con:
            run_id = store.write_validation(
                con, model=model, calibration_end=calibration_end, holdout_end=holdout_end,
                params=prediction.params, customers=result["customers"],
                repeat_customers=prediction.repeat_customers, details=result,
                username=user.username)
            audit(con, user, "value.clv_validate", str(run_id),
                  {"model": model, "calibration_end": str(calibration_end)})
        result["run_id"] = run_id
    report(1.0, "Done")
    return result


def suggest_calibration_end(workspace, share: float = 0.7) -> tuple[date | None, date | None]:
    """A calibration end about `share` of the way through the order history, and the last day."""
    with workspace.connect() as con:
        first, last, _ = order_date_range(con)
    if first is None:
        return None, None
    from datetime import timedelta
    return first + timedelta(days=int((last - first).days * share)), last
