"""The product's DuckDB SQL as Spark SQL: sqlglot's transpiler plus the rewrites it lacks.

Every query the product runs is written for DuckDB with named parameters (`$p1`). To run one
on Spark, `to_spark(sql, params)`:

1. inlines the parameters as typed literals in the syntax tree (never by pasting text), then
   re-parses, so a bound JSON path (`json_extract_string(properties, $p3)`) becomes a real
   path and is translated like one written inline;
2. rewrites what sqlglot leaves as DuckDB-only (each rewrite is one function in REWRITES,
   tested against DuckDB's own answer by tests/spark/): day intervals, `suffix`, ASOF joins
   inside membership subqueries, JSON arrays unnested, ordered distinct lists, ordered lists
   (`list(x ORDER BY k)`), list indexes, slices and index lambdas (DuckDB counts from 1),
   `range(a, b)` as a table;
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
from sqlglot.optimizer.simplify import simplify

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


def _struct_field(variable: str, field: str) -> exp.Expression:
    """`variable.field` inside a Spark lambda."""
    return exp.Dot(this=exp.to_identifier(variable), expression=exp.to_identifier(field))


def _key_comparison(key: exp.Ordered, field: str) -> exp.Expression:
    """-1, 0 or 1 as struct `_a` sorts before, with or after struct `_b` on one key: its direction
    and DuckDB's NULL order (NULLS LAST unless NULLS FIRST is written, for ASC and DESC alike:
    DuckDB's default_null_order, which sqlglot's DuckDB parser records on the key)."""
    left, right = _struct_field("_a", field), _struct_field("_b", field)
    less = 1 if key.args.get("desc") else -1           # where _a goes when _a < _b
    null = -1 if key.args.get("nulls_first") else 1    # where _a goes when only _a is NULL
    return exp.Case(ifs=[
        exp.If(this=exp.and_(left.is_(exp.null()), right.is_(exp.null())), true=exp.Literal.number(0)),
        exp.If(this=left.is_(exp.null()), true=exp.Literal.number(null)),
        exp.If(this=right.is_(exp.null()), true=exp.Literal.number(-null)),
        exp.If(this=exp.LT(this=left.copy(), expression=right.copy()), true=exp.Literal.number(less)),
        exp.If(this=exp.GT(this=left.copy(), expression=right.copy()), true=exp.Literal.number(-less)),
    ], default=exp.Literal.number(0))


def _comparator(keys: list[exp.Ordered]) -> exp.Expression:
    """A Spark array_sort comparator `(_a, _b) -> ...` over structs whose fields k0, k1, ... hold
    `keys`: the first key that tells them apart decides, 0 when all tie; never NULL (Spark fails
    on a NULL comparison)."""
    decisive = [exp.Nullif(this=_key_comparison(k, f"k{i}"), expression=exp.Literal.number(0))
                for i, k in enumerate(keys)]
    return exp.Lambda(this=exp.Coalesce(this=decisive[0], expressions=[*decisive[1:], exp.Literal.number(0)]),
                      expressions=[exp.to_identifier("_a"), exp.to_identifier("_b")])


def _ordered_lists(node: exp.Expression) -> exp.Expression:
    """list(x ORDER BY k1 [DESC], k2 ...) [FILTER (WHERE c)] → the rows collected as structs
    (k0, k1, ..., v) (collect_list keeps a struct whose v is NULL, as DuckDB's list keeps NULL x),
    sorted by a comparator of the keys (_comparator), then their v: sqlglot alone writes
    collect_list(x), whose order Spark does not keep. NULL when no row was collected, as DuckDB's
    list of no rows. DISTINCT and window forms are refused."""
    filtered = isinstance(node, exp.Filter)
    aggregate = node.this if filtered else node
    if not (isinstance(aggregate, exp.ArrayAgg) and isinstance(aggregate.this, exp.Order)):
        return node
    order = aggregate.this
    if isinstance(node.parent, exp.Window) or isinstance(order.this, exp.Distinct):
        raise UnsupportedOnSpark("an ordered list aggregate over a window or of DISTINCT values")
    keys = order.expressions
    fields: list[exp.Expression] = []
    for i, key in enumerate(keys):
        fields += [exp.Literal.string(f"k{i}"), key.this.copy()]
    row = exp.Anonymous(this="NAMED_STRUCT", expressions=[*fields, exp.Literal.string("v"), order.this.copy()])
    collected: exp.Expression = exp.Anonymous(this="COLLECT_LIST", expressions=[row])
    if filtered:
        collected = exp.Filter(this=collected, expression=node.expression.copy())
    values = exp.Anonymous(this="TRANSFORM", expressions=[
        exp.Anonymous(this="ARRAY_SORT", expressions=[collected.copy(), _comparator(keys)]),
        exp.Lambda(this=_struct_field("_row", "v"), expressions=[exp.to_identifier("_row")])])
    some = exp.GT(this=exp.Anonymous(this="SIZE", expressions=[collected]), expression=exp.Literal.number(0))
    return exp.Case(ifs=[exp.If(this=some, true=values)])


def _lambda_indexes(node: exp.Expression) -> exp.Expression:
    """list_filter / list_transform(l, lambda x, i: ...) → Spark's filter / transform with i + 1
    for i in the body: DuckDB counts the index from 1, Spark from 0."""
    if not isinstance(node, (exp.ArrayFilter, exp.Transform)) or not isinstance(node.expression, exp.Lambda) \
            or len(node.expression.expressions) != 2:
        return node
    node = node.copy()
    function = node.expression
    index = function.expressions[1].name
    body = function.this.transform(_lambda_indexes)
    if any(index in {p.name for p in inner.expressions} for inner in body.find_all(exp.Lambda)):
        raise UnsupportedOnSpark(f"a lambda inside a list lambda that names its index {index!r} again")

    def shift(n: exp.Expression) -> exp.Expression:
        plain = isinstance(n, exp.Identifier) and not isinstance(n.parent, (exp.Column, exp.Dot, exp.Lambda))
        column = isinstance(n, exp.Column) and not n.table
        if (plain or column) and n.name == index:
            return exp.Paren(this=exp.Add(this=exp.to_identifier(index), expression=exp.Literal.number(1)))
        return n

    function.set("this", body.transform(shift))
    return node


_DUCKDB = sqlglot.Dialect.get_or_raise(READ)


def _integer(node: exp.Expression | None) -> int | None:
    """The value of an integer literal (-n included), else None."""
    if isinstance(node, exp.Neg):
        inner = _integer(node.this)
        return None if inner is None else -inner
    return int(node.this) if isinstance(node, exp.Literal) and node.is_int else None


def _spark_int(value: exp.Expression) -> exp.Expression:
    """TRY_CAST(value AS INT): Spark's list functions take INT positions, not BIGINT (DuckDB's
    range and integer arithmetic give BIGINT); beyond INT it is NULL, as DuckDB's answer there."""
    return exp.TryCast(this=value, to=exp.DataType.build("INT"), safe=True)


def _list_indexes(node: exp.Expression) -> exp.Expression:
    """DuckDB's list index l[i] (from 1; from the end when negative; NULL at 0 or out of range)
    → try_element_at(l, i) (the same, but an error at 0, hence NULLIF). sqlglot alone shifts only
    integer literals (l[i] stays l[i], one place off on Spark) and Spark's l[i] fails out of
    range in ANSI mode. A string key (a struct field or map key) is left to sqlglot."""
    if not isinstance(node, exp.Bracket) or node.args.get("json_access") or len(node.expressions) != 1 \
            or isinstance(node.expressions[0], exp.Slice):
        return node
    if isinstance(node.expressions[0], exp.Literal) and node.expressions[0].is_string:
        return node
    index = _DUCKDB.generator().bracket_offset_expressions(node)[0].copy()  # as written for DuckDB
    if not _integer(index):
        index = _spark_int(exp.Nullif(this=index, expression=exp.Literal.number(0)))
    return exp.Anonymous(this="TRY_ELEMENT_AT", expressions=[node.this.copy(), index])


def _list_slices(node: exp.Expression) -> exp.Expression:
    """DuckDB's list slice l[b:e] (from 1, both ends kept; e past the end stops at the end, a
    negative e counts from the end, NULL e gives NULL) → slice(l, b, length). The start must be
    an integer literal of 0 (read as 1) or more; a step, or another start, is refused."""
    if not isinstance(node, exp.Bracket) or len(node.expressions) != 1 or not isinstance(node.expressions[0], exp.Slice):
        return node
    bounds = node.expressions[0]
    begin, end = bounds.this, bounds.expression
    if bounds.args.get("step") is not None:
        raise UnsupportedOnSpark("a list slice with a step")
    first = _integer(simplify(begin.copy())) if begin is not None else 1
    if first is None or first < 0:
        raise UnsupportedOnSpark("a list slice whose start is not a literal of 0 or more")
    start = max(first, 1)
    values = node.this
    size = exp.Anonymous(this="SIZE", expressions=[values.copy()])
    end = simplify(end.copy()) if end is not None else None
    if end is None:                                   # to the end: no more than the whole list
        length: exp.Expression = size
    elif _integer(end) is not None and _integer(end) >= 0:
        length = exp.Literal.number(max(_integer(end) - start + 1, 0))
    else:
        last = exp.Case(ifs=[exp.If(this=exp.LT(this=end.copy(), expression=exp.Literal.number(0)),
                                    true=exp.Add(this=exp.Add(this=size.copy(), expression=end.copy()),
                                                 expression=exp.Literal.number(1)))], default=end.copy())
        count = exp.Sub(this=exp.Paren(this=last), expression=exp.Literal.number(start - 1))
        length = _spark_int(exp.Case(ifs=[exp.If(this=exp.LT(this=count.copy(), expression=exp.Literal.number(0)),
                                                 true=exp.Literal.number(0))], default=count))
    return exp.Anonymous(this="SLICE", expressions=[values.copy(), exp.Literal.number(start), length])


def _range_tables(node: exp.Expression) -> exp.Expression:
    """FROM range(a, b) r(d) / generate_series(a, b) r(d) → Spark's table function range(a, b)
    (end excluded; generate_series's end is included, so b + 1) under the same alias; unnamed
    columns take DuckDB's names (range, generate_series). A step other than a positive integer
    literal is refused. (sqlglot alone writes an EXPLODE Spark cannot parse there.)"""
    if not (isinstance(node, exp.Table) and isinstance(node.this, exp.GenerateSeries)):
        return node
    series = node.this
    step = series.args.get("step")
    if step is not None and not (_integer(step) or 0) > 0:
        raise UnsupportedOnSpark("a range table with a step other than a positive literal")
    exclusive = bool(series.args.get("is_end_exclusive"))
    end = series.args["end"].copy()
    if not exclusive:
        end = exp.Add(this=exp.Paren(this=end), expression=exp.Literal.number(1))
    column = "range" if exclusive else "generate_series"
    alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(column))
    alias = alias.copy()
    if not alias.columns:
        alias.set("columns", [exp.to_identifier(column)])
    arguments = [(series.args.get("start") or exp.Literal.number(0)).copy(), end] + ([step.copy()] if step else [])
    return exp.Table(this=exp.Anonymous(this="RANGE", expressions=arguments), alias=alias)


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
    _lambda_indexes, _list_indexes, _list_slices, _range_tables,
)


def to_spark(sql: str, params: dict | None = None) -> str:
    """The Spark SQL that answers as DuckDB answers `sql` with `params`."""
    tree = sqlglot.parse_one(inline_parameters(sql, params), read=READ)
    for rewrite in REWRITES:
        tree = tree.transform(rewrite)
    return tree.sql(WRITE)
