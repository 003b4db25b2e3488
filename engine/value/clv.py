"""Predicted purchases, probability alive and lifetime value per profile, as of a date."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from engine.access import audit, can, mask_frame, require
import engine.value.btyd as btyd
import engine.value.choose as choose
import engine.value.queries as queries
import engine.value.store as store
from engine.value.choose import AUTO
from engine.value.history import History, default_as_of, load_history
from engine.value.prediction import (  # noqa: F401 - re-exported: callers import them from here too
    MIN_CUSTOMERS,
    MIN_REPEAT_CUSTOMERS,
    DataTooThin,
    Prediction,
    deciles,
)

MODELS = {**btyd.MODEL_NAMES, "ml": "Gradient boosting (scikit-learn)"}
# what a user may ask for: a model, or "auto" (chosen on the workspace's own holdout, choose.py)
MODEL_CHOICES = {AUTO: "Best on this data's holdout (automatic)", **MODELS}
DEFAULT_MODEL = AUTO  # the CLI, the sample and the Insights screen all start here
CHURN_MODEL = "mbgnbd"  # BG/NBD gives every one-time buyer p_alive = 1; this model does not


def check_models(model: str) -> str:
    if model not in MODEL_CHOICES:
        raise ValueError(f"Unknown model {model!r}; choose one of {', '.join(MODEL_CHOICES)}.")
    return model


def resolve_model(con, model: str, as_of: date, horizon_days: int) -> tuple[str, dict | None]:
    """The concrete model to fit, and the backtest that chose it when model is "auto"."""
    if model != AUTO:
        return model, None
    from engine.value.history import order_date_range

    record = choose.choose(con, order_date_range(con)[0], as_of, horizon_days, predict_history)
    return record["model"], record


def churn_p_alive(triples: btyd.Triples, counter: btyd.CountModel) -> tuple[np.ndarray, str]:
    """Probability alive per triple, and the model it comes from.

    BG/NBD says 1 for every one-time buyer however long ago they bought, so its p_alive
    comes from a Modified BG/NBD fitted on the same histories instead."""
    if counter.key != "bgnbd":
        return counter.p_alive(triples.x, triples.t_x, triples.T), counter.key
    try:
        churn = btyd.count_model(CHURN_MODEL).fit(triples)
    except btyd.FitError:
        return counter.p_alive(triples.x, triples.t_x, triples.T), counter.key
    return churn.p_alive(triples.x, triples.t_x, triples.T), CHURN_MODEL


def check_enough(history: History) -> None:
    n, repeat = len(history), history.repeat_customers
    if n < MIN_CUSTOMERS or repeat < MIN_REPEAT_CUSTOMERS:
        raise DataTooThin(
            f"The data is too thin for a lifetime-value model: {repeat} of {n} customers bought "
            f"more than once by {history.as_of}, and a model needs at least {MIN_REPEAT_CUSTOMERS} "
            f"repeat buyers among {MIN_CUSTOMERS} or more customers. Use the RFM scores instead."
        )


def _check_inputs(horizon_days, margin, discount_rate):
    if not (isinstance(horizon_days, (int, np.integer)) and 1 <= horizon_days <= 3650):
        raise ValueError("The horizon is a whole number of days between 1 and 3650.")
    if not 0 < margin <= 1:
        raise ValueError("The margin is a share of revenue between 0 and 1 (e.g. 0.3 for 30%).")
    if not 0 <= discount_rate < 1:
        raise ValueError("The annual discount rate is between 0 and 1 (e.g. 0.1 for 10%).")


def _ranges(counter, triples, discounted_t, clv, horizon_days, discount_rate):
    """Per-customer (low, high) predicted value and the total's range (engine/value/ranges.py);
    NaN and None when the fitted parameters' covariance is not usable."""
    import engine.value.ranges as ranges

    found = ranges.clv_ranges(counter, triples, discounted_t, float(horizon_days), discount_rate)
    if found is None:
        nan = np.full(len(clv), np.nan)
        return nan, nan, {"level": ranges.LEVEL, "total_low": None, "total_high": None,
                          "note": "the fitted parameters' uncertainty could not be estimated"}
    low, high = found.bounds(clv, triples.inverse)
    total_low, total_high = found.total_bounds(clv, triples.inverse)
    return low, high, {"level": ranges.LEVEL, "total_low": total_low, "total_high": total_high,
                       "note": ranges.NOTE}


def predict_history(history: History, model: str = CHURN_MODEL, horizon_days: int = 365,
                    margin: float = 1.0, discount_rate: float = 0.1, scoring: bool = True) -> Prediction:
    """Fit the counting model and Gamma-Gamma on a history and predict every customer.

    scoring=False (backtests): leave out what only stored scores need, the ranges and the
    separate churn model behind BG/NBD's p_alive."""
    if model not in btyd.COUNT_MODELS:
        raise ValueError(f"{model!r} is not a buy-till-you-die model; choose one of {', '.join(btyd.COUNT_MODELS)}.")
    _check_inputs(horizon_days, margin, discount_rate)
    check_enough(history)
    triples = btyd.compress(history.frequency, history.recency, history.T)
    counter = btyd.count_model(model).fit(triples)
    expected_t, discounted_t, _ = counter.predict(float(horizon_days), triples.x, triples.t_x,
                                                  triples.T, annual_discount=discount_rate)
    expected, discounted = triples.expand(expected_t), triples.expand(discounted_t)
    if scoring:
        alive, alive_model = churn_p_alive(triples, counter)
    else:
        alive, alive_model = counter.p_alive(triples.x, triples.t_x, triples.T), counter.key
    p_alive = triples.expand(alive)
    spend_params: dict = {}
    try:
        spend_model = btyd.GammaGamma().fit(history.frequency, history.monetary)
        spend = spend_model.expected_spend(history.frequency, history.monetary)
        spend_params = spend_model.params
    except btyd.FitError:
        spend = np.full(len(history), np.nan)
    if not np.isfinite(spend).all():  # spend model unusable (q <= 1): observed mean order value
        fallback = np.nansum(history.total_amount) / max(np.nansum(history.orders), 1)
        spend = np.where(np.isfinite(spend), spend, fallback)
    clv = margin * spend * discounted
    low, high, totals = (_ranges(counter, triples, discounted_t, clv, horizon_days, discount_rate)
                         if scoring else (np.full(len(clv), np.nan),) * 2 + ({},))
    frame = pd.DataFrame({
        "profile_id": history.profile_id,
        "frequency": history.frequency.astype(np.int64),
        "predicted_purchases": expected,
        "p_alive": p_alive,
        "expected_spend": spend,
        "predicted_clv": clv,
        "clv_decile": deciles(clv),
        "clv_low": low,
        "clv_high": high,
    })
    return Prediction(frame, model, history.as_of, horizon_days,
                      {"count": counter.params, "spend": spend_params, "p_alive_model": alive_model,
                       "clv_range": totals},
                      len(history), history.repeat_customers)


def run_prediction(con, as_of: date, model: str, horizon_days: int, margin: float,
                   discount_rate: float) -> Prediction:
    if model == "ml":
        import engine.value.ml as ml
        return ml.predict(con, as_of, horizon_days, margin=margin, discount_rate=discount_rate)
    return predict_history(load_history(con, as_of), model, horizon_days, margin, discount_rate)


def _as_of(workspace, as_of):
    with workspace.connect() as con:
        as_of = as_of or default_as_of(con)
    if as_of is None:
        raise DataTooThin("There are no orders yet: load orders and resolve identities first.")
    return as_of


def predict_clv(workspace, user, as_of: date | None = None, horizon_days: int = 365,
                model: str = DEFAULT_MODEL, margin: float = 1.0, discount_rate: float = 0.1,
                progress=None, backend=None) -> pd.DataFrame:
    """Fit as of a date and return one row per customer (profiles with an order by then):
    profile_id, customer_id (source ids, comma-separated), predicted_purchases, p_alive,
    predicted_clv, plus expected_spend, clv_decile and the 90% range clv_low .. clv_high. Stores nothing.
    backend (Spark): the order-history summary of the BTYD models is computed there."""
    require(user, "view")
    report = progress or (lambda f, m="": None)
    as_of = _as_of(workspace, as_of)
    report(0.1, "Reading order histories")
    check_models(model)
    with workspace.connect() as con:
        if model == AUTO:
            report(0.15, "Backtesting every model on this data's own holdout")
        model, _ = resolve_model(con, model, as_of, horizon_days)
        if model == "ml":
            prediction = run_prediction(con, as_of, model, horizon_days, margin, discount_rate)
        else:
            history = load_history(con, as_of, backend=backend)
        ids = con.execute(queries.CUSTOMER_IDS).df()
    if model != "ml":
        report(0.3, f"Fitting {MODELS[model]}")
        prediction = predict_history(history, model, horizon_days, margin, discount_rate)
    report(0.9, "Joining customer ids")
    out = prediction.frame.merge(ids, on="profile_id", how="left")
    report(1.0, "Done")
    columns = ["profile_id", "customer_id", "predicted_purchases", "p_alive", "predicted_clv",
               "expected_spend", "clv_decile", "clv_low", "clv_high"]
    return mask_frame(out[columns], user)


def fit_clv(workspace, user, as_of: date | None = None, model: str = DEFAULT_MODEL,
            horizon_days: int = 365, margin: float = 1.0, discount_rate: float = 0.1,
            progress=None) -> dict:
    """Fit as of a date and store predictions in profile_scores and the run history.

    When the data is too thin for a model, RFM scores are stored instead and the result says
    so in plain words (status 'too_thin', message).
    """
    from engine.value.rfm import record_rfm, rfm_frame, score_rfm, segment_rules

    require(user, "score_value")
    check_models(model)
    _check_inputs(horizon_days, margin, discount_rate)
    report = progress or (lambda f, m="": None)
    as_of = _as_of(workspace, as_of)
    rules = segment_rules(workspace)
    report(0.05, "Reading order histories")
    choice = None
    try:
        with workspace.connect() as con:  # read, then release the file while fitting
            if model == AUTO:
                report(0.1, "Backtesting every model on this data's own holdout")
                model, choice = resolve_model(con, model, as_of, horizon_days)
            # one scan of the orders feeds both the model summary and RFM
            con.execute(f"CREATE OR REPLACE TEMP TABLE {queries.DAILY_TABLE} AS {queries.DAILY}", [as_of])
            try:
                rfm_scores = rfm_frame(con, as_of, rules, materialised=True)
                if model == "ml":
                    prediction = run_prediction(con, as_of, model, horizon_days, margin, discount_rate)
                else:
                    history = load_history(con, as_of, materialised=True)
            finally:
                con.execute(f"DROP TABLE IF EXISTS {queries.DAILY_TABLE}")
        if model != "ml":
            report(0.25, f"Fitting {MODELS[model]} and Gamma-Gamma")
            prediction = predict_history(history, model, horizon_days, margin, discount_rate)
    except DataTooThin as exc:
        rfm = score_rfm(workspace, user, as_of)
        report(1.0, "Done")
        return {"status": "too_thin", "message": str(exc), "as_of": as_of, "rfm": rfm}
    report(0.7, "Saving predictions")
    with workspace.transaction() as con:
        run_id = store.write_clv(con, prediction.frame, as_of=as_of, horizon_days=horizon_days,
                                 model=model, margin=margin, discount_rate=discount_rate,
                                 params=prediction.params,
                                 repeat_customers=prediction.repeat_customers,
                                 username=user.username, details={"choice": choice})
        audit(con, user, "value.clv_fit", str(run_id),
              {"model": model, "as_of": str(as_of), "customers": prediction.customers,
               "chosen": choice is not None})
        # RFM as of the same date, in the same transaction: the scores always agree
        rfm = record_rfm(con, user, rfm_scores, as_of, rules)
    report(1.0, "Done")
    frame = prediction.frame
    adjustment = choose.total_adjustment(choice)   # totals only: per-person scores stay as fitted
    totals = choose.adjusted_totals(float(frame["predicted_purchases"].sum()),
                                    float(frame["predicted_clv"].sum()), adjustment)
    return {
        "status": "ok", "run_id": run_id, "model": model, "model_name": MODELS[model],
        "as_of": as_of, "horizon_days": horizon_days, "customers": prediction.customers,
        "repeat_customers": prediction.repeat_customers, "params": prediction.params,
        "predicted_purchases": float(frame["predicted_purchases"].sum()),
        "predicted_clv": float(frame["predicted_clv"].sum()),
        "predicted_clv_range": prediction.params.get("clv_range"),
        "mean_p_alive": float(frame["p_alive"].mean()), "rfm": rfm,
        "choice": choice, "total_adjustment": adjustment,
        "adjusted_predicted_purchases": totals["adjusted_predicted_total"],
        "adjusted_predicted_clv": totals["adjusted_predicted_revenue"],
    }


def can_score(user) -> bool:
    return can(user, "score_value")
