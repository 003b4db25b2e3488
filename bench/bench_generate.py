"""Benchmark of the scale generator itself: time, throughput, size on disk, peak memory;
and of loading its output into a benchmark workspace.

Baseline: DuckDB writing the same number of trivial rows (a range and a hash) to Parquet,
in the same run: the floor any generator that writes that many rows has to pay.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from bench.generate import SCALES, generate
from bench.timing import median_time, peak_memory_mb, row
from bench.workspace import build_bench_workspace, build_seconds, dataset_folder, dataset_lock

REPEAT = {"smoke": 2, "medium": 1, "full": 1}
GENERATE_TARGET_S = 600          # issue 10: 10,000,000 events "must take minutes, not hours"
MEMORY_TARGET_MB = 4000          # flat memory: the generator's DuckDB is capped at 3 GB


def _generate_into(folder: str, profiles: int, events: int) -> dict:
    return generate(folder, profiles, events)


def _baseline_write(events: int, folder: Path) -> None:
    con = duckdb.connect()
    try:
        con.execute(f"COPY (SELECT i, hash(i) AS h FROM range({int(events)}) t(i)) "
                    f"TO '{folder / 'baseline.parquet'}' (FORMAT parquet)")
    finally:
        con.close()
        (folder / "baseline.parquet").unlink(missing_ok=True)


def run(scale: str) -> list[dict]:
    sizes = SCALES[scale]
    profiles, events = sizes["profiles"], sizes["events"]
    shared = dataset_folder(scale)
    # Generate into a private folder: other modules may be reading the shared dataset meanwhile.
    folder = shared.with_name(shared.name + f"-generator-{os.getpid()}")
    times, peaks, stats = [], [], {}
    for _ in range(REPEAT.get(scale, 1)):
        peak, stats = peak_memory_mb(_generate_into, str(folder), profiles, events)
        times.append(stats["seconds"])
        peaks.append(peak)
    seconds = sorted(times)[len(times) // 2]
    with tempfile.TemporaryDirectory() as tmp:
        base, _ = median_time(lambda: _baseline_write(events + profiles, Path(tmp)), repeat=REPEAT.get(scale, 1),
                              warmup=0)
        load_note = ""
        cached = build_seconds(scale) if scale != "smoke" else None
        if cached is not None:       # loading 10M events takes minutes: reuse the cached build's time
            load_seconds, load_note = cached, " (the cached bench workspace's build)"
        else:
            started = time.monotonic()
            build_bench_workspace(folder, Path(tmp) / "ws" / "cdp.duckdb")
            load_seconds = time.monotonic() - started
    with dataset_lock(shared):          # first to generate this scale: keep it as the shared dataset
        if (shared / "generation.json").exists():
            shutil.rmtree(folder, ignore_errors=True)
        else:
            shutil.rmtree(shared, ignore_errors=True)
            folder.rename(shared)
    label = f"{profiles:,} profiles, {events:,} events"
    rows_written = sum(v for k, v in stats["counts"].items())
    return [
        row("generate", f"generate {label}", seconds, "s", baseline="DuckDB writing as many trivial rows",
            baseline_value=base, target=f"< {GENERATE_TARGET_S} s (minutes, not hours)",
            met=seconds < GENERATE_TARGET_S * max(1, events / 10_000_000)),
        row("generate", "rows written per second", rows_written / seconds, "rows/s"),
        row("generate", "size on disk", stats["bytes"] / 1e6, "MB"),
        row("generate", "generator peak memory", max(peaks), "MB", target=f"< {MEMORY_TARGET_MB} MB (flat)",
            met=max(peaks) < MEMORY_TARGET_MB),
        row("generate", f"load into a bench workspace (typed tables + profiles){load_note}, {label}",
            load_seconds, "s"),
    ]
