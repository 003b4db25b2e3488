"""Reads that answer at once after a data change: the last result while the new one is computed.

`recent_query(fn, *args, reads=DATA, **kwargs)` is `cached_query` (ui/context.py) for what a
screen shows first and what takes seconds on a big workspace (a funnel over every event). The
first call computes it and waits. After the data it reads changed, a call returns the previous
result at once and computes the new one in a background thread (one per read and process);
`recounting(...)` says so and reruns the page when the new result is in. What it shows was
the whole answer a moment ago, never a mix; a failed recount is dropped, so the next call
computes in the open and shows the error.

While only events arrive (the collector lands every second), a result younger than
RECOUNT_EVERY seconds is shown as it is: a read is recounted at most that often, and an open
page does not recount back to back for as long as events stream in. Any other change (an
upload, a resolve) is recounted at the next call.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import streamlit as st

from engine.workspace.versions import DATA
from ui.context import cached_query, workspace

log = logging.getLogger("cdp.ui")
MAX_RESULTS = 256
RECOUNT_EVERY = 30.0     # seconds a result stands while only events arrive


@dataclass(frozen=True)
class Recent:
    value: Any
    current: bool          # computed on the data as it is now (or, while only events arrive, lately)
    computed_at: float     # time.time() of the computation shown
    key: str


_LOCK = threading.Lock()
_RESULTS: OrderedDict[str, tuple[Any, Any, float, int]] = OrderedDict()   # key -> (version, value, computed_at, core)
_RUNNING: set[str] = set()


def recent_query(fn, *args, reads=DATA, **kwargs) -> Recent:
    """fn(workspace, *args, **kwargs) as of now, or as of the last change while it is recomputed."""
    ws = workspace()
    versions = ws.data_versions()
    version = versions.reading(reads)
    key = repr((f"{fn.__module__}.{fn.__qualname__}", str(ws.path), args, sorted(kwargs.items())))
    with _LOCK:
        known = _RESULTS.get(key)
        if known is not None:
            _RESULTS.move_to_end(key)
            stands = known[3] == versions.core and time.time() - known[2] < RECOUNT_EVERY
            if known[0] == version or stands:
                return Recent(known[1], True, known[2], key)
            if key not in _RUNNING:
                _RUNNING.add(key)
                threading.Thread(target=_recompute, args=(fn, ws, key, (version, versions.core), args, kwargs),
                                 daemon=True, name=f"recount {fn.__qualname__}").start()
            return Recent(known[1], False, known[2], key)
    value = cached_query(fn, *args, reads=reads, **kwargs)       # nothing to show yet: wait for it
    _store(key, (version, versions.core), value)
    return Recent(value, True, time.time(), key)


def _store(key: str, versions: tuple, value) -> None:
    version, core = versions
    with _LOCK:
        _RESULTS[key] = (version, value, time.time(), core)
        _RESULTS.move_to_end(key)
        while len(_RESULTS) > MAX_RESULTS:
            _RESULTS.popitem(last=False)


def _recompute(fn, ws, key: str, versions: tuple, args, kwargs) -> None:
    try:
        value = fn(ws, *args, **kwargs)
    except Exception:  # noqa: BLE001 - shown by the next call, which computes in the open
        log.exception("recounting %s failed", key)
        with _LOCK:
            _RESULTS.pop(key, None)
    else:
        _store(key, versions, value)
    finally:
        with _LOCK:
            _RUNNING.discard(key)


def recounts_running() -> int:
    """How many recounts are running in this process."""
    with _LOCK:
        return len(_RUNNING)


def pending(*recents: Recent) -> bool:
    """True while any of these is being recomputed."""
    with _LOCK:
        return any(r.key in _RUNNING for r in recents if not r.current)


def recounting(*recents: Recent, what: str = "the newest data") -> None:
    """Say that what is shown predates the latest data, and rerun the page once it is recounted."""
    behind = [r for r in recents if not r.current]
    if not behind:
        return
    first = [True]          # the run that draws it never reruns the page (no loop)

    @st.fragment(run_every=1.0)
    def live() -> None:
        if not pending(*behind) and not first[0]:
            st.rerun()
        first[0] = False
        ago = time.time() - min(r.computed_at for r in behind)
        st.caption(f":material/sync: Counting {what}… showing the result from {ago:.0f} s ago until then.")
    live()
