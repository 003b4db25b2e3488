"""Write keys: which events source a collector request's key belongs to."""
from __future__ import annotations

import threading
import time

from engine.workspace import Workspace


class KeyRing:
    """Write key -> events source, cached from the workspace and refreshed in the background.

    A key the cache does not know triggers a refresh (at most one every `min_interval`
    seconds), so a source created a moment ago works at once and a rotated key stops
    working within `max_age` seconds.
    """

    def __init__(self, workspace: Workspace, max_age: float = 5.0, min_interval: float = 0.5):
        self.workspace = workspace
        self.max_age = max_age
        self.min_interval = min_interval
        self._keys: dict[str, str] = {}
        self._loaded_at = 0.0
        self._wanted_at = 0.0
        self._cond = threading.Condition()
        self.on_request = None  # set by the collector: wakes the loader thread

    def refresh(self) -> None:
        rows = self.workspace.query_rows(
            "SELECT write_key, name FROM sources WHERE kind = 'events' AND write_key IS NOT NULL")
        with self._cond:
            self._keys = dict(rows)
            self._loaded_at = time.monotonic()
            self._cond.notify_all()

    def maybe_refresh(self) -> None:
        """Called by the loader thread: refresh when stale or when a request asked."""
        now = time.monotonic()
        wanted = self._wanted_at > self._loaded_at and now - self._loaded_at >= self.min_interval
        if wanted or now - self._loaded_at >= self.max_age:
            self.refresh()

    def source_for(self, key: str | None, wait: float = 3.0) -> str | None:
        if not key:
            return None
        with self._cond:
            source = self._keys.get(key)
            if source is not None:
                return source
            asked = time.monotonic()
            self._wanted_at = asked
        if self.on_request:
            self.on_request()
        with self._cond:
            self._cond.wait_for(lambda: self._loaded_at >= asked, timeout=wait)
            return self._keys.get(key)
