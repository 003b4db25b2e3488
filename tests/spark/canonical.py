"""Results of both engines in one comparable form: rows sorted, floats rounded to 1e-9, timestamps
in UTC, arrays as tuples, missing values as None."""
from __future__ import annotations

import math
from datetime import date, datetime, timezone

import numpy as np
import pandas as pd


def value(v):
    """One cell in canonical form."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return tuple(value(x) for x in v)
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT:
        return None
    if isinstance(v, (pd.Timestamp, datetime)):
        moment = pd.Timestamp(v)
        moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
        return moment.to_pydatetime().astimezone(timezone.utc).isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        number = round(float(v), 9)
        return int(number) if number.is_integer() else number
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v


def rows(frame: pd.DataFrame) -> tuple[list[str], list[tuple]]:
    """Column names and sorted canonical rows of a frame."""
    cells = [tuple(value(v) for v in row) for row in frame.itertuples(index=False, name=None)]
    return list(frame.columns), sorted(cells, key=repr)


def same(duckdb_frame: pd.DataFrame, spark_frame: pd.DataFrame) -> bool:
    return rows(duckdb_frame) == rows(spark_frame)
