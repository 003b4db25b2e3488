"""The ingest benchmark runs at smoke scale and reports rows in the shape bench/run.py expects."""
from bench.bench_ingest import run
from bench.run import REQUIRED


def test_smoke_benchmark_rows():
    rows = run("smoke")
    assert len(rows) == 2
    for row in rows:
        assert set(REQUIRED) <= set(row)
    assert rows[0]["unit"] == "s" and rows[0]["value"] > 0 and rows[0]["baseline_value"] > 0
