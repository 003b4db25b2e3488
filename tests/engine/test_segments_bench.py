"""The segments benchmark runs at smoke scale and its compiled and hand-written counts agree."""
from bench.bench_segments import run
from bench.run import REQUIRED


def test_bench_segments_smoke():
    rows = run("smoke")  # raises if the compiled count differs from the hand-written ones
    assert len(rows) == 5
    for r in rows:
        assert set(REQUIRED) <= set(r)
    assert rows[0]["value"] > 0 and rows[0]["baseline_value"] > 0
