"""How accurate are the predictions on this data? Split at a calibration date, fit on the
earlier part, predict the later part and compare with what customers actually did."""
from __future__ import annotations

from datetime import date

from engine.access import audit, can, require
import engine.value.store as store
from engine.value.accuracy import by_frequency, metrics  # noqa: F401 - re-exported
from engine.value.choose import adjusted_totals, score, total_adjustment
from engine.value.clv import (DEFAULT_MODEL, MODELS, DataTooThin, check_models, predict_history,
                               resolve_model, run_prediction)
from engine.value.history import load_history, order_date_range, window_actuals


def validate_clv(workspace, user, calibration_end, holdout_end=None, model: str = DEFAULT_MODEL,
                 save: bool = True, progress=None) -> dict:
    """Fit on orders up to calibration_end, predict (calibration_end, holdout_end], compare.

    Returns the figures (customers, predicted_total, actual_total, mae, spearman,
    top_decile_capture; the same on revenue: predicted_revenue, actual_revenue, revenue_error,
    revenue_mae, revenue_spearman, revenue_top_decile_capture), the totals corrected by the chosen
    model's miss on its own inner holdout (adjusted_predicted_total, adjusted_predicted_revenue,
    total_adjustment; equal to the plain totals without a choice), a naive baseline's figures
    (naive), by_frequency and by_decile tables and a summary in words. With model "auto" the
    model is chosen on a holdout inside the calibration period (choice), so the validation
    judges the choice on data it never saw. Raises DataTooThin with a plain message when a
    model cannot be fitted.
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
        requested = model
        model, choice = resolve_model(con, model, calibration_end, horizon)
        report(0.3, f"Fitting {MODELS[model]} on orders up to {calibration_end}")
        if model == "ml":
            prediction = run_prediction(con, calibration_end, model, horizon, 1.0, 0.0)
    if model != "ml":  # fit outside the connection: other processes may use the file meanwhile
        prediction = predict_history(history, model, horizon, 1.0, 0.0)
    report(0.8, "Comparing with what customers did later")
    figures = score(prediction.frame, history, actuals, horizon)
    adjustment = total_adjustment(choice)
    result = {
        **figures, "total_adjustment": adjustment,
        **adjusted_totals(figures["predicted_total"], figures.get("predicted_revenue"), adjustment),
        "model": model, "model_name": MODELS[model], "requested_model": requested,
        "choice": choice, "calibration_end": str(calibration_end), "holdout_end": str(holdout_end),
        "horizon_days": horizon, "repeat_customers": prediction.repeat_customers,
        "params": prediction.params,
    }
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
