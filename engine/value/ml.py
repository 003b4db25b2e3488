"""A scikit-learn alternative to the buy-till-you-die models: gradient boosting on RFM and
behavioural features, trained on the window just before the as-of date.

Training: features as of (as_of - window), labels = purchase days and revenue in
(as_of - window, as_of], where window is the horizon when the history is at least twice as
long, else half the history (predictions are then scaled up to the horizon). Prediction:
features as of as_of. p_alive here is the predicted
probability of buying at least once within the horizon.

scikit-learn takes about 2 s to import, so it is imported inside the functions. Gradient
boosting uses OpenMP; on a 2-core machine shared with other work two threads ran it ~50x
slower than one, so every fit and predict runs under threadpoolctl with 1 OpenMP thread.
"""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

import engine.value.queries as queries
from engine.value.prediction import MIN_CUSTOMERS, MIN_REPEAT_CUSTOMERS, DataTooThin, Prediction, deciles
from engine.value.history import order_date_range, window_actuals

FEATURES = ["frequency", "recency", "T", "days_since_last", "orders", "total_amount", "avg_order",
            "max_order", "days_30", "days_90", "days_180", "days_365", "amount_90", "amount_365"]
OPENMP_THREADS = 1
MAX_ITER = 150


def features(con, as_of: date) -> pd.DataFrame:
    return con.execute(queries.ML_FEATURES, {"as_of": as_of}).df()


def _single_thread():
    from threadpoolctl import threadpool_limits
    return threadpool_limits(limits=OPENMP_THREADS, user_api="openmp")


def predict(con, as_of: date, horizon_days: int, margin: float = 1.0,
            discount_rate: float = 0.1) -> Prediction:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    # Learn from the last `window` days before as_of: the horizon itself when the history is
    # long enough, else half the history (at least 30 days), scaling counts to the horizon.
    first = order_date_range(con)[0]
    available = (as_of - first).days if first else 0
    window = int(min(horizon_days, max(30, available // 2)))
    scale = horizon_days / window
    train_end = as_of - timedelta(days=window)
    train = features(con, train_end)
    labels = window_actuals(con, train_end, as_of)
    train = train.merge(labels, on="profile_id", how="left").fillna({"purchases": 0, "revenue": 0.0})
    buyers = int((train["purchases"] > 0).sum())
    if len(train) < MIN_CUSTOMERS or buyers < MIN_REPEAT_CUSTOMERS:
        raise DataTooThin(
            f"The data is too thin for the gradient-boosting model: it learns from the "
            f"{window} days before {as_of}, and only {buyers} of {len(train)} customers "
            f"known by {train_end} bought again in that window (it needs at least "
            f"{MIN_REPEAT_CUSTOMERS}). Use a shorter horizon, a BTYD model, or the RFM scores."
        )
    current = features(con, as_of)
    X_train = train[FEATURES].to_numpy(float)
    X_now = current[FEATURES].to_numpy(float)
    common = dict(max_iter=MAX_ITER, learning_rate=0.1, early_stopping=False, random_state=0)
    with _single_thread():
        purchases = HistGradientBoostingRegressor(loss="poisson", **common).fit(
            X_train, train["purchases"].to_numpy(float))
        revenue_y = train["revenue"].clip(lower=0).to_numpy(float)
        revenue = HistGradientBoostingRegressor(loss="poisson", **common).fit(X_train, revenue_y)
        bought = (train["purchases"] > 0).to_numpy()
        predicted_purchases = purchases.predict(X_now) * scale
        predicted_revenue = revenue.predict(X_now) * scale
        if bought.all():
            p_buy = np.ones(len(current))
        else:
            classifier = HistGradientBoostingClassifier(**common).fit(X_train, bought)
            p_buy = classifier.predict_proba(X_now)[:, 1]
    if scale > 1:  # chance of at least one purchase over the longer horizon, at the same rate
        p_buy = 1.0 - (1.0 - p_buy) ** scale
    # discount the horizon's revenue at its midpoint
    factor = (1.0 + discount_rate) ** (-(horizon_days / 2) / 365.0)
    clv = margin * predicted_revenue * factor
    with np.errstate(all="ignore"):
        spend = np.where(predicted_purchases > 1e-9, predicted_revenue / predicted_purchases, np.nan)
    frame = pd.DataFrame({
        "profile_id": current["profile_id"].to_numpy(),
        "frequency": current["frequency"].to_numpy(np.int64),
        "predicted_purchases": predicted_purchases,
        "p_alive": p_buy,
        "expected_spend": spend,
        "predicted_clv": clv,
        "clv_decile": deciles(clv),
        "clv_low": np.full(len(clv), np.nan),  # no parametric range for gradient boosting
        "clv_high": np.full(len(clv), np.nan),
    })
    return Prediction(frame, "ml", as_of, horizon_days,
                      {"trained_on": f"{train_end}..{as_of}", "scaled_by": scale, "features": FEATURES,
                       "training_customers": int(len(train)), "openmp_threads": OPENMP_THREADS},
                      len(current), int((current["frequency"] > 0).sum()))
