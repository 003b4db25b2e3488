"""Every segment condition kind and operator gives the same members on Spark as on DuckDB
(the hand-built people of tests/engine/test_segments_conditions.py, whose answers are known)."""
from __future__ import annotations

import pytest

from engine.segments.store import compile_in
from engine.workspace import open_workspace
from tests.engine.test_segments_conditions import AS_OF, CASES, build_people

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    ws = open_workspace(tmp_path_factory.mktemp("people") / "cdp.duckdb")
    build_people(ws)
    return ws


@pytest.mark.parametrize("name", list(CASES))
def test_segment_members_are_the_same_on_spark(people, spark_backend, mirrored, name):
    definition, expected = CASES[name]
    with people.connect() as con:
        compiled = compile_in(con, definition, as_of=AS_OF, use_index=False)
    on_duckdb = set(people.query_df(compiled.sql, compiled.params)["profile_id"])
    mirrored(people, compiled.sql)
    on_spark = set(spark_backend.query(compiled.sql, compiled.params)["profile_id"])
    assert on_duckdb == expected, "the DuckDB answer itself changed"
    assert on_spark == on_duckdb, spark_backend.sql_for(compiled.sql, compiled.params)
