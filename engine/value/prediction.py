"""What every CLV model returns and shares (the Prediction, the deciles, the minimum data), apart
from clv.py so that the models clv.py runs (ml.py) use them without importing clv.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

MIN_CUSTOMERS = 30
MIN_REPEAT_CUSTOMERS = 20


class DataTooThin(ValueError):
    """Too few (repeat) buyers for a model: say so and fall back to RFM."""


@dataclass
class Prediction:
    frame: pd.DataFrame  # profile_id, frequency, predicted_purchases, p_alive, expected_spend, predicted_clv, clv_decile
    model: str
    as_of: date
    horizon_days: int
    params: dict = field(default_factory=dict)
    customers: int = 0
    repeat_customers: int = 0


def deciles(values: np.ndarray) -> np.ndarray:
    """1 for the top 10% of values, 10 for the bottom 10% (ties broken by position)."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return rank * 10 // n + 1
