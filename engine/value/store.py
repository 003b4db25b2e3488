"""Writing scores: profile_scores (one row per profile, RFM and CLV side by side) and the
history of model runs and their predictions (migration 0060).

clv_decile is 1 for the top 10% by predicted CLV, 10 for the bottom 10%.
"""
from __future__ import annotations

import json
from datetime import date

import pandas as pd

import engine.value.queries as queries

RFM_COLUMNS = ["profile_id", *queries.SCORE_RFM_COLUMNS]
CLV_COLUMNS = ["profile_id", *queries.SCORE_CLV_COLUMNS]


def _with_frame(con, frame: pd.DataFrame, statements: list[tuple[str, list]]) -> None:
    con.register("new_scores", frame)
    try:
        for sql, params in statements:
            con.execute(sql, params)
    finally:
        con.unregister("new_scores")


def write_rfm(con, frame: pd.DataFrame, as_of: date) -> None:
    """Replace the RFM columns of profile_scores; CLV columns are kept as they were."""
    _with_frame(con, frame[RFM_COLUMNS], [
        (queries.UPDATE_RFM, [as_of]), (queries.CLEAR_RFM, []), (queries.INSERT_RFM, [as_of]),
        (queries.DROP_EMPTY_SCORES, []),
    ])


def write_rfm_sql(con, sql: str, params: list, as_of: date) -> list[tuple[str, int, float]]:
    """Like write_rfm, from a query instead of a frame; returns (segment, customers, revenue)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE new_scores AS {sql}", params)
    try:
        for statement, args in ((queries.UPDATE_RFM, [as_of]), (queries.CLEAR_RFM, []),
                                (queries.INSERT_RFM, [as_of]), (queries.DROP_EMPTY_SCORES, [])):
            con.execute(statement, args)
        return con.execute("SELECT rfm_segment, count(*), sum(monetary) FROM new_scores GROUP BY 1").fetchall()
    finally:
        con.execute("DROP TABLE IF EXISTS new_scores")


def write_clv(con, frame: pd.DataFrame, *, as_of: date, horizon_days: int, model: str,
              margin: float, discount_rate: float, params: dict, repeat_customers: int,
              username: str, details: dict | None = None) -> int:
    """Record a fit run with its predictions, and replace the CLV columns of profile_scores."""
    frame = frame.assign(model=model)[CLV_COLUMNS]
    run_id = con.execute(queries.RUN_INSERT, [
        "fit", model, as_of, None, horizon_days, margin, discount_rate, json.dumps(params),
        len(frame), repeat_customers, json.dumps(details or {}, default=str), username,
    ]).fetchone()[0]
    _with_frame(con, frame, [
        (queries.PREDICTIONS_INSERT, [run_id, as_of, horizon_days]),
        (queries.UPDATE_CLV, [as_of, horizon_days]), (queries.CLEAR_CLV, []),
        (queries.INSERT_CLV, [as_of, horizon_days]), (queries.DROP_EMPTY_SCORES, []),
    ])
    return int(run_id)


def write_validation(con, *, model: str, calibration_end: date, holdout_end: date, params: dict,
                     customers: int, repeat_customers: int, details: dict, username: str) -> int:
    return int(con.execute(queries.RUN_INSERT, [
        "validation", model, calibration_end, holdout_end, (holdout_end - calibration_end).days,
        None, None, json.dumps(params), customers, repeat_customers,
        json.dumps(details, default=str), username,
    ]).fetchone()[0])


def latest_run(workspace, kind: str) -> dict | None:
    """The newest fit or validation run, with params and details decoded."""
    df = workspace.query_df(queries.LATEST_RUN, [kind])
    if df.empty:
        return None
    row = df.iloc[0].to_dict()
    for key in ("params", "details"):
        row[key] = json.loads(row[key]) if row.get(key) else {}
    return row


def runs(workspace, limit: int = 50) -> pd.DataFrame:
    return workspace.query_df(queries.RUNS, [int(limit)])
