"""Spark over a lakehouse: the tables the product's SQL reads, found by the workspace's mapping.

Before a query runs, every table it reads (engine/backend/relations.py) that the session does
not have yet is registered: from the mapping (`engine.tables`: name → {path, format}), or, for
names not mapped (the identity outputs such as profiles and profile_identifiers, and the
workspace's views), copied from the workspace as Parquet once per run. That copy is read by the
Spark driver's machine, so it works with a local master; on a cluster, map every table.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from engine.backend.table_formats import checked_format
from engine.backend.relations import relations_read
from engine.backend.spark_backend import SparkBackend


def read_mapped(spark, entry: dict):
    """A Spark DataFrame for one mapping entry {path, format}."""
    fmt, path = checked_format(entry.get("format")), entry["path"]
    if fmt == "table":                 # a catalog table (Hive metastore, Unity Catalog, Glue)
        return spark.table(path)
    if fmt == "iceberg":               # a catalog name, or a path with Iceberg's runtime configured
        return spark.read.format("iceberg").load(path)
    return spark.read.format(fmt).load(path)


class LakehouseBackend(SparkBackend):
    name = "spark"

    def __init__(self, spark=None, tables: dict | None = None, workspace=None):
        super().__init__(spark)
        self.tables = dict(tables or {})
        self.workspace = workspace
        self.provided: set[str] = set()
        self._copies: Path | None = None
        self._built: dict[str, str] = {}

    def provide(self, names: list[str]) -> None:
        """Register each name not yet readable: from the mapping, else from the workspace."""
        missing = [n for n in names if n not in self.provided]
        unmapped = [n for n in missing if n not in self.tables]
        for name in missing:
            if name in self.tables:
                read_mapped(self.spark, self.tables[name]).createOrReplaceTempView(name)
        if unmapped and self.workspace is not None:
            from engine.backend.duckdb_backend import DuckDBBackend

            self._copies = self._copies or Path(tempfile.mkdtemp(prefix="cdp-spark-"))
            folder = Path(tempfile.mkdtemp(dir=self._copies))   # a name read again (forget) gets a new file
            for name, path in DuckDBBackend(self.workspace).export_parquet(unmapped, folder).items():
                self.register(name, path)
        elif unmapped:
            raise ValueError(f"No lakehouse table mapped for {', '.join(unmapped)} (cdp engine set --table).")
        self.provided.update(missing)

    def register(self, name: str, source) -> None:
        """As SparkBackend's; the name is then this run's own, never copied from the workspace."""
        super().register(name, source)
        self.provided.add(name)

    def forget(self, name: str) -> None:
        """Read `name` again from where it lives (the workspace's copy changed since)."""
        self.provided.discard(name)
        self._built.pop(name, None)

    def columns(self, table: str) -> list[str]:
        self.provide([table])
        return super().columns(table)

    def sql_for(self, sql: str, params: dict | list | None = None) -> str:
        self.provide(relations_read(sql))
        return super().sql_for(sql, params)

    def materialize(self, name: str, sql: str, params: dict | list | None = None) -> None:
        """As SparkBackend's, once per run: the same statement again reuses the cached table."""
        spark_sql = self.sql_for(sql, params)
        if self._built.get(name) == spark_sql:
            return
        super().materialize(name, sql, params)
        self._built[name] = spark_sql
        self.provided.add(name)

    def query(self, sql: str, params: dict | list | None = None):
        """As SparkBackend's, in the shapes DuckDB's answers have: decimals as floats (DuckDB's
        frames carry DOUBLE), Spark's session-time timestamps as UTC-aware (TIMESTAMPTZ), dates
        as datetime64."""
        from pyspark.sql import functions as F
        from pyspark.sql.types import DateType, DecimalType, TimestampType

        frame = self.spark.sql(self.sql_for(sql, params))
        names = frame.columns
        numbered = frame.toDF(*[f"_c{i}" for i in range(len(names))])
        fields = numbered.schema.fields
        out = numbered.select([(F.col(f.name).cast("double") if isinstance(f.dataType, DecimalType) else F.col(f.name))
                               .alias(f.name) for f in fields]).toPandas()
        for f in fields:
            if isinstance(f.dataType, TimestampType):
                out[f.name] = out[f.name].dt.tz_localize("UTC")
            elif isinstance(f.dataType, DateType):        # DuckDB's frames carry dates as datetime64
                out[f.name] = pd.to_datetime(out[f.name])
        out.columns = names
        return out
