"""CSV that spreadsheets will not execute: cells starting =, +, -, @, tab, CR or LF are prefixed
with a single quote, as OWASP advises against CSV (formula) injection.

Only text cells change; numbers (a negative amount) are left as numbers.
"""
from __future__ import annotations

import pandas as pd

FORMULA_START = r"^[=+\-@\t\r\n]"


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of df whose text cells cannot be read as formulas."""
    out = df.copy()
    for column in out.columns:
        series = out[column]
        if series.dtype != object and not pd.api.types.is_string_dtype(series):
            continue
        is_text = series.map(type).eq(str)   # vectorised type check; lists/dicts untouched
        risky = is_text & series.where(is_text, "").astype(str).str.contains(FORMULA_START, regex=True)
        if risky.any():
            out.loc[risky, column] = "'" + series[risky].astype(str)
    return out


def safe_csv(df: pd.DataFrame, path=None, **kwargs):
    """df.to_csv with formulas neutralised; index off unless asked."""
    kwargs.setdefault("index", False)
    return neutralise_formulas(df).to_csv(path, **kwargs)
