"""Which model fits this customer base? Backtest every model on the workspace's own history
and pick one by a stated rule.

The split: the last `min(horizon, half the history)` days before the as-of date are the
holdout, everything earlier the calibration period. Each candidate is fitted on the
calibration period and predicts the holdout; accuracy.holdout_figures scores it.

The rule (RULE, in words on every run): among the models whose rank correlation with what
customers bought (Spearman) is within SPEARMAN_SLACK of the best, the one with the smallest
per-customer revenue error (mean absolute difference between predicted and actual revenue).
Per customer rather than in total: on the real CDNOW history the three classic models rank
alike and the one closest in total revenue on the inner holdout (BG/NBD) was the worst on
the later holdout, while the smallest per-customer error (Pareto/NBD) stayed the best on
every measure there (BENCHMARKS.md).

The classic models are backtested on a seeded random sample of at most BACKTEST_CUSTOMERS
customers (ample to tell the models apart; on a million customers it keeps fit + choose +
predict inside the 15-second target). The gradient-boosting model is backtested only up to
ML_MAX_CUSTOMERS customers: it learns from SQL features of everyone and takes tens of seconds
on a million.
"""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from engine.value.accuracy import holdout_figures
from engine.value.history import History, load_history, window_actuals
from engine.value.prediction import DataTooThin

AUTO = "auto"
CLASSIC = ("bgnbd", "mbgnbd", "pareto")
CANDIDATES = (*CLASSIC, "ml")
FALLBACK = "mbgnbd"  # when no backtest is possible: real p_alive for one-time buyers
SPEARMAN_SLACK = 0.02
ML_MAX_CUSTOMERS = 250_000
BACKTEST_CUSTOMERS = 100_000
MIN_HOLDOUT_DAYS = 28
RULE = (f"among the models whose Spearman rank correlation is within {SPEARMAN_SLACK} of the "
        "best, the one with the smallest revenue error per customer")


def holdout_split(first: date, as_of: date, horizon_days: int) -> tuple[date, date] | None:
    """(calibration end, holdout end) inside the history up to as_of, or None if too short."""
    days = min(int(horizon_days), (as_of - first).days // 2)
    if days < MIN_HOLDOUT_DAYS:
        return None
    return as_of - timedelta(days=days), as_of


def naive_predictions(history: History, horizon_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Each customer keeps buying at their own past rate, at their own mean purchase value."""
    purchases = history.frequency / np.maximum(history.T, 1.0) * horizon_days
    per_purchase = history.total_amount / (history.frequency + 1.0)
    return purchases, purchases * np.nan_to_num(per_purchase)


def aligned_actuals(history: History, actuals: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Later purchases and revenue per customer of the history, in its order (0 when none)."""
    where = pd.Index(actuals["profile_id"]).get_indexer(history.profile_id)
    found = where >= 0

    def pick(column):
        return np.where(found, actuals[column].to_numpy(float)[np.maximum(where, 0)], 0.0)
    return pick("purchases"), pick("revenue")


def in_history_order(frame: pd.DataFrame, history: History) -> pd.DataFrame:
    """A prediction frame with one row per history customer, in the history's order."""
    if len(frame) == len(history) and np.array_equal(frame["profile_id"].to_numpy(), history.profile_id):
        return frame
    return frame.set_index("profile_id").reindex(history.profile_id).rename_axis("profile_id").reset_index()


def score(prediction_frame: pd.DataFrame, history: History, actuals, horizon_days: int) -> dict:
    """holdout_figures for one model's predictions of the history's customers.

    actuals: the window_actuals frame, or (purchases, revenue) already in history order."""
    purchases, revenue = (aligned_actuals(history, actuals) if isinstance(actuals, pd.DataFrame)
                          else actuals)
    frame = in_history_order(prediction_frame, history).assign(purchases=purchases, revenue=revenue)
    frame = frame.fillna({"predicted_purchases": 0.0, "frequency": 0})
    naive_purchases, naive_revenue = naive_predictions(history, horizon_days)
    return holdout_figures(frame, naive_purchases, naive_revenue)


def sample(history: History, limit: int = BACKTEST_CUSTOMERS, seed: int = 0) -> History:
    """At most `limit` customers of a history, drawn at random (seeded: the same every run)."""
    if len(history) <= limit:
        return history
    keep = np.sort(np.random.default_rng(seed).choice(len(history), limit, replace=False))
    return History(**{name: (getattr(history, name)[keep] if name != "as_of" else history.as_of)
                      for name in History.__dataclass_fields__})


def backtest(history: History, actuals: pd.DataFrame, horizon_days: int, predict,
             models=CLASSIC, ml_runner=None) -> dict[str, dict]:
    """Figures per model ({"error": message} where a model cannot run on this data).

    predict: clv.predict_history (passed in: clv imports this module). ml_runner: a callable
    returning the ML model's Prediction for the calibration end, or None to leave it out."""
    from engine.value.btyd import FitError

    full, history = history, sample(history)
    full_actuals = actuals
    actuals = aligned_actuals(history, actuals)
    results: dict[str, dict] = {}
    for model in models:
        try:
            if model == "ml":
                if ml_runner is None:
                    continue
                results[model] = score(ml_runner().frame, full, full_actuals, horizon_days)
                continue
            prediction = predict(history, model, horizon_days, 1.0, 0.0, scoring=False)
            results[model] = score(prediction.frame, history, actuals, horizon_days)
        except (DataTooThin, FitError, ValueError) as exc:
            results[model] = {"error": str(exc)}
    return results


def pick(results: dict[str, dict]) -> str | None:
    """The model RULE picks, or None when no model could be scored."""
    usable = {m: f for m, f in results.items()
              if "error" not in f and f.get("spearman") is not None}
    if not usable:
        return None
    best = max(f["spearman"] for f in usable.values())
    eligible = [m for m, f in usable.items() if f["spearman"] >= best - SPEARMAN_SLACK]
    return min(eligible, key=lambda m: (usable[m]["revenue_mae"], usable[m]["mae"]))


def _summary(figures: dict) -> dict:
    keys = ("customers", "predicted_total", "actual_total", "mae", "spearman", "top_decile_capture",
            "predicted_revenue", "actual_revenue", "revenue_error", "revenue_mae",
            "revenue_top_decile_capture")
    return {k: figures[k] for k in keys}


def choice_record(results: dict[str, dict], split: tuple[date, date] | None) -> dict:
    """What is stored with the fit: the chosen model, the rule, the split and every figure."""
    chosen = pick(results)
    if chosen is None:
        why = ("the history is too short for a holdout" if split is None
               else "no model could be backtested on this history")
        return {"model": FALLBACK, "rule": RULE, "reason": f"Default model: {why}.",
                "calibration_end": None if split is None else str(split[0]),
                "holdout_end": None if split is None else str(split[1]),
                "candidates": {m: ({"error": f["error"]} if "error" in f else _summary(f))
                               for m, f in results.items()}}
    f = results[chosen]
    reason = (f"Chosen on this data's own holdout ({split[0]} to {split[1]}): {RULE}. "
              f"Spearman {f['spearman']:.3f}, revenue error {f['revenue_mae']:,.2f} per customer"
              + ("" if f["revenue_error"] is None else
                 f", predicted revenue {f['revenue_error']:+.0%} against actual") + ".")
    return {"model": chosen, "rule": RULE, "reason": reason, "calibration_end": str(split[0]),
            "holdout_end": str(split[1]),
            "candidates": {m: ({"error": r["error"]} if "error" in r else _summary(r))
                           for m, r in results.items()}}


def choose(con, first: date, as_of: date, horizon_days: int, predict) -> dict:
    """Backtest every candidate on the history up to as_of and return choice_record."""
    split = holdout_split(first, as_of, horizon_days)
    if split is None:
        return choice_record({}, None)
    calibration_end, holdout_end = split
    history = load_history(con, calibration_end)
    actuals = window_actuals(con, calibration_end, holdout_end)
    days = (holdout_end - calibration_end).days
    ml_runner = None
    if len(history) <= ML_MAX_CUSTOMERS:
        import engine.value.ml as ml

        def ml_runner():
            return ml.predict(con, calibration_end, days, margin=1.0, discount_rate=0.0)
    return choice_record(backtest(history, actuals, days, predict, CANDIDATES, ml_runner), split)


# A total is corrected only when the inner holdout was large enough to say something, and never
# by more than this factor either way.
ADJUSTMENT_MIN_CUSTOMERS = 500
ADJUSTMENT_LIMITS = (0.5, 2.0)


def total_adjustment(choice: dict | None) -> dict | None:
    """How far the chosen model's totals missed on the inner holdout, as factors to correct the
    *totals* it forecasts next (purchases, revenue); None without a usable backtest.

    BTYD models are known to miss whole-base totals in one direction on a given business (on
    CDNOW every classic model is 13-19% under); the per-person predictions keep their order
    and scale (correcting them would worsen the per-person error), only totals are corrected.
    """
    if not choice or choice.get("model") not in (choice.get("candidates") or {}):
        return None
    figures = choice["candidates"][choice["model"]]
    if "error" in figures or figures.get("customers", 0) < ADJUSTMENT_MIN_CUSTOMERS:
        return None
    low, high = ADJUSTMENT_LIMITS

    def factor(actual, predicted):
        if not actual or not predicted or predicted <= 0:
            return None
        return round(min(max(actual / predicted, low), high), 4)

    purchases = factor(figures.get("actual_total"), figures.get("predicted_total"))
    revenue = factor(figures.get("actual_revenue"), figures.get("predicted_revenue"))
    if purchases is None and revenue is None:
        return None
    return {"purchases": purchases, "revenue": revenue, "holdout_end": choice.get("holdout_end"),
            "reason": f"totals corrected by what {choice['model']} missed on the holdout before "
                      f"{choice.get('holdout_end')} (purchases x{purchases}, revenue x{revenue}); "
                      "per-person predictions are not"}


def adjusted_totals(predicted_purchases: float, predicted_revenue: float | None, adjustment: dict | None) -> dict:
    """The corrected totals (equal to the predicted ones without an adjustment)."""
    adjustment = adjustment or {}
    return {"adjusted_predicted_total": predicted_purchases * (adjustment.get("purchases") or 1.0),
            "adjusted_predicted_revenue": None if predicted_revenue is None
            else predicted_revenue * (adjustment.get("revenue") or 1.0)}
