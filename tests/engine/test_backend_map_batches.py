"""map_batches on DuckDB: the query's rows through a pandas function a batch at a time."""
from __future__ import annotations

import pandas as pd
import pytest

from engine.backend.batches import conform, spark_ddl
from engine.backend.duckdb_backend import DuckDBBackend

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py

SQUARES = "SELECT i AS n, i % 3 = 0 AS third FROM range($top) t(i)"
SCHEMA = {"n": "BIGINT", "sq": "DOUBLE"}


def squares_of_thirds(batch: pd.DataFrame) -> pd.DataFrame:
    kept = batch[batch["third"]]
    return pd.DataFrame({"n": kept["n"], "sq": kept["n"].astype(float) ** 2})


def test_every_batch_goes_through_the_function(workspace):
    seen = []

    def count(batch):
        seen.append(len(batch))
        return squares_of_thirds(batch)

    out = DuckDBBackend(workspace).map_batches(SQUARES, count, SCHEMA, {"top": 10_000}, batch_rows=1_000)
    assert sum(seen) == 10_000 and max(seen) <= 2_048   # streamed in batches, not one frame
    assert len(seen) > 1
    assert sorted(out["n"]) == list(range(0, 10_000, 3))
    assert (out["sq"] == out["n"].astype(float) ** 2).all()
    assert list(out.columns) == ["n", "sq"] and str(out["n"].dtype) == "int64"


def test_no_rows_give_an_empty_frame_with_the_schema(workspace):
    out = DuckDBBackend(workspace).map_batches(SQUARES, squares_of_thirds, SCHEMA, {"top": 0})
    assert len(out) == 0 and list(out.columns) == ["n", "sq"] and str(out["sq"].dtype) == "float64"


def test_temporary_tables_of_the_open_connection_are_visible(workspace):
    with workspace.connect() as con:
        con.execute("CREATE OR REPLACE TEMP TABLE _nums AS SELECT range AS n, TRUE AS third FROM range(5)")
        out = DuckDBBackend(workspace).map_batches("SELECT * FROM _nums", squares_of_thirds, SCHEMA)
    assert sorted(out["sq"]) == [0.0, 1.0, 4.0, 9.0, 16.0]


def test_a_missing_column_or_unknown_type_is_refused():
    with pytest.raises(ValueError, match="no column"):
        conform(pd.DataFrame({"n": [1]}), SCHEMA)
    with pytest.raises(ValueError, match="type"):
        spark_ddl({"n": "HUGEINT"})


def test_nullable_integers_stay_integers():
    out = conform(pd.DataFrame({"n": [1, None], "sq": [1.0, None]}), SCHEMA)
    assert str(out["n"].dtype) == "Int64" and out["n"].isna().sum() == 1
    assert spark_ddl(SCHEMA) == "`n` long, `sq` double"
