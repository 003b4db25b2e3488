"""The forwarding worker: enqueue new conversions and deliver them, for every destination."""
from __future__ import annotations

import time
from datetime import datetime

from engine.access import User, require
from engine.forward.config import list_destinations
from engine.forward.deliver import ForwardError, deliver
from engine.forward.queue import enqueue


def run_once(workspace, user: User, destination: str | None = None, client=None,
             now: datetime | None = None, skip=()) -> dict:
    """One pass over the enabled destinations; a destination's error does not stop the others.

    A destination whose credentials were refused reports {"error": ..., "auth": True} and the
    counts of what happened before; its remaining events stay queued."""
    require(user, "push_audiences")   # before enqueue writes anything
    results = {}
    dests = list_destinations(workspace)
    for row in dests[dests["enabled"]].to_dict("records"):
        if (destination and row["name"] != destination) or row["name"] in skip:
            continue
        queued = enqueue(workspace, row["name"], now=now)
        try:
            sent = deliver(workspace, user, row["name"], client=client, now=now)
            results[row["name"]] = {"queued": queued, **sent}
        except ForwardError as exc:
            results[row["name"]] = {"queued": queued, **exc.totals, "error": str(exc), "auth": exc.auth}
    return results


AUTH_PAUSE_SECONDS = 300.0


def run_forever(workspace, user: User, interval: float = 5.0, destination: str | None = None,
                on_pass=None, stop=lambda: False, client=None, auth_pause: float = AUTH_PAUSE_SECONDS,
                clock=time.monotonic) -> None:
    """Poll every `interval` seconds: near-real-time forwarding from the collector's stream.

    A destination whose credentials were refused is left alone for `auth_pause` seconds rather
    than asked again every pass with a token that cannot work; its events wait in the queue."""
    paused: dict[str, float] = {}
    while not stop():
        started = clock()
        skip = {name for name, until in paused.items() if until > started}
        result = run_once(workspace, user, destination, client=client, skip=skip)
        for name, outcome in result.items():
            if outcome.get("auth"):
                paused[name] = started + auth_pause
        if on_pass:
            on_pass(result)
        time.sleep(interval)
