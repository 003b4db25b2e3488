"""map_batches on Spark (mapInPandas) gives what it gives on DuckDB."""
from __future__ import annotations

import pandas as pd
import pytest

from engine.backend.duckdb_backend import DuckDBBackend
from tests.engine.test_backend_map_batches import SCHEMA, squares_of_thirds

pytestmark = pytest.mark.spark
NUMS = pd.DataFrame({"n": range(5_000), "third": [i % 3 == 0 for i in range(5_000)]})
SQL = "SELECT n, third FROM nums WHERE n < $top"


@pytest.mark.parametrize("top", [0, 1, 10, 5_000])
def test_map_batches_same_on_both(workspace, spark_backend, top):
    spark_backend.register("nums", NUMS)
    with workspace.connect() as con:
        con.register("nums", NUMS)
        on_duckdb = DuckDBBackend(workspace).map_batches(SQL, squares_of_thirds, SCHEMA, {"top": top})
    on_spark = spark_backend.map_batches(SQL, squares_of_thirds, SCHEMA, {"top": top})
    assert len(on_duckdb) == (top + 2) // 3
    pd.testing.assert_frame_equal(on_spark.sort_values("n").reset_index(drop=True),
                                  on_duckdb.sort_values("n").reset_index(drop=True))
