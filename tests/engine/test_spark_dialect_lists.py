"""The dialect's list rewrites (engine/backend/dialect.py), without Spark: ordered list aggregates
(the comparator it writes is evaluated in DuckDB and must sort rows as DuckDB's own ORDER BY
does), list indexes, slices and index lambdas (DuckDB counts from 1, Spark from 0), range tables,
and what is refused. tests/spark/test_rewrites_on_spark.py runs the same constructs on Spark."""
from __future__ import annotations

from functools import cmp_to_key

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from engine.backend.dialect import UnsupportedOnSpark, to_spark

# Rows (k1, k2, x) with NULL keys, ties on k1 and a NULL value.
ROWS = [(2, "b", "p"), (None, "a", "q"), (1, "c", None), (2, "a", "r"), (1, None, "s"), (None, None, "t"), (3, "a", "u")]
ORDERS = ["k1", "k1 DESC", "k1 NULLS FIRST", "k1 DESC NULLS FIRST", "k1, k2", "k1 DESC, k2 DESC NULLS FIRST",
          "k2 NULLS FIRST, k1 DESC"]


def _values(rows) -> str:
    def sql(v):
        return "NULL" if v is None else repr(v)
    return ", ".join(f"({', '.join(sql(v) for v in r)})" for r in rows)


def _comparator(spark_sql: str) -> exp.Lambda:
    """The array_sort comparator in the Spark SQL (the lambda of two struct arguments)."""
    tree = sqlglot.parse_one(spark_sql, read="spark")
    return next(f for f in tree.find_all(exp.Lambda) if len(f.expressions) == 2)


def _runs(keyed_values):
    """[(key, values)] with rows of equal keys merged: the order a sort must give (ties open)."""
    runs: list[tuple[tuple, list]] = []
    for key, value in keyed_values:
        if runs and runs[-1][0] == key:
            runs[-1][1].append(value)
        else:
            runs.append((key, [value]))
    return [(key, sorted(values, key=repr)) for key, values in runs]


@pytest.mark.parametrize("order", ORDERS)
def test_ordered_list_comparator_sorts_as_duckdb_orders(order):
    """Sorting the rows with the comparator the rewrite writes (evaluated in DuckDB, on structs
    k0, k1, ...) gives DuckDB's order: each key's direction, NULLs last unless NULLS FIRST."""
    con = duckdb.connect()
    table = f"(VALUES {_values(ROWS)}) t(k1, k2, x)"
    keys = [part.split()[0] for part in order.split(",")]
    expected = con.execute(f"SELECT {', '.join(keys)}, x FROM {table} ORDER BY {order}").fetchall()
    comparator = _comparator(to_spark(f"SELECT list(x ORDER BY {order}) AS l FROM {table}"))
    body = comparator.this.sql("duckdb")
    a, b = (p.name for p in comparator.expressions)

    def struct(row):
        named = dict(zip(["k1", "k2", "x"], row))
        fields = [f"'k{i}': {'NULL' if named[k] is None else repr(named[k])}" for i, k in enumerate(keys)]
        return "{" + ", ".join(fields) + "}"

    def compare(left, right):
        return con.execute(f"SELECT {body} FROM (SELECT {struct(left)} AS {a}, {struct(right)} AS {b})").fetchone()[0]

    by_comparator = sorted(ROWS, key=cmp_to_key(compare))
    keyed = [(tuple(dict(zip(["k1", "k2", "x"], r))[k] for k in keys), r[2]) for r in by_comparator]
    assert _runs(keyed) == _runs([(tuple(r[:-1]), r[-1]) for r in expected])
    assert len(_runs(keyed)) > 2


def test_ordered_list_collects_whole_rows_and_is_null_without_rows():
    """collect_list of a struct keeps a row whose value is NULL; no rows gives NULL (CASE on size),
    as DuckDB's list of no rows."""
    spark = to_spark("SELECT g, list(x ORDER BY k) FILTER (WHERE x <> 'skip') AS l FROM t GROUP BY g")
    tree = sqlglot.parse_one(spark, read="spark")
    collected = list(tree.find_all(exp.ArrayAgg))                    # collect_list, read back
    assert collected and all([f.name for f in c.this.expressions] == ["k0", "v"] for c in collected)
    assert all(isinstance(c.parent, exp.Filter) for c in collected), "the FILTER goes with collect_list"
    assert isinstance(tree.expressions[1].this, exp.Case)
    assert "ARRAY_SORT" in spark and "ORDER BY" not in spark


@pytest.mark.parametrize("sql", [
    "SELECT list(DISTINCT x ORDER BY x) FROM t",
    "SELECT list(x ORDER BY k) OVER (PARTITION BY g) FROM t",
    "SELECT s[1:5:2] FROM t",
    "SELECT s[-2:3] FROM t",
    "SELECT s[n:3] FROM t",
    "SELECT r FROM range(0, 10, n) t(r)",
    "SELECT list_filter(s, lambda x, i: list_filter(x, lambda y, i: i > 1) <> []) FROM t",
], ids=["distinct", "window", "slice step", "negative slice start", "computed slice start", "computed range step",
        "nested lambda reusing the index"])
def test_what_cannot_be_exact_is_refused(sql):
    with pytest.raises(UnsupportedOnSpark):
        to_spark(sql)


@pytest.mark.parametrize("duckdb_sql, spark_sql", [
    ("SELECT s[i] FROM t", "SELECT TRY_ELEMENT_AT(s, TRY_CAST(NULLIF(i, 0) AS INT)) FROM t"),
    ("SELECT s[i - 1] FROM t", "SELECT TRY_ELEMENT_AT(s, TRY_CAST(NULLIF(i - 1, 0) AS INT)) FROM t"),
    ("SELECT s[2], s[-1] FROM t", "SELECT TRY_ELEMENT_AT(s, 2), TRY_ELEMENT_AT(s, -1) FROM t"),
    ("SELECT s[0] FROM t", "SELECT TRY_ELEMENT_AT(s, TRY_CAST(NULLIF(0, 0) AS INT)) FROM t"),
    ("SELECT m['k'] FROM t", "SELECT m['k'] FROM t"),
    ("SELECT s[1:$d + 1] FROM t", "SELECT SLICE(s, 1, 5) FROM t"),
    ("SELECT s[0:2], s[3:1], s[2:] FROM t", "SELECT SLICE(s, 1, 2), SLICE(s, 3, 0), SLICE(s, 2, SIZE(s)) FROM t"),
    ("SELECT s[1:e] FROM t", "SELECT SLICE(s, 1, TRY_CAST(CASE WHEN (CASE WHEN e < 0 THEN SIZE(s) + e + 1 ELSE e END) - 0 < 0 "
     "THEN 0 ELSE (CASE WHEN e < 0 THEN SIZE(s) + e + 1 ELSE e END) - 0 END AS INT)) FROM t"),
    ("SELECT list_filter(s, lambda x, i: i = 1 OR x <> s[i - 1]) FROM t",
     "SELECT FILTER(s, (x, i) -> (i + 1) = 1 OR x <> TRY_ELEMENT_AT(s, TRY_CAST(NULLIF((i + 1) - 1, 0) AS INT))) FROM t"),
    ("SELECT list_transform(s, lambda x, i: i * 10) FROM t", "SELECT TRANSFORM(s, (x, i) -> (i + 1) * 10) FROM t"),
    ("SELECT list_filter(s, lambda x: x <> 'a') FROM t", "SELECT FILTER(s, x -> x <> 'a') FROM t"),
    ("SELECT d FROM t, range(0, $d + 1) r(d)", "SELECT d FROM t, RANGE(0, 4 + 1) AS r(d)"),
    ("SELECT * FROM generate_series(1, 3) g", "SELECT * FROM RANGE(1, (3) + 1) AS g(generate_series)"),
    ("SELECT * FROM range(3)", "SELECT * FROM RANGE(0, 3) AS range(range)"),
], ids=["index", "computed index", "literal indexes", "index 0", "string key left to sqlglot", "slice",
        "slice bounds", "computed slice end", "index lambda", "transform index", "lambda without index", "range table",
        "generate_series table", "unnamed range"])
def test_list_rewrites_count_from_one_as_duckdb(duckdb_sql, spark_sql):
    assert to_spark(duckdb_sql, {"d": 4}) == spark_sql


def test_range_tables_and_slices_keep_duckdbs_answer_on_duckdb():
    """The DuckDB side of what the slice and range rewrites assume (their Spark side is in
    tests/spark/test_rewrites_on_spark.py)."""
    con = duckdb.connect()
    assert con.execute("SELECT [1, 2, 3, 4][1:-2], [1, 2, 3][0:2], [1, 2, 3][2:9], [1, 2, 3][3:1]").fetchone() \
        == ([1, 2, 3], [1, 2], [2, 3], [])
    assert con.execute("SELECT list(d ORDER BY d) FROM range(0, 3) r(d)").fetchone()[0] == [0, 1, 2]
    assert con.execute("SELECT [1, 2][0], [1, 2][3], [1, 2][-1]").fetchone() == (None, None, 2)
