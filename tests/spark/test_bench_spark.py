"""bench/bench_spark.py keeps working: its measurements at smoke scale, on the suite's Spark."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.spark


def test_spark_benchmark_measures_the_same_counts_as_duckdb(spark_backend, tmp_path, monkeypatch):
    from bench import bench_spark

    monkeypatch.setenv("CDP_BENCH_DATA", str(tmp_path / "data"))
    measured = bench_spark.measure("smoke", tmp_path, session=spark_backend.spark)
    assert set(measured["segments"]) == set(bench_spark.segments())
    assert all(s["count"] > 0 and s["spark"] > 0 and s["duckdb"] > 0 for s in measured["segments"].values())
    assert measured["funnel"]["duckdb_people"][0] > 0
    assert measured["funnel"]["spark"] is not None, measured["funnel"].get("error")
    assert measured["paths"]["people"] > 0 and measured["paths"]["links"] > 0
    assert measured["paths"]["spark"] is not None, measured["paths"].get("error")
    rows = bench_spark.rows(measured)
    assert [r["met"] for r in rows if r["target"]] and all(r["unit"] == "s" for r in rows)
    assert any(r["measure"].startswith("1% sample count") for r in rows)
    assert any(r["measure"].startswith("paths after") and r["met"] for r in rows)
    # the session the suite shares is untouched: the bench registered its tables in its own
    assert "segment_event_index" not in spark_backend.registered()


def test_spark_benchmark_is_skipped_at_smoke_scale_in_the_suite_run():
    from bench import bench_spark

    [row] = bench_spark.run("smoke")
    assert row["measure"].startswith("skipped") and row["value"] is None


def test_spark_benchmark_resolves_to_the_same_partition_as_duckdb(spark_backend, tmp_path):
    from bench import bench_spark

    measured = bench_spark.measure_resolve(300, tmp_path, session=spark_backend.spark)
    assert measured["records"] == 300 and measured["spark_pairs"] == measured["duckdb_pairs"] > 0
    assert measured["agreement"] == 1.0 and measured["spark_f1"] == measured["duckdb_f1"] > 0.5
    [resolve_row, _] = bench_spark.resolve_rows(measured)
    assert resolve_row["met"] is True and resolve_row["baseline_value"] > 0
