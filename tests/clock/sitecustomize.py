"""Loaded (through PYTHONPATH) by every Python process of `make test-next-year`.

That run moves the wall clock a year ahead with libfaketime and leaves the monotonic clock
alone (FAKETIME_DONT_FAKE_MONOTONIC=1): with both clocks moved, timed waits
(threading.Event.wait, queue.get(timeout=...)) never return. libfaketime 0.9.10 then
rejects Python's absolute-deadline `time.sleep` with EINVAL, so sleeping goes through a
timed wait instead, which works. FAKETIME_CACHE_DURATION keeps libfaketime from re-reading
its environment while a test changes it (a getenv racing setenv crashed a worker). Nothing
changes outside that run.
"""
import os
import threading
import time

if os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC") == "1" and "faketime" in os.environ.get("LD_PRELOAD", ""):
    def _sleep(seconds: float, _wait=threading.Event().wait) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        _wait(seconds)

    time.sleep = _sleep
