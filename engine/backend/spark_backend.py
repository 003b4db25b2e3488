"""The product's SQL on Apache Spark, through engine/backend/dialect.py.

`SparkBackend(spark)` takes a SparkSession (local, Spark Connect, Databricks, EMR) or makes a
local one; tables are registered by the names the product's SQL reads. The session runs in
UTC with ANSI mode on, so a cast that DuckDB refuses is refused here too instead of becoming
NULL.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd

from engine.backend.dialect import to_spark
from engine.backend.spark_functions import register_functions

CHUNK_ROWS = 100_000


def local_session(master: str = "local[2]", driver_memory: str | None = None):
    """A local Spark session (`driver_memory`, e.g. "3g", only takes effect if none runs yet)."""
    from pyspark.sql import SparkSession

    # map_batches' Python workers run this interpreter (the one with the engine installed).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    builder = (SparkSession.builder.master(master).appName("open-cdp")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.ansi.enabled", "true")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "4"))
    if driver_memory:
        builder = builder.config("spark.driver.memory", driver_memory)
    return builder.getOrCreate()


class SparkBackend:
    name = "spark"

    def __init__(self, spark=None):
        self.spark = spark or local_session()
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")
        register_functions(self.spark)

    def register(self, name: str, source) -> None:
        """Make `name` readable: a Parquet path, or a Spark or pandas DataFrame."""
        if isinstance(source, (str, Path)):
            frame = self.spark.read.parquet(str(source))
        elif isinstance(source, pd.DataFrame):
            frame = self._from_pandas(source)
        else:
            frame = source
        frame.createOrReplaceTempView(name)

    def _release(self, name: str) -> None:
        """Uncache what an earlier run kept under `name`: the session outlives a run (the app, a
        test session), and a replaced view's cached rows would otherwise stay in the driver."""
        catalog = self.spark.catalog
        if catalog.tableExists(name) and catalog.isCached(name):
            catalog.uncacheTable(name)

    def _from_pandas(self, source: pd.DataFrame):
        """A Spark DataFrame of a pandas one, through Arrow (row by row takes seconds for 100k
        pairs); the session's own setting is put back, so query answers keep their shapes."""
        key = "spark.sql.execution.arrow.pyspark.enabled"
        before = self.spark.conf.get(key, "false")
        self.spark.conf.set(key, "true")
        try:
            return self.spark.createDataFrame(source)
        finally:
            self.spark.conf.set(key, before)

    def release(self, name: str) -> None:
        """Nothing: a cached table spills to the executors' disks, and uncaching it would make
        the tables computed from it compute again (their plans still read it)."""

    def registered(self) -> set[str]:
        return {t.name for t in self.spark.catalog.listTables()}

    def sql_for(self, sql: str, params: dict | None = None) -> str:
        return to_spark(sql, params)

    def query(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        return self.spark.sql(self.sql_for(sql, params)).toPandas()

    def columns(self, table: str) -> list[str]:
        return self.spark.table(table).columns

    def chunks(self, sql: str, params: dict | None = None, rows: int = CHUNK_ROWS):
        """The query's rows as pandas frames of at most `rows` rows, a partition at a time to the
        driver (toLocalIterator), so the driver never holds the whole answer; timestamps UTC-aware."""
        from itertools import islice

        from pyspark.sql import functions as F
        from pyspark.sql.types import TimestampType

        frame = self.spark.sql(self.sql_for(sql, params))
        stamps = [f.name for f in frame.schema.fields if isinstance(f.dataType, TimestampType)]
        # As microseconds: Python's datetimes of Spark's rows would be in the driver's local time.
        frame = frame.select([F.unix_micros(F.col(c)).alias(c) if c in stamps else F.col(c) for c in frame.columns])
        rows_left = frame.toLocalIterator()
        while batch := list(islice(rows_left, rows)):
            out = pd.DataFrame([tuple(r) for r in batch], columns=frame.columns)
            for c in stamps:
                out[c] = pd.to_datetime(out[c], unit="us", utc=True)
            yield out

    def map_batches(self, sql: str, fn, schema: dict[str, str], params: dict | None = None,
                    batch_rows: int | None = None) -> pd.DataFrame:
        """fn (pandas in, pandas out) over the query's rows with mapInPandas, on the executors;
        the results are collected (engine/backend/batches.py). batch_rows is taken for the seam's
        sake: Spark sizes its own Arrow batches (spark.sql.execution.arrow.maxRecordsPerBatch)."""
        from engine.backend.batches import conform, spark_map

        return conform(spark_map(self.spark.sql(self.sql_for(sql, params)), fn, schema).toPandas(), schema)

    def materialize(self, name: str, sql: str, params: dict | list | None = None) -> None:
        """Compute `sql` once, keep it cached, and make it readable as `name` (a derived table such
        as journey_events, built on Spark by the same SQL as in the workspace)."""
        self._release(name)
        frame = self.spark.sql(self.sql_for(sql, params)).cache()
        frame.count()
        frame.createOrReplaceTempView(name)
