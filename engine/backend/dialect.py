"""The product's DuckDB SQL as Spark SQL: sqlglot's transpiler plus the rewrites it lacks.

Every query the product runs is written for DuckDB with named parameters (`$p1`). To run one
on Spark, `to_spark(sql, params)`:

1. inlines the parameters as typed literals in the syntax tree (never by pasting text), then
   re-parses, so a bound JSON path (`json_extract_string(properties, $p3)`) becomes a real
   path and is translated like one written inline;
2. rewrites what sqlglot leaves as DuckDB-only (each rewrite is one function in REWRITES,
   tested against DuckDB's own answer by tests/spark/): day intervals, `suffix`, ASOF joins
   inside membership subqueries, JSON arrays unnested, ordered distinct lists;
3. refuses, with UnsupportedOnSpark, a construct it cannot translate exactly, rather than
   run something that answers differently.

The pinned dialect pair is DuckDB → Spark; timestamps are written as UTC and the Spark session
must run with `spark.sql.session.timeZone=UTC` (engine/backend/spark.py sets it).
"""
from __future__ import annotations

import json
import math
from datetime import date, datetime, timezone
from typing import Any, Callable

import sqlglot
from sqlglot import exp

READ, WRITE = "duckdb", "spark"


class UnsupportedOnSpark(ValueError):
    """A DuckDB construct with no exact Spark translation here."""


# -- parameters ------------------------------------------------------------------------------

def literal(value: Any) -> exp.Expression:
    """A typed SQL literal for one parameter value."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UnsupportedOnSpark(f"parameter {value!r} is not a finite number")
        return exp.Literal.number(repr(value))
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        text = moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
        return exp.Cast(this=exp.Literal.string(text), to=exp.DataType.build("TIMESTAMP"))
    if isinstance(value, date):
        return exp.Cast(this=exp.Literal.string(value.isoformat()), to=exp.DataType.build("DATE"))
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, (list, tuple)):
        return exp.Array(expressions=[literal(v) for v in value])
    if isinstance(value, dict):
        return exp.Literal.string(json.dumps(value))
    raise UnsupportedOnSpark(f"parameter of type {type(value).__name__} cannot be inlined")


def inline_parameters(sql: str, params: dict | None) -> str:
    """DuckDB SQL with every `$name` replaced by its value as a literal (still DuckDB SQL)."""
    tree = sqlglot.parse_one(sql, read=READ)
    params = params or {}

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, (exp.Placeholder, exp.Parameter)):
            name = node.name
            if name not in params:
                raise UnsupportedOnSpark(f"no value for parameter ${name}")
            return literal(params[name])
        return node

    return tree.transform(swap).sql(READ)


# -- rewrites ----------------------------------------------------------------------------------

def _day_intervals(node: exp.Expression) -> exp.Expression:
    """to_days(n) → INTERVAL 'n' DAY."""
    if isinstance(node, exp.ToDays):
        return exp.Interval(this=exp.Literal.string(node.this.sql(READ)), unit=exp.var("DAY"))
    return node


def _suffix(node: exp.Expression) -> exp.Expression:
    """suffix(a, b) → endswith(a, b)."""
    if isinstance(node, exp.Anonymous) and node.name.lower() == "suffix":
        return exp.Anonymous(this="ENDSWITH", expressions=node.expressions)
    if type(node).__name__ == "EndsWith":
        return node
    return node


def _asof_membership(node: exp.Expression) -> exp.Expression:
    """An ASOF join inside an `IN (subquery)` whose WHERE only narrows the match becomes an inner
    join: a row has a qualifying nearest match exactly when it has any qualifying match that the
    nearest one is at least as close as. Anywhere else it is refused."""
    if isinstance(node, exp.Join) and (node.args.get("method") or "").upper() == "ASOF":
        select = node.parent
        if not isinstance(select, exp.Select) or not isinstance(select.parent, (exp.Subquery, exp.In)) \
                or not isinstance(select.parent if isinstance(select.parent, exp.In) else select.parent.parent,
                                  exp.In):
            raise UnsupportedOnSpark("an ASOF join outside a membership subquery")
        joined = node.copy()
        joined.set("method", None)
        joined.set("kind", "INNER")
        return joined
    return node


def _json_arrays(node: exp.Expression) -> exp.Expression:
    """unnest(TRY_CAST(x AS JSON[])) → explode(from_json(x, 'array<string>'))."""
    if isinstance(node, (exp.TryCast, exp.Cast)) and node.to.is_type(exp.DataType.Type.ARRAY):
        inner = node.to.expressions[0] if node.to.expressions else None
        if inner is not None and inner.is_type(exp.DataType.Type.JSON):
            return exp.Anonymous(this="FROM_JSON", expressions=[node.this, exp.Literal.string("array<string>")])
    return node


def _ordered_distinct_lists(node: exp.Expression) -> exp.Expression:
    """string_agg(DISTINCT x, sep) → array_join(array_sort(collect_set(x)), sep): one order on both
    engines (the product writes `string_agg(DISTINCT x, sep ORDER BY x)` for DuckDB)."""
    if isinstance(node, exp.GroupConcat):
        value = node.this
        if isinstance(value, exp.Order):
            value = value.this
        if not isinstance(value, exp.Distinct):
            return node
        separator = node.args.get("separator") or exp.Literal.string(",")
        collected = exp.Anonymous(this="COLLECT_SET", expressions=list(value.expressions))
        return exp.Anonymous(this="ARRAY_JOIN", expressions=[
            exp.Anonymous(this="ARRAY_SORT", expressions=[collected]), separator])
    return node


REWRITES: tuple[Callable[[exp.Expression], exp.Expression], ...] = (
    _day_intervals, _suffix, _asof_membership, _json_arrays, _ordered_distinct_lists,
)


def to_spark(sql: str, params: dict | None = None) -> str:
    """The Spark SQL that answers as DuckDB answers `sql` with `params`."""
    tree = sqlglot.parse_one(inline_parameters(sql, params), read=READ)
    for rewrite in REWRITES:
        tree = tree.transform(rewrite)
    return tree.sql(WRITE)
