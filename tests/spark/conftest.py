"""The Spark equivalence suite (`make test-spark`): the same inputs through DuckDB and Spark."""
from __future__ import annotations

import shutil

import pytest

pytest.importorskip("pyspark", reason="the Spark extra is not installed (make test-spark installs it)")
if not shutil.which("java"):
    pytest.skip("Spark needs Java", allow_module_level=True)


@pytest.fixture(scope="session")
def spark_backend():
    from engine.backend.spark_backend import SparkBackend, local_session

    # One session serves the whole run (dozens of resolves, ~230 cases): a driver at Spark's
    # default 1 GB ran out of aggregation memory late in the run (AGGREGATE_OUT_OF_MEMORY).
    backend = SparkBackend(local_session(driver_memory="3g"))
    yield backend
    backend.spark.stop()


@pytest.fixture(scope="module", autouse=True)
def _released():
    """Each module's cached Spark tables released after it (one session serves the whole run)."""
    yield
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.catalog.clearCache()


@pytest.fixture(scope="session")
def mirrored(spark_backend, tmp_path_factory):
    """register(workspace, sql): export what sql reads to Parquet and register it in Spark
    (once per workspace and name), as a lakehouse would hold it."""
    from engine.backend import relations_read
    from engine.backend.duckdb_backend import DuckDBBackend

    done: set[tuple[str, str]] = set()

    def register(workspace, sql: str) -> None:
        todo = [n for n in relations_read(sql) if (str(workspace.path), n) not in done]
        if not todo:
            return
        folder = tmp_path_factory.mktemp("lake")
        for name, path in DuckDBBackend(workspace).export_parquet(todo, folder).items():
            spark_backend.register(name, path)
            done.add((str(workspace.path), name))

    return register
