"""The value benchmark runs at smoke scale and returns well-formed rows."""
import math

from bench import bench_value

KEYS = {"capability", "measure", "value", "unit", "baseline", "baseline_value", "ratio", "target", "met"}


def test_smoke_rows():
    rows = bench_value.run("smoke")
    assert rows and all(set(r) == KEYS and r["capability"] == "value" for r in rows)
    speed = rows[0]
    assert speed["unit"] == "s" and speed["value"] > 0 and speed["baseline_value"] > 0
    accuracy = [r for r in rows if "|predicted/actual total - 1|, BG/NBD" in r["measure"]][0]
    assert accuracy["value"] < 0.1 and accuracy["met"] is True
    assert all(not (isinstance(r["value"], float) and math.isnan(r["value"])) for r in rows)
