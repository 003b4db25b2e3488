"""RFM: recency, frequency and monetary quintile scores as of any date, and named segments.

Segments are an ordered list of rules over the 1-5 scores; the first rule a customer meets
names their segment. The default rules are the commonly used eleven segments on the
recency x frequency grid (every cell is covered); users can edit them, and the edited list
is stored as the workspace setting `value.rfm_segments`.
"""
from __future__ import annotations

import json
from datetime import date

import pandas as pd

from engine.access import audit, require
import engine.value.queries as queries

SETTING_KEY = "value.rfm_segments"
OTHER = "Other"

# (name, recency scores, frequency scores, monetary scores or None), first match wins.
DEFAULT_RULES: list[dict] = [
    {"name": "Champions", "r": [5, 5], "f": [4, 5], "description": "Bought recently, buy often"},
    {"name": "Loyal", "r": [3, 4], "f": [4, 5], "description": "Buy often, fairly recently"},
    {"name": "Can't Lose Them", "r": [1, 2], "f": [5, 5], "description": "Were your most frequent buyers, long ago"},
    {"name": "At Risk", "r": [1, 2], "f": [3, 4], "description": "Bought often, but not for a long time"},
    {"name": "Potential Loyalist", "r": [4, 5], "f": [2, 3], "description": "Recent, with a few orders"},
    {"name": "New", "r": [5, 5], "f": [1, 1], "description": "First order very recently"},
    {"name": "Promising", "r": [4, 4], "f": [1, 1], "description": "Recent one-time buyers"},
    {"name": "Need Attention", "r": [3, 3], "f": [3, 3], "description": "Middling recency and frequency"},
    {"name": "About to Sleep", "r": [3, 3], "f": [1, 2], "description": "Slipping away, few orders"},
    {"name": "Hibernating", "r": [2, 2], "f": [1, 2], "description": "Long gone, few orders"},
    {"name": "Lost", "r": [1, 1], "f": [1, 2], "description": "Longest gone, few orders"},
]


class RuleError(ValueError):
    """Segment rules that cannot be used."""


def validate_rules(rules) -> list[dict]:
    """Check and normalise a list of rules; raises RuleError with the first problem."""
    if not isinstance(rules, list) or not rules:
        raise RuleError("Give at least one segment rule.")
    clean, names = [], set()
    for i, rule in enumerate(rules, start=1):
        if not isinstance(rule, dict):
            raise RuleError(f"Rule {i} is not a rule.")
        name = str(rule.get("name") or "").strip()
        if not name:
            raise RuleError(f"Rule {i} has no name.")
        if name in names:
            raise RuleError(f"Two rules are called {name!r}.")
        names.add(name)
        out = {"name": name, "description": str(rule.get("description") or "")}
        for key in ("r", "f", "m"):
            bounds = rule.get(key)
            if bounds is None or (isinstance(bounds, float) and pd.isna(bounds)):
                if key == "m":
                    continue
                bounds = [1, 5]
            try:
                lo, hi = (int(v) for v in bounds)
            except (TypeError, ValueError):
                raise RuleError(f"Rule {name!r}: {key.upper()} needs two scores like [1, 5].") from None
            if not 1 <= lo <= hi <= 5:
                raise RuleError(f"Rule {name!r}: {key.upper()} scores must satisfy 1 <= low <= high <= 5.")
            out[key] = [lo, hi]
        clean.append(out)
    return clean


def segment_rules(workspace) -> list[dict]:
    """The workspace's segment rules (the defaults until someone saves their own)."""
    raw = workspace.scalar(queries.SETTING_GET, [SETTING_KEY])
    if raw is None:
        return [dict(r) for r in DEFAULT_RULES]
    return validate_rules(json.loads(raw))


def save_segment_rules(workspace, user, rules) -> list[dict]:
    """Validate and store edited rules; None or [] restores the defaults."""
    require(user, "score_value")
    clean = validate_rules(rules if rules else DEFAULT_RULES)
    with workspace.transaction() as con:
        con.execute(queries.SETTING_PUT, [SETTING_KEY, json.dumps(clean), user.username])
        audit(con, user, "value.rfm_rules", SETTING_KEY, {"segments": [r["name"] for r in clean]})
    return clean


def segment_case(rules: list[dict]) -> tuple[str, list]:
    """A SQL CASE expression naming each row's segment, with its bound parameters."""
    parts, params = [], []
    for rule in rules:
        conds = []
        for key in ("r", "f", "m"):
            if key in rule:
                conds.append(f"{key}_score BETWEEN CAST(? AS INTEGER) AND CAST(? AS INTEGER)")
                params.extend(rule[key])
        parts.append(f"WHEN {' AND '.join(conds) or 'TRUE'} THEN ?")
        params.append(rule["name"])
    params.append(OTHER)
    return "CASE " + " ".join(parts) + " ELSE ? END", params


def _rfm_sql(rules: list[dict], as_of: date, materialised: bool = False) -> tuple[str, list]:
    case, params = segment_case(rules)
    scores = queries.RFM_SCORES.format(days=queries.days_relation(materialised))
    sql = f"SELECT *, {case} AS rfm_segment FROM ({scores}) scored"
    # the CASE comes first in the text, then the days relation's as_of (unless materialised)
    return sql, [*params, as_of] + ([] if materialised else [as_of])


def rfm_frame(con, as_of: date, rules: list[dict], materialised: bool = False) -> pd.DataFrame:
    """profile_id, recency_days, frequency, monetary, r/f/m scores and segment (SQL only)."""
    sql, params = _rfm_sql(rules, as_of, materialised)
    return con.execute(sql + " ORDER BY profile_id", params).df()


def _on_backend(workspace, backend, as_of: date | None) -> tuple[object, date | None]:
    """The backend RFM reads orders on (the workspace's engine setting unless given), and the
    as-of date (default: the last order day there)."""
    from engine.backend.choose import backend_for
    from engine.value.history import last_order_day

    backend = backend or backend_for(workspace)
    return backend, as_of or last_order_day(backend)


def rfm_scores(workspace, user, as_of: date | None = None, backend=None) -> pd.DataFrame:
    """RFM scores and segments as of a date (default: the last order date); reads only."""
    require(user, "view")
    rules = segment_rules(workspace)
    with workspace.connect():
        backend, as_of = _on_backend(workspace, backend, as_of)
        if as_of is None:
            return pd.DataFrame(columns=["profile_id", "recency_days", "frequency", "monetary",
                                         "r_score", "f_score", "m_score", "rfm_segment"])
        sql, params = _rfm_sql(rules, as_of)
        return backend.query(sql + " ORDER BY profile_id", params)


def _summary(rows, rules: list[dict], as_of: date) -> dict:
    """rows: (segment, customers, revenue) triples."""
    counts = {name: int(n) for name, n, _ in rows}
    revenue = {name: round(float(total or 0), 2) for name, _, total in rows}
    return {"as_of": as_of, "customers": sum(counts.values()),
            "segments": {name: counts[name] for name in [r["name"] for r in rules] + [OTHER]
                         if counts.get(name)},
            "revenue": revenue}


def record_rfm(con, user, frame: pd.DataFrame, as_of: date, rules: list[dict]) -> dict:
    """Store an RFM frame inside the caller's transaction (fit_clv); returns the summary."""
    import engine.value.store as store

    store.write_rfm(con, frame, as_of)
    grouped = frame.groupby("rfm_segment")["monetary"].agg(["size", "sum"])
    summary = _summary([(name, row["size"], row["sum"]) for name, row in grouped.iterrows()], rules, as_of)
    audit(con, user, "value.rfm", None, {"as_of": str(as_of), "customers": summary["customers"]})
    return summary


def score_rfm(workspace, user, as_of: date | None = None, progress=None, backend=None) -> dict:
    """Compute RFM as of a date and store it in profile_scores; returns a summary. On Spark the
    scores are computed there and written to the workspace (the control plane) here."""
    import engine.value.store as store

    require(user, "score_value")
    rules = segment_rules(workspace)
    report = progress or (lambda f, m="": None)
    report(0.05, "Scoring recency, frequency and monetary value")
    with workspace.transaction() as con:
        backend, as_of = _on_backend(workspace, backend, as_of)
        if as_of is None:
            raise ValueError("There are no orders yet: load orders and resolve identities first.")
        if backend.name != "duckdb":
            frame = rfm_scores(workspace, user, as_of, backend=backend)
            summary = record_rfm(con, user, frame, as_of, rules)
            report(1.0, "Done")
            return summary
        sql, params = _rfm_sql(rules, as_of)
        rows = store.write_rfm_sql(con, sql, params, as_of)  # the scores never leave DuckDB
        report(0.9, "Saved")
        summary = _summary(rows, rules, as_of)
        audit(con, user, "value.rfm", None, {"as_of": str(as_of), "customers": summary["customers"]})
    report(1.0, "Done")
    return summary
