"""Aggregated reads for the Insights screen (no personal data except the churn-risk list)."""
from __future__ import annotations

from datetime import date

import pandas as pd

from engine.access import mask_frame, require
from engine.value import queries
from engine.value.history import default_as_of


def order_dates(workspace) -> tuple[date | None, date | None]:
    """The first and last day with an order."""
    from engine.value.history import order_date_range
    with workspace.connect() as con:
        first, last, _ = order_date_range(con)
    return first, last


def segment_summary(workspace) -> pd.DataFrame:
    """Customers, revenue and averages per stored RFM segment."""
    return workspace.query_df(queries.SEGMENT_SUMMARY)


def rfm_grid(workspace) -> pd.DataFrame:
    return workspace.query_df(queries.RFM_GRID)


def pareto_curve(workspace, as_of: date | None = None) -> pd.DataFrame:
    """customer_share vs revenue_share, customers ranked by revenue (about 200 points)."""
    with workspace.connect() as con:
        as_of = as_of or default_as_of(con)
        if as_of is None:
            return pd.DataFrame(columns=["customer_share", "revenue_share"])
        return con.execute(queries.PARETO, [as_of]).df()


def cohort_retention(workspace, as_of: date | None = None, max_months: int = 12) -> pd.DataFrame:
    """cohort (first-order month), cohort_size, months_since, active, retention."""
    with workspace.connect() as con:
        as_of = as_of or default_as_of(con)
        if as_of is None:
            return pd.DataFrame(columns=["cohort", "cohort_size", "months_since", "active", "retention"])
        return con.execute(queries.COHORTS, [as_of, int(max_months)]).df()


def clv_histogram(workspace) -> pd.DataFrame:
    return workspace.query_df(queries.CLV_HISTOGRAM)


def clv_by_decile(workspace) -> pd.DataFrame:
    """decile (1 = top 10%), customers, clv, clv_low, clv_high (NULL without ranges), avg_clv."""
    return workspace.query_df(queries.CLV_BY_DECILE)


def clv_totals(workspace) -> dict:
    df = workspace.query_df(queries.CLV_TOTALS)
    return df.iloc[0].to_dict() if len(df) else {}


def churn_risk(workspace, user, max_p_alive: float = 0.3, min_m_score: int = 4,
               limit: int | None = 500) -> pd.DataFrame:
    """Past high spenders (monetary score >= min_m_score) whose p_alive is below max_p_alive,
    biggest spenders first; limit=None for all of them."""
    require(user, "view")
    if not 0 < max_p_alive <= 1:
        raise ValueError("The p_alive threshold is between 0 and 1.")
    df = workspace.query_df(queries.CHURN_RISK, [float(max_p_alive), int(min_m_score), None if limit is None else int(limit)])
    return mask_frame(df, user)
