"""The forwarding worker: enqueue new conversions and deliver them, for every destination."""
from __future__ import annotations

import time

from engine.access import User
from engine.forward.config import list_destinations
from engine.forward.deliver import ForwardError, deliver
from engine.forward.queue import enqueue


def run_once(workspace, user: User, destination: str | None = None, client=None) -> dict:
    """One pass over the enabled destinations; a destination's error does not stop the others."""
    results = {}
    dests = list_destinations(workspace)
    for row in dests[dests["enabled"]].to_dict("records"):
        if destination and row["name"] != destination:
            continue
        queued = enqueue(workspace, row["name"])
        try:
            sent = deliver(workspace, user, row["name"], client=client)
            results[row["name"]] = {"queued": queued, **sent}
        except ForwardError as exc:
            results[row["name"]] = {"queued": queued, "error": str(exc)}
    return results


def run_forever(workspace, user: User, interval: float = 5.0, destination: str | None = None,
                on_pass=None, stop=lambda: False) -> None:
    """Poll every `interval` seconds: near-real-time forwarding from the collector's stream."""
    while not stop():
        result = run_once(workspace, user, destination)
        if on_pass:
            on_pass(result)
        time.sleep(interval)
