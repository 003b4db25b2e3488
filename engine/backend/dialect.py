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


def named_parameters(sql: str, params: list | tuple) -> tuple[str, dict]:
    """Positional `?` parameters as named ones (`$p0`, `$p1`, ...) in order of appearance; a `?`
    inside a string literal is text, not a parameter (the tokenizer tells them apart)."""
    marks = [t for t in sqlglot.Dialect.get_or_raise(READ).tokenize(sql)
             if t.token_type == sqlglot.TokenType.PLACEHOLDER and t.text == "?"]
    if len(marks) != len(params):
        raise UnsupportedOnSpark(f"{len(marks)} placeholders for {len(params)} parameters")
    for i, token in reversed(list(enumerate(marks))):
        sql = sql[:token.start] + f"$p{i}" + sql[token.end + 1:]
    return sql, {f"p{i}": value for i, value in enumerate(params)}


def inline_parameters(sql: str, params: dict | list | None) -> str:
    """DuckDB SQL with every `$name` (or `?`) replaced by its value as a literal (still DuckDB SQL)."""
    if isinstance(params, (list, tuple)):
        sql, params = named_parameters(sql, params)
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
    """to_days(n) → INTERVAL 'n' DAY; to_days(expression) → make_dt_interval(expression, 0, 0, 0)."""
    if isinstance(node, exp.ToDays):
        if isinstance(node.this, exp.Literal):
            return exp.Interval(this=exp.Literal.string(node.this.sql(READ)), unit=exp.var("DAY"))
        zero = exp.Literal.number(0)
        return exp.Anonymous(this="MAKE_DT_INTERVAL", expressions=[node.this.copy(), zero, zero, zero])
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


def _plain_ctes(node: exp.Expression) -> exp.Expression:
    """`name AS MATERIALIZED (...)` → `name AS (...)`: a planner hint, not a meaning."""
    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node = node.copy()
        node.set("materialized", None)
    return node


def _epoch_seconds(node: exp.Expression) -> exp.Expression:
    """epoch(ts) → unix_micros(ts) / 1e6: seconds with their fraction, as DuckDB's epoch gives
    (Spark's unix_timestamp drops the fraction)."""
    if isinstance(node, exp.TimeToUnix):
        micros = exp.Anonymous(this="UNIX_MICROS", expressions=[
            exp.Cast(this=node.this, to=exp.DataType.build("TIMESTAMP"))])
        return exp.Div(this=micros, expression=exp.Literal.number("1000000.0"))
    return node


def _microsecond_intervals(node: exp.Expression) -> exp.Expression:
    """to_microseconds(n) → make_dt_interval(0, 0, 0, n / 1e6 as seconds with 6 decimals)."""
    if isinstance(node, exp.Anonymous) and node.name.lower() == "to_microseconds":
        seconds = exp.Div(this=exp.Cast(this=node.expressions[0], to=exp.DataType.build("DECIMAL(24, 6)")),
                          expression=exp.Literal.number(1_000_000))
        seconds = exp.Cast(this=seconds, to=exp.DataType.build("DECIMAL(18, 6)"))
        zero = exp.Literal.number(0)
        return exp.Anonymous(this="MAKE_DT_INTERVAL", expressions=[zero, zero, zero, seconds])
    return node


def _json_path_lists(node: exp.Expression) -> exp.Expression:
    """json_extract_string(doc, [path, ...]) → array(get_json_object(doc, path), ...)."""
    if isinstance(node, exp.JSONExtractScalar) and isinstance(node.expression, exp.Array):
        return exp.Array(expressions=[exp.Anonymous(this="GET_JSON_OBJECT", expressions=[node.this.copy(), p.copy()])
                                      for p in node.expression.expressions])
    return node


def _numbered_rows(node: exp.Expression) -> exp.Expression:
    """row_number() OVER () → row_number() OVER (ORDER BY monotonically_increasing_id()): Spark
    wants an order; any order numbers the rows 1..n as DuckDB does."""
    if isinstance(node, exp.Window) and isinstance(node.this, exp.RowNumber) \
            and not node.args.get("order") and not node.args.get("partition_by"):
        node = node.copy()
        node.set("order", exp.Order(expressions=[exp.Ordered(
            this=exp.Anonymous(this="MONOTONICALLY_INCREASING_ID", expressions=[]))]))
    return node


def _union_by_name(node: exp.Expression) -> exp.Expression:
    """`a UNION ALL BY NAME b` → b's columns put in a's order, when both name every column."""
    if isinstance(node, exp.Union) and node.args.get("by_name"):
        left, right = node.this, node.expression
        if not isinstance(left, exp.Select) or not isinstance(right, exp.Select):
            raise UnsupportedOnSpark("UNION BY NAME over something other than two SELECTs")
        names = left.named_selects
        by_name = {e.alias_or_name: e for e in right.expressions}
        if "*" in names or sorted(names) != sorted(by_name):
            raise UnsupportedOnSpark("UNION BY NAME whose sides do not name the same columns")
        node = node.copy()
        node.set("by_name", None)
        node.expression.set("expressions", [by_name[n].copy() for n in names])
    return node


def _ordered_lists(node: exp.Expression) -> exp.Expression:
    """list(x ORDER BY k) is refused: sqlglot writes collect_list(x), whose order Spark does not
    keep (the order would silently change; journey paths build their sequences this way)."""
    if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order):
        raise UnsupportedOnSpark("an ordered list aggregate (list(x ORDER BY ...)): Spark's collect_list "
                                 "keeps no order")
    return node


def _empty_distinct_lists(node: exp.Expression) -> exp.Expression:
    """The distinct lists above, with their FILTER moved onto collect_set (Spark refuses one on
    array_join), and NULL when nothing was collected (DuckDB's string_agg of no values is NULL;
    array_join of an empty array is '')."""
    filtered = isinstance(node, exp.Filter)
    joined = node.this if filtered else node
    if not (isinstance(joined, exp.Anonymous) and joined.name.upper() == "ARRAY_JOIN"):
        return node
    ordered = joined.expressions[0]
    if not (isinstance(ordered, exp.Anonymous) and ordered.name.upper() == "ARRAY_SORT"):
        return node
    collected = ordered.expressions[0].copy()
    if filtered:
        collected = exp.Filter(this=collected, expression=node.expression.copy())
    text = exp.Anonymous(this="ARRAY_JOIN", expressions=[
        exp.Anonymous(this="ARRAY_SORT", expressions=[collected.copy()]), joined.expressions[1].copy()])
    some = exp.GT(this=exp.Anonymous(this="SIZE", expressions=[collected]), expression=exp.Literal.number(0))
    return exp.Case(ifs=[exp.If(this=some, true=text)])


def _full_matches(node: exp.Expression) -> exp.Expression:
    """regexp_full_match(s, p) → s RLIKE '^(?:p)\\z': the whole text, as RE2's full match (Java's
    `$` would also match before a final newline)."""
    if isinstance(node, exp.RegexpFullMatch):
        pattern = node.expression
        if isinstance(pattern, exp.Literal) and pattern.is_string:
            anchored = exp.Literal.string(f"^(?:{pattern.this})\\z")
        else:
            anchored = exp.Concat(expressions=[exp.Literal.string("^(?:"), pattern.copy(),
                                               exp.Literal.string(")\\z")])
        return exp.RegexpLike(this=node.this.copy(), expression=anchored)
    return node


def _java_replacement(text: str) -> str:
    """An RE2 replacement (`\\1` a group, `\\\\` a backslash, `$` plain) as Java's (`$1`, `\\$`)."""
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append("$" + nxt if nxt.isdigit() else "\\" + nxt)
            i += 2
            continue
        out.append("\\$" if ch == "$" else ch)
        i += 1
    return "".join(out)


def _regexp_replacements(node: exp.Expression) -> exp.Expression:
    """regexp_replace's replacement in Java's syntax (groups `$1`); Spark replaces every match, so
    DuckDB's first-match-only form (no 'g') is kept only where the pattern can match once (^..., ...$)."""
    if not isinstance(node, exp.RegexpReplace):
        return node
    modifiers = node.args.get("modifiers")
    flags = modifiers.this if isinstance(modifiers, exp.Literal) else ""
    pattern = node.expression
    once = isinstance(pattern, exp.Literal) and (pattern.this.startswith("^")
                                                 or (pattern.this.endswith("$") and not pattern.this.endswith("\\$")))
    if "g" not in flags and not once:
        raise UnsupportedOnSpark("regexp_replace of the first match only (no 'g') with an unanchored pattern")
    if flags.replace("g", ""):
        raise UnsupportedOnSpark(f"regexp_replace options {flags!r}")
    replacement = node.args.get("replacement")
    if replacement is not None and not (isinstance(replacement, exp.Literal) and replacement.is_string):
        raise UnsupportedOnSpark("regexp_replace with a computed replacement")
    node = node.copy()
    node.set("modifiers", None)
    if replacement is not None:
        node.set("replacement", exp.Literal.string(_java_replacement(replacement.this)))
    return node


REWRITES: tuple[Callable[[exp.Expression], exp.Expression], ...] = (
    _day_intervals, _suffix, _asof_membership, _json_arrays, _ordered_distinct_lists,
    _plain_ctes, _epoch_seconds, _microsecond_intervals, _json_path_lists, _numbered_rows, _union_by_name,
    _ordered_lists, _empty_distinct_lists, _full_matches, _regexp_replacements,
)


def to_spark(sql: str, params: dict | None = None) -> str:
    """The Spark SQL that answers as DuckDB answers `sql` with `params`."""
    tree = sqlglot.parse_one(inline_parameters(sql, params), read=READ)
    for rewrite in REWRITES:
        tree = tree.transform(rewrite)
    return tree.sql(WRITE)
