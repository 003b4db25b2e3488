"""Timing and memory helpers shared by every bench module.

    seconds, runs = median_time(lambda: count(ws, definition), repeat=5)
    with PeakRss() as peak:            # resident memory of this process while the block runs
        do_work()
    peak.peak_mb, peak.delta_mb
    mb = peak_memory_mb(module_level_fn, arg)   # peak of a fresh process running fn(arg)
    row(capability, measure, value, unit, ...)  # a result row with ratio and met filled in
"""
from __future__ import annotations

import gc
import math
import multiprocessing
import os
import resource
import statistics
import threading
import time
from typing import Any, Callable

REPEAT_CAP = "CDP_BENCH_REPEAT"


def quantile(values: list[float], q: float) -> float | None:
    """The q-quantile (nearest rank) of values; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def median_time(fn: Callable[[], Any], repeat: int = 5, warmup: int = 1) -> tuple[float, list[float]]:
    """Median wall time of fn over `repeat` runs after `warmup` untimed runs; also every run's time.

    REPEAT_CAP in the environment (run.py --repeat) caps `repeat` and skips the warmup: a run
    that checks every row is produced (the suite's smoke run), not one that measures."""
    cap = os.environ.get(REPEAT_CAP)
    if cap:
        repeat, warmup = min(repeat, int(cap)), 0
    for _ in range(max(0, warmup)):
        fn()
    times = []
    for _ in range(max(1, repeat)):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def rss_mb() -> float:
    """Resident memory of this process now, in MB (Linux /proc; falls back to the peak)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * resource.getpagesize() / 1e6
    except OSError:
        return max_rss_mb()


def max_rss_mb() -> float:
    """Peak resident memory of this process since it started, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


class PeakRss:
    """Samples this process's resident memory in a thread while a block runs.

    `peak_mb` is the highest resident size seen, `delta_mb` how far above the start it went.
    """

    def __init__(self, interval: float = 0.01):
        self.interval = interval
        self.start_mb = self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, rss_mb())
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakRss":
        gc.collect()
        self.start_mb = self.peak_mb = rss_mb()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb())

    @property
    def delta_mb(self) -> float:
        return self.peak_mb - self.start_mb


def _child(fn, args, kwargs, conn) -> None:
    try:
        result = fn(*args, **kwargs)
        conn.send(("ok", max_rss_mb(), result))
    except BaseException as exc:  # reported to the parent, not swallowed
        conn.send(("error", max_rss_mb(), repr(exc)))
    finally:
        conn.close()


def peak_memory_mb(fn: Callable, *args, **kwargs) -> tuple[float, Any]:
    """Run fn(*args, **kwargs) in a fresh process; returns (its peak resident MB, fn's result).

    fn must be a module-level function (it is pickled into a spawned interpreter), and its
    result must be picklable. The figure includes the interpreter and imports fn needs.
    """
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(fn, args, kwargs, child))
    proc.start()
    child.close()
    status, peak, result = parent.recv()
    proc.join()
    if status != "ok":
        raise RuntimeError(f"{getattr(fn, '__name__', fn)} failed in its measuring process: {result}")
    return peak, result


def row(capability: str, measure: str, value: float | None, unit: str, *, baseline: str = "",
        baseline_value: float | None = None, target: str = "", met: bool | None = None, **extra) -> dict:
    """One result row in the shape run.py expects; ratio is value / baseline_value.

    `met` is computed by the caller against the issue's target (None when there is no target).
    """
    ratio = value / baseline_value if value is not None and baseline_value else None
    return {"capability": capability, "measure": measure, "value": value, "unit": unit,
            "baseline": baseline, "baseline_value": baseline_value,
            "ratio": round(ratio, 3) if ratio is not None else None,
            "target": target, "met": met, **extra}
