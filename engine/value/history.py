"""Order histories as arrays: the (x, t_x, T, monetary) summary as of a date, and later actuals."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

import engine.value.queries as queries


def parse_date(value) -> date | None:
    """A date from a date, datetime or 'YYYY-MM-DD' string; clear error otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a date; write it as YYYY-MM-DD.") from None


def order_date_range(con) -> tuple[date | None, date | None, int]:
    first, last, n = con.execute(queries.ORDER_DATE_RANGE).fetchone()
    return first, last, int(n or 0)


def default_as_of(con) -> date | None:
    """The last day with an order: 'now' as far as the data knows."""
    return order_date_range(con)[1]


@dataclass
class History:
    profile_id: np.ndarray
    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    monetary: np.ndarray        # mean repeat-order value (NaN without repeats)
    total_amount: np.ndarray
    orders: np.ndarray
    as_of: date

    def __len__(self) -> int:
        return len(self.profile_id)

    @property
    def repeat_customers(self) -> int:
        return int((self.frequency > 0).sum())


def last_order_day(backend) -> date | None:
    """default_as_of on a backend (engine/backend/): the last day with an order there."""
    last = backend.query(queries.ORDER_DATE_RANGE).iloc[0, 1]
    return None if pd.isna(last) else parse_date(pd.Timestamp(last).to_pydatetime())


def history_summary(backend, as_of: date) -> pd.DataFrame:
    """The BTYD summary (queries.HISTORY) per profile as of a date, computed on a backend."""
    sql = queries.HISTORY.format(days=queries.days_relation(False))
    return backend.query(sql + " ORDER BY profile_id", [as_of, as_of])


def load_history(con, as_of: date, materialised: bool = False, backend=None) -> History:
    """Per-profile summary of purchases on or before as_of (one SQL query, fetched as arrays).

    materialised: read the purchase days from the temp table queries.DAILY_TABLE, which the
    caller filled for this as_of on this connection. backend: compute the summary there
    (Spark) instead; the arrays come back to this process, where the models are fitted.
    """
    if backend is not None and backend.name != "duckdb":
        frame = history_summary(backend, as_of)
        cols = {name: frame[name].to_numpy() for name in frame.columns}
    else:
        sql = queries.HISTORY.format(days=queries.days_relation(materialised))
        params = [as_of] if materialised else [as_of, as_of]
        cols = con.execute(sql, params).fetchnumpy()

    def arr(name, dtype=float):
        values = cols[name]
        if hasattr(values, "filled"):  # masked array where SQL gave NULL
            values = values.astype(float).filled(np.nan) if dtype is float else values.filled()
        return np.asarray(values, dtype=dtype)

    return History(
        profile_id=np.asarray(cols["profile_id"], dtype=object),
        frequency=arr("frequency"), recency=arr("recency"), T=arr("T"),
        monetary=arr("monetary"), total_amount=arr("total_amount"), orders=arr("orders"),
        as_of=as_of,
    )


def window_actuals(con, start: date, end: date) -> pd.DataFrame:
    """profile_id, purchases (distinct days), revenue in (start, end]."""
    return con.execute(queries.WINDOW_ACTUALS, [start, end]).df()
