"""A Spark backend per hand-built workspace: its own session (temp views are per session; the
suite's workspaces register tables by the same names) on the suite's Spark context."""
from __future__ import annotations


def own_session(spark_backend):
    """A new session of the suite's Spark, with one shuffle partition (small data, a busy machine)."""
    session = spark_backend.spark.newSession()
    session.conf.set("spark.sql.shuffle.partitions", "1")
    session.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")   # the 1 GB test driver: no broadcasts
    return session


def lakehouse_for(workspace, spark_backend):
    """The product's Spark backend reading every table of `workspace` (none mapped)."""
    from engine.backend.lakehouse import LakehouseBackend

    return LakehouseBackend(own_session(spark_backend), {}, workspace)
