"""Where the data plane's queries run: the workspace's DuckDB (the default) or Apache Spark.

A backend answers the product's SQL (written for DuckDB, with `$name` parameters) as a pandas
DataFrame: `query(sql, params)`, `columns(table)` and `register(name, source)`. DuckDB runs
the SQL as written. Spark runs it through engine/backend/dialect.py over tables registered
by name: the lakehouse's tables (Parquet, Delta, Iceberg) mapped to the names the SQL reads,
or, in the equivalence suite (tests/spark/), the workspace's own tables exported to Parquet.
The control plane (users, audit, settings, segment definitions, destinations) stays in the
workspace on either backend.
"""
__all__ = ["UnsupportedOnSpark", "relations_read", "to_spark"]
_HOMES = {"UnsupportedOnSpark": "dialect", "to_spark": "dialect", "relations_read": "relations"}


def __getattr__(name: str):
    """The Spark-side names load sqlglot (the spark extra) only when asked for, so the DuckDB
    default (engine/backend/choose.py, duckdb_backend.py) runs on the base install."""
    if name not in _HOMES:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(f"engine.backend.{_HOMES[name]}"), name)
