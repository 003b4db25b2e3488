"""Loaded (through PYTHONPATH) by every Python process of `make test-next-year`.

That run moves the wall clock a year ahead with libfaketime (0.9.10), which needs three
work-arounds, all confined to that run:

* The monotonic clock stays real (FAKETIME_DONT_FAKE_MONOTONIC=1): with it moved too, timed
  waits (threading.Event.wait, queue.get(timeout=...)) never return.
* libfaketime then rejects Python's absolute-deadline `time.sleep` with EINVAL, so sleeping goes
  through a timed wait instead, which works. Each timed wait costs far more under libfaketime
  (its wrapper of pthread_cond_timedwait), and AppTest polls for the end of a script run with
  1 ms sleeps: with two workers on two cores that polling starved the script thread (an app
  test 10x slower, one past AppTest's 60 s timeout in CI). Sleeps here last at least 20 ms.
* libfaketime reads the process environment from inside the calls it wraps (poll, select, ...),
  on any thread. A test's `monkeypatch.setenv` rewriting the C environment at that moment
  crashed a worker (a getenv racing setenv). So `os.environ` changes stay in Python here, and
  child processes are handed `os.environ` explicitly, as they would inherit it otherwise.
"""
import os
import subprocess
import threading
import time

MIN_SLEEP = 0.02

if os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC") == "1" and "faketime" in os.environ.get("LD_PRELOAD", ""):
    def _sleep(seconds: float, _wait=threading.Event().wait) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        _wait(max(seconds, MIN_SLEEP))

    time.sleep = _sleep

    os.putenv = lambda key, value: None        # os.environ's own dict still changes
    os.unsetenv = lambda key: None
    _popen_init = subprocess.Popen.__init__

    def _popen_with_environ(self, *args, env=None, **kwargs):
        _popen_init(self, *args, env=dict(os.environ) if env is None else env, **kwargs)

    subprocess.Popen.__init__ = _popen_with_environ
