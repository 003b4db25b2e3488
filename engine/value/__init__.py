"""Customer value: RFM scores and segments, predicted lifetime value and churn risk, and how
accurate the predictions are on this workspace's own data.

Reads come from the view `profile_revenue_orders` (orders paid for, at their net amount:
engine/revenue.py); scores are written to `profile_scores` (one row
per profile: RFM columns, then predicted_purchases, p_alive, predicted_clv, clv_decile with
1 = top 10%) and to the run history tables of migration 0060.
"""
from engine.value.clv import (
    CHURN_MODEL,
    DEFAULT_MODEL,
    MODEL_CHOICES,
    MODELS,
    DataTooThin,
    fit_clv,
    predict_clv,
)
from engine.value.history import parse_date
from engine.value.rfm import (
    DEFAULT_RULES,
    RuleError,
    rfm_scores,
    save_segment_rules,
    score_rfm,
    segment_rules,
)
from engine.value.validate import metrics, validate_clv

__all__ = [
    "CHURN_MODEL", "DEFAULT_MODEL", "DEFAULT_RULES", "MODEL_CHOICES", "MODELS", "DataTooThin", "RuleError",
    "fit_clv", "metrics", "parse_date", "predict_clv", "rfm_scores", "save_segment_rules",
    "score_rfm", "segment_rules", "validate_clv",
]
