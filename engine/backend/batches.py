"""`map_batches`: a query's rows through a pandas function, a batch at a time.

The function takes a pandas DataFrame (one batch of the query's rows) and returns one with
the columns of `schema`, a {column: type} dict in SQL type names (BIGINT, INTEGER, DOUBLE,
VARCHAR, BOOLEAN, SMALLINT). On DuckDB the query's Arrow record batches are streamed, so
memory holds one batch and what the function keeps (a filter or an aggregate keeps little);
on Spark the same function runs on the executors through `mapInPandas`.
"""
from __future__ import annotations

from typing import Callable

import pandas as pd

BATCH_ROWS = 200_000
_PANDAS = {"BIGINT": "int64", "INTEGER": "int32", "SMALLINT": "int16", "DOUBLE": "float64",
           "VARCHAR": "object", "BOOLEAN": "bool"}
_SPARK = {"BIGINT": "long", "INTEGER": "int", "SMALLINT": "short", "DOUBLE": "double",
          "VARCHAR": "string", "BOOLEAN": "boolean"}

BatchFn = Callable[[pd.DataFrame], pd.DataFrame]


def _type(sql_type: str) -> str:
    name = sql_type.upper()
    if name not in _PANDAS:
        raise ValueError(f"map_batches: type {sql_type!r} is not one of {sorted(_PANDAS)}")
    return name


def conform(frame: pd.DataFrame, schema: dict[str, str]) -> pd.DataFrame:
    """frame with exactly schema's columns, in order, as schema's types (nullable ints kept)."""
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise ValueError(f"map_batches: the function returned no column(s) {missing}")
    out = {}
    for column, sql_type in schema.items():
        dtype = _PANDAS[_type(sql_type)]
        values = frame[column]
        if dtype.startswith("int") and values.isna().any():
            dtype = "Int" + dtype[3:]
        out[column] = values.astype(dtype).reset_index(drop=True)
    return pd.DataFrame(out)


def empty(schema: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=_PANDAS[_type(t)]) for c, t in schema.items()})


def spark_ddl(schema: dict[str, str]) -> str:
    """The schema as Spark's DDL string (`l long, p double`)."""
    return ", ".join(f"`{c}` {_SPARK[_type(t)]}" for c, t in schema.items())


def stream_batches(con, sql: str, fn: BatchFn, schema: dict[str, str], params=None,
                   batch_rows: int = BATCH_ROWS) -> pd.DataFrame:
    """map_batches on one DuckDB connection (temporary tables of a running transaction visible)."""
    # A relation streams; a DB-API result (con.execute) would be copied whole first.
    reader = con.sql(sql, params=params or None).to_arrow_reader(batch_rows)
    kept = [conform(fn(batch.to_pandas()), schema) for batch in reader]
    kept = [k for k in kept if len(k)]
    return pd.concat(kept, ignore_index=True) if kept else empty(schema)


def spark_map(frame, fn: BatchFn, schema: dict[str, str]):
    """fn over a Spark DataFrame's partitions (mapInPandas), results conformed to schema."""
    def each(batches):
        for batch in batches:
            yield conform(fn(batch), schema)

    return frame.mapInPandas(each, schema=spark_ddl(schema))
