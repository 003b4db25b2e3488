"""Each dialect rewrite the data plane needed (engine/backend/dialect.py), checked against
DuckDB's own answer on literal data, and the constructs it refuses rather than translate."""
from __future__ import annotations

import duckdb
import pytest

from engine.backend.dialect import UnsupportedOnSpark, to_spark
from tests.spark.canonical import rows

pytestmark = [pytest.mark.spark, pytest.mark.timeout(1800)]  # a busy machine: the first case starts Spark

CASES = {
    "positional parameters, a ? inside a string is text": (
        "SELECT regexp_extract('/p?b=7', '[?&]b=([0-9])', 1) AS v, ? AS p, ? AS q", ["x?", 2.5]),
    "MATERIALIZED CTE": ("WITH a AS MATERIALIZED (SELECT 41 AS n) SELECT n + 1 AS n FROM a", None),
    "epoch keeps the fraction of a second": (
        "SELECT epoch(TIMESTAMP '2025-01-06 10:00:00.25') AS e, "
        "epoch(TIMESTAMP '2025-01-06 10:00:03') - epoch(TIMESTAMP '2025-01-06 10:00:00.5') AS d", None),
    "day intervals of an expression": (
        "SELECT TIMESTAMP '2025-03-02 10:00:00' - to_days(CAST(30 AS INTEGER)) AS t", None),
    "microsecond intervals": (
        "SELECT TIMESTAMP '2025-01-06 10:00:00' + to_microseconds(CAST(1500001 AS BIGINT)) AS t, "
        "TIMESTAMP '2025-01-06 10:00:00' - to_microseconds(CAST(604800000000 AS BIGINT)) AS w", None),
    "a list of JSON paths, read back 1-based": (
        "SELECT cx[1] AS a, cx[2] AS c, cx[3] AS missing FROM (SELECT json_extract_string("
        "'{\"a\": {\"b\": \"x\"}, \"c\": 2}', ['$.a.b', '$.c', '$.z']) AS cx) t", None),
    "row numbers without an order are 1..n": (
        "SELECT count(DISTINCT n) AS k, min(n) AS lo, max(n) AS hi FROM "
        "(SELECT row_number() OVER () AS n FROM (VALUES (1), (2), (3), (4)) v(x)) t", None),
    "UNION ALL BY NAME puts the columns in the first side's order": (
        "SELECT 1 AS a, 'x' AS b UNION ALL BY NAME SELECT 'y' AS b, 2 AS a", None),
    "filtered distinct lists, NULL when nothing is left": (
        "SELECT g, string_agg(DISTINCT v, ';' ORDER BY v) FILTER (WHERE v <> 'skip') AS vs FROM (VALUES "
        "(1, 'b'), (1, 'a'), (1, 'b'), (1, 'skip'), (2, 'skip'), (3, NULL)) t(g, v) GROUP BY g", None),
    "string head and tail, as the journey step names use them": (
        "SELECT upper(left(t, 1)) || substr(t, 2) AS s FROM (VALUES ('identify'), ('group'), ('')) v(t)", None),
    "full regex matches are whole-text, a final newline included": (
        "SELECT t, regexp_full_match(t, '[0-9]{3}') AS m, regexp_full_match(t, '[a-z]+|[0-9]+') AS alt "
        "FROM (VALUES ('123'), ('1234'), ('123' || chr(10)), ('abc'), (NULL)) v(t)", None),
    "replacement groups and a literal dollar": (
        "SELECT regexp_replace(t, '^(44)0', '\\1') AS trunk, regexp_replace(t, '([0-9])', '<\\1$>', 'g') AS each "
        "FROM (VALUES ('4401234'), ('x1y2')) v(t)", None),
    "accents stripped as DuckDB strips them": (
        "SELECT t, strip_accents(t) AS s FROM (VALUES ('Zoë'), ('Ñúñez'), ('Ørsted'), ('Łódź'), ('Straße'), "
        "('e\u0301'), (NULL)) v(t)", None),
    "ordered lists: each key's direction, NULL keys last, NULL values kept, FILTER": (
        "SELECT g, list(x ORDER BY k1 DESC, k2) AS l, list(x ORDER BY k2 NULLS FIRST, k1) FILTER (WHERE x <> 'r') AS f "
        "FROM (VALUES (1, 2, 'b', 'p'), (1, NULL, 'a', 'q'), (1, 1, 'c', NULL), (1, 2, 'a', 'r'), (1, 1, NULL, 's'), "
        "(2, NULL, NULL, 't'), (2, 3, 'a', 'r')) t(g, k1, k2, x) GROUP BY g", None),
    "an ordered list of no rows is NULL": (
        "SELECT list(x ORDER BY x DESC) AS l FROM (VALUES (1), (2)) t(x) WHERE x > 5", None),
    "list indexes count from 1, from the end when negative, NULL at 0 or beyond": (
        "SELECT i, ['a', 'b', 'c'][i] AS v, ['a', 'b', 'c'][2] AS second, ['a', 'b', 'c'][-1] AS last "
        "FROM (VALUES (0), (1), (3), (4), (-1), (-4), (NULL)) t(i)", None),
    "list slices from 1, both ends kept": (
        "SELECT e, [1, 2, 3, 4][1:e] AS head, [1, 2, 3, 4][0:2] AS z, [1, 2, 3, 4][3:] AS tail, "
        "[1, 2, 3, 4][3:1] AS none, [1, 2, 3, 4][2:1 + 2] AS mid FROM (VALUES (0), (2), (9), (-1), (-9), (NULL)) t(e)", None),
    "index lambdas count from 1": (
        "SELECT list_filter(s, lambda x, i: i = 1 OR x <> s[i - 1]) AS collapsed, "
        "list_transform(s, lambda x, i: i * 10) AS positions, list_filter(s, lambda x: x <> 'b') AS plain "
        "FROM (VALUES (['a', 'a', 'b', 'b', 'a']), ([]::VARCHAR[]), (NULL)) t(s)", None),
    "range and generate_series as tables, their BIGINT numbers as list positions": (
        "SELECT r.d, g.n, ['a', 'b', 'c'][r.d + 1] AS v, ['a', 'b', 'c'][1:r.d] AS head "
        "FROM range(0, 1 + 2) r(d), generate_series(1, 2) g(n)", None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_rewrite_gives_duckdbs_answer(spark_backend, name):
    sql, params = CASES[name]
    on_duckdb = duckdb.connect().execute(sql, params or []).df()
    on_spark = spark_backend.spark.sql(to_spark(sql, params)).toPandas()
    assert len(on_duckdb) > 0
    assert rows(on_spark) == rows(on_duckdb), to_spark(sql, params)


@pytest.mark.parametrize("sql, params", [
    ("SELECT 1 AS a UNION ALL BY NAME SELECT 2 AS b", None),          # sides name different columns
    ("SELECT ? AS a, ? AS b", [1]),                                     # a placeholder without a value
    ("SELECT regexp_replace('aa', 'a', 'b') AS r", None),               # first match only, unanchored
    ("SELECT list(DISTINCT x ORDER BY x) AS l FROM (VALUES (1)) t(x)", None),   # ordered distinct list
    ("SELECT [1, 2, 3][1:3:2] AS l", None),                              # a slice with a step
], ids=["union by name, other columns", "missing positional value", "first regex match only",
        "ordered distinct list", "slice with a step"])
def test_what_cannot_be_exact_is_refused(sql, params):
    with pytest.raises(UnsupportedOnSpark):
        to_spark(sql, params)
