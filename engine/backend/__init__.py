"""Where the data plane's queries run: the workspace's DuckDB (the default) or Apache Spark.

A backend answers the product's SQL (written for DuckDB, with `$name` parameters) as a pandas
DataFrame: `query(sql, params)`, `columns(table)` and `register(name, source)`. DuckDB runs
the SQL as written. Spark runs it through engine/backend/dialect.py over tables registered
by name: the lakehouse's tables (Parquet, Delta, Iceberg) mapped to the names the SQL reads,
or, in the equivalence suite (tests/spark/), the workspace's own tables exported to Parquet.
The control plane (users, audit, settings, segment definitions, destinations) stays in the
workspace on either backend.
"""
from engine.backend.dialect import UnsupportedOnSpark, to_spark
from engine.backend.relations import relations_read

__all__ = ["UnsupportedOnSpark", "relations_read", "to_spark"]
